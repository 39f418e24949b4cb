"""Audit verbs: sign a checkpoint of the custody chain, verify checkpoints, record exports, find open custody."""
from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from sqlalchemy import and_, case, exists, func, or_, select, text

from ..core import Actor
from ..custody import services as custody
from ..db import utcnow
from ..devices.filters import overdue_clause
from ..devices.models import Device
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..lifecycle import State
from ..tags import TagError, parse_tag
from ..wiping.models import WipeRecord, WipeResult
from . import keys
from .models import Checkpoint

# ---------------------------------------------------------------- checkpoints


def public_key(*, key_path: str):
    """The public half of the signing key at ``key_path`` (AUDIT_SIGNING_KEY_PATH), derived from the private
    key when its file is missing."""
    pub = keys.public_path(key_path)
    try:
        return keys.load_public(pub)
    except FileNotFoundError:
        try:
            return keys.load_private(key_path).public_key()
        except keys.KeyMissing:
            raise NotFound("No checkpoint key is configured yet (flask audit keygen).") from None


def public_key_pem(*, key_path: str) -> bytes:
    return keys.public_pem(public_key(key_path=key_path))


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def checkpoint_dict(cp: Checkpoint) -> dict:
    """A checkpoint as auditors download it (one JSON line each)."""
    return {"seq": cp.seq, "head_hash": cp.head_hash, "signed_at": _time(cp.signed_at), "key_id": cp.key_id,
            "signature": cp.signature}


def sign_checkpoint(*, actor: Actor, key_path: str) -> Checkpoint:
    """Verify the whole chain, then sign its head (seq, hash) with the key kept outside the database.

    A broken chain is never signed: a checkpoint vouches for everything up to its position.
    The checkpoint itself becomes the next custody event. ``key_path``: AUDIT_SIGNING_KEY_PATH.
    """
    try:
        key = keys.load_private(key_path)
    except keys.KeyMissing:
        raise Conflict("No checkpoint key is configured: run flask audit keygen first.", code="no_signing_key") \
            from None
    result = custody.verify_chain()
    if not result.ok:
        raise Conflict("The custody chain is broken at event #%(seq)s (%(problem)s): no checkpoint is signed.",
                       seq=result.broken_seq, problem=result.problem, code="chain_broken")
    if not result.checked:
        raise Conflict("The custody chain is empty: there is nothing to sign yet.", code="chain_empty")
    kid = keys.key_id(key.public_key())
    signed_at = utcnow()
    message = keys.checkpoint_message(result.head_seq, result.head_hash, _time(signed_at), kid)
    cp = Checkpoint(seq=result.head_seq, head_hash=result.head_hash, signed_at=signed_at, key_id=kid,
                    signature=keys.sign(key, message), signed_by=actor.name)
    db.session.add(cp)
    db.session.flush()
    custody.record("audit_checkpoint_signed", actor=actor,
                   details={"checkpoint_id": cp.id, "seq": cp.seq, "head_hash": cp.head_hash, "key_id": kid})
    db.session.commit()
    return cp


def list_checkpoints(limit: int | None = None) -> list[Checkpoint]:
    query = select(Checkpoint).order_by(Checkpoint.seq.desc(), Checkpoint.id.desc())
    if limit:
        query = query.limit(limit)
    return db.session.execute(query).scalars().all()


def iter_checkpoint_lines():
    for cp in reversed(list_checkpoints()):
        yield json.dumps(checkpoint_dict(cp), sort_keys=True) + "\n"


def parse_checkpoints(lines) -> list[dict]:
    """Checkpoints from JSON Lines text; a malformed line is refused naming its number."""
    out = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        try:
            item = json.loads(line)
            out.append({"seq": int(item["seq"]), "head_hash": str(item["head_hash"]),
                        "signed_at": str(item["signed_at"]), "key_id": str(item["key_id"]),
                        "signature": str(item["signature"])})
        except (ValueError, KeyError, TypeError):
            raise Invalid("Line %(line)s of the checkpoint file is not a checkpoint.", line=number) from None
    return out


@dataclass
class CheckpointCheck:
    checkpoint: dict
    ok: bool
    problem: str | None = None


@dataclass
class CheckpointReport:
    chain: custody.VerifyResult
    checks: list[CheckpointCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.chain.ok and all(c.ok for c in self.checks)

    @property
    def first_problem(self) -> str | None:
        if not self.chain.ok:
            return f"chain: {self.chain.problem}"
        bad = next((c for c in self.checks if not c.ok), None)
        return f"checkpoint #{bad.checkpoint['seq']}: {bad.problem}" if bad else None

    def as_dict(self) -> dict:
        return {"ok": self.ok, "chain": self.chain.as_dict(), "checkpoints_checked": len(self.checks),
                "checkpoints_failed": [{"seq": c.checkpoint["seq"], "signed_at": c.checkpoint["signed_at"],
                                        "problem": c.problem} for c in self.checks if not c.ok]}


def verify_checkpoints(checkpoints: list[dict], pub, connection=None) -> CheckpointReport:
    """Prove the log was neither rewritten nor truncated since each checkpoint.

    Each signature must verify with the public key; the event at each checkpoint's seq must still
    carry the signed hash; and the chain must be intact from genesis to its head. A hash chain alone
    cannot show a rewrite from some event onwards with every later hash recomputed, nor a cut tail with
    its head moved back: the signed (seq, hash) pairs can.
    """
    own = connection is None
    if own:
        connection = db.engine.connect().execution_options(sqlite_deferred=True)
    try:
        chain = custody.verify_chain(connection)
        kid = keys.key_id(pub)
        seqs = sorted({cp["seq"] for cp in checkpoints})
        stored = {}
        for i in range(0, len(seqs), 900):
            chunk = seqs[i:i + 900]
            rows = connection.execute(
                text("SELECT seq, hash FROM custody_events WHERE seq IN (" + ",".join(str(int(s)) for s in chunk)
                     + ")")).all()
            stored.update({int(s): h for s, h in rows})
        report = CheckpointReport(chain)
        for cp in sorted(checkpoints, key=lambda c: c["seq"]):
            report.checks.append(_check_one(cp, pub, kid, stored, chain))
        return report
    finally:
        if own:
            connection.close()


def _check_one(cp: dict, pub, kid: str, stored: dict, chain) -> CheckpointCheck:
    if cp["key_id"] != kid:
        return CheckpointCheck(cp, False, f"signed with another key ({cp['key_id']}, this key is {kid})")
    message = keys.checkpoint_message(cp["seq"], cp["head_hash"], cp["signed_at"], cp["key_id"])
    try:
        pub.verify(base64.b64decode(cp["signature"], validate=True), message)
    except (InvalidSignature, ValueError):
        return CheckpointCheck(cp, False, "the signature does not verify: the checkpoint was forged or altered")
    actual = stored.get(cp["seq"])
    if actual is None:
        return CheckpointCheck(cp, False, f"event #{cp['seq']} no longer exists: the log was truncated")
    if actual != cp["head_hash"]:
        return CheckpointCheck(cp, False, f"event #{cp['seq']} no longer has the signed hash: the log was rewritten")
    if chain.ok and chain.head_seq is not None and chain.head_seq < cp["seq"]:
        return CheckpointCheck(cp, False, f"the chain ends at #{chain.head_seq}, before the checkpoint: truncated")
    return CheckpointCheck(cp, True)


def verify_stored_checkpoints(*, key_path: str) -> CheckpointReport | None:
    """The auditor's page: every checkpoint kept by the service, checked with the public key of ``key_path``."""
    try:
        pub = public_key(key_path=key_path)
    except NotFound:
        return None
    checkpoints = [checkpoint_dict(cp) for cp in list_checkpoints()]
    return verify_checkpoints(checkpoints, pub)


# ---------------------------------------------------------------- exports


def record_export(kind: str, fmt: str, filters: dict, *, actor: Actor) -> None:
    """An export is itself a custody event, written (and committed) before the first byte is streamed."""
    clean = {k: v for k, v in filters.items() if v not in (None, "", [], False)}
    custody.record("export", actor=actor, details={"kind": kind, "format": fmt, "filters": clean,
                                                   "role": actor.role})
    db.session.commit()


# ---------------------------------------------------------------- device search and open custody


def find_devices(term: str, *, limit: int = 50):
    """Devices whose tag, serial number or IMEI is exactly ``term`` (auditors see every device)."""
    term = (term or "").strip().upper()
    if not term:
        return []
    candidates = {term}
    try:
        candidates.add(parse_tag(term).text)
    except (TagError, ValueError):
        pass
    query = (select(Device).where(or_(Device.tag.in_(candidates), Device.serial == term, Device.imei == term))
             .order_by(Device.id).limit(limit))
    return db.session.execute(query).unique().scalars().all()


WATCH_KINDS = ("in_transit", "lost", "no_batch", "no_evidence")


def _transit_rules(rules: list[dict]) -> list[dict]:
    """The reminder rules of the two in-transit states (collected, returned): custody is with a carrier."""
    return [r for r in rules if r["state"] in ("collected", "returned") and not r.get("loan")]


def watch_clauses(rules: list[dict], now: dt.datetime | None = None) -> dict:
    """One SQL condition per kind of open or suspicious custody (indexed columns only)."""
    now = now or utcnow()
    after_wipe = [State.WIPED, State.REFURBISHED, State.READY, State.RESERVED, State.HANDED_OVER]
    unproven = exists().where(and_(
        WipeRecord.device_id == Device.id, WipeRecord.result == WipeResult.PASSED, WipeRecord.evidence_id.is_(None),
        or_(Device.last_received_at.is_(None), WipeRecord.recorded_at >= Device.last_received_at)))
    return {
        "in_transit": overdue_clause(_transit_rules(rules), now),
        "lost": Device.state == State.LOST,
        "no_batch": and_(Device.batch_id.is_(None), Device.last_received_at.is_not(None)),
        "no_evidence": and_(Device.state.in_(after_wipe), unproven),
    }


def watch_query(kind: str, *, rules: list[dict]):
    """The devices of one kind of open or suspicious custody (unordered, unexecuted: lists sort and page it)."""
    if kind not in WATCH_KINDS:
        raise NotFound("No list %(name)s.", name=kind)
    return select(Device).where(watch_clauses(rules)[kind])


def watchlist(kind: str, *, rules: list[dict], page: int = 1, per_page: int = 50):
    """Devices of one kind of open or suspicious custody, oldest in their state first, and their count."""
    if kind not in WATCH_KINDS:
        raise NotFound("No list %(name)s.", name=kind)
    clause = watch_clauses(rules)[kind]
    total = db.session.scalar(select(func.count()).select_from(Device).where(clause)) or 0
    items = db.session.execute(select(Device).where(clause).order_by(Device.state_since, Device.id)
                               .limit(per_page).offset((page - 1) * per_page)).unique().scalars().all()
    return items, total


def watch_counts(rules: list[dict]) -> dict[str, int]:
    clauses = watch_clauses(rules)
    row = db.session.execute(select(*[func.coalesce(func.sum(case((c, 1), else_=0)), 0).label(k)
                                      for k, c in clauses.items()]).select_from(Device)).one()
    return dict(row._mapping)
