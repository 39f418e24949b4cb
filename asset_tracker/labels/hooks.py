"""What labels add to a device's registration (see asset_tracker/devices/extension_points.py)."""
from __future__ import annotations

from flask import Flask

from ..devices import extension_points
from .services import claim_blank_tag


def register(app: Flask) -> None:
    extension_points.set_tag_claim(app, claim_blank_tag)  # a pre-printed tag must be a blank of this donor
