"""After erasure, a beneficiary reference is nowhere: no table, no export, no log line — and the chain verifies."""
from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import inspect, text

from asset_tracker.core import Actor
from asset_tracker.custody.services import verify_chain
from asset_tracker.lifecycle import State
from tests import factories
from tests.factories import handing_over

REF = "MC-4815"
LOGGERS = ("asset_tracker", "flask.app", "werkzeug", "waitress", "apscheduler", "")


def tables_containing(db, needle: str) -> list[str]:
    """Every table, every column, every row, read as text: where does ``needle`` appear?"""
    found = []
    db.session.commit()
    with db.engine.connect().execution_options(sqlite_deferred=True) as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                if any(needle in str(value) for value in row if value is not None):
                    found.append(table)
                    break
    return found


def pdf_text(data: bytes) -> str:
    import pypdfium2

    doc = pypdfium2.PdfDocument(io.BytesIO(data))
    return "\n".join(page.get_textpage().get_text_range() for page in doc)


def exports(app, client, api_headers, users, handover_id, tag) -> dict[str, str]:
    """Every export a reader may take of this hand-over: its pages, JSON, CSV and PDF, and any audit export."""
    out = {}
    for role in ("coordinator_b", "auditor", "admin"):
        h = api_headers(role)
        for path in (f"/api/v1/handovers/{handover_id}", "/api/v1/handovers", f"/api/v1/devices/{tag}/events"):
            out[f"{role} {path}"] = client.get(path, headers=h).get_data(as_text=True)
        for rule in app.url_map.iter_rules():
            is_export = any(k in rule.rule for k in ("export", "/events", ".csv", ".jsonl"))
            if is_export and "GET" in rule.methods and not rule.arguments and rule.rule.startswith("/api/"):
                out[f"{role} {rule.rule}"] = client.get(rule.rule, headers=h).get_data(as_text=True)
    receipt = client.get(f"/api/v1/handovers/{handover_id}/receipt.pdf", headers=api_headers("coordinator_b"))
    assert receipt.status_code == 200
    out["receipt"] = pdf_text(receipt.data)
    return out


def test_an_erased_reference_is_in_no_table_export_or_log_and_the_chain_verifies(
        app, db, client, orgs, users, api_headers, runner, caplog):
    for name in LOGGERS:
        caplog.set_level(logging.INFO, logger=name or None)
    device = factories.make_device(orgs, users, State.READY)
    tag = device.tag
    coord = api_headers("coordinator_b")
    resp = client.post("/api/v1/reservations", headers=coord,
                       json={"programme_id": orgs["programme"].id, "device_tag": tag})
    assert resp.status_code == 201, resp.get_json()
    resp = client.post("/api/v1/handovers", headers=coord, json={
        "device_tag": tag, "beneficiary_ref": REF, "beneficiary_category": "pupil", "loan": True,
        "expected_return_on": "2099-06-30",
        "new_accessories": [{"kind": "mobile_key", "imei": "490154203237518", "iccid": "8933150319000123451"},
                            {"kind": "charger"}]})
    assert resp.status_code == 201, resp.get_json()
    handover_id = resp.get_json()["id"]
    charger = next(i["accessory"]["id"] for i in resp.get_json()["items"] if i["accessory"]["kind"] == "charger")
    resp = client.post(f"/api/v1/handovers/{handover_id}/return", headers=coord,
                       json={"reason": "end of school year", "missing_accessory_ids": [charger]})
    assert resp.status_code == 200, resp.get_json()

    # The search works: before erasure the reference is in the hand-over table, the partner's views and the receipt.
    assert tables_containing(db, REF) == ["handovers"]
    before = exports(app, client, api_headers, users, handover_id, tag)
    assert REF in before["receipt"] and REF in before[f"coordinator_b /api/v1/handovers/{handover_id}"]

    resp = client.post(f"/api/v1/handovers/{handover_id}/erase-reference", headers=coord)
    assert resp.status_code == 200 and resp.get_json()["beneficiary_ref"] is None

    assert tables_containing(db, REF) == []
    for name, body in exports(app, client, api_headers, users, handover_id, tag).items():
        assert REF not in body, f"{REF} still in {name}"
    assert REF not in caplog.text
    assert verify_chain().ok
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    # The history is still whole: hand-over, return and erasure are all in the device's timeline.
    events = client.get(f"/api/v1/devices/{tag}/events", headers=api_headers("auditor")).get_json()
    assert [e["state_after"] for e in events if e["state_after"]][-2:] == ["handed_over", "returned"]
    assert events[-1]["type"] == "beneficiary_reference_erased"


# ---------------------------------------------------------------- no copy left in the database files

FILE_REF = "MC-9731"


def _handed_over_with(orgs, users, ref: str):
    from asset_tracker.distribution import services as dist

    device = factories.make_device(orgs, users, State.READY)
    coord = Actor.of(users["coordinator_b"])
    dist.reserve_device(device.tag, actor=coord, programme_id=orgs["programme"].id)
    return dist.record_handover(device.tag, actor=coord, beneficiary_ref=ref, beneficiary_category="pupil",
                                **handing_over())


def _sqlite_file_bytes(db) -> bytes:
    """The database file and its write-ahead log, read after a checkpoint of the log."""
    import os

    db.session.commit()
    raw = db.engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    path = db.engine.url.database
    data = open(path, "rb").read()
    if os.path.exists(path + "-wal"):
        data += open(path + "-wal", "rb").read()
    return data


def test_every_sqlite_connection_zeroes_what_it_deletes(db):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA secure_delete").scalar() == 1


def test_an_erased_reference_is_not_in_the_sqlite_files_bytes(db, client, orgs, users, api_headers):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    handover = _handed_over_with(orgs, users, FILE_REF)
    assert FILE_REF.encode() in _sqlite_file_bytes(db)  # the search finds it while it is stored

    resp = client.post(f"/api/v1/handovers/{handover.id}/erase-reference", headers=api_headers("coordinator_b"))
    assert resp.status_code == 200

    assert FILE_REF.encode() not in _sqlite_file_bytes(db)


def test_references_purged_for_retention_are_not_in_the_sqlite_files_bytes(db, orgs, users, runner):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    from asset_tracker.distribution import services as dist

    handover = _handed_over_with(orgs, users, FILE_REF)
    dist.record_return(handover.id, actor=Actor.of(users["coordinator_b"]), reason="end of school year")
    assert FILE_REF.encode() in _sqlite_file_bytes(db)

    result = runner.invoke(args=["distribution", "purge-references", "--days", "0"])
    assert result.exit_code == 0 and "1 beneficiary references erased" in result.output

    assert FILE_REF.encode() not in _sqlite_file_bytes(db)


def test_an_erased_reference_leaves_no_dead_tuple_in_postgresql(db, client, orgs, users, api_headers):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pageinspect")

    def in_heap_pages() -> bool:
        db.session.commit()
        with db.engine.connect() as conn:
            pages = conn.exec_driver_sql("SELECT pg_relation_size('handovers') / current_setting('block_size')::int") \
                .scalar()
            return any(conn.exec_driver_sql("SELECT position(%(ref)s::bytea IN get_raw_page('handovers', %(n)s)) > 0",
                                            {"ref": FILE_REF, "n": n}).scalar() for n in range(pages))

    handover_id = _handed_over_with(orgs, users, FILE_REF).id
    headers = api_headers("coordinator_b")
    assert in_heap_pages()  # the search finds it while it is stored; the test holds no lock on the table after it

    resp = client.post(f"/api/v1/handovers/{handover_id}/erase-reference", headers=headers)
    assert resp.status_code == 200

    assert not in_heap_pages()
