"""Pages of programme targets, the coordinator's stock and the second-device confirmation."""
from __future__ import annotations

from asset_tracker.core import Actor
from asset_tracker.distribution import services as dist
from asset_tracker.distribution.models import Handover
from asset_tracker.lifecycle import State
from tests import factories
from tests.conftest import csrf_token
from tests.factories import handing_over


def _reboot(orgs, users, policy="warn"):
    return dist.create_programme(
        actor=Actor.of(users["admin"]), name="Reboot' 2027", owner_organisation_id=orgs["owner"].id,
        targets=[{"unit": "laptop", "count": 1000}, {"unit": "family_kit", "count": 2000}],
        kit_kinds=[{"code": "family_kit", "name": "Kit famille", "device_types": ["laptop"],
                    "accessory_kinds": ["mobile_key", "charger"]}],
        partner_ids=[orgs["partner"].id], beneficiary_policy=policy)


def test_the_programme_page_shows_each_target_and_an_admin_creates_one_with_two(client, orgs, users, login, db):
    _reboot(orgs, users)
    login("admin")
    page = client.get("/distribution/programmes").get_data(as_text=True)
    assert "Reboot&#39; 2027" in page and "Kit famille" in page and "0 remis sur 1000" in page
    resp = client.post("/distribution/programmes", data={
        "csrf_token": csrf_token(client, "/distribution/programmes"), "name": "Vénissieux 2027",
        "owner_organisation_id": orgs["owner"].id, "targets": "tablet=50, school_kit=20",
        "kit_kinds": "school_kit: Kit collège = laptop + charger + bag", "beneficiary_policy": "refuse"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    p = next(p for p in dist.list_programmes(actor=Actor.of(users["admin"])) if p.name == "Vénissieux 2027")
    assert [(t.unit, t.count) for t in p.targets] == [("tablet", 50), ("school_kit", 20)]
    assert p.kit_kinds[0].accessory_kinds == ["charger", "bag"] and p.beneficiary_policy == "refuse"
    bad = client.post("/distribution/programmes", data={
        "csrf_token": csrf_token(client, "/distribution/programmes"), "name": "Rien",
        "owner_organisation_id": orgs["owner"].id, "targets": "tablet=beaucoup"})
    assert bad.status_code == 422 and "targets" in bad.get_data(as_text=True)


def test_the_stock_page_shows_counts_and_reserves_kits(client, orgs, users, login):
    programme = _reboot(orgs, users)
    kit = factories.make_device(orgs, users, State.READY)
    for kind in ("mobile_key", "charger"):
        extra = factories.key_numbers() if kind == "mobile_key" else {}
        dist.add_accessory(actor=Actor.of(users["technician"]), kind=kind, device_tag=kit.tag, **extra)
    factories.make_device(orgs, users, State.READY)
    login("coordinator")
    page = client.get("/distribution/stock").get_data(as_text=True)
    assert "Kits complets" in page and "Kit famille" in page and kit.tag not in page
    resp = client.post("/distribution/reserve", data={
        "csrf_token": csrf_token(client, "/distribution/stock"), "programme_id": programme.id, "count": "1",
        "kit_kind": "family_kit"})
    assert resp.status_code == 302
    assert dist.active_reservation(kit).kit_kind_id == programme.kit_kinds[0].id


def test_a_second_device_is_handed_over_only_after_confirmation(client, orgs, users, login, db):
    programme = _reboot(orgs, users)
    coord = Actor.of(users["coordinator"])
    first, second = (factories.make_device(orgs, users, State.READY) for _ in range(2))
    for device in (first, second):
        dist.reserve_device(device.tag, actor=coord, programme_id=programme.id)
    dist.record_handover(first.tag, actor=coord, beneficiary_ref="EC-0042", beneficiary_category="pupil",
                         **handing_over())
    login("coordinator")
    form = {"csrf_token": csrf_token(client, f"/distribution/handover/{second.tag}"), "beneficiary_ref": "EC-0042",
            "beneficiary_category": "pupil", "loan": "gift", "add_charger": "1"}
    asked = client.post(f"/distribution/handover/{second.tag}", data=form)
    assert asked.status_code == 409
    page = asked.get_data(as_text=True)
    assert "Confirmer un second appareil" in page and 'name="confirm_second_device" value="1"' in page
    assert db.session.query(Handover).count() == 1
    confirmed = client.post(f"/distribution/handover/{second.tag}", data=dict(form, confirm_second_device="1"))
    assert confirmed.status_code == 302, confirmed.get_data(as_text=True)
    assert db.session.query(Handover).count() == 2
