"""The device API from the outside, with a token made by `flask tokens create`."""
import pytest

from tests.factories import make_device


@pytest.fixture
def cli_token(runner, users):
    result = runner.invoke(args=["tokens", "create", users["technician"].email])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_walk_a_device_through_the_api_as_far_as_the_guards_allow(client, runner, users, orgs, api_headers):
    donor_token = runner.invoke(args=["tokens", "create", users["donor"].email]).output.strip().splitlines()[-1]
    tech_token = runner.invoke(args=["tokens", "create", users["technician"].email]).output.strip().splitlines()[-1]
    donor = {"Authorization": f"Bearer {donor_token}"}
    tech = {"Authorization": f"Bearer {tech_token}"}

    created = client.post("/api/v1/devices", headers=donor, json={
        "type": "laptop", "brand": "Dell", "model": "Latitude 5490", "serial": "5CG1234XYZ",
        "media": [{"kind": "ssd", "serial": "S3Z9NB0K123", "capacity_bytes": 256000000000}]})
    assert created.status_code == 201, created.json
    tag = created.json["tag"]
    assert created.json["state"] == "registered" and created.json["donor"]["id"] == orgs["donor"].id

    for target, body in [("collected", {}), ("received", {}), ("diagnosed", {"verdict": "refurbish"})]:
        resp = client.post(f"/api/v1/devices/{tag}/transitions", headers=tech, json={"target": target, **body})
        assert resp.status_code == 200, resp.json
        assert resp.json["state"] == target

    refused = client.post(f"/api/v1/devices/{tag}/transitions", headers=tech, json={"target": "wiped"})
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "wipe_evidence_missing"
    assert "1" in refused.json["error"]["message"]

    forbidden = client.post(f"/api/v1/devices/{tag}/transitions", headers=tech, json={"target": "ready", "grade": "A"})
    assert forbidden.status_code == 409
    assert forbidden.json["error"]["code"] == "transition_not_allowed"
    assert forbidden.json["error"]["details"] == {"from": "diagnosed", "to": "ready"}

    events = client.get(f"/api/v1/devices/{tag}/events", headers=donor)
    assert events.status_code == 200
    assert [e["state_after"] for e in events.json] == ["registered", "collected", "received", "diagnosed"]
    assert events.json[-1]["actor_name"] == users["technician"].display_name
    assert all(len(e["hash"]) == 64 for e in events.json)
    assert events.json[1]["prev_hash"] == events.json[0]["hash"]


def test_another_donors_device_answers_404_everywhere(client, orgs, users, api_headers):
    device = make_device(orgs, users, "registered", donor="donor_b")
    other = api_headers("donor")
    for method, path, body in [
        ("get", f"/api/v1/devices/{device.tag}", None),
        ("get", f"/api/v1/devices/{device.tag}/events", None),
        ("patch", f"/api/v1/devices/{device.tag}", {"model": "X"}),
        ("post", f"/api/v1/devices/{device.tag}/transitions", {"target": "lost", "reason": "x"}),
    ]:
        resp = getattr(client, method)(path, headers=other, json=body)
        assert resp.status_code == 404, (path, resp.status_code)
        assert resp.json["error"]["code"] == "not_found"
    listed = client.get("/api/v1/devices", headers=other).json
    assert device.tag not in {d["tag"] for d in listed["items"]}
    assert client.get(f"/api/v1/devices/{device.tag}", headers=api_headers("donor_b")).status_code == 200


@pytest.mark.parametrize("field,value", [("state", "ready"), ("tag", "RB-000001-2"), ("organisation_id", 1),
                                         ("custodian_organisation_id", 2), ("hash", "0" * 64), ("id", 5)])
def test_server_owned_fields_in_a_create_body_are_refused(client, users, api_headers, db, field, value):
    from asset_tracker.devices.models import Device

    resp = client.post("/api/v1/devices", headers=api_headers("donor"), json={"type": "laptop", field: value})
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "invalid"
    assert field in resp.json["error"]["details"]
    assert db.session.query(Device).count() == 0


def test_a_donor_cannot_register_for_another_donor(client, orgs, api_headers, db):
    resp = client.post("/api/v1/devices", headers=api_headers("donor"),
                       json={"type": "laptop", "donor_organisation_id": orgs["donor_b"].id})
    assert resp.status_code == 422


def test_a_technician_registers_for_a_named_donor(client, orgs, api_headers):
    resp = client.post("/api/v1/devices", headers=api_headers("technician"),
                       json={"type": "tablet", "donor_organisation_id": orgs["donor_b"].id})
    assert resp.status_code == 201 and resp.json["donor"]["name"] == "Mairie de Lyon"


def test_duplicate_serial_is_a_conflict_naming_it(client, api_headers):
    body = {"type": "laptop", "serial": "ABC12345"}
    assert client.post("/api/v1/devices", headers=api_headers("donor"), json=body).status_code == 201
    again = client.post("/api/v1/devices", headers=api_headers("donor"), json=body)
    assert again.status_code == 409 and "ABC12345" in again.json["error"]["message"]


@pytest.mark.parametrize("body,field", [({"type": "toaster"}, "type"), ({"type": "phone", "imei": "123"}, "imei"),
                                        ({"type": "phone", "imei": "356938035643808"}, "imei"), ({}, "type")])
def test_bad_input_names_the_field(client, api_headers, body, field):
    resp = client.post("/api/v1/devices", headers=api_headers("donor"), json=body)
    assert resp.status_code == 422, resp.json
    assert field in resp.json["error"]["details"]


def test_list_filters_and_paginates(client, orgs, users, api_headers):
    for state in ("registered", "registered", "received"):
        make_device(orgs, users, state)
    resp = client.get("/api/v1/devices?state=registered&per_page=1&page=2", headers=api_headers("technician"))
    assert resp.status_code == 200
    assert resp.json["total"] == 2 and resp.json["page"] == 2 and len(resp.json["items"]) == 1
    assert client.get("/api/v1/devices?state=nonsense", headers=api_headers("technician")).status_code == 422


def test_update_records_before_and_after(client, orgs, users, api_headers):
    device = make_device(orgs, users, "registered")
    resp = client.patch(f"/api/v1/devices/{device.tag}", headers=api_headers("donor"), json={"model": "T490"})
    assert resp.status_code == 200 and resp.json["model"] == "T490"
    last = client.get(f"/api/v1/devices/{device.tag}/events", headers=api_headers("donor")).json[-1]
    assert last["type"] == "device_updated"
    assert last["details"]["changes"]["model"] == {"before": "ThinkPad T480", "after": "T490"}
    assert client.patch(f"/api/v1/devices/{device.tag}", headers=api_headers("donor"),
                        json={"state": "ready"}).status_code == 422


def test_revoked_token_is_refused(client, users, api_headers):
    from asset_tracker.auth.models import ApiToken
    from asset_tracker.extensions import db

    headers = api_headers("admin")
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    token = db.session.query(ApiToken).filter_by(user_id=users["admin"].id).one()
    assert client.delete(f"/api/v1/tokens/{token.id}", headers=headers).status_code == 200
    resp = client.get("/api/v1/me", headers=headers)
    assert resp.status_code == 401 and resp.json["error"]["code"] == "unauthorized"


def test_tokens_are_stored_hashed(cli_token, db):
    from asset_tracker.auth.models import ApiToken

    stored = db.session.query(ApiToken).one()
    assert cli_token not in (stored.token_hash, stored.prefix)
    assert len(stored.token_hash) == 64


def test_openapi_document_lists_the_endpoints(client):
    spec = client.get("/api/v1/openapi.json").json
    for path in ("/api/v1/devices", "/api/v1/devices/{tag}", "/api/v1/devices/{tag}/transitions",
                 "/api/v1/devices/{tag}/events", "/api/v1/audit/verify"):
        assert path in spec["paths"], path


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_unauthenticated_api_gets_401_envelope(client):
    resp = client.get("/api/v1/devices")
    assert resp.status_code == 401 and resp.json["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("start,target,body", [
    ("ready", "reserved", {}),
    ("reserved", "handed_over", {"beneficiary_ref": "MC-0001"}),
    ("reserved", "ready", {}),
    ("handed_over", "returned", {}),
])
def test_distribution_steps_are_refused_outside_the_distribution_service(client, orgs, users, api_headers, db,
                                                                        start, target, body):
    from asset_tracker.custody.models import CustodyEvent

    device = make_device(orgs, users, start)
    headers = api_headers("coordinator" if start != "ready" else "technician")
    before = db.session.query(CustodyEvent).count()
    resp = client.post(f"/api/v1/devices/{device.tag}/transitions", headers=headers, json={"target": target, **body})
    assert resp.status_code == 409
    assert resp.json["error"]["code"] == "use_distribution"
    assert db.session.query(CustodyEvent).count() == before


def test_device_page_sends_distribution_steps_to_their_pages(client, login, orgs, users):
    device = make_device(orgs, users, "reserved")
    login("coordinator")
    html = client.get(f"/devices/{device.tag}").get_data(as_text=True)
    assert f"/distribution/handover/{device.tag}" in html
    assert f"/distribution/reservations/{device.tag}/cancel" in html
    assert 'name="target" value="handed_over"' not in html
