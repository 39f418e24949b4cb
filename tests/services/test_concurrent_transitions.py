"""Two technicians moving the same device at the same instant: one wins, one gets 409, one event."""
import threading

from sqlalchemy import func, select

from asset_tracker.core import Actor
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.custody.services import verify_chain
from asset_tracker.devices import services
from asset_tracker.errors import Conflict
from asset_tracker.extensions import db
from tests.factories import make_device


def _race(app, tag, actors_and_targets):
    barrier = threading.Barrier(len(actors_and_targets))
    outcomes = []

    def worker(actor, target, params):
        with app.app_context():
            try:
                barrier.wait()
                services.transition(tag, target, actor=actor, params=params)
                outcomes.append(("ok", target))
            except Conflict as err:
                outcomes.append(("409", err.code))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=a) for a in actors_and_targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


def test_concurrent_moves_of_one_device_one_wins(app, orgs, users):
    tech_a, tech_b = Actor.of(users["technician"]), Actor.of(users["technician_b"])
    for _round in range(10):
        # From refurbished, "ready" and "back to diagnosis" exclude each other in either order.
        device = make_device(orgs, users, "refurbished")
        tag = device.tag
        before = db.session.scalar(select(func.count()).select_from(CustodyEvent)
                                   .where(CustodyEvent.device_id == device.id))
        db.session.commit()
        outcomes = _race(app, tag, [(tech_a, "ready", {"grade": "B"}), (tech_b, "diagnosed", {"verdict": "parts"})])
        assert sorted(o[0] for o in outcomes) == ["409", "ok"], outcomes
        db.session.expire_all()
        after = db.session.scalar(select(func.count()).select_from(CustodyEvent)
                                  .where(CustodyEvent.device_id == device.id))
        assert after == before + 1
        winner = [o[1] for o in outcomes if o[0] == "ok"][0]
        assert services.get_device(tag, actor=tech_a).state.value == winner
    assert verify_chain().ok


def test_many_devices_moved_in_parallel_keep_one_linear_chain(app, orgs, users):
    tech = Actor.of(users["technician"])
    tags = [make_device(orgs, users, "registered").tag for _ in range(8)]
    db.session.commit()
    errors = []

    def worker(tag):
        with app.app_context():
            try:
                services.transition(tag, "collected", actor=tech)
                services.transition(tag, "received", actor=tech)
            except Exception as exc:  # noqa: BLE001 - any failure fails the test below
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(t,)) for t in tags]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    db.session.expire_all()
    result = verify_chain()
    assert result.ok
    for tag in tags:
        assert services.get_device(tag, actor=tech).state.value == "received"
