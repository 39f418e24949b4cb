"""Ids in request bodies are checked against the caller's scope: another organisation's id and an id that does
not exist get the same 404 (the field named in `details`), and nothing is written."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from asset_tracker.core import Actor
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.intake import services as intake
from asset_tracker.lifecycle import State
from tests import factories, scope_world

NOWHERE = 987654321
NO_TAG = "RB-987654-X"


@pytest.fixture
def world(orgs, users):
    w = scope_world.build(orgs, users)
    for side, donor, partner in (("A", "donor", "partner"), ("B", "donor_b", "partner_b")):
        side_users = {**users, "technician": w["users"]["technician"][side]}
        w[side]["ready"] = factories.make_device(orgs, side_users, State.READY, donor=donor).tag
        w[side]["reserved"] = factories.make_device(orgs, side_users, State.RESERVED, donor=donor,
                                                    partner=partner).tag
        w[side]["to_recycle"] = factories.make_device(orgs, side_users, State.WIPED, donor=donor,
                                                      verdict="recycle").tag
        w[side]["diagnosed"] = factories.make_device(orgs, side_users, State.DIAGNOSED, donor=donor)
    w["open_batch"] = intake.create_batch(actor=Actor.of(users["donor"]), name="Pas encore collecté").id
    intake.add_device(w["open_batch"], actor=Actor.of(users["donor"]), type="laptop", serial="OPEN00000001")
    return w


# (case, role of side A, method, path, body with the value, value from the other side, field named)
CASES = [
    ("device into another donor's batch", "donor", "POST", lambda w, o: "/api/v1/devices",
     lambda w, o, v: {"type": "laptop", "batch_id": v}, lambda w, o: w["B"]["batch_id"], "batch_id"),
    ("device into another workshop's batch", "technician", "POST", lambda w, o: "/api/v1/devices",
     lambda w, o, v: {"type": "laptop", "batch_id": v, "donor_organisation_id": o["donor_b"].id},
     lambda w, o: w["B"]["batch_id"], "batch_id"),
    ("batch for another workshop", "technician", "POST", lambda w, o: "/api/v1/batches",
     lambda w, o, v: {"name": "Lot", "donor_organisation_id": o["donor"].id, "workshop_organisation_id": v},
     lambda w, o: w["workshops"]["B"].id, "workshop_organisation_id"),
    ("collection for another workshop", "technician", "POST",
     lambda w, o: f"/api/v1/batches/{w['open_batch']}/collect",
     lambda w, o, v: {"workshop_organisation_id": v}, lambda w, o: w["workshops"]["B"].id,
     "workshop_organisation_id"),
    ("reservation in a programme not open to the partner", "coordinator", "POST", lambda w, o: "/api/v1/reservations",
     lambda w, o, v: {"programme_id": v, "device_tag": w["A"]["ready"]}, lambda w, o: w["B"]["programme_id"],
     "programme_id"),
    ("reservation of another workshop's stock", "technician", "POST", lambda w, o: "/api/v1/reservations",
     lambda w, o, v: {"programme_id": o["programme"].id, "partner_organisation_id": o["partner"].id,
                      "device_tag": v}, lambda w, o: w["B"]["ready"], "device_tag"),
    ("reservation of a device held elsewhere", "coordinator", "POST", lambda w, o: "/api/v1/reservations",
     lambda w, o, v: {"programme_id": o["programme"].id, "device_tag": v}, lambda w, o: w["B"]["tag"],
     "device_tag"),
    ("reservation for an organisation that is no partner", "technician", "POST", lambda w, o: "/api/v1/reservations",
     lambda w, o, v: {"programme_id": o["programme"].id, "partner_organisation_id": v,
                      "device_tag": w["A"]["ready"]}, lambda w, o: o["donor"].id, "partner_organisation_id"),
    ("hand-over of another partner's reservation", "coordinator", "POST", lambda w, o: "/api/v1/handovers",
     lambda w, o, v: {"device_tag": v, "beneficiary_ref": "MC-1234", "beneficiary_category": "pupil"},
     lambda w, o: w["B"]["reserved"], "device_tag"),
    ("recycling of another workshop's device", "technician", "POST", lambda w, o: "/api/v1/recyclings",
     lambda w, o, v: {"device_tag": v, "recycler_organisation_id": o["recycler"].id, "disposal_reference": "BSD-1"},
     lambda w, o: w["B"]["to_recycle"], "device_tag"),
    ("recycling by an organisation that is no recycler", "technician", "POST", lambda w, o: "/api/v1/recyclings",
     lambda w, o, v: {"device_tag": w["A"]["to_recycle"], "recycler_organisation_id": v,
                      "disposal_reference": "BSD-1"}, lambda w, o: o["partner"].id, "recycler_organisation_id"),
    ("accessory on another workshop's device", "technician", "POST", lambda w, o: "/api/v1/accessories",
     lambda w, o, v: {"kind": "charger", "device_tag": v}, lambda w, o: w["B"]["ready"], "device_tag"),
    ("wipe record of another device's medium", "technician", "POST",
     lambda w, o: f"/api/v1/devices/{w['A']['diagnosed'].tag}/wipe-records",
     lambda w, o, v: {"medium_id": v, "result": "passed", "nist_category": "clear", "method": "Fill With Zeros",
                      "verification": "last pass", "ended_at": "2026-03-02T09:15:00+01:00"},
     lambda w, o: w["B"]["diagnosed"].media[0].id, "medium_id"),
    ("labels of another donor's device", "donor", "POST", lambda w, o: "/api/v1/labels",
     lambda w, o, v: {"tags": [v], "template": "a4-3x7-63x38"}, lambda w, o: w["B"]["tag"], "tags"),
    ("labels of another workshop's device", "technician", "POST", lambda w, o: "/api/v1/labels",
     lambda w, o, v: {"tags": [v], "template": "a4-3x7-63x38"}, lambda w, o: w["B"]["tag"], "tags"),
    ("device for an organisation that is no donor", "admin", "POST", lambda w, o: "/api/v1/devices",
     lambda w, o, v: {"type": "laptop", "donor_organisation_id": v}, lambda w, o: o["workshop"].id,
     "donor_organisation_id"),
    ("programme open to an organisation that is no partner", "admin", "POST", lambda w, o: "/api/v1/programmes",
     lambda w, o, v: {"name": "Programme C", "owner_organisation_id": o["owner"].id,
                      "targets": [{"unit": "laptop", "count": 5}],
                      "partner_ids": [v]}, lambda w, o: o["donor"].id, "partner_ids"),
]


def _user(world, users, role):
    return users["admin"] if role == "admin" else world["users"][role]["A"]


def _events(db) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(CustodyEvent))


@pytest.mark.parametrize("case, role, method, path, body, foreign, field", CASES, ids=[c[0] for c in CASES])
def test_another_organisations_id_and_an_unknown_id_get_the_same_404(
        client, db, orgs, users, world, case, role, method, path, body, foreign, field):
    headers = {"Authorization": f"Bearer {factories.token_for(_user(world, users, role))}"}
    url = path(world, orgs)
    unknown = NO_TAG if isinstance(foreign(world, orgs), str) else NOWHERE
    before = _events(db)

    answers = [client.open(url, method=method, headers=headers, json=body(world, orgs, value))
               for value in (foreign(world, orgs), unknown)]

    for resp in answers:
        assert resp.status_code == 404, (case, resp.get_json())
        assert resp.get_json()["error"]["code"] == "not_found"
        assert field in resp.get_json()["error"]["details"], resp.get_json()
    # The same answer: only the caller's own input (a tag it typed) may be echoed back.
    assert answers[0].get_json()["error"]["details"].keys() == answers[1].get_json()["error"]["details"].keys()
    assert answers[0].get_json()["error"]["message"].replace(str(foreign(world, orgs)), "?") == \
        answers[1].get_json()["error"]["message"].replace(str(unknown), "?")
    assert _events(db) == before  # nothing written


def test_an_own_batch_id_still_registers_the_device_there(client, db, users, world):
    open_batch = intake.create_batch(actor=Actor.of(users["donor"]), name="Lot du donateur")
    resp = client.post("/api/v1/devices", headers={"Authorization": f"Bearer {factories.token_for(users['donor'])}"},
                       json={"type": "laptop", "batch_id": open_batch.id})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["batch_id"] == open_batch.id


def test_a_scan_into_another_workshops_batch_is_404(client, db, orgs, users, world):
    headers = {"Authorization": f"Bearer {factories.token_for(world['users']['technician']['A'])}"}
    for batch_id in (world["B"]["batch_id"], NOWHERE):
        resp = client.post(
            "/api/v1/scans",
            headers=headers,
            json={
                "code": world["A"]["ready"],
                "action": "receive",
                "scan_id": f"scope-batch-{batch_id}",
                "batch_id": batch_id,
            },
        )
        assert resp.status_code == 404, resp.get_json()
