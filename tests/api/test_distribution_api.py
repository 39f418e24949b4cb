"""Distribution API: contracts, 422 on server-owned fields, and 404 or no reference outside the partner."""
from __future__ import annotations

import pytest

from asset_tracker.core import Actor
from asset_tracker.distribution import services as dist
from asset_tracker.lifecycle import State
from tests import factories
from tests.factories import handing_over


@pytest.fixture
def handover(orgs, users):
    device = factories.make_device(orgs, users, State.READY)
    coord = Actor.of(users["coordinator_b"])
    dist.reserve_device(device.tag, actor=coord, programme_id=orgs["programme"].id)
    return dist.record_handover(device.tag, actor=coord, beneficiary_ref="MC-3141", beneficiary_category="pupil",
                                **handing_over())


def test_bulk_reservation_through_the_api(client, orgs, users, api_headers):
    for _ in range(3):
        factories.make_device(orgs, users, State.READY)
    resp = client.post("/api/v1/reservations", headers=api_headers("coordinator"),
                       json={"programme_id": orgs["programme"].id, "count": 3, "type": "laptop"})
    assert resp.status_code == 201
    assert {r["partner"]["id"] for r in resp.get_json()} == {orgs["partner"].id}
    resp = client.post("/api/v1/reservations", headers=api_headers("coordinator"),
                       json={"programme_id": orgs["programme"].id, "count": 1, "type": "laptop"})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "not_enough_stock"


def test_a_coordinator_cannot_reserve_for_another_partner(client, orgs, users, api_headers):
    device = factories.make_device(orgs, users, State.READY)
    resp = client.post(
        "/api/v1/reservations",
        headers=api_headers("coordinator"),
        json={
            "programme_id": orgs["programme"].id,
            "device_tag": device.tag,
            "partner_organisation_id": orgs["partner_b"].id,
        },
    )
    assert resp.status_code == 422


@pytest.mark.parametrize("field,value", [("state", "handed_over"), ("organisation_id", 1),
                                         ("beneficiary_ref_hmac", "00"), ("partner_organisation_id", 1)])
def test_server_owned_fields_in_a_hand_over_are_refused(client, orgs, users, api_headers, field, value):
    device = factories.make_device(orgs, users, State.READY)
    dist.reserve_device(device.tag, actor=Actor.of(users["coordinator_b"]), programme_id=orgs["programme"].id)
    resp = client.post("/api/v1/handovers", headers=api_headers("coordinator_b"), json={
        "device_tag": device.tag, "beneficiary_ref": "MC-0001", "beneficiary_category": "pupil", field: value})
    assert resp.status_code == 422
    assert client.get(f"/api/v1/devices/{device.tag}", headers=api_headers("admin")).get_json()["state"] == "reserved"


def test_the_recording_partner_reads_its_reference(client, handover, api_headers):
    resp = client.get(f"/api/v1/handovers/{handover.id}", headers=api_headers("coordinator_b"))
    assert resp.status_code == 200 and resp.get_json()["beneficiary_ref"] == "MC-3141"


# Another partner may read hand-overs but not this one (404); donors and the workshop read none (403).
@pytest.mark.parametrize("role, status", [("coordinator", 404), ("donor", 403), ("technician", 403)])
def test_another_partner_gets_404_a_donor_and_the_workshop_403(client, handover, api_headers, role, status):
    for path in (f"/api/v1/handovers/{handover.id}", f"/api/v1/handovers/{handover.id}/receipt.pdf"):
        assert client.get(path, headers=api_headers(role)).status_code == status, path
    resp = client.post(f"/api/v1/handovers/{handover.id}/erase-reference", headers=api_headers(role))
    assert resp.status_code == status
    listing = client.get("/api/v1/handovers", headers=api_headers(role))
    assert "MC-3141" not in listing.get_data(as_text=True)


def test_another_partner_gets_404_not_403(client, handover, api_headers):
    assert client.get(f"/api/v1/handovers/{handover.id}", headers=api_headers("coordinator")).status_code == 404
    resp = client.post(f"/api/v1/handovers/{handover.id}/return", headers=api_headers("coordinator"),
                       json={"reason": "x"})
    assert resp.status_code == 404


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_auditors_and_admins_see_the_hand_over_but_not_to_whom(client, handover, api_headers, role):
    resp = client.get(f"/api/v1/handovers/{handover.id}", headers=api_headers(role))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["beneficiary_ref"] is None and body["beneficiary_category"] == "pupil"
    assert "MC-3141" not in client.get("/api/v1/handovers", headers=api_headers(role)).get_data(as_text=True)
    events = client.get(f"/api/v1/devices/{body['device_tag']}/events", headers=api_headers(role))
    assert "MC-3141" not in events.get_data(as_text=True)


def test_programmes_are_created_by_admins_with_allowed_partners(client, orgs, api_headers):
    resp = client.post("/api/v1/programmes", headers=api_headers("admin"), json={
        "name": "Kits inclusifs familles", "owner_organisation_id": orgs["owner"].id,
        "kit_kinds": [{"code": "family_kit", "name": "Kit famille", "device_types": ["laptop", "desktop"],
                       "accessory_kinds": ["mobile_key", "charger"]}],
        "targets": [{"unit": "family_kit", "count": 2000}],
        "beneficiary_categories": ["family"], "partner_ids": [orgs["partner"].id]})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert [(t["unit"], t["count"], t["done"]) for t in body["targets"]] == [("family_kit", 2000, 0)]
    assert [p["id"] for p in body["partners"]] == [orgs["partner"].id]
    assert client.post("/api/v1/programmes", headers=api_headers("coordinator"), json={
        "name": "x", "owner_organisation_id": orgs["owner"].id, "targets": []}).status_code == 403
    listing = client.get("/api/v1/programmes", headers=api_headers("coordinator_b")).get_json()
    assert "Kits inclusifs familles" not in [p["name"] for p in listing]
    assert client.get(f"/api/v1/programmes/{body['id']}", headers=api_headers("coordinator_b")).status_code == 404
