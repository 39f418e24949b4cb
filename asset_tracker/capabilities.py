"""Capability discovery: every sub-package may have models, api (BLUEPRINTS), views (bp, NAV) and cli (COMMANDS)."""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

# Packages that are not capabilities.
_SKIP = {"templates", "static", "translations"}
# The package's folder, found without importing the package (which creates the app from its capabilities).
_PACKAGE_DIR = Path(__file__).resolve().parent


def capability_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(_PACKAGE_DIR)]) if m.ispkg and m.name not in _SKIP)


def modules(kind: str) -> list[ModuleType]:
    """Import ``asset_tracker.<capability>.<kind>`` for every capability that has one."""
    found = []
    for name in capability_names():
        full = f"asset_tracker.{name}.{kind}"
        try:
            spec = importlib.util.find_spec(full)
        except ModuleNotFoundError:
            spec = None
        if spec is not None:
            found.append(importlib.import_module(full))
    return found
