"""The custody chain: append-only in the database, and every tampering named by verify."""
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from asset_tracker.custody.models import CustodyEvent
from asset_tracker.custody.services import verify_chain
from tests.factories import make_device


@pytest.fixture
def chain(db, orgs, users):
    for state in ("ready", "received", "registered"):
        make_device(orgs, users, state)
    result = verify_chain()
    assert result.ok and result.checked >= 20
    return result


class _TriggersOff:
    """Tampering as an attacker with DDL rights would do it: with the append-only triggers out of the way."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        conn = self.db.session.connection()
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER custody_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER custody_events_no_delete")
        else:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        return conn

    def __exit__(self, *exc):
        self.db.session.commit()


def test_the_database_refuses_update_and_delete_of_events(db, chain):
    for statement in ("UPDATE custody_events SET note = 'x' WHERE seq = 1", "DELETE FROM custody_events WHERE seq = 1"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    assert verify_chain().ok


def test_an_edited_event_is_named(db, chain):
    with _TriggersOff(db) as conn:
        conn.execute(text("UPDATE custody_events SET actor_name = 'someone.else@example.org' WHERE seq = 7"))
    result = verify_chain()
    assert not result.ok
    assert result.broken_seq == 7 and "altered" in result.problem


def test_an_edited_state_is_named(db, chain):
    with _TriggersOff(db) as conn:
        conn.execute(
            text("UPDATE custody_events SET state_after = 'ready' WHERE seq = (SELECT max(seq) FROM custody_events)")
        )
    result = verify_chain()
    assert not result.ok and result.broken_seq == chain.checked


def test_a_deleted_event_is_named(db, chain):
    with _TriggersOff(db) as conn:
        conn.execute(text("DELETE FROM custody_events WHERE seq = 5"))
    result = verify_chain()
    assert not result.ok
    assert result.broken_seq == 5 and "missing" in result.problem


def test_a_swapped_pair_is_named(db, chain):
    with _TriggersOff(db) as conn:
        conn.execute(text("UPDATE custody_events SET seq = -1 WHERE seq = 8"))
        conn.execute(text("UPDATE custody_events SET seq = 8 WHERE seq = 9"))
        conn.execute(text("UPDATE custody_events SET seq = 9 WHERE seq = -1"))
    result = verify_chain()
    assert not result.ok and result.broken_seq == 8


def test_a_recomputed_hash_still_breaks_the_next_link(db, chain):
    from asset_tracker.custody.services import HASHED, event_hash

    event = db.session.execute(db.select(CustodyEvent).where(CustodyEvent.seq == 4)).scalar_one()
    values = {k: getattr(event, k) for k in HASHED}
    values["note"] = "rewritten"
    forged = event_hash(values)
    with _TriggersOff(db) as conn:
        conn.execute(text("UPDATE custody_events SET note = 'rewritten', hash = :h WHERE seq = 4"), {"h": forged})
    result = verify_chain()
    assert not result.ok and result.broken_seq == 5 and "prev_hash" in result.problem


def test_a_truncated_tail_is_detected_by_the_chain_head(db, chain):
    with _TriggersOff(db) as conn:
        conn.execute(text("DELETE FROM custody_events WHERE seq = (SELECT max(seq) FROM custody_events)"))
    result = verify_chain()
    assert not result.ok and "truncated" in result.problem


def test_cli_audit_verify_exits_1_and_names_the_broken_event(db, chain, runner):
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and f"{chain.checked} events" in ok.output
    with _TriggersOff(db) as conn:
        conn.execute(text("UPDATE custody_events SET note = 'x' WHERE seq = 3"))
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert "#3" in broken.output


def test_api_verify_names_the_first_broken_event(db, chain, client, api_headers):
    resp = client.get("/api/v1/audit/verify", headers=api_headers("auditor"))
    assert resp.status_code == 200 and resp.json["ok"] is True and resp.json["checked"] >= chain.checked
    with _TriggersOff(db) as conn:
        conn.execute(text("UPDATE custody_events SET details = '{}' WHERE seq = 6"))
    resp = client.get("/api/v1/audit/verify", headers=api_headers("auditor"))
    assert resp.json["ok"] is False and resp.json["first_broken"]["seq"] == 6


def test_every_state_change_is_an_event_with_before_and_after(db, orgs, users):
    device = make_device(orgs, users, "diagnosed")
    events = db.session.execute(db.select(CustodyEvent).where(CustodyEvent.device_id == device.id)
                                .order_by(CustodyEvent.seq)).scalars().all()
    moves = [(e.state_before, e.state_after) for e in events if e.type == "state_changed"]
    assert moves == [("registered", "collected"), ("collected", "received"), ("received", "diagnosed")]
    received = [e for e in events if e.state_after == "received"][0]
    assert received.custodian_before_id == orgs["donor"].id or received.custodian_before_id == orgs["workshop"].id
    assert received.custodian_after_id == orgs["workshop"].id
    assert received.actor_name == users["technician"].display_name
    assert received.actor_organisation_name == "Weeefund"
