"""POST /api/v1/scans: what a scan does, what it refuses and why, retries and undo."""
import uuid

from sqlalchemy import func, select

from asset_tracker.custody.models import CustodyEvent
from asset_tracker.custody.services import verify_chain
from asset_tracker.devices import keyboard
from asset_tracker.devices.models import Device
from tests.factories import make_device, wipe_all


def sid():
    return uuid.uuid4().hex


def events(db, tag=None):
    q = select(func.count()).select_from(CustodyEvent)
    if tag:
        q = q.where(CustodyEvent.device_tag == tag)
    return db.session.scalar(q)


def scan(client, headers, code, action, **extra):
    body = {"code": code, "action": action, "scan_id": extra.pop("scan_id", sid()),
            "scanned_at": "2026-03-02T09:15:00+01:00", "station": "Poste 1", **extra}
    return client.post("/api/v1/scans", json=body, headers=headers)


def test_receiving_a_collected_device_moves_it_and_writes_the_event_with_station_and_scanner_time(
        client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="collected")
    before = events(db, device.tag)
    resp = scan(client, api_headers("technician"), device.tag, "receive")
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["outcome"] == "applied" and body["code"] == "applied"
    assert body["state_before"] == "collected" and body["state_after"] == "received"
    assert body["device"]["tag"] == device.tag and body["device"]["state"] == "received"
    assert body["next_step"] and body["message"]
    assert body["undo"]["possible"] is False and body["undo"]["reason"]
    assert events(db, device.tag) == before + 1
    event = db.session.execute(select(CustodyEvent).where(CustodyEvent.device_tag == device.tag)
                               .order_by(CustodyEvent.seq.desc())).scalars().first()
    assert event.station == "Poste 1" and event.state_after == "received"
    assert event.client_time.isoformat() == "2026-03-02T08:15:00+00:00"
    assert verify_chain().ok


def test_a_refused_scan_says_why_in_words_and_changes_nothing(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="ready")
    before = events(db, device.tag)
    resp = scan(client, api_headers("technician"), device.tag, "wipe")
    assert resp.status_code == 409
    err = resp.json["error"]
    assert err["code"] == "transition_not_allowed"
    assert "wiped" in err["message"].lower() or "effac" in err["message"].lower()
    assert err["details"]["outcome"] == "refused" and err["details"]["device"]["state"] == "ready"
    assert events(db, device.tag) == before
    assert db.session.get(Device, device.id).state.value == "ready"


def test_a_wipe_without_evidence_is_refused_with_the_guard_reason(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="received", media=2)
    resp = scan(client, api_headers("technician"), device.tag, "wipe")
    assert resp.status_code == 409 and resp.json["error"]["code"] == "wipe_evidence_missing"


def test_a_retried_scan_id_returns_the_first_answer_and_applies_once(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="collected")
    h, scan_id = api_headers("technician"), sid()
    first = scan(client, h, device.tag, "receive", scan_id=scan_id)
    count = events(db, device.tag)
    again = scan(client, h, device.tag, "receive", scan_id=scan_id)
    assert first.status_code == again.status_code == 200
    assert again.json["replayed"] is True and first.json["replayed"] is False
    assert again.json["state_after"] == "received"
    assert events(db, device.tag) == count


def test_a_retried_refusal_is_returned_as_it_was(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="ready")
    h, scan_id = api_headers("technician"), sid()
    first = scan(client, h, device.tag, "wipe", scan_id=scan_id)
    again = scan(client, h, device.tag, "wipe", scan_id=scan_id)
    assert first.status_code == again.status_code == 409
    assert again.json["error"]["details"]["replayed"] is True
    assert again.json["error"]["code"] == first.json["error"]["code"]


def test_the_same_scan_id_with_another_payload_is_refused(client, db, orgs, users, api_headers):
    a = make_device(orgs, users, state="collected")
    b = make_device(orgs, users, state="collected")
    h, scan_id = api_headers("technician"), sid()
    assert scan(client, h, a.tag, "receive", scan_id=scan_id).status_code == 200
    resp = scan(client, h, b.tag, "receive", scan_id=scan_id)
    assert resp.status_code == 409 and resp.json["error"]["code"] == "idempotency_key_reused"
    assert db.session.get(Device, b.id).state.value == "collected"


def test_look_up_changes_nothing(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="wiped")
    h = api_headers("technician")
    before = events(db)
    resp = scan(client, h, device.tag, "lookup")
    assert resp.status_code == 200 and resp.json["outcome"] == "looked_up"
    assert resp.json["device"]["state"] == "wiped"
    assert events(db) == before


def test_a_mistyped_check_character_is_refused_clearly(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="collected")
    wrong = device.tag[:-1] + ("A" if device.tag[-1] != "A" else "B")
    resp = scan(client, api_headers("technician"), wrong, "receive")
    assert resp.status_code == 422 and resp.json["error"]["code"] == "tag_check_failed"
    assert wrong in resp.json["error"]["message"]


def test_an_unknown_code_is_404_with_its_reason(client, db, orgs, users, api_headers):
    resp = scan(client, api_headers("technician"), "NOPE-SERIAL-42", "receive")
    assert resp.status_code == 404 and resp.json["error"]["code"] == "unknown_code"
    assert "NOPE-SERIAL-42" in resp.json["error"]["message"]


def test_a_device_is_found_by_its_serial_or_imei(client, db, orgs, users, api_headers):
    laptop = make_device(orgs, users, state="collected", serial="PF1XYZ99")
    phone = make_device(orgs, users, state="collected", type="phone", imei="490154203237518")
    h = api_headers("technician")
    resp = scan(client, h, "pf1xyz99", "receive")
    assert resp.status_code == 200 and resp.json["device"]["tag"] == laptop.tag
    assert resp.json["reading"]["how"] == "serial"
    resp = scan(client, h, "490154203237518", "receive")
    assert resp.status_code == 200 and resp.json["device"]["tag"] == phone.tag
    assert resp.json["reading"]["how"] == "imei"


def test_a_tag_garbled_by_an_azerty_keyboard_is_recovered_and_said_so(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="collected")
    typed = keyboard.garble(device.tag)
    resp = scan(client, api_headers("technician"), typed, "receive")
    assert resp.status_code == 200, resp.json
    assert resp.json["reading"] == {"typed": typed, "read": device.tag, "how": "azerty"}
    assert "AZERTY" in resp.json["recovered"] and typed in resp.json["recovered"]
    assert db.session.get(Device, device.id).state.value == "received"


def test_a_grade_is_needed_for_ready_and_kept_by_the_device(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="refurbished")
    h = api_headers("technician")
    resp = scan(client, h, device.tag, "ready")
    assert resp.status_code == 422 and "grade" in resp.json["error"]["details"]["problems"]
    resp = scan(client, h, device.tag, "ready", grade="A")
    assert resp.status_code == 200 and resp.json["device"]["grade"] == "A"


def test_the_workshop_path_by_scanning(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="collected")
    tech = users["technician"]
    h = api_headers("technician")
    assert scan(client, h, device.tag, "receive").status_code == 200
    assert scan(client, h, device.tag, "diagnose", verdict="refurbish").status_code == 200
    wipe_all(db.session.get(Device, device.id), __import__("asset_tracker.core", fromlist=["Actor"]).Actor.of(tech))
    assert scan(client, h, device.tag, "wipe").status_code == 200
    assert scan(client, h, device.tag, "refurbish").status_code == 200
    assert scan(client, h, device.tag, "ready", grade="B").status_code == 200
    resp = scan(client, h, device.tag, "reserve", programme_id=orgs["programme"].id,
                partner_organisation_id=orgs["partner"].id)
    assert resp.status_code == 200, resp.json
    assert resp.json["state_after"] == "reserved"
    assert verify_chain().ok


def test_recycling_by_scanning_needs_a_recycler(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="wiped", verdict="parts")
    h = api_headers("technician")
    assert scan(client, h, device.tag, "recycle").status_code == 422
    assert scan(client, h, device.tag, "recycle", recycler_organisation_id=orgs["recycler"].id).status_code == 422
    resp = scan(client, h, device.tag, "recycle", recycler_organisation_id=orgs["recycler"].id,
                disposal_reference="BSD-2026-0042")
    assert resp.status_code == 200 and resp.json["state_after"] == "recycled"
    from asset_tracker.distribution.models import Recycling

    assert db.session.query(Recycling).filter_by(disposal_reference="BSD-2026-0042").count() == 1


def test_a_lost_or_returned_device_can_be_received(client, db, orgs, users, api_headers):
    lost = make_device(orgs, users, state="lost")
    returned = make_device(orgs, users, state="returned")
    h = api_headers("technician")
    assert scan(client, h, lost.tag, "receive").json["state_after"] == "received"
    again = scan(client, h, lost.tag, "receive")
    assert again.status_code == 200 and again.json["outcome"] == "unchanged"
    assert scan(client, h, returned.tag, "receive").json["state_after"] == "received"


def test_undo_moves_the_device_back_once_as_a_new_event(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="ready")
    h, scan_id = api_headers("technician"), sid()
    resp = scan(client, h, device.tag, "reserve", scan_id=scan_id, programme_id=orgs["programme"].id,
                partner_organisation_id=orgs["partner"].id)
    assert resp.status_code == 200 and resp.json["undo"]["possible"] is True
    count = events(db, device.tag)
    undo = client.post(f"/api/v1/scans/{scan_id}/undo", json={"station": "Poste 1"}, headers=h)
    assert undo.status_code == 200, undo.json
    assert undo.json["outcome"] == "undone" and undo.json["device"]["state"] == "ready"
    assert events(db, device.tag) == count + 1
    again = client.post(f"/api/v1/scans/{scan_id}/undo", json={"station": "Poste 1"}, headers=h)
    assert again.status_code == 200 and again.json["replayed"] is True
    assert events(db, device.tag) == count + 1


def test_undo_is_refused_where_the_lifecycle_does_not_go_back(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="collected")
    h, scan_id = api_headers("technician"), sid()
    resp = scan(client, h, device.tag, "receive", scan_id=scan_id)
    assert resp.json["undo"]["possible"] is False
    undo = client.post(f"/api/v1/scans/{scan_id}/undo", json={}, headers=h)
    assert undo.status_code == 409 and undo.json["error"]["code"] == "undo_not_allowed"
    assert db.session.get(Device, device.id).state.value == "received"


def test_someone_elses_scan_cannot_be_undone(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="ready")
    scan_id = sid()
    scan(client, api_headers("technician"), device.tag, "reserve", scan_id=scan_id,
         programme_id=orgs["programme"].id, partner_organisation_id=orgs["partner"].id)
    undo = client.post(f"/api/v1/scans/{scan_id}/undo", json={}, headers=api_headers("technician_b"))
    assert undo.status_code == 404


def test_server_owned_and_unknown_fields_are_refused(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="collected")
    for extra in ({"state": "ready"}, {"organisation_id": 1}, {"tag": "RB-000001-X"}):
        resp = scan(client, api_headers("technician"), device.tag, "receive", **extra)
        assert resp.status_code == 422
    assert db.session.get(Device, device.id).state.value == "collected"


def test_an_unknown_action_and_a_future_scanner_time_are_refused(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="collected")
    h = api_headers("technician")
    assert scan(client, h, device.tag, "teleport").status_code == 422
    resp = scan(client, h, device.tag, "receive", scanned_at="2999-01-01T00:00:00+00:00")
    assert resp.status_code == 422 and "scanned_at" in resp.json["error"]["details"]["problems"]


def test_only_technicians_and_admins_scan(client, db, orgs, users, api_headers):
    device = make_device(orgs, users, state="collected")
    for role in ("donor", "coordinator", "auditor"):
        assert scan(client, api_headers(role), device.tag, "receive").status_code == 403
    assert scan(client, api_headers("admin"), device.tag, "lookup").status_code == 200


def test_the_scan_contract_is_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").json
    post = spec["paths"]["/api/v1/scans"]["post"]
    assert {"200", "404", "409", "422"} <= set(post["responses"])
    schema = spec["components"]["schemas"]["ScanIn"]
    assert {"code", "action", "scan_id"} <= set(schema["required"])
    assert {"scanned_at", "station", "grade", "verdict"} <= set(schema["properties"])


def test_a_reservation_by_scanning_is_recorded_by_distribution_and_undone_with_it(
        client, db, orgs, users, api_headers):
    from asset_tracker.distribution import services as distribution

    device = make_device(orgs, users, state="ready")
    h, scan_id = api_headers("technician"), sid()
    resp = scan(client, h, device.tag, "reserve", scan_id=scan_id, programme_id=orgs["programme"].id,
                partner_organisation_id=orgs["partner"].id)
    assert resp.status_code == 200, resp.json
    device = db.session.get(Device, device.id)
    assert distribution.active_reservation(device) is not None
    assert client.post(f"/api/v1/scans/{scan_id}/undo", json={}, headers=h).status_code == 200
    device = db.session.get(Device, device.id, populate_existing=True)
    assert device.state.value == "ready" and distribution.active_reservation(device) is None
