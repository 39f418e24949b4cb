"""The database-side serialisation used to verify the chain quickly.

It is byte-for-byte the one the events were hashed with.
"""

from __future__ import annotations

import hashlib

from asset_tracker.core import Actor
from asset_tracker.custody import services as custody

TRICKY = ['quote " and backslash \\ and slash /', "line\nbreak\ttab\rreturn\bback\fform", "control \x01\x1f\x7f",
          "accents éèà ç — «guillemets» €", "emoji 😀 and CJK 漢字", "", "null", "0"]


def test_tricky_text_hashes_the_same_in_the_database_as_in_python(db):
    actor = Actor(None, "Zoë \"l'auditrice\"", None, "Métropole\u00a0de Lyon")
    for i, value in enumerate(TRICKY):
        custody.record("note_added", actor=actor, note=value, station=value or None,
                       details={"text": value, "n": i, "nested": {"list": [value, None, 1.5, True]}})
    db.session.commit()
    with db.engine.connect() as conn:
        conn.execute(db.text("SELECT 1"))
        rows = list(custody._iter_canonical(conn))
    assert len(rows) == len(TRICKY)
    for _ev_id, _seq, _prev_hash, stored_hash, canonical in rows:
        assert hashlib.sha256(canonical.encode("utf-8")).hexdigest() == stored_hash, canonical
    assert custody.verify_chain().ok


def test_an_altered_note_is_still_caught_when_the_fast_path_disagrees(db):
    actor = Actor.system("tests")
    for value in TRICKY:
        custody.record("note_added", actor=actor, note=value)
    db.session.commit()
    if db.engine.dialect.name == "sqlite":
        db.session.execute(db.text("DROP TRIGGER custody_events_no_update"))
        db.session.execute(db.text("UPDATE custody_events SET note = 'changed' WHERE seq = 3"))
    else:
        db.session.execute(db.text("ALTER TABLE custody_events DISABLE TRIGGER custody_events_no_update"))
        db.session.execute(db.text("UPDATE custody_events SET note = 'changed' WHERE seq = 3"))
        db.session.execute(db.text("ALTER TABLE custody_events ENABLE TRIGGER custody_events_no_update"))
    db.session.commit()
    result = custody.verify_chain()
    assert not result.ok and result.broken_seq == 3 and "altered" in result.problem
