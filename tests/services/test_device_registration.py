"""Registering devices: register_many is the one path, register_device is register_many of one."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from asset_tracker.core import Actor
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.custody.services import verify_chain
from asset_tracker.devices import services as devices
from asset_tracker.devices.models import Device, StorageMedium
from asset_tracker.errors import Conflict, Invalid


def count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_register_many_writes_every_device_with_its_media_and_one_event_each(db, orgs, users):
    donor = Actor.of(users["donor"])
    new = [devices.NewDevice("laptop", brand="Dell", serial=f"many{i:04d}", specs={"ram_gb": 8},
                             media=[{"kind": "ssd", "serial": f"D{i:04d}", "capacity_bytes": 256 * 10**9}])
           for i in range(3)] + [devices.NewDevice("phone", imei="490154203237518")]

    registered = devices.register_many(new, actor=donor, donor_organisation_id=orgs["donor"].id)

    assert [r.tag[:9] for r in registered] == ["RB-000001", "RB-000002", "RB-000003", "RB-000004"]
    first = db.session.get(Device, registered[0].id)
    assert first.serial == "MANY0000" and first.specs == {"ram_gb": 8} and first.state.value == "registered"
    assert first.custodian_organisation_id == orgs["donor"].id and len(first.media) == 1
    assert count(db, StorageMedium) == 3
    events = db.session.execute(select(CustodyEvent).where(CustodyEvent.type == "device_registered")
                                .order_by(CustodyEvent.seq)).scalars().all()
    assert [e.device_tag for e in events] == [r.tag for r in registered]
    assert json.loads(events[0].details)["media"] == 1 and json.loads(events[3].details)["imei"] == "490154203237518"
    assert verify_chain().ok


def test_register_many_refuses_the_whole_set_on_one_bad_device(db, orgs, users):
    donor = Actor.of(users["donor"])
    devices.register_device(actor=donor, type="laptop", donor_organisation_id=orgs["donor"].id, serial="TAKEN01")
    before = count(db, Device), count(db, CustodyEvent)

    with pytest.raises(Conflict) as taken:
        devices.register_many([devices.NewDevice("laptop", serial="FREE01"),
                               devices.NewDevice("laptop", serial="taken01")],
                              actor=donor, donor_organisation_id=orgs["donor"].id)
    assert taken.value.code == "duplicate_serial" and taken.value.details == {"serial": ["already registered"]}

    with pytest.raises(Conflict) as twice:
        devices.register_many([devices.NewDevice("laptop", serial="TWICE01"),
                               devices.NewDevice("tablet", serial="TWICE01")],
                              actor=donor, donor_organisation_id=orgs["donor"].id)
    assert twice.value.code == "duplicate_serial"

    with pytest.raises(Invalid) as bad:
        devices.register_many([devices.NewDevice("phone", imei="123")], actor=donor,
                              donor_organisation_id=orgs["donor"].id)
    assert "imei" in bad.value.details
    db.session.rollback()
    assert (count(db, Device), count(db, CustodyEvent)) == before
