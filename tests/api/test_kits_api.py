"""JSON API of programme targets, 4G keys, the coordinator's stock and reminders."""
from __future__ import annotations

import datetime as dt

from flask import current_app

from asset_tracker.core import Actor
from asset_tracker.distribution import services as dist
from asset_tracker.lifecycle import State
from asset_tracker.reminders.mail import MailSettings
from asset_tracker.reminders.services import run_sweep
from tests import factories
from tests.factories import handing_over


def _reboot(client, api_headers, orgs):
    resp = client.post("/api/v1/programmes", headers=api_headers("admin"), json={
        "name": "Reboot' 2027", "owner_organisation_id": orgs["owner"].id,
        "kit_kinds": [{"code": "family_kit", "name": "Kit famille", "device_types": ["laptop", "desktop"],
                       "accessory_kinds": ["mobile_key", "charger"]}],
        "targets": [{"unit": "laptop", "count": 1000}, {"unit": "family_kit", "count": 2000}],
        "partner_ids": [orgs["partner"].id, orgs["partner_b"].id]})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_a_programme_answers_its_targets_with_what_is_done(client, api_headers, orgs, users):
    body = _reboot(client, api_headers, orgs)
    device = factories.make_device(orgs, users, State.READY)
    coord = Actor.of(users["coordinator"])
    dist.reserve_device(device.tag, actor=coord, programme_id=body["id"])
    dist.record_handover(device.tag, actor=coord, beneficiary_ref="EC-0001", beneficiary_category="pupil",
                         **handing_over())
    got = client.get(f"/api/v1/programmes/{body['id']}", headers=api_headers("coordinator")).get_json()
    assert [{k: t[k] for k in ("unit", "count", "done")} for t in got["targets"]] == [
        {"unit": "laptop", "count": 1000, "done": 1}, {"unit": "family_kit", "count": 2000, "done": 0}]
    assert got["beneficiary_policy"] == "warn"
    bad = client.put(f"/api/v1/programmes/{body['id']}/targets", headers=api_headers("admin"),
                     json={"targets": [{"unit": "scooter", "count": 3}]})
    assert bad.status_code == 422 and "scooter" in bad.get_json()["error"]["message"]


def test_a_duplicate_key_is_a_409_naming_the_existing_one_and_a_bad_iccid_a_422(client, api_headers, orgs):
    numbers = factories.key_numbers()
    first = client.post("/api/v1/accessories", headers=api_headers("technician"), json={
        "kind": "mobile_key", "operator": "Orange", "plan_ends_on": "2027-06-30", **numbers})
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["status"] == "in_stock" and first.get_json()["plan_ends_on"] == "2027-06-30"
    dup = client.post("/api/v1/accessories", headers=api_headers("technician"), json={
        "kind": "sim_card", "iccid": numbers["iccid"]})
    assert dup.status_code == 409
    error = dup.get_json()["error"]
    assert error["code"] == "duplicate_iccid" and numbers["iccid"] in error["message"]
    assert error["details"]["existing_accessory_id"] == first.get_json()["id"]
    bad = client.post("/api/v1/accessories", headers=api_headers("technician"), json={
        "kind": "sim_card", "iccid": "8933150319000123452"})
    assert bad.status_code == 422 and "iccid" in bad.get_json()["error"]["details"]
    events = client.get(f"/api/v1/accessories/{first.get_json()['id']}/events", headers=api_headers("auditor"))
    assert [e["type"] for e in events.get_json()] == ["accessory_added"]


def test_the_stock_endpoint_gives_counts_and_reservations_are_made_from_it(client, api_headers, orgs, users):
    body = _reboot(client, api_headers, orgs)
    devices = [factories.make_device(orgs, users, State.READY) for _ in range(3)]
    for kind in ("mobile_key", "charger"):
        extra = factories.key_numbers() if kind == "mobile_key" else {}
        dist.add_accessory(actor=Actor.of(users["technician"]), kind=kind, device_tag=devices[0].tag, **extra)
    dist.reserve_device(devices[1].tag, actor=Actor.of(users["coordinator_b"]), programme_id=body["id"])
    stock = client.get("/api/v1/stock", headers=api_headers("coordinator")).get_json()
    assert stock["devices"] == [{"type": "laptop", "grade": "B", "count": 2}]
    assert [(k["programme_id"], k["kit_kind"], k["count"]) for k in stock["kits"]] == [(body["id"], "family_kit", 1)]
    assert devices[1].tag not in str(stock) and orgs["partner_b"].name not in str(stock)
    resp = client.post("/api/v1/reservations", headers=api_headers("coordinator"), json={
        "programme_id": body["id"], "count": 1, "kit_kind": "family_kit", "grades": ["B"]})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()[0]["device_tag"] == devices[0].tag and resp.get_json()[0]["kit_kind_id"]


def test_overdue_reminders_are_listed_in_scope_and_acknowledged(client, api_headers, orgs, users):
    device = factories.make_device(orgs, users, State.READY)
    dist.reserve_device(device.tag, actor=Actor.of(users["coordinator"]), programme_id=orgs["programme"].id)
    run_sweep(dt.datetime.now(dt.UTC) + dt.timedelta(days=20), send=False, settings=MailSettings.of(current_app.config))
    listing = client.get("/api/v1/reminders", headers=api_headers("coordinator")).get_json()
    assert listing["total"] == 1 and listing["items"][0]["device_tag"] == device.tag
    assert listing["items"][0]["rule"] == "reserved_not_handed_over"
    assert client.get("/api/v1/reminders", headers=api_headers("coordinator_b")).get_json()["total"] == 0
    rid = listing["items"][0]["id"]
    assert client.post(f"/api/v1/reminders/{rid}/acknowledge", headers=api_headers("coordinator_b"),
                       json={"note": "on it"}).status_code == 404
    assert client.post(f"/api/v1/reminders/{rid}/acknowledge", headers=api_headers("coordinator"),
                       json={}).status_code == 422
    ack = client.post(f"/api/v1/reminders/{rid}/acknowledge", headers=api_headers("coordinator"),
                      json={"note": "Remise prévue jeudi"})
    assert ack.status_code == 200 and ack.get_json()["acknowledgement_note"] == "Remise prévue jeudi"
    again = client.post(f"/api/v1/reminders/{rid}/acknowledge", headers=api_headers("coordinator"),
                        json={"note": "again"})
    assert again.status_code == 409


def test_the_new_endpoints_are_documented(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/stock", "/api/v1/accessories", "/api/v1/accessories/{accessory_id}/kit",
                 "/api/v1/programmes/{programme_id}/targets", "/api/v1/reminders",
                 "/api/v1/reminders/{reminder_id}/acknowledge"):
        assert path in paths, path
