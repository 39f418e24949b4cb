"""The demo data: loaded through the services, idempotent, and its chain verifies."""
from sqlalchemy import func, select

from asset_tracker.custody.services import verify_chain
from asset_tracker.devices.models import Device


def test_demo_load_is_idempotent_and_verifies(runner, db):
    first = runner.invoke(args=["demo", "load", "--devices", "40"])
    assert first.exit_code == 0, first.output
    assert "technicien@demo.reboot.example" in first.output
    count = db.session.scalar(select(func.count()).select_from(Device))
    assert count == 40
    states = set(db.session.scalars(select(Device.state)).all())
    assert len(states) >= 6
    second = runner.invoke(args=["demo", "load", "--devices", "40"])
    assert second.exit_code == 0 and "already" in second.output
    assert db.session.scalar(select(func.count()).select_from(Device)) == 40
    result = verify_chain()
    assert result.ok and result.checked > 200
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_demo_looks_like_a_healthy_programme_with_a_few_cases_to_show(app, db):
    """A visitor sees a few overdue devices and suspicious custody cases, not a programme in trouble."""
    from asset_tracker.audit.services import watch_counts
    from asset_tracker.core import Actor
    from asset_tracker.demo import load_demo
    from asset_tracker.web.services import overdue_by_state

    load_demo(300)
    rules = app.config["REMINDER_RULES"]
    overdue = sum(overdue_by_state(Actor.system("test"), rules).values())
    watch = watch_counts(rules)
    assert 0 < overdue <= 30, overdue  # at most one device in ten
    assert 0 < watch["no_evidence"] <= 15, watch
    assert watch["lost"] <= 10
