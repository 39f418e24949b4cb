"""Backups that restore: a consistent snapshot plus a manifest, and a restore that proves the chain is whole.

SQLite: the online backup API copies the live database page by page under one read snapshot. PostgreSQL:
`pg_dump -Fc` runs on a snapshot exported by the transaction that also reads the manifest's figures, so the dump
and the manifest describe the same instant. Keys (SECRET_KEY, BENEFICIARY_HMAC_KEY, the checkpoint signing key)
are never written into a backup: they are kept apart (docs/deploy.md).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from ..config_loader import normalise_database_url

MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
CHECKPOINTS_FILE = "checkpoints.jsonl"
FORMAT = 1


class BackupError(Exception):
    """A backup or a restore that cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Figures:
    schema_revision: str | None
    events: int
    head_seq: int
    head_hash: str


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _figures(conn) -> Figures:
    """Schema revision, event count and chain head, read on ``conn`` (DB-API or SQLAlchemy connection)."""
    def one(sql):
        row = (conn.execute(text(sql)) if hasattr(conn, "dialect") else conn.execute(sql)).fetchone()
        return tuple(row) if row is not None else None

    revision = one("SELECT version_num FROM alembic_version")
    events = one("SELECT count(*) FROM custody_events")[0]
    head = one("SELECT last_seq, last_hash FROM custody_chain_head WHERE id = 1") or (0, "0" * 64)
    return Figures(revision[0] if revision else None, int(events), int(head[0]), head[1])


def libpq_url(url) -> str:
    """A SQLAlchemy URL as pg_dump/pg_restore take it (no driver suffix, no password: see _pg_env)."""
    return make_url(str(url)).set(drivername="postgresql")._replace(password=None).render_as_string(hide_password=False)


def _pg_env(url) -> dict:
    """The password goes through PGPASSWORD, never on a command line that `ps` shows."""
    env = dict(os.environ)
    password = make_url(str(url)).password
    if password:
        env["PGPASSWORD"] = str(password)
    return env


def _sqlite_path(url) -> str:
    path = make_url(str(url)).database
    if not path or path == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return os.path.abspath(path)


def _prepare_dir(directory: str) -> None:
    if os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        raise BackupError(f"{directory} is not an empty folder: give a new folder for each backup")
    os.makedirs(directory, exist_ok=True)


def create(engine, directory: str, *, checkpoint_lines=None, app_version: str | None = None) -> dict:
    """Write a consistent snapshot of the database behind ``engine`` into ``directory`` with its manifest."""
    _prepare_dir(directory)
    dialect = engine.dialect.name
    if dialect == "sqlite":
        data_file = SQLITE_FILE
        target = os.path.join(directory, data_file)
        source = sqlite3.connect(_sqlite_path(engine.url), timeout=60)
        try:
            dest = sqlite3.connect(target)
            try:
                source.backup(dest)  # one consistent copy even while the service writes (WAL readers never block)
            finally:
                dest.close()
        finally:
            source.close()
        snap = sqlite3.connect(target)
        try:
            snap.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            figures = _figures(snap)
        finally:
            snap.close()
    elif dialect == "postgresql":
        data_file = PG_FILE
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar()
                figures = _figures(conn)
                done = subprocess.run(
                    ["pg_dump", "--format=custom", f"--snapshot={snapshot}", "--no-owner", "--no-privileges",
                     f"--file={os.path.join(directory, data_file)}", libpq_url(engine.url)],
                    capture_output=True, text=True, env=_pg_env(engine.url))
                if done.returncode != 0:
                    raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
    else:
        raise BackupError(f"backups of {dialect} databases are not supported (SQLite or PostgreSQL)")
    files = [data_file]
    if checkpoint_lines is not None:
        with open(os.path.join(directory, CHECKPOINTS_FILE), "w", encoding="utf-8") as f:
            f.writelines(checkpoint_lines)
        files.append(CHECKPOINTS_FILE)
    manifest = {
        "format": FORMAT,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "database": dialect,
        "schema_revision": figures.schema_revision,
        "custody_events": figures.events,
        "chain_head": {"seq": figures.head_seq, "hash": figures.head_hash},
        "app_version": app_version,
        "files": {name: {"sha256": _sha256(os.path.join(directory, name)),
                         "bytes": os.path.getsize(os.path.join(directory, name))} for name in files},
        "keys_included": False,
    }
    with open(os.path.join(directory, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    return manifest


def read_manifest(directory: str) -> dict:
    """The manifest, after checking the SHA-256 of every file it lists."""
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise BackupError(f"{path} is missing: {directory} is not a backup folder") from None
    except ValueError as err:
        raise BackupError(f"{path} is not valid JSON: {err}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r} (this version reads {FORMAT})")
    for name, meta in manifest.get("files", {}).items():
        file_path = os.path.join(directory, name)
        if not os.path.isfile(file_path):
            raise BackupError(f"{name} listed in the manifest is missing")
        if _sha256(file_path) != meta["sha256"]:
            raise BackupError(f"{name} does not match its SHA-256 in the manifest: the backup is damaged")
    return manifest


def is_empty(engine) -> bool:
    if engine.dialect.name == "sqlite":
        path = _sqlite_path(engine.url)
        if not os.path.exists(path) or os.path.getsize(path) == 0:
            return True
    return not inspect(engine).get_table_names()


def restore(engine, directory: str) -> dict:
    """Restore the backup in ``directory`` into the empty database behind ``engine``; returns the manifest.

    The caller verifies the chain afterwards (verify_restored)."""
    manifest = read_manifest(directory)
    dialect = engine.dialect.name
    if manifest["database"] != dialect:
        raise BackupError(f"this backup is of a {manifest['database']} database; the target is {dialect}")
    if not is_empty(engine):
        raise BackupError("the target database is not empty: restore only into a new, empty database "
                          "(createdb, or a new SQLite path)")
    engine.dispose()
    if dialect == "sqlite":
        target = _sqlite_path(engine.url)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".restore-", dir=os.path.dirname(target))
        os.close(fd)
        try:
            shutil.copyfile(os.path.join(directory, SQLITE_FILE), tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            for suffix in ("-wal", "-shm"):
                if os.path.exists(target + suffix):
                    os.remove(target + suffix)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    else:
        done = subprocess.run(["pg_restore", "--exit-on-error", "--no-owner", "--no-privileges", "--single-transaction",
                               f"--dbname={libpq_url(engine.url)}", os.path.join(directory, PG_FILE)],
                              capture_output=True, text=True, env=_pg_env(engine.url))
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed: {done.stderr.strip()}")
    return manifest


def check_against_manifest(engine, manifest: dict, verify_result) -> list[str]:
    """What differs between the restored database, its verified chain and the manifest (empty: all agree)."""
    problems = []
    with engine.connect() as conn:
        figures = _figures(conn)
    if not verify_result.ok:
        problems.append(f"the custody chain is broken: {verify_result.problem}")
    if figures.schema_revision != manifest["schema_revision"]:
        problems.append(f"schema revision {figures.schema_revision} differs from the manifest's "
                        f"{manifest['schema_revision']}")
    if verify_result.checked != manifest["custody_events"] or figures.events != manifest["custody_events"]:
        problems.append(f"{verify_result.checked} events verified, the manifest counts {manifest['custody_events']}")
    head = manifest["chain_head"]
    if (figures.head_seq, figures.head_hash) != (head["seq"], head["hash"]):
        problems.append(f"chain head #{figures.head_seq} {figures.head_hash} differs from the manifest's "
                        f"#{head['seq']} {head['hash']}")
    if verify_result.ok and (verify_result.head_hash or "0" * 64) != head["hash"]:
        problems.append(f"the verified chain ends at {verify_result.head_hash}, the manifest at {head['hash']}")
    return problems


def engine_for(url: str):
    """An engine on another database (tests, drills); the app's own uses db.engine."""
    return create_engine(normalise_database_url(url))
