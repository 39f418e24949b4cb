"""The one writer of custody events, and the chain verifier."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from flask import g, has_request_context
from sqlalchemy import select, text

from ..core import Actor
from ..db import UTCDateTime, utcnow
from ..extensions import db
from .models import ChainHead, CustodyEvent

GENESIS = "0" * 64
_HEAD = ChainHead.__table__

# Columns that are hashed, in canonical order. `id` is storage, not content.
HASHED = (
    "seq", "type", "device_id", "device_tag", "actor_user_id", "actor_name", "actor_organisation_id",
    "actor_organisation_name", "state_before", "state_after", "custodian_before_id", "custodian_after_id",
    "server_time", "client_time", "station", "note", "details", "request_id", "prev_hash",
)


def canonical_details(details: dict | None) -> str:
    return json.dumps(details or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _time(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(values: dict) -> str:
    """SHA-256 of the canonical serialisation of an event's hashed fields (prev_hash included)."""
    payload = [values[k] if k not in ("server_time", "client_time") else _time(values[k]) for k in HASHED]
    blob = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _lock_head(session, count: int = 1) -> tuple[int, str]:
    """Take the chain's write lock and reserve ``count`` sequence numbers: (first seq, previous hash)."""
    conn = session.connection()
    row = conn.execute(
        _HEAD.update().where(_HEAD.c.id == 1).values(last_seq=_HEAD.c.last_seq + count)
        .returning(_HEAD.c.last_seq, _HEAD.c.last_hash)
    ).one_or_none()
    if row is None:
        conn.execute(_HEAD.insert().values(id=1, last_seq=count, last_hash=GENESIS))
        return 1, GENESIS
    return row[0] - count + 1, row[1]


def record(
    type: str,
    *,
    actor: Actor,
    device=None,
    state_before: str | None = None,
    state_after: str | None = None,
    custodian_before_id: int | None = None,
    custodian_after_id: int | None = None,
    client_time: dt.datetime | None = None,
    station: str | None = None,
    note: str | None = None,
    details: dict | None = None,
    request_id: str | None = None,
    accessory=None,
    session=None,
) -> dict:
    """Append one event to the chain, in the caller's transaction (the caller commits).

    Bulk callers change all their rows first and record events last: the chain head
    is always the last lock a transaction takes, so writers cannot deadlock.
    """
    row = {"type": type, "device": device, "state_before": state_before, "state_after": state_after,
           "custodian_before_id": custodian_before_id, "custodian_after_id": custodian_after_id,
           "client_time": client_time, "station": station, "note": note, "details": details}
    if request_id is not None:
        row["request_id"] = request_id
    if accessory is not None:
        row["accessory_id"] = accessory.id
    return _append([row], actor=actor, session=session or db.session)[0]


def record_many(rows: Iterable[dict], *, actor: Actor, session=None) -> int:
    """Append many events at once (imports): one lock, one multi-row insert. Rows hold `record`'s keywords
    (or `device_id`/`device_tag` instead of `device`)."""
    rows = list(rows)
    return len(_append(rows, actor=actor, session=session or db.session)) if rows else 0


def _append(rows: list[dict], *, actor: Actor, session) -> list[dict]:
    """Hash and insert ``rows`` after the chain head, with Core statements on the session's connection
    (no ORM bookkeeping on the hottest write path; the ORM bulk path cost a third of an import)."""
    seq, prev_hash = _lock_head(session, len(rows))
    now = utcnow()
    request_id = getattr(g, "request_id", None) if has_request_context() else None
    out = []
    for row in rows:
        device = row.get("device")
        accessory_id = row.get("accessory_id")
        if accessory_id is not None:
            # The hashed details name the accessory too, so the unhashed column can be checked against them.
            row["details"] = {**(row.get("details") or {}), "accessory_id": accessory_id}
        values = {
            "seq": seq,
            "type": row["type"],
            "device_id": device.id if device is not None else row.get("device_id"),
            "device_tag": device.tag if device is not None else row.get("device_tag"),
            "actor_user_id": actor.user_id,
            "actor_name": actor.name,
            "actor_organisation_id": actor.organisation_id,
            "actor_organisation_name": actor.organisation_name,
            "state_before": _value(row.get("state_before")),
            "state_after": _value(row.get("state_after")),
            "custodian_before_id": row.get("custodian_before_id"),
            "custodian_after_id": row.get("custodian_after_id"),
            "server_time": now,
            "client_time": row.get("client_time"),
            "station": row.get("station"),
            "note": row.get("note"),
            "details": canonical_details(row.get("details")),
            "request_id": row.get("request_id", request_id),
            "prev_hash": prev_hash,
        }
        values["hash"] = prev_hash = event_hash(values)
        values["accessory_id"] = accessory_id
        out.append(values)
        seq += 1
    conn = session.connection()
    conn.execute(CustodyEvent.__table__.insert(), out)
    conn.execute(_HEAD.update().where(_HEAD.c.id == 1).values(last_hash=prev_hash))
    return out


def _value(state):
    return getattr(state, "value", state)


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    head_seq: int | None
    head_hash: str | None
    broken_seq: int | None = None
    broken_id: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_broken": None
            if self.ok
            else {"seq": self.broken_seq, "id": self.broken_id, "problem": self.problem},
        }


def iter_event_rows(connection, batch: int = 20000, after_seq: int = 0) -> Iterator[tuple]:
    """Events in chain order as tuples of (id, hash, *HASHED), fetched in key-set pages."""
    cols = ", ".join(("id", "hash") + HASHED)
    last = after_seq
    while True:
        query = text(f"SELECT {cols} FROM custody_events WHERE seq > :last ORDER BY seq LIMIT :n").columns(
            server_time=UTCDateTime(), client_time=UTCDateTime())
        rows = connection.execute(query, {"last": last, "n": batch}).all()
        if not rows:
            return
        yield from rows
        last = rows[-1][2]


def _canonical_sql(dialect: str) -> str:
    """SQL that renders each event's hashed fields as the exact JSON text ``event_hash`` hashes.

    The database serialises (no Python object per column), so verifying costs one SHA-256 per event.
    Any row whose text still differs is recomputed the slow way before being called altered.
    """
    if dialect == "sqlite":
        cols = []
        for k in HASHED:
            if k in ("server_time", "client_time"):
                # SQLAlchemy stores "YYYY-MM-DD HH:MM:SS.ffffff" (UTC, naive) on SQLite.
                cols.append(f"replace({k}, ' ', 'T') || 'Z'")
            else:
                cols.append(k)
        return "json_array(" + ", ".join(cols) + ")"
    if dialect == "postgresql":
        cols = []
        for k in HASHED:
            if k in ("server_time", "client_time"):
                expr = f"""to_json(to_char({k} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))::text"""
            else:
                expr = f"to_json({k})::text"
            cols.append(f"coalesce({expr}, 'null')")
        return "'[' || concat_ws(',', " + ", ".join(cols) + ") || ']'"
    return ""


def _iter_canonical(connection, batch: int = 20000) -> Iterator[tuple]:
    """(id, seq, prev_hash, hash, canonical JSON text) in chain order, in key-set pages.

    Read through the driver's cursor: building a SQLAlchemy row per event would cost more than hashing it.
    """
    canon = _canonical_sql(connection.dialect.name)
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = (f"SELECT id, seq, prev_hash, hash, {canon} FROM custody_events WHERE seq > {mark} "
           f"ORDER BY seq LIMIT {int(batch)}")
    cursor = connection.connection.cursor()
    try:
        last = 0
        while True:
            cursor.execute(sql, (last,))
            rows = cursor.fetchall()
            if not rows:
                return
            yield from rows
            last = rows[-1][1]
    finally:
        cursor.close()


def _slow_digest(connection, ev_id: int) -> str:
    """The hash of one event recomputed from its columns in Python (the reference serialisation)."""
    cols = ", ".join(HASHED)
    row = connection.execute(text(f"SELECT {cols} FROM custody_events WHERE id = :id").columns(
        server_time=UTCDateTime(), client_time=UTCDateTime()), {"id": ev_id}).one()
    return event_hash(dict(zip(HASHED, row, strict=False)))


def verify_chain(connection=None) -> VerifyResult:
    """Recompute every hash in order; name the first event that is edited, missing or out of place."""
    own = connection is None
    if own:
        connection = db.engine.connect().execution_options(sqlite_deferred=True)
    try:
        if not _canonical_sql(connection.dialect.name):
            return _verify_rows(connection)
        # Open the transaction through SQLAlchemy (BEGIN on SQLite: one snapshot for every page read below).
        connection.execute(text("SELECT 1"))
        prev_hash, expected_seq, checked = GENESIS, 1, 0
        sha256 = hashlib.sha256
        last_hash = None
        for ev_id, seq, row_prev, stored_hash, canonical in _iter_canonical(connection):
            if seq != expected_seq:
                problem = (f"event #{expected_seq} is missing" if seq > expected_seq else f"event #{seq} is duplicated")
                return VerifyResult(False, checked, None, None, expected_seq, ev_id, problem)
            if row_prev != prev_hash:
                return VerifyResult(False, checked, None, None, seq, ev_id,
                                    f"event #{seq} does not follow event #{seq - 1} (prev_hash mismatch)")
            if sha256(canonical.encode("utf-8")).hexdigest() != stored_hash \
                    and _slow_digest(connection, ev_id) != stored_hash:
                return VerifyResult(False, checked, None, None, seq, ev_id, f"event #{seq} was altered (hash mismatch)")
            prev_hash, last_hash = stored_hash, stored_hash
            expected_seq += 1
            checked += 1
        return _check_head(connection, checked, last_hash)
    finally:
        if own:
            connection.close()


def _check_head(connection, checked: int, last_hash: str | None) -> VerifyResult:
    head = connection.execute(text("SELECT last_seq, last_hash FROM custody_chain_head WHERE id = 1")).first()
    if head is not None and (head[0] != checked or head[1] != (last_hash or GENESIS)):
        if head[0] > checked:
            return VerifyResult(False, checked, None, None, checked + 1, None,
                                f"the log ends at event #{checked} but the chain head says #{head[0]} (truncated)")
        return VerifyResult(False, checked, None, None, head[0], None, "the chain head does not match the last event")
    return VerifyResult(True, checked, checked, last_hash or GENESIS)


def _verify_rows(connection) -> VerifyResult:
    """The reference verifier: every hashed column fetched and serialised in Python (other databases)."""
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    sha256, dumps = hashlib.sha256, json.dumps
    t_idx = (HASHED.index("server_time"), HASHED.index("client_time"))
    last_hash = None
    for row in iter_event_rows(connection):
        ev_id, stored_hash = row[0], row[1]
        values = list(row[2:])
        seq = values[0]
        if seq != expected_seq:
            problem = (f"event #{expected_seq} is missing" if seq > expected_seq else f"event #{seq} is duplicated")
            return VerifyResult(False, checked, None, None, expected_seq, ev_id, problem)
        if values[-1] != prev_hash:
            return VerifyResult(False, checked, None, None, seq, ev_id,
                                f"event #{seq} does not follow event #{seq - 1} (prev_hash mismatch)")
        for i in t_idx:
            v = values[i]
            if v is not None:
                values[i] = _time(v)
        digest = sha256(dumps(values, separators=(",", ":"), ensure_ascii=False).encode("utf-8")).hexdigest()
        if digest != stored_hash:
            return VerifyResult(False, checked, None, None, seq, ev_id, f"event #{seq} was altered (hash mismatch)")
        prev_hash, last_hash = stored_hash, stored_hash
        expected_seq += 1
        checked += 1
    return _check_head(connection, checked, last_hash)


def accessory_events(accessory_id: int, session=None) -> list[CustodyEvent]:
    """An accessory's chain of events (the column is an index; the hashed details must name the same accessory)."""
    session = session or db.session
    events = session.execute(
        select(CustodyEvent).where(CustodyEvent.accessory_id == accessory_id).order_by(CustodyEvent.seq)
    ).scalars().all()
    return [e for e in events if json.loads(e.details or "{}").get("accessory_id") == accessory_id]


def device_events(device_id: int, session=None):
    session = session or db.session
    return session.execute(
        select(CustodyEvent).where(CustodyEvent.device_id == device_id).order_by(CustodyEvent.seq)
    ).scalars().all()
