"""The benchmark's bulk dataset is what the services would have written: a chain that verifies, consistent rows."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from asset_tracker.custody.services import verify_chain
from asset_tracker.devices.models import Device
from asset_tracker.devices.services import facts_for
from asset_tracker.lifecycle import State, is_allowed
from asset_tracker.tags import format_tag, parse_tag
from bench import dataset


@pytest.fixture
def built(app, db):
    return dataset.build(app, 200, 2000, seed=11, log=lambda *_: None)


def rows(db, sql, **params):
    return db.session.execute(text(sql), params).all()


def test_the_built_chain_verifies_and_has_exactly_the_requested_events(built, db):
    result = verify_chain()
    assert result.ok, result.problem
    # The benchmark's three API tokens are recorded after the build.
    assert result.checked == 2000 + 3
    head = rows(db, "SELECT last_seq FROM custody_chain_head WHERE id = 1")[0][0]
    assert head == result.checked


def test_every_state_is_present_and_each_device_state_is_its_last_state_change(built, db):
    states = {s for (s,) in rows(db, "SELECT DISTINCT state FROM devices")}
    assert states == {s.value for s in State}
    last = dict(rows(db, """
        SELECT e.device_id, e.state_after FROM custody_events e
        WHERE e.seq = (SELECT MAX(seq) FROM custody_events x WHERE x.device_id = e.device_id
                       AND x.state_after IS NOT NULL)"""))
    devices = rows(db, "SELECT id, state, version FROM devices")
    assert len(devices) == 200
    for device_id, state, _version in devices:
        assert last[device_id] == state
    changes = dict(rows(db, "SELECT device_id, COUNT(*) FROM custody_events WHERE type = 'state_changed' "
                            "GROUP BY device_id"))
    assert all(version == 1 + changes.get(device_id, 0) for device_id, _, version in devices)


def test_each_event_follows_the_lifecycle_from_the_state_before(built, db):
    events = rows(db, "SELECT device_id, state_before, state_after, details FROM custody_events "
                      "WHERE type = 'state_changed' ORDER BY seq")
    current = dict(rows(db, "SELECT device_id, state_after FROM custody_events WHERE type = 'device_registered'"))
    verdict = {}
    for device_id, before, after, details in events:
        assert current[device_id] == before
        assert is_allowed(State(before), State(after)), (before, after)
        details = json.loads(details)
        if after == "diagnosed":
            verdict[device_id] = details["verdict"]
        if after in ("refurbished", "ready"):
            assert verdict[device_id] == "refurbish"
        if after == "recycled":
            assert verdict[device_id] in ("parts", "recycle") and details["recycler_organisation_id"]
        if after == "reserved":
            assert details["programme_id"] and details["partner_organisation_id"]
        current[device_id] = after


def test_wiped_devices_pass_the_wipe_guard_and_tags_and_counter_match(app, built, db):
    for device in db.session.execute(db.select(Device).where(Device.state.in_(
            [State.WIPED, State.REFURBISHED, State.READY]))).scalars():
        facts = facts_for(device, {})
        assert facts.media_cleared == facts.media_count or facts.no_media_statement, device.tag
    tags = [t for (t,) in rows(db, "SELECT tag FROM devices ORDER BY id")]
    assert tags == [format_tag(app.config["TAG_PREFIX"], i, app.config["TAG_WIDTH"]) for i in range(1, 201)]
    assert all(parse_tag(t) for t in tags)
    assert rows(db, "SELECT last_value FROM tag_counters WHERE prefix = :p", p=app.config["TAG_PREFIX"])[0][0] == 200


def test_wipe_events_name_real_wipe_records_of_the_same_device(built, db):
    records = {r[0]: r[1:] for r in rows(db, "SELECT id, device_id, medium_id FROM wipe_records")}
    events = rows(db, "SELECT device_id, details FROM custody_events WHERE type = 'wipe_recorded'")
    assert events and len(events) == len(records)
    for device_id, details in events:
        d = json.loads(details)
        assert records[d["wipe_record_id"]] == (device_id, d["medium_id"])


def test_a_device_built_in_bulk_can_still_move_through_the_services(built, db):
    from asset_tracker.core import Actor
    from asset_tracker.devices import services

    device = db.session.execute(db.select(Device).where(Device.state == State.RECEIVED).limit(1)).scalar_one()
    tech = rows(db, "SELECT id, email, organisation_id FROM users WHERE role = 'technician'")[0]
    actor = Actor(tech[0], tech[1], tech[2], "Weeefund", "technician")
    services.transition(device.tag, State.DIAGNOSED, actor=actor, params={"verdict": "refurbish"})
    assert verify_chain().ok
