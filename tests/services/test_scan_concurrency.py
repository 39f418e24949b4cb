"""Two stations scanning the same device into different steps at the same instant: one wins, one gets 409."""
import threading
import uuid

from sqlalchemy import func, select

from asset_tracker.core import Actor
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.custody.services import verify_chain
from asset_tracker.devices.models import Device
from asset_tracker.extensions import db as _db
from asset_tracker.workshop import services
from tests.factories import _confirm_pending_check, make_device

ROUNDS = 50


def test_two_stations_scanning_one_device_into_different_steps(app, db, orgs, users):
    # From `refurbished` a device may go to `ready` (QA passed) or back to `diagnosed` (QA failed),
    # and neither step allows the other afterwards: exactly one of the two scans can apply.
    made = [make_device(orgs, users, state="refurbished") for _ in range(ROUNDS)]
    for device in made:  # a device drawn for the second-person check is confirmed, so `ready` can apply
        _confirm_pending_check(device, users)
    tags = [device.tag for device in made]
    tech_a, tech_b = Actor.of(users["technician"]), Actor.of(users["technician_b"])
    db.session.commit()
    db.session.remove()
    before = {tag: _count(tag) for tag in tags}
    db.session.remove()  # on SQLite the test's own transaction would hold the write lock
    losers = {}

    for tag in tags:
        barrier = threading.Barrier(2)
        results = {}

        def station(name, who, action, values, barrier=barrier, tag=tag, results=results):
            with app.app_context():
                barrier.wait()
                answer = services.handle_scan(tag, action, actor=who, scan_id=uuid.uuid4().hex,
                                              station=name, **values)
                results[name] = (answer.status, answer.body["code"])
                _db.session.remove()

        threads = [threading.Thread(target=station, args=("Poste A", tech_a, "ready", {"grade": "B"})),
                   threading.Thread(target=station, args=("Poste B", tech_b, "diagnose", {"verdict": "parts"}))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        statuses = sorted(status for status, _ in results.values())
        assert statuses == [200, 409], (tag, results)
        loser = next(code for status, code in results.values() if status == 409)
        assert loser in ("concurrent_change", "transition_not_allowed"), results
        losers[loser] = losers.get(loser, 0) + 1

    db.session.remove()
    for tag in tags:
        assert _count(tag) == before[tag] + 1, tag
        device = db.session.execute(select(Device).where(Device.tag == tag)).scalar_one()
        assert device.state.value in ("ready", "diagnosed")
    assert verify_chain().ok
    print("refusals of the losing station:", losers)


def _count(tag):
    return _db.session.scalar(select(func.count()).select_from(CustodyEvent).where(CustodyEvent.device_tag == tag))
