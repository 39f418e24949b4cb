"""What intake adds to a device's registration (see asset_tracker/devices/extension_points.py)."""
from __future__ import annotations

from flask import Flask

from ..devices import extension_points
from .services import batch_for_registration


def register(app: Flask) -> None:
    extension_points.set_batch_resolver(app, batch_for_registration)  # in scope, of this donor, open
