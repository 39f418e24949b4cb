"""A fresh database per run: a file under bench/results/ (SQLite) or a new PostgreSQL database."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
from flask_migrate import upgrade

from asset_tracker import create_app

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


@dataclass
class Target:
    url: str  # what DATABASE_URL is set to for the app
    kind: str  # "sqlite" or "postgresql"
    name: str  # file path or database name

    def drop(self) -> None:
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(self.name + suffix):
                    os.remove(self.name + suffix)
        else:
            _pg_admin(self.url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def kind_of(url: str | None) -> str:
    return "postgresql" if url and url.startswith(("postgres://", "postgresql")) else "sqlite"


def _pg_admin(url: str, statement: str) -> None:
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://"))
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(statement)


def fresh(base_url: str | None, label: str) -> Target:
    """An empty database for one dataset: ``label`` names it (e.g. "100000")."""
    if kind_of(base_url) == "sqlite":
        os.makedirs(RESULTS, exist_ok=True)
        path = os.path.join(RESULTS, f"bench-{label}.db")
        target = Target("sqlite:///" + path, "sqlite", path)
        target.drop()
        return target
    parts = urlsplit(base_url)
    base = re.sub(r"[^a-z0-9_]", "_", (parts.path.lstrip("/") or "reboot").lower())
    name = f"{base}_bench_{label}"
    url = urlunsplit(parts._replace(path="/" + name))
    target = Target(url, "postgresql", name)
    target.drop()
    _pg_admin(url, f'CREATE DATABASE "{name}"')
    return target


def make_app(url: str):
    """The app bound to ``url``, scheduler off (the benchmark runs sweeps itself)."""
    return create_app("development", SQLALCHEMY_DATABASE_URI=url, SCHEDULER_ENABLED=False)


def migrate(app) -> None:
    """`flask db upgrade` on the empty database."""
    with app.app_context():
        upgrade()
