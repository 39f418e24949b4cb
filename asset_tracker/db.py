"""Declarative base with a constraint naming convention, time helpers and SQLite tuning."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import DateTime, TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# JSON everywhere, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC datetime is required")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Clock:
    """The service's notion of now; tests and `reminders run --at` move it."""

    def __init__(self):
        self.frozen: dt.datetime | None = None

    def now(self) -> dt.datetime:
        return self.frozen or dt.datetime.now(dt.timezone.utc)


clock = Clock()


def utcnow() -> dt.datetime:
    return clock.now()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL, foreign keys and a busy timeout; transactions begin IMMEDIATE (see begin hook)."""
    import sqlite3

    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy emit BEGIN itself so we can make it BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={_sqlite_busy_timeout_ms}")
    cur.close()


_sqlite_busy_timeout_ms = 15000


def configure_sqlite(busy_timeout_ms: int) -> None:
    global _sqlite_busy_timeout_ms
    _sqlite_busy_timeout_ms = busy_timeout_ms


@event.listens_for(Engine, "begin")
def _sqlite_begin_immediate(conn):
    """A read-then-write transaction under plain BEGIN fails at once with 'database is locked'."""
    if conn.dialect.name != "sqlite":
        return
    # Long read-only work (exports, reports, GET pages) opts out so it never blocks writers.
    if conn.get_execution_options().get("sqlite_deferred"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
