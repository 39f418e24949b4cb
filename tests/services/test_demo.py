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
