"""Scanning-station verbs: handle a scan, undo the last one. Answers are language-neutral (msgids + params)."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import lifecycle
from ..core import Actor
from ..db import utcnow
from ..devices import services as devices
from ..devices.lookup import resolve_code  # noqa: F401 (the station's reader, shared with intake)
from ..devices.models import Device
from ..distribution.models import Programme
from ..distribution.services import cancel_reservation, record_recycling, reserve_device
from ..errors import Conflict, DomainError, Invalid, NotFound
from ..extensions import db
from ..idempotency import IdempotencyKey, payload_hash, remember, replay
from ..intake.services import receive_device
from ..lifecycle import N_, State
from ..ops.metrics import record_scan
from ..organisations.models import Organisation, OrgKind

SCAN_SCOPE = "scan"
UNDO_SCOPE = "scan_undo"
# How far ahead of the server a scanner's clock may be before its time is refused.
CLOCK_SKEW = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class StationAction:
    name: str
    target: State | None  # None: look up, nothing changes
    inputs: tuple[str, ...] = ()  # values asked once for a run of scans
    label: str = ""  # English msgid


ACTIONS: dict[str, StationAction] = {a.name: a for a in (
    StationAction("receive", State.RECEIVED, (), N_("Receive at the workshop")),
    StationAction("diagnose", State.DIAGNOSED, ("verdict",), N_("Diagnosed")),
    StationAction("wipe", State.WIPED, (), N_("Wiped")),
    StationAction("refurbish", State.REFURBISHED, (), N_("Refurbished")),
    StationAction("ready", State.READY, ("grade",), N_("Ready (quality check passed)")),
    StationAction("reserve", State.RESERVED, ("programme_id", "partner_organisation_id"), N_("Reserve")),
    # The disposal reference (the waste-tracking slip of the shipment) is given once for a run of scans.
    StationAction("recycle", State.RECYCLED, ("recycler_organisation_id", "disposal_reference"),
                  N_("Send to recycling")),
    StationAction("lookup", None, (), N_("Look up (changes nothing)")),
)}
# The state names are accepted as action names too ("received", "wiped"...).
ALIASES = {a.target.value: a.name for a in ACTIONS.values() if a.target is not None}
ALIASES.update({"look_up": "lookup", "look-up": "lookup"})
ACTION_NAMES = sorted(set(ACTIONS) | set(ALIASES))
VALUE_FIELDS = ("verdict", "grade", "programme_id", "partner_organisation_id", "recycler_organisation_id",
                "disposal_reference", "batch_id")
# Optional values an action takes besides its required inputs.
OPTIONAL_INPUTS = {"receive": ("batch_id",)}


def action_fields(action: StationAction) -> tuple[str, ...]:
    return action.inputs + OPTIONAL_INPUTS.get(action.name, ())

# What the workshop does next with a device in each state (shown under every result).
NEXT_STEP: dict[State, str] = {
    State.REGISTERED: N_("Still at the donor: it must be collected first."),
    State.COLLECTED: N_("Next: receive it at the workshop."),
    State.RECEIVED: N_("Next: diagnose it, or wipe it straight away."),
    State.DIAGNOSED: N_("Next: wipe its storage."),
    State.WIPED: N_("Next: refurbish it (verdict refurbish) or send it to recycling (parts, recycle)."),
    State.REFURBISHED: N_("Next: quality check and grade (ready)."),
    State.READY: N_("In stock: next, reserve it for a programme."),
    State.RESERVED: N_("Next: hand-over to a beneficiary by the partner."),
    State.HANDED_OVER: N_("With its beneficiary."),
    State.RETURNED: N_("Next: receive it at the workshop, then wipe it again."),
    State.RECYCLED: N_("Recycled: nothing more to do."),
    State.LOST: N_("Declared lost: if it is found, scan it with Receive."),
}
NEXT_STEP_BY_VERDICT = {
    "refurbish": N_("Next: refurbish it."),
    "parts": N_("Next: send it to recycling (parts)."),
    "recycle": N_("Next: send it to recycling."),
}


@dataclass
class ScanAnswer:
    """HTTP status and a language-neutral body (``message_id``/``message_params`` are translated on output)."""

    status: int
    body: dict

    @property
    def ok(self) -> bool:
        return self.status < 400


def resolve_action(name: str) -> StationAction:
    name = (name or "").strip().lower()
    action = ACTIONS.get(ALIASES.get(name, name))
    if action is None:
        raise Invalid("Unknown station action %(action)s.", action=name, details={"action": ["unknown action"]})
    return action


# ---------------------------------------------------------------- resolving a scanned code


# ---------------------------------------------------------------- the scan


def handle_scan(
    code: str, action: str, *, actor: Actor, scan_id: str, scanned_at: dt.datetime | None = None,
    station: str | None = None, verdict: str | None = None, grade: str | None = None,
    programme_id: int | None = None, partner_organisation_id: int | None = None,
    recycler_organisation_id: int | None = None, disposal_reference: str | None = None,
    batch_id: int | None = None, note: str | None = None,
) -> ScanAnswer:
    """Resolve a scanned code, apply the station action, write the custody event, and say what happened.

    A retried ``scan_id`` returns its first answer (a refusal included) and changes nothing; the same id
    with another payload is refused with 409.
    """
    station_action = resolve_action(action)
    values = {"verdict": verdict, "grade": grade, "programme_id": programme_id,
              "partner_organisation_id": partner_organisation_id,
              "recycler_organisation_id": recycler_organisation_id, "disposal_reference": disposal_reference,
              "batch_id": batch_id}
    values = {k: v for k, v in values.items() if k in action_fields(station_action)}
    request_hash = payload_hash({
        "user": actor.user_id, "code": (code or "").strip(), "action": station_action.name, "station": station,
        "scanned_at": scanned_at.isoformat() if scanned_at else None, "note": note, **values})
    stored = replay(db.session, SCAN_SCOPE, scan_id, request_hash)
    if stored is not None:
        return _replayed(stored)
    now = utcnow()
    body = {"scan_id": scan_id, "action": station_action.name, "station": station, "input": (code or "").strip(),
            "client_time": scanned_at.isoformat() if scanned_at else None, "server_time": now.isoformat(),
            "user_id": actor.user_id, "replayed": False}
    try:
        status = 200
        _check_input(station_action, values, scanned_at, now)
        body.update(_apply(code, station_action, values, actor=actor, scan_id=scan_id, scanned_at=scanned_at,
                           station=station, note=note))
    except DomainError as err:
        db.session.rollback()
        status = err.status
        body.update(_refusal(err))
        if err.details.get("device") is not None:
            body["device"] = err.details["device"]
    remember(db.session, SCAN_SCOPE, scan_id, request_hash, status, body, user_id=actor.user_id)
    try:
        db.session.commit()
    except IntegrityError:  # the same scan id, sent twice at once: the other one answered first
        db.session.rollback()
        stored = replay(db.session, SCAN_SCOPE, scan_id, request_hash)
        if stored is None:
            raise
        return _replayed(stored)
    record_scan(status)
    return ScanAnswer(status, body)


def _check_input(station_action: StationAction, values: dict, scanned_at, now) -> None:
    if scanned_at is not None and scanned_at > now + CLOCK_SKEW:
        raise Invalid("The scanner's time %(time)s is in the future: check the station's clock.",
                      code="scanned_at_in_future", time=scanned_at.isoformat(),
                      details={"scanned_at": ["in the future"]})
    missing = [f for f in station_action.inputs if values.get(f) in (None, "")]
    if missing:
        raise Invalid("The action %(action)s needs: %(fields)s. Choose it in the station settings.",
                      code="value_required", action=station_action.name, fields=", ".join(missing),
                      details={f: ["required for this action"] for f in missing})


def _replayed(stored) -> ScanAnswer:
    status, body = stored
    body["replayed"] = True
    return ScanAnswer(status, body)


def _refusal(err: DomainError) -> dict:
    problems = {k: v for k, v in (err.details or {}).items() if k != "device"}
    return {"outcome": "refused", "code": err.code, "message_id": err.message, "message_params": err.params,
            "problems": problems, "undo": {"possible": False, "reason_id": N_("Nothing to undo: this scan "
                                                                                 "changed nothing.")}}


def _apply(code, station_action: StationAction, values: dict, *, actor: Actor, scan_id, scanned_at, station,
           note) -> dict:
    device, reading = resolve_code(code, actor=actor)
    recovered = reading["how"] == "azerty"
    before = device.state
    if station_action.target is None:
        return {"outcome": "looked_up", "code": "looked_up", "reading": reading, "device": summary(device),
                "state_before": before.value, "state_after": before.value,
                "message_id": N_("%(tag)s: %(state)s."),
                "recovered_id": (N_("%(tag)s recovered from %(typed)s (scanner typing on an AZERTY keyboard).")
                                 if recovered else None),
                "message_params": {"tag": device.tag, "typed": reading["typed"], "state": before.value},
                "next_step_id": next_step(device), "undo": {"possible": False,
                                                            "reason_id": N_("A look-up changes nothing.")}}
    details = {"scan_id": scan_id, "action": station_action.name}
    if recovered:
        details["typed"] = reading["typed"]
    params = {k: v for k, v in values.items() if v not in (None, "") and k != "batch_id"}
    try:
        outcome = _move(device, station_action, params, values.get("batch_id"), actor=actor, client_time=scanned_at,
                        station=station, note=note, details=details)
    except DomainError as err:
        err.details = {**(err.details or {}), "device": summary(device)}
        raise
    after = device.state  # transitions keep the object in step with its row
    prefix = N_("%(tag)s recovered from %(typed)s (scanner typing on an AZERTY keyboard).") if recovered else None
    result = {"reading": reading, "device": summary(device), "state_before": before.value, "state_after": after.value,
              "message_params": {"tag": device.tag, "typed": reading["typed"], "before": before.value,
                                 "after": after.value, "state": after.value},
              "recovered_id": prefix, "next_step_id": next_step(device)}
    if getattr(outcome, "already", False) or after == before:
        # Reception of a device already in the workshop moves nothing (intake's rule): say so, it is no error.
        return {**result, "outcome": "unchanged", "code": "already_in_workshop",
                "message_id": N_("%(tag)s was already in the workshop (%(state)s): nothing changed."),
                "undo": {"possible": False, "reason_id": N_("Nothing to undo: this scan changed nothing.")}}
    message = getattr(outcome, "message", None) if isinstance(getattr(outcome, "message", None), str) else None
    return {**result, "outcome": "applied", "code": "applied",
            "message_id": message or N_("%(tag)s: %(before)s → %(after)s."), "undo": undo_rule(before, after)}


def _move(device: Device, station_action: StationAction, params: dict, batch_id, *, actor, client_time, station,
          note, details):
    """Apply one station action; reception, reservation and recycling go through their capabilities' verbs."""
    target = station_action.target
    if target == State.RECEIVED:
        # The device is already resolved: hand it over rather than its tag (one look-up fewer).
        return receive_device(device, actor=actor, **_given(batch_id=batch_id, client_time=client_time,
                                                             station=station, note=note), commit=False)
    if target == State.RESERVED:
        return reserve_device(device.tag, actor=actor, **_given(note=note, **_pick(
            params, "programme_id", "partner_organisation_id", "kit_kind")))
    if target == State.RECYCLED:
        return record_recycling(device.tag, actor=actor, **_given(note=note, **_pick(
            params, "recycler_organisation_id", "disposal_reference", "shipment_reference", "parts_harvested")))
    return devices.transition(device, target, actor=actor, params=params, note=note, client_time=client_time,
                              station=station, commit=False, event_details=details)


def _pick(params: dict, *names: str) -> dict:
    """The step's inputs that the verb takes (a station sends the inputs of every step it offers)."""
    return {name: params.get(name) for name in names}


def _given(**values) -> dict:
    """The values that were given: an input left out keeps the verb's default."""
    return {k: v for k, v in values.items() if v is not None}


def next_step(device: Device) -> str:
    if device.state == State.WIPED and device.verdict is not None:
        return NEXT_STEP_BY_VERDICT[device.verdict.value]
    return NEXT_STEP[device.state]


def undo_rule(before: State, after: State) -> dict:
    """Whether the lifecycle lets a scan from ``before`` to ``after`` be undone by moving back."""
    if lifecycle.is_allowed(after, before):
        return {"possible": True, "reason_id": None}
    return {"possible": False,
            "reason_id": N_("Cannot be undone here: the lifecycle does not allow going back from %(after)s to "
                            "%(before)s. Open the device page to correct it with the right step."),
            "params": {"before": before.value, "after": after.value}}


def summary(device: Device) -> dict:
    return {"tag": device.tag, "type": device.type.value, "brand": device.brand, "model": device.model,
            "serial": device.serial, "imei": device.imei, "state": device.state.value,
            "verdict": device.verdict.value if device.verdict else None,
            "grade": device.grade.value if device.grade else None,
            "donor": device.donor.name if device.donor else None, "batch_id": device.batch_id}


# ---------------------------------------------------------------- undo


def undo_scan(scan_id: str, *, actor: Actor, station: str | None = None,
              undone_at: dt.datetime | None = None) -> ScanAnswer:
    """Undo an applied scan by moving the device back, as a new custody event; once per scan."""
    request_hash = payload_hash({"user": actor.user_id, "scan_id": scan_id})
    stored = replay(db.session, UNDO_SCOPE, scan_id, request_hash)
    if stored is not None:
        return _replayed(stored)
    original = replay(db.session, SCAN_SCOPE, scan_id, _hash_of(scan_id))
    if original is None:
        raise NotFound("No scan %(scan_id)s.", scan_id=scan_id)
    _status, first = original
    if first.get("user_id") != actor.user_id and actor.role != "admin":
        raise NotFound("No scan %(scan_id)s.", scan_id=scan_id)
    now = utcnow()
    body = {"scan_id": scan_id, "action": "undo", "station": station, "input": first.get("input"),
            "client_time": undone_at.isoformat() if undone_at else None, "server_time": now.isoformat(),
            "user_id": actor.user_id, "replayed": False, "undoes": first.get("action")}
    status = 200
    try:
        if first.get("outcome") != "applied":
            raise Conflict("Nothing to undo: this scan changed nothing.", code="nothing_to_undo")
        before, after = State(first["state_before"]), State(first["state_after"])
        rule = undo_rule(before, after)
        if not rule["possible"]:
            raise Conflict(rule["reason_id"], code="undo_not_allowed", **rule["params"])
        device = devices.get_device(first["device"]["tag"], actor=actor)
        if device.state != after:
            raise Conflict("%(tag)s has moved on since this scan (it is now %(state)s): it cannot be undone here.",
                           code="moved_on", tag=device.tag, state=device.state.value)
        if after == State.RESERVED:  # the reservation record is closed along with the state
            cancel_reservation(device.tag, actor=actor, note=f"undo of scan {scan_id}")
        else:
            params = {"grade": device.grade.value} if before == State.READY and device.grade else {}
            devices.transition(device, before, actor=actor, params=params, note=None, client_time=undone_at,
                               station=station, commit=False, event_details={"undoes_scan_id": scan_id})
        device = db.session.get(Device, device.id, populate_existing=True)
        body.update({"outcome": "undone", "code": "undone", "device": summary(device),
                     "state_before": after.value, "state_after": device.state.value,
                     "message_id": N_("Undone: %(tag)s is back to %(state)s."),
                     "message_params": {"tag": device.tag, "state": device.state.value},
                     "next_step_id": next_step(device), "undo": {"possible": False, "reason_id": None}})
    except DomainError as err:
        if err.status == 404:
            raise
        db.session.rollback()
        status = err.status
        body.update(_refusal(err))
        body["undo"] = {"possible": False, "reason_id": None}
    remember(db.session, UNDO_SCOPE, scan_id, request_hash, status, body, user_id=actor.user_id)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        stored = replay(db.session, UNDO_SCOPE, scan_id, request_hash)
        if stored is None:
            raise
        return _replayed(stored)
    return ScanAnswer(status, body)


def _hash_of(scan_id: str) -> str:
    """The stored request hash of a scan (undo only needs its answer, whatever its payload was)."""
    value = db.session.execute(select(IdempotencyKey.request_hash).where(
        IdempotencyKey.scope == SCAN_SCOPE, IdempotencyKey.key == scan_id)).scalar_one_or_none()
    return value or ""


def recent_answers(keys: list[str], *, actor: Actor) -> list[dict]:
    """The stored answers of this person's recent scans ("undo:<id>" for an undo), in the order given."""
    wanted = [(UNDO_SCOPE, k[5:]) if k.startswith("undo:") else (SCAN_SCOPE, k) for k in keys]
    if not wanted:
        return []
    rows = db.session.execute(select(IdempotencyKey).where(
        IdempotencyKey.key.in_([k for _, k in wanted]), IdempotencyKey.scope.in_((SCAN_SCOPE, UNDO_SCOPE)),
        IdempotencyKey.user_id == actor.user_id)).scalars().all()
    found = {(r.scope, r.key): {**json.loads(r.response), "status": r.status_code} for r in rows}
    return [found[w] for w in wanted if w in found]


# ---------------------------------------------------------------- station page choices


def station_choices() -> dict:
    """What the station's value pickers offer: programmes with their partners, recyclers."""
    programmes = db.session.execute(select(Programme).order_by(Programme.name)).unique().scalars().all()
    partners = db.session.execute(select(Organisation).where(Organisation.kind == OrgKind.PARTNER)
                                  .order_by(Organisation.name)).scalars().all()
    recyclers = db.session.execute(select(Organisation).where(Organisation.kind == OrgKind.RECYCLER)
                                   .order_by(Organisation.name)).scalars().all()
    return {"programmes": [(p.id, p.name) for p in programmes], "partners": [(o.id, o.name) for o in partners],
            "recyclers": [(o.id, o.name) for o in recyclers], "verdicts": [v.value for v in lifecycle.Verdict],
            "grades": [g.value for g in lifecycle.Grade]}
