"""Backups taken while the service writes restore into another database, whose chain and checkpoints verify."""
from __future__ import annotations

import json
import os
import threading
import time
import uuid

import pytest
from sqlalchemy import create_engine, text

from asset_tracker import create_app
from asset_tracker.config_loader import normalise_database_url
from asset_tracker.core import Actor
from asset_tracker.devices import services as devices
from asset_tracker.lifecycle import State
from tests import factories
from tests.conftest import PG_URL


@pytest.fixture
def target_url(tmp_path):
    """An empty database of the same kind as the test database (a new PostgreSQL database, or a new file)."""
    if not PG_URL:
        yield "sqlite:///" + str(tmp_path / "restored" / "restored.db")
        return
    base = PG_URL.rsplit("/", 1)[0]
    name = (PG_URL.rsplit("/", 1)[1] + "_restore_" + uuid.uuid4().hex[:6])[:63]
    admin = create_engine(normalise_database_url(base + "/postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield base + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _writer(app, actor: Actor, donor_id: int, stop: threading.Event, written: list) -> None:
    """Registers devices (each with its custody event) until told to stop, as the service would."""
    from asset_tracker.extensions import db

    with app.app_context():
        try:
            for i in range(400):
                if stop.is_set():
                    break
                devices.register_device(actor=actor, type="laptop", donor_organisation_id=donor_id, brand="Dell",
                                        model="Latitude 5490", serial=f"BK{i:06d}")
                written.append(i)
        finally:
            db.session.remove()


def test_a_backup_taken_during_writes_restores_and_verifies(app, db, orgs, users, runner, signing_key, tmp_path,
                                                            target_url):
    for _ in range(3):
        factories.make_device(orgs, users, State.RECEIVED)
    signed = runner.invoke(args=["audit", "checkpoint"])
    assert signed.exit_code == 0, signed.output
    from asset_tracker.audit.services import iter_checkpoint_lines

    exported = tmp_path / "checkpoints-downloaded.jsonl"
    exported.write_text("".join(iter_checkpoint_lines()), encoding="utf-8")

    actor, donor_id = Actor.of(users["donor"]), orgs["donor"].id
    db.session.rollback()  # the test's own session holds no lock while the service writes
    stop, written = threading.Event(), []
    writer = threading.Thread(target=_writer, args=(app, actor, donor_id, stop, written))
    writer.start()
    try:
        deadline = time.monotonic() + 30
        while len(written) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        backup_dir = tmp_path / "backup-1"
        created = runner.invoke(args=["backup", "create", str(backup_dir)])
        during = len(written)
    finally:
        stop.set()
        writer.join()
    assert created.exit_code == 0, created.output
    assert during >= 5 and len(written) > 0

    manifest = json.loads((backup_dir / "manifest.json").read_text())
    data_file = "database.pgdump" if PG_URL else "database.sqlite3"
    assert set(manifest["files"]) == {data_file, "checkpoints.jsonl"}
    assert all(len(meta["sha256"]) == 64 for meta in manifest["files"].values())
    assert manifest["custody_events"] == manifest["chain_head"]["seq"] > 0
    assert manifest["schema_revision"] and manifest["keys_included"] is False
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM custody_events")).scalar() >= manifest["custody_events"]
    assert not any("PRIVATE KEY" in p.read_text(errors="ignore") for p in backup_dir.iterdir() if p.suffix != ".pgdump")

    other = create_app("testing", SQLALCHEMY_DATABASE_URI=target_url,
                       AUDIT_SIGNING_KEY_PATH=app.config["AUDIT_SIGNING_KEY_PATH"])
    other_cli = other.test_cli_runner()
    ctx = other.app_context()  # the commands run against the other database, not the test's
    ctx.push()
    try:
        _restore_and_verify(other_cli, backup_dir, manifest, exported, signing_key[1])
    finally:
        ctx.pop()


def _restore_and_verify(other_cli, backup_dir, manifest, exported, public_key):
    restored = other_cli.invoke(args=["backup", "restore", str(backup_dir)])
    assert restored.exit_code == 0, restored.output
    assert f"{manifest['custody_events']} events" in restored.output

    verified = other_cli.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    head = manifest["chain_head"]
    assert f"custody chain OK: {manifest['custody_events']} events, head #{head['seq']} {head['hash']}" \
        in verified.output
    for checkpoints in (exported, backup_dir / "checkpoints.jsonl"):
        with_checkpoints = other_cli.invoke(args=["audit", "verify", "--checkpoints", str(checkpoints),
                                                  "--public-key", public_key])
        assert with_checkpoints.exit_code == 0, with_checkpoints.output
        assert "1 checkpoints verified" in with_checkpoints.output

    again = other_cli.invoke(args=["backup", "restore", str(backup_dir)])
    assert again.exit_code == 1 and "not empty" in again.output


def test_a_damaged_backup_is_refused_before_anything_is_written(app, db, orgs, users, runner, tmp_path, target_url):
    factories.make_device(orgs, users, State.COLLECTED)
    backup_dir = tmp_path / "backup-2"
    assert runner.invoke(args=["backup", "create", str(backup_dir)]).exit_code == 0
    data = backup_dir / ("database.pgdump" if PG_URL else "database.sqlite3")
    blob = bytearray(data.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    data.write_bytes(bytes(blob))
    other = create_app("testing", SQLALCHEMY_DATABASE_URI=target_url)
    with other.app_context():
        result = other.test_cli_runner().invoke(args=["backup", "restore", str(backup_dir)])
    assert result.exit_code == 1
    assert "does not match its SHA-256" in result.output
    if not PG_URL:
        assert not os.path.exists(target_url[len("sqlite:///"):])


def test_a_backup_never_overwrites_a_folder_in_use(app, db, runner, tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "other.txt").write_text("x")
    result = runner.invoke(args=["backup", "create", str(tmp_path / "used")])
    assert result.exit_code == 1 and "not an empty folder" in result.output
