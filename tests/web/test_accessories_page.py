"""The workshop's page of 4G keys and accessories: record a key, see its state, put a returned key into a kit."""
from __future__ import annotations

from asset_tracker.distribution import services as dist
from asset_tracker.distribution.models import Accessory, AccessoryStatus
from asset_tracker.lifecycle import State
from tests import factories
from tests.conftest import csrf_token


def test_a_technician_records_a_key_and_puts_it_into_a_kit(client, orgs, users, login, db):
    device = factories.make_device(orgs, users, State.READY)
    numbers = factories.key_numbers()
    login("technician")
    token = csrf_token(client, "/distribution/accessories")
    resp = client.post("/distribution/accessories", data={
        "csrf_token": token, "kind": "mobile_key", "operator": "Free Mobile", "plan_ends_on": "2027-09-30",
        **numbers})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    page = client.get("/distribution/accessories?status=in_stock").get_data(as_text=True)
    assert numbers["imei"] in page and "Free Mobile" in page and "En stock" in page
    again = client.post("/distribution/accessories", data={"csrf_token": token, "kind": "sim_card",
                                                            "iccid": numbers["iccid"]})
    assert again.status_code == 409 and numbers["iccid"] in again.get_data(as_text=True)
    key = db.session.query(Accessory).one()
    resp = client.post(f"/distribution/accessories/{key.id}/kit", data={"csrf_token": token,
                                                                        "device_tag": device.tag.lower()})
    assert resp.status_code == 302
    db.session.refresh(key)
    assert key.status == AccessoryStatus.IN_KIT and key.device_id == device.id
    assert device.tag in client.get("/distribution/accessories").get_data(as_text=True)
    assert dist.kit_of(device) == [key]
