"""Helpers of the audit tests: a signing key per test, and tampering as an attacker with database access would."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from asset_tracker.custody.models import CustodyEvent
from asset_tracker.custody.services import GENESIS, HASHED, event_hash


@pytest.fixture
def signing_key(app, tmp_path):
    """A fresh Ed25519 key pair configured for this test; returns (private path, public path)."""
    from asset_tracker.audit import keys

    path = str(tmp_path / "keys" / "checkpoint.pem")
    private, public = keys.generate(path)
    before = app.config["AUDIT_SIGNING_KEY_PATH"]
    app.config["AUDIT_SIGNING_KEY_PATH"] = private
    yield private, public
    app.config["AUDIT_SIGNING_KEY_PATH"] = before


class TriggersOff:
    """With the append-only triggers out of the way, as an attacker with DDL rights would do it."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        conn = self.db.session.connection()
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS custody_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS custody_events_no_delete")
        else:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        return conn

    def __exit__(self, *exc):
        if exc[0] is None:
            self.db.session.commit()
        else:
            self.db.session.rollback()


def rehash_from(db, first_seq: int) -> None:
    """Recompute every hash and link from ``first_seq`` to the end, and move the chain head: a full rewrite."""
    events = db.session.execute(db.select(CustodyEvent).where(CustodyEvent.seq >= first_seq)
                                .order_by(CustodyEvent.seq)).scalars().all()
    prev = db.session.scalar(db.select(CustodyEvent.hash).where(CustodyEvent.seq == first_seq - 1)) or GENESIS
    rows = []
    for e in events:
        values = {k: getattr(e, k) for k in HASHED}
        values["prev_hash"] = prev
        prev = event_hash(values)
        rows.append((e.id, values["prev_hash"], prev, e.seq))
    db.session.expire_all()
    with TriggersOff(db) as conn:
        for ev_id, prev_hash, h, _ in rows:
            conn.execute(text("UPDATE custody_events SET prev_hash = :p, hash = :h WHERE id = :id"),
                         {"p": prev_hash, "h": h, "id": ev_id})
        last_seq = rows[-1][3] if rows else first_seq - 1
        conn.execute(text("UPDATE custody_chain_head SET last_seq = :s, last_hash = :h WHERE id = 1"),
                     {"s": last_seq, "h": prev})


def truncate_after(db, last_kept: int) -> None:
    """Cut the tail after ``last_kept`` and move the chain head back so the plain chain still verifies."""
    with TriggersOff(db) as conn:
        conn.execute(text("DELETE FROM custody_events WHERE seq > :s"), {"s": last_kept})
        h = conn.execute(text("SELECT hash FROM custody_events WHERE seq = :s"), {"s": last_kept}).scalar()
        conn.execute(text("UPDATE custody_chain_head SET last_seq = :s, last_hash = :h WHERE id = 1"),
                     {"s": last_kept, "h": h})
