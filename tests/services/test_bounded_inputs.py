"""Bounded inputs: decompression bombs refused before they expand, batches capped, batch-wide writes in short
transactions, and a database that stays locked answering 503 instead of 500."""
from __future__ import annotations

import io
import os
import resource
import sqlite3
import time
import zipfile

import pytest
from sqlalchemy import func, select

from asset_tracker.core import Actor
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.custody.services import verify_chain
from asset_tracker.devices.models import Device
from asset_tracker.errors import Conflict, Invalid
from asset_tracker.intake import services as intake
from asset_tracker.intake.models import Batch, BatchStatus
from asset_tracker.lifecycle import State
from tests.intake_helpers import FR_HEADER, csv_rows


@pytest.fixture
def donor(users):
    return Actor.of(users["donor"])


@pytest.fixture
def batch(donor):
    return intake.create_batch(actor=donor, name="Métropole — renouvellement du parc")


def _count(db, model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _zip_bomb(expanded_mib: int) -> bytes:
    """A well-formed XLSX whose worksheet expands to ``expanded_mib`` MiB of spaces (about 1,000 times)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"/>')
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            block = b" " * (1024 * 1024)
            for _ in range(expanded_mib):
                sheet.write(block)
    return out.getvalue()


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_zip_bomb_is_refused_from_its_directory_fast_and_without_expanding(db, donor, batch):
    bomb = _zip_bomb(1024)  # 1 GiB once inflated
    assert len(bomb) < 2 * 1024 * 1024
    peak_before = _peak_rss_mib()
    started = time.perf_counter()

    with pytest.raises(Invalid) as refused:
        intake.import_file(batch.id, bomb, actor=donor, filename="parc.xlsx")

    assert time.perf_counter() - started < 2.0
    assert refused.value.code == "archive_too_large"
    assert "1024 MB" in str(refused.value) and "64 MB" in str(refused.value)
    # Nothing was inflated: the process's peak memory did not grow by anything near the archive's content.
    assert _peak_rss_mib() - peak_before < 64
    assert _count(db, Device) == 0


def test_a_small_archive_that_expands_a_thousand_times_is_refused_by_its_ratio(db, donor, batch):
    bomb = _zip_bomb(20)  # under the size limit, but 20 MiB of spaces from a few kB

    with pytest.raises(Invalid) as refused:
        intake.import_file(batch.id, bomb, actor=donor, filename="parc.xlsx")

    assert refused.value.code == "archive_ratio"
    assert "xl/worksheets/sheet1.xml" in str(refused.value)


def test_a_real_spreadsheet_passes_the_archive_check(db, donor, batch, app):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(FR_HEADER.split(";"))
    for i in range(2000):
        ws.append(["portable", "Lenovo", "ThinkPad T480", f"XL{i:08d}", "", "45,50", "", "SSD", f"XLD{i:08d}", "256"])
    data = io.BytesIO()
    wb.save(data)

    result = intake.import_file(batch.id, data.getvalue(), actor=donor, filename="parc.xlsx")

    assert result.status == "imported" and result.created == 2000


def test_a_batch_holds_at_most_the_configured_number_of_devices(db, app, donor, batch):
    intake.import_file(batch.id, csv_rows(25), actor=donor, filename="a.csv", batch_max_devices=30)
    events = _count(db, CustodyEvent)

    with pytest.raises(Conflict) as refused:
        intake.import_file(batch.id, csv_rows(10, prefix="PG"), actor=donor, filename="b.csv", batch_max_devices=30)
    assert refused.value.code == "batch_full"
    assert "35" in str(refused.value) and "30" in str(refused.value)
    assert _count(db, Device) == 25 and _count(db, CustodyEvent) == events

    for i in range(5):
        intake.add_device(batch.id, actor=donor, type="laptop", serial=f"ONE{i:04d}", batch_max_devices=30)
    with pytest.raises(Conflict):
        intake.add_device(batch.id, actor=donor, type="laptop", serial="ONE9999", batch_max_devices=30)
    assert _count(db, Device) == 30


def test_a_file_longer_than_a_batch_is_refused_naming_the_limit(db, app, donor, batch):
    with pytest.raises(Invalid) as refused:
        intake.import_file(batch.id, csv_rows(41), actor=donor, filename="big.csv", max_rows=40)
    assert refused.value.code == "too_many_rows" and "40" in str(refused.value)
    assert _count(db, Device) == 0


def test_collecting_a_batch_moves_every_device_in_short_transactions(db, users, donor, batch, monkeypatch):
    intake.import_file(batch.id, csv_rows(60), actor=donor, filename="a.csv")
    tech = Actor.of(users["technician"])
    commits = []
    real_commit = db.session.commit

    def counting_commit():
        commits.append(1)
        real_commit()

    monkeypatch.setattr(intake, "_WRITE_CHUNK", 25)
    monkeypatch.setattr(db.session, "commit", counting_commit)

    intake.collect_batch(batch.id, actor=tech)

    assert len(commits) == 4  # three chunks of at most 25 devices, then the batch itself
    assert _count(db, Device, Device.state == State.COLLECTED) == 60
    assert db.session.get(Batch, batch.id).status == BatchStatus.COLLECTED
    assert _count(db, CustodyEvent, CustodyEvent.type == "batch_collected") == 1
    assert verify_chain().ok


def test_a_batch_collected_again_after_an_interruption_moves_the_rest(db, users, donor, batch, monkeypatch):
    intake.import_file(batch.id, csv_rows(30), actor=donor, filename="a.csv")
    tech = Actor.of(users["technician"])
    monkeypatch.setattr(intake, "_WRITE_CHUNK", 10)
    real_transition = intake.devices.transition_many
    moved = []

    def failing_transition(devices, *args, **kwargs):
        if len(moved) + len(devices) > 15:  # the process dies in the middle of the second chunk
            raise RuntimeError("the process died here")
        moved.extend(d.id for d in devices)
        return real_transition(devices, *args, **kwargs)

    monkeypatch.setattr(intake.devices, "transition_many", failing_transition)
    with pytest.raises(RuntimeError):
        intake.collect_batch(batch.id, actor=tech)
    db.session.rollback()
    assert _count(db, Device, Device.state == State.COLLECTED) == 10  # the first chunk stands, whole
    assert db.session.get(Batch, batch.id).status == BatchStatus.OPEN

    monkeypatch.setattr(intake.devices, "transition_many", real_transition)
    intake.collect_batch(batch.id, actor=tech)
    assert _count(db, Device, Device.state == State.COLLECTED) == 30
    assert verify_chain().ok


def test_the_batch_device_list_is_paginated(db, client, donor, batch, api_headers):
    intake.import_file(batch.id, csv_rows(12), actor=donor, filename="a.csv")

    first = client.get(f"/api/v1/batches/{batch.id}/devices?per_page=5", headers=api_headers("donor")).get_json()
    last = client.get(f"/api/v1/batches/{batch.id}/devices?per_page=5&page=3", headers=api_headers("donor")).get_json()

    assert first["total"] == 12 and len(first["items"]) == 5 and len(last["items"]) == 2
    assert first["items"][0]["serial"] == "PF00000000" and last["items"][-1]["serial"] == "PF00000011"


@pytest.mark.skipif(os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
                    reason="SQLite's file lock; PostgreSQL's lock_timeout maps to the same answer")
def test_a_database_locked_past_the_busy_timeout_answers_503_with_retry_after(db, app, client, api_headers):
    from asset_tracker.db import configure_sqlite
    from asset_tracker.extensions import db as _db

    headers = api_headers("donor")
    _db.session.remove()  # the test's own session lets go of the database
    _db.engine.dispose()  # new connections take the short timeout below
    configure_sqlite(200)
    path = app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///"):]
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        resp = client.post("/api/v1/batches", json={"name": "Lot bloqué"}, headers=headers)
        page = client.post("/api/v1/batches", json={"name": "Lot bloqué"},
                           headers={**headers, "Accept": "application/json"})
    finally:
        other.execute("ROLLBACK")
        other.close()
        _db.engine.dispose()
        configure_sqlite(app.config["SQLITE_BUSY_TIMEOUT_MS"])

    for answer in (resp, page):
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "2"
        assert answer.get_json()["error"]["code"] == "busy"
    assert _count(db, Batch) == 0
    assert client.post("/api/v1/batches", json={"name": "Lot débloqué"}, headers=headers).status_code == 201
