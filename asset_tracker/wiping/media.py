"""Storage media of a device: what is inside it, editable while the device is in the workshop."""
from __future__ import annotations

from sqlalchemy import func, select

from ..core import Actor
from ..custody import services as custody
from ..db import utcnow
from ..devices.models import Device, MediumKind, StorageMedium
from ..devices.services import get_device
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..lifecycle import State
from .models import WipeRecord

# Wipe evidence can be recorded while the device is in the workshop before it is wiped.
RECORDABLE_STATES = frozenset({State.RECEIVED, State.DIAGNOSED, State.WIPED})
# Storage media can be described until the device is wiped (again after a return, once received).
MEDIA_EDITABLE_STATES = frozenset({State.REGISTERED, State.COLLECTED, State.RECEIVED, State.DIAGNOSED})
# Ways a medium is physically destroyed (NIST SP 800-88 "Destroy").
DESTRUCTION_METHODS = ("shred", "disintegrate", "drill", "crush", "degauss_and_destroy", "incinerate")
MEDIUM_FIELDS = ("kind", "model", "serial", "capacity_bytes")


def _normal_serial(value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return value.upper() or None


# ---------------------------------------------------------------- storage media


def _editable_device(tag, actor: Actor) -> Device:
    device = get_device(tag, actor=actor, for_update=True)
    if device.state not in MEDIA_EDITABLE_STATES:
        raise Conflict("Storage media can be changed only until the device is wiped; this one is %(state)s.",
                       state=device.state.value, code="media_locked")
    if actor.role == "donor" and device.state != State.REGISTERED:
        raise Conflict("A donor can describe storage media only until the device is collected.",
                       code="media_locked")
    return device


def _medium_of(device: Device, medium_id: int) -> StorageMedium:
    medium = db.session.get(StorageMedium, medium_id)
    if medium is None or medium.device_id != device.id:
        raise NotFound("No storage medium %(id)s on this device.", id=medium_id)
    return medium


def _medium_view(m: StorageMedium) -> dict:
    return {"id": m.id, "kind": m.kind.value, "model": m.model, "serial": m.serial,
            "capacity_bytes": m.capacity_bytes}


def _check_serial_free(device: Device, serial: str | None, medium_id: int | None = None) -> None:
    if not serial:
        return
    q = select(StorageMedium.id).where(StorageMedium.device_id == device.id,
                                       func.upper(StorageMedium.serial) == serial)
    if medium_id is not None:
        q = q.where(StorageMedium.id != medium_id)
    if db.session.scalar(q.limit(1)) is not None:
        raise Conflict("This device already has a storage medium with serial %(serial)s.", serial=serial,
                       details={"serial": ["already on this device"]}, code="duplicate_medium")


def add_medium(tag, *, actor: Actor, kind: str, model: str | None = None, serial: str | None = None,
               capacity_bytes: int | None = None) -> StorageMedium:
    """Describe one more storage medium of a device (a disk found at diagnosis, say)."""
    device = _editable_device(tag, actor)
    serial = _normal_serial(serial)
    _check_serial_free(device, serial)
    medium = StorageMedium(device_id=device.id, kind=MediumKind(kind), model=(model or "").strip() or None,
                           serial=serial, capacity_bytes=capacity_bytes, created_at=utcnow())
    db.session.add(medium)
    db.session.flush()
    custody.record("medium_added", actor=actor, device=device, details={"medium": _medium_view(medium)})
    db.session.commit()
    return medium


def update_medium(tag, medium_id: int, changes: dict, *, actor: Actor) -> StorageMedium:
    """Correct a medium's kind, model, serial or capacity; the event keeps before and after."""
    medium = _medium_of(get_device(tag, actor=actor, for_update=True), medium_id)  # 404 before any 409
    device = _editable_device(tag, actor)
    if "serial" in changes:
        changes["serial"] = _normal_serial(changes["serial"])
        _check_serial_free(device, changes["serial"], medium.id)
    diff = {}
    for key, value in changes.items():
        if key not in MEDIUM_FIELDS:
            raise Invalid("Field %(field)s cannot be changed here.", field=key)
        if key == "kind":
            value = MediumKind(value)
        old = getattr(medium, key)
        if old != value:
            diff[key] = {"before": getattr(old, "value", old), "after": getattr(value, "value", value)}
            setattr(medium, key, value)
    if diff:
        custody.record("medium_updated", actor=actor, device=device,
                       details={"medium_id": medium.id, "changes": diff})
    db.session.commit()
    return medium


def remove_medium(tag, medium_id: int, *, actor: Actor) -> None:
    """Remove a medium recorded by mistake; one with wipe records is evidence and stays."""
    medium = _medium_of(get_device(tag, actor=actor, for_update=True), medium_id)  # 404 before any 409
    device = _editable_device(tag, actor)
    if db.session.scalar(select(WipeRecord.id).where(WipeRecord.medium_id == medium.id).limit(1)) is not None:
        raise Conflict("This storage medium has wipe records: it is evidence and cannot be removed.",
                       code="medium_has_records")
    view = _medium_view(medium)
    db.session.delete(medium)
    db.session.flush()
    custody.record("medium_removed", actor=actor, device=device, details={"medium": view})
    db.session.commit()
