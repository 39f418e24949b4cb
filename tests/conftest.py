"""Fixtures: one migrated database per run (SQLite file or TEST_DATABASE_URL), reset before every test."""
from __future__ import annotations

import os
import re
import shutil
import tempfile

import pytest
from sqlalchemy import create_engine, text

from asset_tracker import create_app
from asset_tracker.db import clock
from asset_tracker.extensions import db as _db

from . import factories

PG_URL = os.environ.get("TEST_DATABASE_URL")
TABLES_KEEP = {"alembic_version"}


def _database_url(tmpdir: str) -> str:
    if PG_URL:
        return PG_URL
    return "sqlite:///" + os.path.join(tmpdir, "test.db")


@pytest.fixture(scope="session")
def _tmpdir():
    d = tempfile.mkdtemp(prefix="reboot-tests-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def app(_tmpdir):
    url = _database_url(_tmpdir)
    if PG_URL:
        _reset_postgres_schema(url)
    application = create_app("testing", SQLALCHEMY_DATABASE_URI=url, TEST_TMPDIR=_tmpdir)
    with application.app_context():
        from flask_migrate import upgrade

        upgrade()
        _db.engine.dispose()
        if not PG_URL:
            shutil.copy(url[len("sqlite:///"):], os.path.join(_tmpdir, "template.db"))
    yield application


def _reset_postgres_schema(url: str) -> None:
    from asset_tracker.config_loader import normalise_database_url

    engine = create_engine(normalise_database_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def reset_database(app) -> None:
    """Empty every table (custody triggers included) and put the chain head back at genesis."""
    with app.app_context():
        _db.session.remove()
        engine = _db.engine
        if engine.dialect.name == "sqlite":
            engine.dispose()
            path = app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///"):]
            for suffix in ("-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
            # A new file, renamed into place: a connection a server thread still holds keeps the old
            # file (and SQLite's per-file lock and shared-memory state) to itself, never this one.
            fresh = path + ".fresh"
            shutil.copy(os.path.join(app.config["TEST_TMPDIR"], "template.db"), fresh)
            os.replace(fresh, path)
            return
        tables = [t.name for t in _db.metadata.sorted_tables if t.name not in TABLES_KEEP]
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            conn.execute(text("INSERT INTO custody_chain_head (id, last_seq, last_hash) VALUES (1, 0, :h)"),
                         {"h": "0" * 64})


@pytest.fixture(autouse=True)
def db(app):
    from asset_tracker.extensions import limiter

    reset_database(app)
    clock.frozen = None
    with app.app_context():
        limiter.reset()  # each test starts with no login attempts counted
    with app.app_context():
        yield _db
        _db.session.remove()
    clock.frozen = None


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def orgs(db):
    return factories.make_organisations()


@pytest.fixture
def users(orgs):
    return factories.make_users(orgs)


@pytest.fixture
def api_headers(users):
    """api_headers("technician") -> headers with a bearer token of that role's user."""
    cache = {}

    def headers(role_or_user="technician"):
        user = users[role_or_user] if isinstance(role_or_user, str) else role_or_user
        if user.id not in cache:
            cache[user.id] = factories.token_for(user)
        return {"Authorization": f"Bearer {cache[user.id]}"}

    return headers


def csrf_token(client, path="/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@pytest.fixture
def login(client, users):
    """login("donor") signs the test client in as that role's user and returns the user."""

    def do(role_or_user="technician"):
        user = users[role_or_user] if isinstance(role_or_user, str) else role_or_user
        token = csrf_token(client)
        resp = client.post("/login", data={"email": user.email, "password": factories.PASSWORD,
                                           "csrf_token": token})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return user

    return do


@pytest.fixture
def frozen_clock():
    """Set the service clock: frozen_clock(datetime) — reset after the test."""

    def set_to(when):
        clock.frozen = when

    yield set_to
    clock.frozen = None
