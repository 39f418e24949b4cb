"""Wipe and destruction records, the no-media statement and the devices still waiting for a wipe."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..core import Actor
from ..custody import services as custody
from ..db import utcnow
from ..devices.models import Device, StorageMedium
from ..devices.services import get_device, scoped, unknown_reference
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..lifecycle import NEEDS_WIPE
from .evidence import store_evidence
from .media import DESTRUCTION_METHODS, RECORDABLE_STATES, _medium_of
from .models import NistCategory, WipeRecord, WipeResult


def _aware(value: dt.datetime | None, name: str) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise Invalid("The %(field)s time needs a time zone.", field=name, details={name: ["no time zone"]})
    return value


def _add_record(device: Device, medium: StorageMedium, *, actor: Actor, result: str, method: str,
                nist_category: str, tool=None, tool_version=None, passes=None, pattern=None, verification=None,
                started_at=None, ended_at=None, bytes_erased=None, source="manual", evidence=None,
                details=None, operator_name: str | None = None, now=None, fingerprint: str | None = None,
                unverified: bool | None = None, override_reason: str | None = None) -> tuple[WipeRecord, dict]:
    """Add one record (flushed) and return it with the custody event row that must follow it."""
    if device.state not in RECORDABLE_STATES:
        raise Conflict("Wipe results are recorded for a device in the workshop (received or diagnosed); "
                       "this one is %(state)s.", state=device.state.value, code="wrong_state_for_wipe")
    try:
        result_enum, category = WipeResult(result), NistCategory(nist_category)
    except ValueError as exc:
        raise Invalid("Invalid input: %(fields)s", fields=str(exc)) from None
    if not (method or "").strip():
        raise Invalid("Say which method was used.", details={"method": ["required"]})
    started_at, ended_at = _aware(started_at, "started_at"), _aware(ended_at, "ended_at")
    now = now or utcnow()
    if ended_at and ended_at > now + dt.timedelta(minutes=5):
        raise Invalid("The wipe's end time is in the future.", details={"ended_at": ["in the future"]})
    if started_at and ended_at and ended_at < started_at:
        raise Invalid("The wipe ends before it starts.", details={"ended_at": ["before started_at"]})
    last_in = device.last_received_at
    done = ended_at or started_at
    # Forms give minutes and logs seconds: a wipe ending in the minute of the reception is not "before" it.
    if last_in is not None and done is not None and done < last_in - dt.timedelta(minutes=1):
        raise Conflict("This wipe of %(serial)s ended before the device was last received: it does not cover "
                       "what was stored since. Wipe the medium again.", serial=medium.serial or f"#{medium.id}",
                       code="wipe_before_reception", details={"ended_at": ["before the last reception"]})
    if fingerprint:
        _refuse_second_use(fingerprint, medium)
    if unverified is None:
        unverified = category != NistCategory.DESTROY and not_verified(verification)
    record = WipeRecord(
        operator_title=actor.title if not operator_name else "", operator_organisation_id=actor.organisation_id,
        fingerprint=fingerprint, unverified=bool(unverified), override_reason=override_reason,
        device_id=device.id, medium_id=medium.id, result=result_enum, nist_category=category, method=method.strip(),
        tool=tool, tool_version=tool_version, passes=passes, pattern=pattern, verification=verification,
        started_at=started_at, ended_at=ended_at, bytes_erased=bytes_erased, operator_id=actor.user_id,
        operator_name=operator_name or actor.name, source=source, evidence_id=evidence.id if evidence else None,
        details=details or {}, recorded_at=now,
    )
    db.session.add(record)
    try:
        db.session.flush()
    except IntegrityError:  # the same section recorded by someone else at this very moment
        db.session.rollback()
        raise Conflict("This evidence was recorded for another storage medium at the same moment; nothing was "
                       "recorded.", code="evidence_already_used") from None
    event = {"type": "wipe_recorded", "device": device, "details": {
        "wipe_record_id": record.id, "medium_id": medium.id, "medium_serial": medium.serial,
        "result": result_enum.value, "nist_category": category.value, "method": record.method, "tool": tool,
        "tool_version": tool_version, "verification": verification, "source": source,
        "evidence_sha256": evidence.sha256 if evidence else None,
        "evidence_filename": evidence.filename if evidence else None,
        "fingerprint": fingerprint, "unverified": record.unverified, "override_reason": override_reason,
        "operator_title": record.operator_title,
    }}
    return record, event


# Words a tool or a technician uses to say nothing was read back after the overwrite.
NOT_VERIFIED = frozenset({"none", "off", "no", "non", "aucune", "aucun", "not verified", "non vérifié"})


def not_verified(verification: str | None) -> bool:
    """True when the record says the overwrite was not read back (NIST SP 800-88 Rev. 1 §4.7 asks for it)."""
    text = " ".join((verification or "").lower().split())
    return text in NOT_VERIFIED or text.endswith(": not verified")


def _refuse_second_use(fingerprint: str, medium: StorageMedium) -> None:
    """One log section (or CSV row) clears one medium, ever: a second use names the device it cleared."""
    found = db.session.execute(select(WipeRecord, Device.tag).join(Device, Device.id == WipeRecord.device_id)
                               .where(WipeRecord.fingerprint == fingerprint).limit(1)).first()
    if found is None:
        return
    record, tag = found
    if record.medium_id == medium.id:
        raise Conflict("This evidence is already recorded for this storage medium.", code="already_recorded",
                       details={"device_tag": tag, "wipe_record_id": record.id})
    raise Conflict("This evidence already cleared a storage medium of device %(tag)s; it cannot clear another "
                   "one. Wipe this medium and import its own log.", tag=tag, code="evidence_already_used",
                   details={"device_tag": tag, "wipe_record_id": record.id})


def record_wipe(device: Device, medium_id: int, *, actor: Actor, result: str, method: str, nist_category: str,
                tool: str | None = None, tool_version: str | None = None, passes: int | None = None,
                pattern: str | None = None, verification: str | None = None,
                started_at: dt.datetime | None = None, ended_at: dt.datetime | None = None,
                bytes_erased: int | None = None, source: str = "manual", evidence=None,
                details: dict | None = None, commit: bool = True) -> WipeRecord:
    """Record the outcome of wiping (or destroying) one storage medium, with a custody event."""
    try:
        medium = _medium_of(device, medium_id)
    except NotFound:  # medium_id comes in the body: another device's medium answers like an unknown one
        raise unknown_reference("medium_id") from None
    record, event = _add_record(
        device, medium, actor=actor, result=result, method=method, nist_category=nist_category, tool=tool,
        tool_version=tool_version, passes=passes, pattern=pattern, verification=verification,
        started_at=started_at, ended_at=ended_at, bytes_erased=bytes_erased, source=source, evidence=evidence,
        details=details)
    custody.record(event["type"], actor=actor, device=device, details=event["details"])
    if commit:
        db.session.commit()
    return record


def record_manual_wipe(tag, medium_id: int, *, actor: Actor, evidence_file: tuple[str, bytes] | None = None,
                       **fields) -> WipeRecord:
    """A wipe typed in by the technician, with an optional evidence file (tool report, photo)."""
    device = get_device(tag, actor=actor, for_update=True)
    evidence = None
    if evidence_file and evidence_file[1]:
        evidence = store_evidence(evidence_file[1], evidence_file[0], actor=actor)
    return record_wipe(device, medium_id, actor=actor, evidence=evidence, source="manual", **fields)


def record_destruction(tag, medium_id: int, *, actor: Actor, method: str, destroyed_at: dt.datetime,
                       tool: str | None = None, reference: str | None = None, note: str | None = None,
                       evidence_file: tuple[str, bytes] | None = None) -> WipeRecord:
    """Physical destruction of a medium (shredding, drilling…): NIST SP 800-88 "Destroy", which clears it."""
    if method not in DESTRUCTION_METHODS:
        raise Invalid("Unknown destruction method %(method)s.", method=method,
                      details={"method": [f"one of {', '.join(DESTRUCTION_METHODS)}"]})
    device = get_device(tag, actor=actor, for_update=True)
    evidence = None
    if evidence_file and evidence_file[1]:
        evidence = store_evidence(evidence_file[1], evidence_file[0], actor=actor)
    details = {k: v for k, v in (("reference", reference), ("note", note)) if v}
    return record_wipe(device, medium_id, actor=actor, result=WipeResult.PASSED.value, method=method,
                       nist_category=NistCategory.DESTROY.value, tool=tool, verification="visual inspection",
                       started_at=destroyed_at, ended_at=destroyed_at, source="destruction", evidence=evidence,
                       details=details)


def state_no_media(device: Device, *, actor: Actor, note: str | None = None, commit: bool = True) -> Device:
    """A technician states the device holds no storage medium (checked physically), for the wipe guard."""
    if device.state not in RECORDABLE_STATES:
        raise Conflict("This statement is made for a device in the workshop; this one is %(state)s.",
                       state=device.state.value, code="wrong_state_for_wipe")
    media = db.session.scalar(select(StorageMedium.id).where(StorageMedium.device_id == device.id).limit(1))
    if media is not None:
        raise Conflict("This device has storage media recorded: wipe them instead.", code="device_has_media")
    device.no_media_statement_at = utcnow()
    custody.record("no_media_statement", actor=actor, device=device, note=note)
    if commit:
        db.session.commit()
    return device


def wipe_records(device: Device) -> list[WipeRecord]:
    return db.session.execute(select(WipeRecord).where(WipeRecord.device_id == device.id)
                              .order_by(WipeRecord.recorded_at, WipeRecord.id)).scalars().all()


def waiting_for_wipe(*, actor: Actor, limit: int = 500) -> list[dict]:
    """Devices in the workshop still to be wiped, oldest first, with their media and cleared counts."""
    q = waiting_query(actor=actor).order_by(Device.state_since, Device.id).limit(limit)
    return [{"device": d, "media": m, "cleared": c} for d, m, c in db.session.execute(q).unique()]


def waiting_query(*, actor: Actor):
    """(device, media, cleared media) of the devices still to be wiped in the actor's scope (unordered)."""
    media = (select(StorageMedium.device_id, func.count().label("n")).group_by(StorageMedium.device_id).subquery())
    cleared = (select(WipeRecord.device_id, func.count(func.distinct(WipeRecord.medium_id)).label("n"))
               .join(Device, Device.id == WipeRecord.device_id)
               .where(WipeRecord.result == WipeResult.PASSED,
                      (Device.last_received_at.is_(None)) | (WipeRecord.recorded_at >= Device.last_received_at))
               .group_by(WipeRecord.device_id).subquery())
    q = (select(Device, func.coalesce(media.c.n, 0), func.coalesce(cleared.c.n, 0))
         .outerjoin(media, media.c.device_id == Device.id).outerjoin(cleared, cleared.c.device_id == Device.id)
         .where(Device.state.in_(list(NEEDS_WIPE))))
    return scoped(q, actor)


def latest_wipes(device_id: int, *, actor: Actor) -> dict[int, WipeRecord]:
    """The latest wipe record of each storage medium of a device (medium id -> record), for its page."""
    latest = (select(WipeRecord.medium_id, func.max(WipeRecord.id).label("id"))
              .where(WipeRecord.device_id == device_id).group_by(WipeRecord.medium_id).subquery())
    rows = db.session.execute(select(WipeRecord).join(latest, WipeRecord.id == latest.c.id)).scalars().all()
    return {w.medium_id: w for w in rows}
