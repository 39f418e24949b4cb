"""Exports: streamed, scoped, recorded in the custody log, formula-safe, and verifiable with the public key alone."""
import csv
import io
import json
import subprocess
import sys

import pytest
from flask import current_app
from openpyxl import load_workbook

from asset_tracker.audit import keys, services
from asset_tracker.audit.exports import neutralise
from asset_tracker.core import Actor
from asset_tracker.custody.services import HASHED
from asset_tracker.devices import services as devices
from tests.audit_support import TriggersOff, rehash_from, signing_key  # noqa: F401
from tests.factories import make_device

FORMULA = "=HYPERLINK(\"http://evil.example\",\"clic\")"


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+33 6", "'+33 6"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("ThinkPad", "ThinkPad"), ("", ""), (None, None), (-2, -2), ("a=b", "a=b"),
])
def test_formula_like_cells_get_a_leading_apostrophe(value, expected):
    assert neutralise(value) == expected


def _rows(resp):
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))


def _device_with_formula(orgs, users):
    device = make_device(orgs, users, "received")
    devices.update_device(device.tag, {"model": FORMULA, "brand": "@Lenovo"}, actor=Actor.of(users["technician"]))
    return device


def test_devices_csv_neutralises_formulas(client, orgs, users, api_headers):
    device = _device_with_formula(orgs, users)
    resp = client.get("/api/v1/audit/devices.csv", headers=api_headers("auditor"))
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"].startswith("attachment")
    row = next(r for r in _rows(resp) if r["tag"] == device.tag)
    assert row["model"] == "'" + FORMULA and row["brand"] == "'@Lenovo" and row["state"] == "received"


def test_events_csv_neutralises_notes(client, orgs, users, api_headers, db):
    device = make_device(orgs, users, "collected")
    devices.transition(device, "received", actor=Actor.of(users["technician"]), note="-cmd|' /C calc'!A0")
    resp = client.get(f"/api/v1/audit/events.csv?device={device.tag}", headers=api_headers("auditor"))
    notes = [r["note"] for r in _rows(resp) if r["note"]]
    assert notes == ["'-cmd|' /C calc'!A0"]


def test_devices_xlsx_holds_text_never_a_live_formula(client, orgs, users, api_headers):
    device = _device_with_formula(orgs, users)
    resp = client.get("/api/v1/audit/devices.xlsx", headers=api_headers("auditor"))
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, [c for c in r], strict=False)) for r in ws.iter_rows(min_row=2)]
    row = next(r for r in rows if r["tag"].value == device.tag)
    assert row["model"].value == "'" + FORMULA and row["model"].data_type == "s"
    assert row["brand"].value == "'@Lenovo"
    assert not any(c.data_type == "f" for r in rows for c in r.values())


def test_wipes_and_batches_xlsx_are_formula_safe(client, orgs, users, api_headers, db):
    from asset_tracker.intake import services as intake

    intake.create_batch(actor=Actor.of(users["donor"]), name="=cmd()", declared_counts={"laptop": 2})
    make_device(orgs, users, "wiped")
    for kind in ("wipes", "batches"):
        resp = client.get(f"/api/v1/audit/{kind}.xlsx", headers=api_headers("auditor"))
        assert resp.status_code == 200, resp.data[:300]
        ws = load_workbook(io.BytesIO(resp.data)).active
        cells = [c for r in ws.iter_rows() for c in r]
        assert not any(c.data_type == "f" for c in cells)
    assert "'=cmd()" in [c.value for c in cells]


def jsonl_rows(text: str) -> list[dict]:
    """The rows of a JSON Lines export, after checking its last line is the trailer counting them."""
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines and set(lines[-1]) == {"trailer"}, lines[-1:]
    rows = lines[:-1]
    assert lines[-1]["trailer"]["rows"] == len(rows) and lines[-1]["trailer"]["complete"] is True
    return rows


def test_an_export_is_recorded_in_the_custody_log_before_it_streams(client, orgs, users, api_headers, db):
    make_device(orgs, users, "registered")
    resp = client.get("/api/v1/audit/events.jsonl", headers=api_headers("auditor"))
    lines = jsonl_rows(resp.get_data(as_text=True))
    # The export's own event is already in the export: it was committed before the first row was read.
    last = lines[-1]
    assert last["type"] == "export" and last["actor_name"] == users["auditor"].display_name
    assert json.loads(last["details"]) == {"format": "jsonl", "kind": "events", "filters": {}, "role": "auditor"}
    assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))


def test_events_jsonl_holds_every_hashed_field_and_no_beneficiary_reference(client, orgs, users, api_headers):
    make_device(orgs, users, "handed_over")
    resp = client.get("/api/v1/audit/events.jsonl", headers=api_headers("auditor"))
    text = resp.get_data(as_text=True)
    assert "MC-0042" not in text  # the factory's beneficiary reference
    events = jsonl_rows(text)
    assert set(HASHED) <= set(events[0])
    handover = next(e for e in events if e["state_after"] == "handed_over")
    details = json.loads(handover["details"])
    assert "beneficiary_ref" not in details and len(details["beneficiary_ref_hmac"]) == 64


def test_donors_export_only_their_own_devices_and_their_events(client, orgs, users, api_headers):
    own = make_device(orgs, users, "registered", donor="donor")
    other = make_device(orgs, users, "registered", donor="donor_b")
    tags = {r["tag"] for r in _rows(client.get("/api/v1/audit/devices.csv", headers=api_headers("donor")))}
    assert tags == {own.tag}
    events = _rows(client.get("/api/v1/audit/events.csv", headers=api_headers("donor")))
    assert {e["device_tag"] for e in events} == {own.tag}
    assert other.tag not in client.get("/api/v1/audit/events.jsonl", headers=api_headers("donor")).get_data(True)


def test_coordinators_export_only_their_scope(client, orgs, users, api_headers):
    mine = make_device(orgs, users, "reserved", partner="partner")
    theirs = make_device(orgs, users, "reserved", partner="partner_b")
    make_device(orgs, users, "ready")
    tags = {r["tag"] for r in _rows(client.get("/api/v1/audit/devices.csv", headers=api_headers("coordinator")))}
    assert tags == {mine.tag} and theirs.tag not in tags


def test_devices_export_is_filtered_like_the_list(client, orgs, users, api_headers):
    received = make_device(orgs, users, "received")
    make_device(orgs, users, "registered")
    rows = _rows(client.get("/api/v1/audit/devices.csv?state=received", headers=api_headers("auditor")))
    assert [r["tag"] for r in rows] == [received.tag]


def test_exports_stream_in_pages(app, client, orgs, users, api_headers):
    for _ in range(3):
        make_device(orgs, users, "received")
    app.config["EXPORT_CHUNK_ROWS"] = 2
    try:
        resp = client.get("/api/v1/audit/events.jsonl", headers=api_headers("auditor"))
        assert resp.is_streamed
        seqs = [e["seq"] for e in jsonl_rows(resp.get_data(as_text=True))]
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) > 6
    finally:
        app.config["EXPORT_CHUNK_ROWS"] = 5000


def test_unknown_format_is_404(client, users, api_headers):
    assert client.get("/api/v1/audit/events.xlsx", headers=api_headers("auditor")).status_code == 404


# ---------------------------------------------------------------- checkpoints over the API and the standalone verifier


def _download(client, api_headers, tmp_path):
    headers = api_headers("auditor")
    (tmp_path / "events.jsonl").write_bytes(client.get("/api/v1/audit/events.jsonl", headers=headers).data)
    (tmp_path / "checkpoints.jsonl").write_bytes(client.get("/api/v1/audit/checkpoints.jsonl", headers=headers).data)
    (tmp_path / "public.pem").write_bytes(client.get("/api/v1/audit/public-key.pem", headers=headers).data)


def _run_verifier(tmp_path, *extra):
    from asset_tracker.audit import verify_export

    script = verify_export.__file__
    # The verifier runs as a plain script: only the standard library and `cryptography`.
    return subprocess.run([sys.executable, "-I", script, str(tmp_path / "events.jsonl"),
                           str(tmp_path / "checkpoints.jsonl"), str(tmp_path / "public.pem"), *extra],
                          capture_output=True, text=True, timeout=60)


def test_an_outside_auditor_verifies_an_export_with_the_public_key_alone(client, orgs, users, api_headers,
                                                                        signing_key, tmp_path, db):
    make_device(orgs, users, "handed_over")
    assert client.post("/api/v1/audit/checkpoints", headers=api_headers("admin")).status_code == 201
    make_device(orgs, users, "received")
    _download(client, api_headers, tmp_path)
    done = _run_verifier(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 of 1 valid checkpoints matched" in done.stdout


def test_the_standalone_verifier_catches_an_edited_export(client, orgs, users, api_headers, signing_key, tmp_path):
    make_device(orgs, users, "ready")
    services.sign_checkpoint(actor=Actor.system("tests"), key_path=current_app.config["AUDIT_SIGNING_KEY_PATH"])
    _download(client, api_headers, tmp_path)
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    event = json.loads(lines[3])
    event["actor_name"] = "nobody@example.org"
    lines[3] = json.dumps(event, ensure_ascii=False)
    (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
    done = _run_verifier(tmp_path)
    assert done.returncode == 1 and "event #4 (line 4) was altered" in done.stdout


def test_the_standalone_verifier_catches_a_rewritten_log_and_a_truncated_export(client, orgs, users, api_headers,
                                                                                signing_key, tmp_path, db):
    make_device(orgs, users, "ready")
    cp = services.sign_checkpoint(actor=Actor.system("tests"), key_path=current_app.config["AUDIT_SIGNING_KEY_PATH"])
    with TriggersOff(db) as conn:
        conn.exec_driver_sql("UPDATE custody_events SET note = 'forged' WHERE seq = 3")
    rehash_from(db, 3)  # every later hash recomputed: the export is self-consistent
    _download(client, api_headers, tmp_path)
    done = _run_verifier(tmp_path)
    assert done.returncode == 1 and f"checkpoint #{cp.seq}" in done.stdout and "rewritten" in done.stdout
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    (tmp_path / "events.jsonl").write_text("\n".join(lines[:2]) + "\n")
    done = _run_verifier(tmp_path)
    assert done.returncode == 1 and "truncated" in done.stdout


def test_the_standalone_verifier_refuses_an_export_cut_before_its_trailer(client, orgs, users, api_headers,
                                                                          signing_key, tmp_path):
    make_device(orgs, users, "ready")
    services.sign_checkpoint(actor=Actor.system("tests"), key_path=current_app.config["AUDIT_SIGNING_KEY_PATH"])
    make_device(orgs, users, "received")
    _download(client, api_headers, tmp_path)
    assert _run_verifier(tmp_path).returncode == 0
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    # Cut after the checkpoint's event but before the end: every hash and checkpoint still holds.
    (tmp_path / "events.jsonl").write_text("\n".join(lines[:-2]) + "\n")
    done = _run_verifier(tmp_path)
    assert done.returncode == 1 and "without its trailer line" in done.stdout, done.stdout
    trailer = json.loads(lines[-1])
    trailer["trailer"]["rows"] += 1
    (tmp_path / "events.jsonl").write_text("\n".join(lines[:-1] + [json.dumps(trailer)]) + "\n")
    done = _run_verifier(tmp_path)
    assert done.returncode == 1 and "the trailer counts" in done.stdout, done.stdout


def test_the_standalone_verifier_refuses_a_forged_checkpoint(client, orgs, users, api_headers, signing_key, tmp_path):
    make_device(orgs, users, "ready")
    services.sign_checkpoint(actor=Actor.system("tests"), key_path=current_app.config["AUDIT_SIGNING_KEY_PATH"])
    _download(client, api_headers, tmp_path)
    cp = json.loads((tmp_path / "checkpoints.jsonl").read_text())
    cp["seq"] -= 1
    (tmp_path / "checkpoints.jsonl").write_text(json.dumps(cp) + "\n")
    done = _run_verifier(tmp_path)
    assert done.returncode == 1 and "signature does not verify" in done.stdout


def test_the_verifier_and_the_service_agree_on_what_is_hashed_and_signed():
    from asset_tracker.audit import verify_export

    assert verify_export.HASHED == HASHED
    cp = {"seq": 7, "head_hash": "ab" * 32, "signed_at": "2026-01-01T02:00:00.000000Z", "key_id": "k"}
    assert verify_export.checkpoint_message(cp) == keys.checkpoint_message(7, "ab" * 32, cp["signed_at"], "k")


# ---------------------------------------------------------------- an auditor reads, never writes


def test_an_auditor_cannot_sign_a_checkpoint_or_write_anywhere_in_audit(app, client, api_headers, signing_key):
    headers = api_headers("auditor")
    assert client.post("/api/v1/audit/checkpoints", headers=headers).status_code == 403
    audit_writes = [r for r in app.url_map.iter_rules()
                    if (r.rule.startswith("/api/v1/audit") or r.rule.startswith("/audit")
                        or r.rule.startswith("/reports") or r.rule.startswith("/api/v1/reports"))
                    and r.methods - {"GET", "HEAD", "OPTIONS"}]
    for r in audit_writes:
        for method in r.methods - {"GET", "HEAD", "OPTIONS"}:
            resp = client.open(r.rule, method=method, headers=headers, json={})
            assert resp.status_code == 403, (method, r.rule)
    assert services.list_checkpoints() == []


def test_an_auditor_downloads_checkpoints_and_the_public_key_but_a_donor_does_not(client, orgs, users, api_headers,
                                                                                signing_key):
    make_device(orgs, users, "registered")
    services.sign_checkpoint(actor=Actor.system("tests"), key_path=current_app.config["AUDIT_SIGNING_KEY_PATH"])
    resp = client.get("/api/v1/audit/public-key.pem", headers=api_headers("auditor"))
    assert resp.status_code == 200 and resp.data.startswith(b"-----BEGIN PUBLIC KEY-----")
    cps = client.get("/api/v1/audit/checkpoints.jsonl", headers=api_headers("auditor")).get_data(as_text=True)
    assert set(json.loads(cps)) == {"seq", "head_hash", "signed_at", "key_id", "signature"}
    for path in ("/api/v1/audit/public-key.pem", "/api/v1/audit/checkpoints.jsonl"):
        assert client.get(path, headers=api_headers("donor")).status_code == 403
    report = client.get("/api/v1/audit/checkpoints/verify", headers=api_headers("auditor")).json
    assert report["ok"] is True and report["checkpoints_checked"] == 1
