"""The flask command line: every capability's `cli.COMMANDS`, plus `demo`."""
from __future__ import annotations

from flask import Flask

from . import demo
from .capabilities import modules


def register_commands(app: Flask) -> None:
    for module in modules("cli") + [demo]:
        for group in module.COMMANDS:
            app.cli.add_command(group)
