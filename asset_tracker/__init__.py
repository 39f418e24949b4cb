"""Reboot Tracker: follows every donated device from donor to beneficiary and back."""
from __future__ import annotations

from flask import Flask


def create_app(env: str | None = None, **overrides) -> Flask:
    """The application (``asset_tracker/app.py``): the factory, its configuration and every capability."""
    from .app import create_app as build  # here: importing any module of the package runs this file first

    return build(env, **overrides)
