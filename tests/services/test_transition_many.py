"""Devices that move together (a batch's pickup): the same checks as one move, all or nothing, one event each."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from asset_tracker.core import Actor
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.custody.services import verify_chain
from asset_tracker.devices import services as devices
from asset_tracker.devices.models import Device
from asset_tracker.errors import Conflict
from asset_tracker.extensions import db
from asset_tracker.lifecycle import State
from tests.factories import make_device


def _moved_events(made) -> int:
    return db.session.scalar(select(func.count()).select_from(CustodyEvent).where(
        CustodyEvent.type == "state_changed", CustodyEvent.state_after == "collected",
        CustodyEvent.device_id.in_([d.id for d in made])))


def test_a_set_moves_with_one_event_per_device_and_the_objects_in_step(orgs, users):
    made = [make_device(orgs, users, State.REGISTERED) for _ in range(5)]
    tech = Actor.of(users["technician"])

    assert devices.transition_many(made, State.COLLECTED, actor=tech, note="van 2",
                                   params={"custodian_organisation_id": orgs["workshop"].id},
                                   event_details={"batch_id": None}) == 5
    db.session.commit()

    assert {d.state for d in made} == {State.COLLECTED}
    assert {d.custodian_organisation_id for d in made} == {orgs["workshop"].id}
    db.session.expire_all()
    rows = db.session.scalars(select(Device).where(Device.id.in_([d.id for d in made]))).all()
    assert {(r.state, r.custodian_organisation_id, r.workshop_organisation_id) for r in rows} == {
        (State.COLLECTED, orgs["workshop"].id, orgs["workshop"].id)}
    events = db.session.scalars(select(CustodyEvent).where(CustodyEvent.state_after == "collected")
                                .order_by(CustodyEvent.seq)).all()
    assert [e.device_tag for e in events] == [d.tag for d in made]
    assert {(e.state_before, e.note, e.actor_name) for e in events} == {("registered", "van 2", "Technician")}
    assert verify_chain().ok


def test_one_refused_device_refuses_the_whole_set(orgs, users):
    made = [make_device(orgs, users, State.REGISTERED) for _ in range(3)]
    made.append(make_device(orgs, users, State.DIAGNOSED))  # a diagnosed device cannot be collected

    with pytest.raises(Conflict):
        devices.transition_many(made, State.COLLECTED, actor=Actor.of(users["technician"]),
                                params={"custodian_organisation_id": orgs["workshop"].id})
    db.session.rollback()

    assert [d.state for d in db.session.scalars(select(Device).order_by(Device.id))] == [
        State.REGISTERED] * 3 + [State.DIAGNOSED]
    assert _moved_events(made[:3]) == 0


def test_a_device_changed_underneath_answers_409_and_nothing_moves(orgs, users):
    made = [make_device(orgs, users, State.REGISTERED) for _ in range(3)]
    # Another writer declares one lost after this caller read the set.
    db.session.execute(update(Device).where(Device.id == made[1].id).values(state=State.LOST)
                       .execution_options(synchronize_session=False))

    with pytest.raises(Conflict) as refused:
        devices.transition_many(made, State.COLLECTED, actor=Actor.of(users["technician"]),
                                params={"custodian_organisation_id": orgs["workshop"].id})
    db.session.rollback()

    assert refused.value.code == "concurrent_change"
    assert _moved_events(made) == 0
    assert db.session.scalar(select(func.count()).select_from(Device).where(Device.state == State.COLLECTED)) == 0
