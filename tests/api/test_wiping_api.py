"""Wiping over the API: sample nwipe logs, the guard, certificates and who may download them."""
import datetime as dt
import hashlib
import io
import json
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from flask_babel import refresh

from asset_tracker.core import Actor
from asset_tracker.extensions import db
from asset_tracker.intake import services as intake
from asset_tracker.lifecycle import State
from asset_tracker.wiping import services as wiping
from tests.factories import make_device

SAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "nwipe"
PASS_LOG, FAIL_LOG = "nwipe-zero-1disk.log", "nwipe-readonly-fail.log"
UTC = dt.UTC
BEFORE_LOGS = dt.datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
AFTER_LOGS = dt.datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def upload(*names, assignments=None):
    data = {"files": [(io.BytesIO((SAMPLES / n).read_bytes()), n) for n in names]}
    if assignments is not None:
        data["assignments"] = json.dumps(assignments)
    return data


def pdf_text(data: bytes) -> str:
    doc = pdfium.PdfDocument(data)
    return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))


@pytest.fixture
def two_devices(orgs, users, frozen_clock):
    """Two diagnosed devices of one batch of the donor, received before the sample logs ran."""
    frozen_clock(BEFORE_LOGS)
    batch = intake.create_batch(actor=Actor.of(users["technician"]), name="CAF Rhône — collecte de novembre",
                                donor_organisation_id=orgs["donor"].id)
    # Media recorded without a capacity: the sample logs wiped 8 and 16 MiB loop devices, the media take their size.
    made = [make_device(orgs, users, State.DIAGNOSED, capacity_bytes=None) for _ in range(2)]
    for d in made:
        d.batch_id = batch.id
    db.session.commit()
    frozen_clock(AFTER_LOGS)
    return batch, made


def test_sample_logs_through_the_api_preview_then_import(client, api_headers, two_devices):
    batch, (good, bad) = two_devices
    h = api_headers("technician")
    preview = client.post("/api/v1/wipe-imports/nwipe/preview", data=upload(PASS_LOG, FAIL_LOG), headers=h)
    assert preview.status_code == 200, preview.json
    disks = {d["filename"]: d for d in preview.json["disks"]}
    assert preview.json["ready"] is False
    assert disks[PASS_LOG]["problem"] == "unreadable_serial" and disks[PASS_LOG]["method"] == "Fill With Zeros"
    assert disks[FAIL_LOG]["result"] == "failed"
    assert {c["device_tag"] for c in disks[PASS_LOG]["candidates"]} >= {good.tag, bad.tag}

    refused = client.post("/api/v1/wipe-imports/nwipe", data=upload(PASS_LOG, FAIL_LOG), headers=h)
    assert refused.status_code == 422 and refused.json["error"]["code"] == "unmatched_disks"

    choices = {disks[PASS_LOG]["key"]: good.media[0].id, disks[FAIL_LOG]["key"]: bad.media[0].id}
    done = client.post("/api/v1/wipe-imports/nwipe", data=upload(PASS_LOG, FAIL_LOG, assignments=choices), headers=h)
    assert done.status_code == 201, done.json
    by_result = {r["result"]: r for r in done.json["records"]}
    assert by_result["passed"]["method"] == "Fill With Zeros"
    assert by_result["passed"]["verification"] == "last pass: verified"
    assert by_result["failed"]["method"] == "PRNG Stream"

    events = client.get(f"/api/v1/devices/{good.tag}/events", headers=h).json
    wipe_event = next(e for e in events if e["type"] == "wipe_recorded")
    assert wipe_event["details"]["evidence_sha256"] == hashlib.sha256((SAMPLES / PASS_LOG).read_bytes()).hexdigest()

    ok = client.post(f"/api/v1/devices/{good.tag}/transitions", json={"target": "wiped"}, headers=h)
    assert ok.status_code == 200 and ok.json["state"] == "wiped"
    kept = client.post(f"/api/v1/devices/{bad.tag}/transitions", json={"target": "wiped"}, headers=h)
    assert kept.status_code == 409 and kept.json["error"]["code"] == "wipe_evidence_missing"


def test_an_unreadable_log_is_refused_with_its_line(client, api_headers, two_devices):
    data = {"files": [(io.BytesIO(b"[2026/11/29 03:28:29]  notice: Found /dev/sda, ATA, X, 8 MB, S/N=ABC\nrubbish\n"),
                       "broken.log")]}
    resp = client.post("/api/v1/wipe-imports/nwipe", data=data, headers=api_headers("technician"))
    assert resp.status_code == 422
    assert resp.json["error"]["details"]["file"] == "broken.log" and resp.json["error"]["details"]["line"] >= 1
    assert "broken.log" in resp.json["error"]["message"]


def test_media_are_edited_over_the_api_and_server_owned_fields_are_refused(client, api_headers, orgs, users):
    device = make_device(orgs, users, State.RECEIVED, media=0)
    h = api_headers("technician")
    created = client.post(f"/api/v1/devices/{device.tag}/media", json={"kind": "hdd", "serial": "wd-123",
                                                                       "capacity_bytes": 10**12}, headers=h)
    assert created.status_code == 201 and created.json["serial"] == "WD-123"
    assert client.post(f"/api/v1/devices/{device.tag}/media", json={"kind": "hdd", "device_id": 3},
                       headers=h).status_code == 422
    mid = created.json["id"]
    assert client.patch(f"/api/v1/devices/{device.tag}/media/{mid}", json={"kind": "ssd"},
                        headers=h).json["kind"] == "ssd"
    record = client.post(f"/api/v1/devices/{device.tag}/wipe-records", headers=h, json={
        "medium_id": mid, "result": "passed", "nist_category": "purge", "method": "ATA Secure Erase",
        "tool": "hdparm", "tool_version": "9.65", "verification": "full read-back",
        "ended_at": dt.datetime.now(UTC).isoformat()})
    assert record.status_code == 201, record.json
    assert client.post(f"/api/v1/devices/{device.tag}/wipe-records", headers=h, json={
        "medium_id": mid, "result": "passed", "nist_category": "purge", "method": "x", "verification": "v",
        "ended_at": dt.datetime.now(UTC).isoformat(), "operator_id": 1}).status_code == 422
    assert client.post(f"/api/v1/devices/{device.tag}/transitions", json={"target": "wiped"},
                       headers=h).status_code == 200
    locked = client.post(f"/api/v1/devices/{device.tag}/media", json={"kind": "ssd"}, headers=h)
    assert locked.status_code == 409 and locked.json["error"]["code"] == "media_locked"


def _wipe_and_certify(users, batch, devices_):
    tech = Actor.of(users["technician"])
    good = devices_[0]
    wiping.record_wipe(good, good.media[0].id, actor=tech, result="passed", method="Fill With Zeros",
                       nist_category="clear", tool="nwipe", tool_version="0.35", passes=1, pattern="0x00",
                       verification="last pass: verified", started_at=AFTER_LOGS - dt.timedelta(minutes=40),
                       ended_at=AFTER_LOGS - dt.timedelta(minutes=5))
    from asset_tracker.devices import services as devices
    devices.transition(good.tag, State.WIPED, actor=tech)


def test_a_donor_downloads_the_batch_certificate_another_donor_gets_404(client, api_headers, users, two_devices):
    batch, made = two_devices
    _wipe_and_certify(users, batch, made)
    resp = client.get(f"/api/v1/batches/{batch.id}/wipe-certificate.pdf", headers=api_headers("donor"))
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    text = pdf_text(resp.data)
    assert made[0].tag in text and made[1].tag in text
    assert "NIST SP 800-88" in text and "CAF du Rhône" in text
    assert "Effacé" in text or "Sanitised" in text
    assert "attente" in text or "Pending" in text  # the second device is still pending
    wiped_event = [e for e in client.get(f"/api/v1/devices/{made[0].tag}/events", headers=api_headers("auditor")).json
                   if e["state_after"] == "wiped"][-1]
    assert wiped_event["hash"] in text.replace("\r", "").replace("\n", "") or wiped_event["hash"][:16] in text
    for path in (f"/api/v1/batches/{batch.id}/wipe-certificate.pdf",
                 f"/api/v1/devices/{made[0].tag}/wipe-certificate.pdf"):
        assert client.get(path, headers=api_headers("donor_b")).status_code == 404
        assert client.get(path, headers=api_headers("auditor")).status_code == 200
        assert client.get(path, headers=api_headers("coordinator")).status_code == 403


def test_the_device_certificate_names_method_tool_verification_and_the_event_hash(client, api_headers, users,
                                                                                 two_devices):
    batch, made = two_devices
    users["technician"].name, users["technician"].job_title = "Léa Martin", "Technicienne d'effacement"
    db.session.commit()
    _wipe_and_certify(users, batch, made)
    resp = client.get(f"/api/v1/devices/{made[0].tag}/wipe-certificate.pdf", headers=api_headers("donor"))
    text = pdf_text(resp.data).replace("\r", "").replace("\n", " ")
    # The person is named by name and title, no longer by e-mail address.
    for expected in ("Fill With Zeros", "nwipe 0.35", "last pass: verified", made[0].media[0].serial,
                     "Léa Martin", "Technicienne d'effacement"):
        assert expected in text, expected
    wiped = [e for e in client.get(f"/api/v1/devices/{made[0].tag}/events", headers=api_headers("donor")).json
             if e["state_after"] == "wiped"][-1]
    assert wiped["hash"] in text.replace(" ", "")


def test_an_auditor_reads_but_cannot_write(client, api_headers, orgs, users):
    device = make_device(orgs, users, State.DIAGNOSED)
    h = api_headers("auditor")
    assert client.get(f"/api/v1/devices/{device.tag}/wipe-records", headers=h).status_code == 200
    assert client.get("/api/v1/wiping/waiting", headers=h).json[0]["tag"] == device.tag
    assert client.post(f"/api/v1/devices/{device.tag}/media", json={"kind": "ssd"}, headers=h).status_code == 403
    assert client.post("/api/v1/wipe-imports/nwipe", data=upload(PASS_LOG), headers=h).status_code == 403


def test_the_wiper_cannot_verify_over_the_api(app, client, api_headers, orgs, users, monkeypatch):
    monkeypatch.setitem(app.config, "WIPE_VERIFICATION_SHARE", 1.0)
    device = make_device(orgs, users, State.WIPED)
    assert [c["status"] for c in client.get("/api/v1/wipe-verifications", headers=api_headers("auditor")).json] == \
        ["pending"]
    own = client.post(f"/api/v1/devices/{device.tag}/wipe-verification", json={"confirmed": True},
                      headers=api_headers("technician"))
    assert own.status_code == 409 and own.json["error"]["code"] == "verifier_is_wiper"
    other = client.post(f"/api/v1/devices/{device.tag}/wipe-verification", json={"confirmed": True},
                        headers=api_headers("technician_b"))
    assert other.status_code == 200 and other.json["status"] == "confirmed"


def test_a_log_reused_for_another_device_is_409_in_french_and_english_and_writes_nothing(client, api_headers,
                                                                                         two_devices):
    batch, (first, second) = two_devices
    h = api_headers("technician")
    key = client.post("/api/v1/wipe-imports/nwipe/preview", data=upload(PASS_LOG), headers=h).json["disks"][0]["key"]
    done = client.post("/api/v1/wipe-imports/nwipe", data=upload(PASS_LOG, assignments={key: first.media[0].id}),
                       headers=h)
    assert done.status_code == 201
    preview = client.post("/api/v1/wipe-imports/nwipe/preview",
                          data=upload(PASS_LOG, assignments={key: second.media[0].id}), headers=h)
    assert preview.json["disks"][0]["problem"] == "already_used" and preview.json["disks"][0]["used_by"] == first.tag
    events_before = len(client.get(f"/api/v1/devices/{second.tag}/events", headers=h).json)
    for lang, words in (("fr", "a déjà effacé un support de l'appareil"), ("en", "already cleared a storage medium")):
        refresh()  # the test's app context outlives each request: forget the previous request's language
        refused = client.post(f"/api/v1/wipe-imports/nwipe?lang={lang}",
                              data=upload(PASS_LOG, assignments={key: second.media[0].id}), headers=h)
        assert refused.status_code == 409, refused.json
        assert refused.json["error"]["code"] == "evidence_already_used"
        assert words in refused.json["error"]["message"] and first.tag in refused.json["error"]["message"]
    assert len(client.get(f"/api/v1/devices/{second.tag}/wipe-records", headers=h).json) == 0
    assert len(client.get(f"/api/v1/devices/{second.tag}/events", headers=h).json) == events_before
