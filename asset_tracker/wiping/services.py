"""Wiping verbs: record a wipe (or destruction) per medium, state that a device has no media."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from ..custody import services as custody
from ..custody.services import Actor
from ..db import utcnow
from ..devices.models import Device, StorageMedium
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..lifecycle import State
from .models import NistCategory, WipeRecord, WipeResult

# Wipe evidence can be recorded while the device is in the workshop before it is wiped.
RECORDABLE_STATES = frozenset({State.RECEIVED, State.DIAGNOSED, State.WIPED})


def record_wipe(device: Device, medium_id: int, *, actor: Actor, result: str, method: str, nist_category: str,
                tool: str | None = None, tool_version: str | None = None, passes: int | None = None,
                pattern: str | None = None, verification: str | None = None,
                started_at: dt.datetime | None = None, ended_at: dt.datetime | None = None,
                bytes_erased: int | None = None, source: str = "manual", evidence=None,
                details: dict | None = None, commit: bool = True) -> WipeRecord:
    """Record the outcome of wiping (or destroying) one storage medium, with a custody event."""
    if device.state not in RECORDABLE_STATES:
        raise Conflict("Wipe results are recorded for a device in the workshop (received or diagnosed); "
                       "this one is %(state)s.", state=device.state.value, code="wrong_state_for_wipe")
    medium = db.session.get(StorageMedium, medium_id)
    if medium is None or medium.device_id != device.id:
        raise NotFound("No storage medium %(id)s on this device.", id=medium_id)
    try:
        result_enum, category = WipeResult(result), NistCategory(nist_category)
    except ValueError as exc:
        raise Invalid("Invalid input: %(fields)s", fields=str(exc)) from None
    now = utcnow()
    if ended_at and ended_at > now + dt.timedelta(minutes=5):
        raise Invalid("The wipe's end time is in the future.", details={"ended_at": ["in the future"]})
    if started_at and ended_at and ended_at < started_at:
        raise Invalid("The wipe ends before it starts.", details={"ended_at": ["before started_at"]})
    record = WipeRecord(
        device_id=device.id, medium_id=medium.id, result=result_enum, nist_category=category, method=method,
        tool=tool, tool_version=tool_version, passes=passes, pattern=pattern, verification=verification,
        started_at=started_at, ended_at=ended_at, bytes_erased=bytes_erased, operator_id=actor.user_id,
        operator_name=actor.name, source=source, evidence_id=evidence.id if evidence else None,
        details=details or {}, recorded_at=now,
    )
    db.session.add(record)
    db.session.flush()
    custody.record("wipe_recorded", actor=actor, device=device, details={
        "wipe_record_id": record.id, "medium_id": medium.id, "medium_serial": medium.serial,
        "result": result_enum.value, "nist_category": category.value, "method": method, "tool": tool,
        "tool_version": tool_version, "evidence_sha256": evidence.sha256 if evidence else None,
    })
    if commit:
        db.session.commit()
    return record


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
