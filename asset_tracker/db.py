"""Declarative base with a constraint naming convention, time helpers and SQLite tuning."""
from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading

from sqlalchemy import JSON, MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import Pool
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
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Clock:
    """The service's notion of now; tests and `reminders run --at` move it."""

    def __init__(self):
        self.frozen: dt.datetime | None = None

    def now(self) -> dt.datetime:
        return self.frozen or dt.datetime.now(dt.UTC)


clock = Clock()


def utcnow() -> dt.datetime:
    return clock.now()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """WAL, foreign keys, secure delete and a busy timeout; transactions begin IMMEDIATE (see begin hook)."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy emit BEGIN itself so we can make it BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    # Deleted and overwritten content is zeroed, so an erased value leaves no trace in free pages.
    cur.execute("PRAGMA secure_delete=ON")
    cur.execute(f"PRAGMA busy_timeout={_sqlite_busy_timeout_ms}")
    cur.close()


_sqlite_busy_timeout_ms = 15000


def reclaim_erased_space(engine, table: str, *, lock_timeout_ms: int = 5000) -> bool:
    """Make erased values of ``table`` unrecoverable from the database files; True when done.

    SQLite zeroes deleted content itself (secure_delete); the old page images still in the write-ahead
    log are written back and the log truncated. PostgreSQL keeps an updated row's old version as a dead
    tuple until VACUUM: VACUUM FULL rewrites the table into new files without them (it locks the table
    briefly; on a lock timeout it gives up, says so in the log, and the nightly run does it).
    """
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            busy, _, _ = raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            raw.close()
        return not busy
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"SET lock_timeout = {int(lock_timeout_ms)}")
            try:
                conn.exec_driver_sql(f'VACUUM FULL "{table}"')
            except OperationalError as exc:
                logging.getLogger(__name__).warning("VACUUM FULL %s gave up: %s", table, exc.orig)
                return False
        return True
    return False


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
        return
    # Writers queue in-process on a lock per database file: SQLite's own busy handler sleeps and
    # retries with growing delays, which turns a queue of 8 writers into seconds of tail latency.
    info = conn.connection.info
    if "sqlite_write_lock" not in info:
        lock = _write_lock(conn.engine.url.database or "")
        if lock.acquire(timeout=_sqlite_busy_timeout_ms / 1000):
            info["sqlite_write_lock"] = lock
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except Exception:
        _release_write_lock(info)
        raise


_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _write_lock(path: str) -> threading.Lock:
    with _write_locks_guard:
        return _write_locks.setdefault(path, threading.Lock())


def _release_write_lock(info: dict) -> None:
    lock = info.pop("sqlite_write_lock", None)
    if lock is not None:
        lock.release()


@event.listens_for(Pool, "checkin")
def _sqlite_release_on_checkin(dbapi_connection, connection_record):
    """The write lock is held until the connection goes back to the pool (after its commit or rollback)."""
    if connection_record is not None:
        _release_write_lock(connection_record.info)


@event.listens_for(Pool, "invalidate")
def _sqlite_release_on_invalidate(dbapi_connection, connection_record, exception):
    if connection_record is not None:
        _release_write_lock(connection_record.info)
