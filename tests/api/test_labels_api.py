"""Label API: files that decode to the requested tags, 404 out of scope, reprints, blank tags, permissions."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from asset_tracker.custody.models import CustodyEvent
from asset_tracker.tags import format_tag
from tests.factories import make_device
from tests.services.test_labels_printing import decoded_tags


def label_events(db):
    return db.session.execute(select(CustodyEvent).where(CustodyEvent.type == "labels_printed")
                              .order_by(CustodyEvent.seq)).scalars().all()


def test_a_pdf_from_the_api_decodes_to_exactly_the_requested_tags(client, api_headers, db, orgs, users):
    devs = [make_device(orgs, users) for _ in range(4)]
    wanted = [devs[3].tag, devs[1].tag, devs[0].tag]

    resp = client.post("/api/v1/labels", headers=api_headers("technician"),
                       json={"tags": wanted, "template": "a4-3x7-63x38", "start_position": 4, "qr": True})

    assert resp.status_code == 200, resp.json
    assert resp.mimetype == "application/pdf"
    assert "attachment" in resp.headers["Content-Disposition"]
    assert sorted(decoded_tags(resp.data)) == sorted(wanted)
    [event] = label_events(db)
    assert json.loads(event.details)["tags"] == wanted and event.actor_name == users["technician"].display_name


def test_a_reprint_through_the_api_is_marked_in_the_custody_log(client, api_headers, db, orgs, users):
    device = make_device(orgs, users)
    body = {"tags": [device.tag], "template": "roll-62x29", "format": "png"}
    first = client.post("/api/v1/labels", headers=api_headers("technician"), json=body)
    second = client.post("/api/v1/labels", headers=api_headers("technician"), json=body)

    assert first.headers["X-Label-Reprints"] == "0" and second.headers["X-Label-Reprints"] == "1"
    assert second.mimetype == "image/png" and second.data.startswith(b"\x89PNG")
    events = client.get(f"/api/v1/devices/{device.tag}/events", headers=api_headers("auditor")).json
    printed = [e for e in events if e["type"] == "labels_printed"]
    assert [e["details"]["reprint"] for e in printed] == [False, True]


def test_an_out_of_scope_tag_is_404_and_nothing_is_logged(client, api_headers, db, orgs, users):
    own = make_device(orgs, users, donor="donor")
    other = make_device(orgs, users, donor="donor_b")
    headers = api_headers("donor")
    before = db.session.scalar(select(func.count()).select_from(CustodyEvent))

    resp = client.post("/api/v1/labels", headers=headers,
                       json={"tags": [own.tag, other.tag], "template": "a4-3x7-63x38"})

    assert resp.status_code == 404 and resp.json["error"]["code"] == "not_found"
    assert db.session.scalar(select(func.count()).select_from(CustodyEvent)) == before


def test_zpl_download(client, api_headers, orgs, users):
    devs = [make_device(orgs, users) for _ in range(2)]
    resp = client.post("/api/v1/labels", headers=api_headers("technician"),
                       json={"tags": [d.tag for d in devs], "template": "zpl-2x1-203dpi", "format": "zpl"})
    assert resp.status_code == 200
    assert resp.mimetype == "text/plain" and resp.headers["Content-Disposition"].endswith('.zpl"')
    text = resp.get_data(as_text=True)
    assert text.count("^XA") == 2 and "^CI28" in text and devs[0].tag in text


def test_server_owned_or_unknown_fields_are_refused(client, api_headers, orgs, users):
    device = make_device(orgs, users)
    resp = client.post("/api/v1/labels", headers=api_headers("technician"),
                       json={"tags": [device.tag], "template": "roll-62x29", "reprint": False})
    assert resp.status_code == 422 and "reprint" in resp.json["error"]["details"]


def test_an_impossible_job_is_a_clear_422(client, api_headers, orgs, users):
    devs = [make_device(orgs, users) for _ in range(2)]
    resp = client.post("/api/v1/labels", headers={**api_headers("technician"), "Accept-Language": "en"},
                       json={"tags": [d.tag for d in devs], "template": "a4-3x7-63x38", "format": "svg"})
    assert resp.status_code == 422 and "SVG and PNG hold one label" in resp.json["error"]["message"]


def test_batch_labels_through_the_api(client, api_headers, db, orgs, users):
    from asset_tracker.core import Actor
    from asset_tracker.intake import services as intake

    batch = intake.create_batch(actor=Actor.of(users["donor"]), name="Lot", donor_organisation_id=orgs["donor"].id)
    d = intake.add_device(batch.id, actor=Actor.of(users["donor"]), type="tablet", serial="TABSN0001")
    resp = client.post(f"/api/v1/labels/batches/{batch.id}", headers=api_headers("donor"),
                       json={"template": "a4-5x13-38x21"})
    assert resp.status_code == 200 and decoded_tags(resp.data) == [d.tag]
    other = client.post(f"/api/v1/labels/batches/{batch.id}", headers=api_headers("donor_b"),
                        json={"template": "a4-5x13-38x21"})
    assert other.status_code == 404


def test_blank_tags_issued_through_the_api_then_bound_at_registration(client, api_headers, db, orgs, users):
    resp = client.post("/api/v1/labels/blank", headers=api_headers("technician"),
                       json={"donor_organisation_id": orgs["donor"].id, "count": 3, "template": "a4-3x7-63x38"})
    assert resp.status_code == 200, resp.json
    tags = decoded_tags(resp.data)
    assert len(tags) == 3
    ranges = client.get("/api/v1/labels/blank", headers=api_headers("donor")).json
    assert [(r["first_tag"], r["count"], r["bound"]) for r in ranges] == [(tags[0], 3, 0)]
    assert client.get("/api/v1/labels/blank", headers=api_headers("donor_b")).json == []

    created = client.post("/api/v1/devices", headers=api_headers("donor"),
                          json={"type": "laptop", "serial": "PF1ABCDE", "preprinted_tag": tags[1].lower()})

    assert created.status_code == 201, created.json
    assert created.json["tag"] == tags[1]
    assert client.get("/api/v1/labels/blank", headers=api_headers("donor")).json[0]["bound"] == 1


def test_a_never_issued_tag_is_refused_at_registration_with_a_clear_message(client, api_headers, orgs, users):
    made_up = format_tag("RB", 424242)
    resp = client.post("/api/v1/devices", headers={**api_headers("donor"), "Accept-Language": "en"},
                       json={"type": "laptop", "serial": "PF2ABCDE", "preprinted_tag": made_up})
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "tag_not_issued"
    assert made_up in resp.json["error"]["message"] and "never issued" in resp.json["error"]["message"]


def test_a_donor_prints_again_its_own_blank_range_but_cannot_issue_one(client, api_headers, orgs, users):
    issued = client.post("/api/v1/labels/blank", headers=api_headers("admin"),
                         json={"donor_organisation_id": orgs["donor"].id, "count": 2, "template": "roll-62x29"})
    issue_id = issued.headers["X-Blank-Range"]
    again = client.post(f"/api/v1/labels/blank/{issue_id}", headers=api_headers("donor"),
                        json={"template": "roll-62x29"})
    assert again.status_code == 200 and again.headers["X-Label-Reprints"] == "2"
    assert client.post(f"/api/v1/labels/blank/{issue_id}", headers=api_headers("donor_b"),
                       json={"template": "roll-62x29"}).status_code == 404
    assert client.post("/api/v1/labels/blank", headers=api_headers("donor"),
                       json={"donor_organisation_id": orgs["donor"].id, "count": 2}).status_code == 403


@pytest.mark.parametrize("path", ["/api/v1/labels", "/api/v1/labels/blank", "/api/v1/labels/blank/1",
                                  "/api/v1/labels/batches/1"])
def test_auditors_cannot_print(client, api_headers, path):
    assert client.post(path, headers=api_headers("auditor"), json={}).status_code == 403


@pytest.mark.parametrize("role, status", [("coordinator", 403), ("donor", 403), ("technician", 404)])
def test_who_may_issue_blank_tags(client, api_headers, orgs, role, status):
    resp = client.post("/api/v1/labels/blank", headers=api_headers(role),
                       json={"donor_organisation_id": orgs["partner"].id, "count": 2})
    assert resp.status_code == status


def test_a_coordinator_prints_only_what_its_organisation_holds(client, api_headers, orgs, users):
    held = make_device(orgs, users, state="handed_over")
    elsewhere = make_device(orgs, users, state="ready")
    ok = client.post("/api/v1/labels", headers=api_headers("coordinator"),
                     json={"tags": [held.tag], "template": "roll-62x29"})
    refused = client.post("/api/v1/labels", headers=api_headers("coordinator"),
                          json={"tags": [elsewhere.tag], "template": "roll-62x29"})
    assert ok.status_code == 200 and refused.status_code == 404


def test_templates_are_listed_and_admins_see_refused_files(app, client, api_headers):
    from asset_tracker.labels.templates import TemplateError

    catalogue = app.extensions["labels"]
    catalogue.errors.append(TemplateError("bad.json", "unknown key 'colums' in template"))
    try:
        admin = client.get("/api/v1/labels/templates", headers=api_headers("admin")).json
        tech = client.get("/api/v1/labels/templates", headers=api_headers("technician")).json
    finally:
        catalogue.errors.pop()
    names = [t["name"] for t in admin["templates"]]
    assert "a4-3x7-63x38" in names and "zpl-2x1-203dpi" in names
    assert admin["errors"] == [{"file": "bad.json", "problem": "unknown key 'colums' in template"}]
    assert tech["errors"] == []
