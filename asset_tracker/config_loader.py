"""Configuration layers: config/default.py, the environment's file, ASSET_TRACKER_* variables, overrides."""
from __future__ import annotations

import ast
import importlib
import os

from flask import Flask


def _coerce(raw: str):
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def load_config(app: Flask, env: str, overrides: dict) -> None:
    app.config.from_object(importlib.import_module("config.default"))
    env_module = None
    try:
        env_module = importlib.import_module(f"config.{env}")
    except ModuleNotFoundError:
        raise RuntimeError(f"unknown environment {env!r}: there is no config/{env}.py") from None
    app.config.from_object(env_module)
    for key, raw in os.environ.items():
        if key.startswith("ASSET_TRACKER_") and key != "ASSET_TRACKER_ENV":
            app.config[key[len("ASSET_TRACKER_"):]] = _coerce(raw)
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(os.environ["DATABASE_URL"])
    app.config.update(overrides)
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["ENV_NAME"] = env
    if hasattr(env_module, "check"):
        env_module.check(app.config)


def normalise_database_url(url: str) -> str:
    """postgres:// and postgresql:// use psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url
