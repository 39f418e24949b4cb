"""Signed checkpoints: every way of rewriting the custody log is caught, even one the plain hash chain misses."""
import json
import os
import stat

import pytest
from flask import current_app
from sqlalchemy import text

from asset_tracker.audit import keys, services
from asset_tracker.audit.models import Checkpoint
from asset_tracker.core import Actor
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.custody.services import verify_chain
from asset_tracker.errors import Conflict
from tests.audit_support import TriggersOff, rehash_from, signing_key, truncate_after  # noqa: F401
from tests.factories import make_device

AUDITOR = Actor.system("tests")


@pytest.fixture
def signed(db, orgs, users, signing_key):
    """Devices with their history, then a checkpoint of the whole chain; returns (checkpoint dict, public key)."""
    for state in ("ready", "received", "registered"):
        make_device(orgs, users, state)
    cp = services.sign_checkpoint(actor=AUDITOR, key_path=current_app.config["AUDIT_SIGNING_KEY_PATH"])
    return services.checkpoint_dict(cp), keys.load_public(signing_key[1])


def _check(cps, pub):
    return services.verify_checkpoints(cps, pub)


def test_a_checkpoint_signs_the_verified_head_and_is_itself_an_event(db, signed):
    cp, pub = signed
    head = db.session.scalar(db.select(CustodyEvent).where(CustodyEvent.seq == cp["seq"]))
    assert cp["head_hash"] == head.hash
    last = db.session.execute(db.select(CustodyEvent).order_by(CustodyEvent.seq.desc()).limit(1)).scalar_one()
    assert last.type == "audit_checkpoint_signed" and last.seq == cp["seq"] + 1
    assert json.loads(last.details)["head_hash"] == cp["head_hash"]
    report = _check([cp], pub)
    assert report.ok and report.chain.checked == cp["seq"] + 1


def test_an_edited_event_is_detected(db, signed):
    cp, pub = signed
    with TriggersOff(db) as conn:
        conn.execute(text("UPDATE custody_events SET actor_name = 'someone.else@example.org' WHERE seq = 7"))
    report = _check([cp], pub)
    assert not report.ok and report.chain.broken_seq == 7 and "altered" in report.chain.problem


def test_a_deleted_event_is_detected(db, signed):
    cp, pub = signed
    with TriggersOff(db) as conn:
        conn.execute(text("DELETE FROM custody_events WHERE seq = 5"))
    report = _check([cp], pub)
    assert not report.ok and report.chain.broken_seq == 5 and "missing" in report.chain.problem


def test_reordered_events_are_detected(db, signed):
    cp, pub = signed
    with TriggersOff(db) as conn:
        conn.execute(text("UPDATE custody_events SET seq = -1 WHERE seq = 8"))
        conn.execute(text("UPDATE custody_events SET seq = 8 WHERE seq = 9"))
        conn.execute(text("UPDATE custody_events SET seq = 9 WHERE seq = -1"))
    report = _check([cp], pub)
    assert not report.ok and report.chain.broken_seq == 8


def test_reordered_events_with_every_hash_recomputed_are_detected_by_the_checkpoint(db, signed):
    cp, pub = signed
    with TriggersOff(db) as conn:
        conn.execute(text("UPDATE custody_events SET seq = -1 WHERE seq = 8"))
        conn.execute(text("UPDATE custody_events SET seq = 8 WHERE seq = 9"))
        conn.execute(text("UPDATE custody_events SET seq = 9 WHERE seq = -1"))
    rehash_from(db, 8)
    assert verify_chain().ok  # the plain chain is fooled...
    report = _check([cp], pub)
    assert not report.ok and "rewritten" in report.first_problem  # ...the signed checkpoint is not


def test_a_truncated_log_with_its_head_moved_back_is_detected(db, signed):
    cp, pub = signed
    truncate_after(db, cp["seq"] - 3)
    assert verify_chain().ok  # the chain head no longer says more events existed
    report = _check([cp], pub)
    assert not report.ok
    assert report.checks[0].problem.endswith("truncated")


def test_an_edit_with_the_whole_chain_recomputed_is_detected(db, signed):
    cp, pub = signed
    with TriggersOff(db) as conn:
        conn.execute(text("UPDATE custody_events SET note = 'nothing happened', station = 'elsewhere' WHERE seq = 4"))
    rehash_from(db, 4)
    plain = verify_chain()
    assert plain.ok, plain  # an attacker with database access rewrote every later hash
    report = _check([cp], pub)
    assert not report.ok
    assert report.checks[0].problem == f"event #{cp['seq']} no longer has the signed hash: the log was rewritten"


def test_an_edit_after_the_last_checkpoint_is_still_caught_by_the_chain(db, signed):
    cp, pub = signed
    with TriggersOff(db) as conn:
        conn.execute(text("UPDATE custody_events SET note = 'x' WHERE seq = :s"), {"s": cp["seq"] + 1})
    report = _check([cp], pub)
    assert not report.ok and report.chain.broken_seq == cp["seq"] + 1


def test_a_forged_or_altered_checkpoint_does_not_verify(db, signed, tmp_path):
    cp, pub = signed
    moved = dict(cp, seq=cp["seq"] - 1, head_hash=db.session.scalar(
        db.select(CustodyEvent.hash).where(CustodyEvent.seq == cp["seq"] - 1)))
    report = _check([moved], pub)
    assert not report.ok and "signature does not verify" in report.first_problem
    other = keys.load_public(keys.generate(str(tmp_path / "other.pem"))[1])
    report = _check([cp], other)
    assert not report.ok and "another key" in report.first_problem


def test_a_broken_chain_is_never_signed(db, signed):
    with TriggersOff(db) as conn:
        conn.execute(text("UPDATE custody_events SET note = 'x' WHERE seq = 2"))
    with pytest.raises(Conflict, match="broken at event #2"):
        services.sign_checkpoint(actor=AUDITOR, key_path=current_app.config["AUDIT_SIGNING_KEY_PATH"])
    assert db.session.scalar(db.select(db.func.count()).select_from(Checkpoint)) == 1


def test_keygen_writes_a_private_key_readable_by_its_owner_only(app, runner, tmp_path):
    path = tmp_path / "k" / "audit.pem"
    result = runner.invoke(args=["audit", "keygen", "--path", str(path)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert (tmp_path / "k" / "audit.pub.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = runner.invoke(args=["audit", "keygen", "--path", str(path)])
    assert again.exit_code == 1 and "already exists" in again.output


def test_cli_checkpoint_then_verify_with_the_downloaded_file_and_public_key(db, orgs, users, signing_key, runner,
                                                                          tmp_path):
    make_device(orgs, users, "wiped")
    made = runner.invoke(args=["audit", "checkpoint"])
    assert made.exit_code == 0, made.output
    cps = tmp_path / "checkpoints.jsonl"
    cps.write_text("".join(services.iter_checkpoint_lines()))
    ok = runner.invoke(args=["audit", "verify", "--checkpoints", str(cps), "--public-key", signing_key[1]])
    assert ok.exit_code == 0, ok.output
    assert "1 checkpoints verified" in ok.output
    seq = json.loads(cps.read_text())["seq"]
    with TriggersOff(db) as conn:
        conn.execute(text("UPDATE custody_events SET actor_name = 'x' WHERE seq = 2"))
    rehash_from(db, 2)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0  # the plain check is fooled
    broken = runner.invoke(args=["audit", "verify", "--checkpoints", str(cps), "--public-key", signing_key[1]])
    assert broken.exit_code == 1
    assert f"checkpoint #{seq}" in broken.output and "rewritten" in broken.output


def test_the_nightly_job_is_declared_and_signs(db, orgs, users, signing_key):
    from asset_tracker.audit import jobs

    assert jobs.JOBS[0][0] == "audit.checkpoint" and jobs.JOBS[0][2] == {"trigger": "cron", "hour": 2}
    make_device(orgs, users, "collected")
    assert jobs.checkpoint() is not None
    assert services.verify_stored_checkpoints(key_path=current_app.config["AUDIT_SIGNING_KEY_PATH"]).ok
