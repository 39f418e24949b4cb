"""The flask command line: each capability adds its command group here."""
from __future__ import annotations

import importlib

from flask import Flask

CLI_MODULES = (
    "asset_tracker.auth.cli",
    "asset_tracker.custody.cli",
    "asset_tracker.demo",
)


def register_commands(app: Flask) -> None:
    for name in CLI_MODULES + tuple(app.config.get("EXTRA_CLI_MODULES", ())):
        module = importlib.import_module(name)
        for group in module.COMMANDS:
            app.cli.add_command(group)
