"""Capability discovery: every sub-package may have models, api (BLUEPRINTS), views (bp, NAV) and cli (COMMANDS)."""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import asset_tracker

# Packages that are not capabilities.
_SKIP = {"templates", "static", "translations"}


def capability_names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(asset_tracker.__path__) if m.ispkg and m.name not in _SKIP)


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
