"""Wiping verbs: storage media, wipe and destruction records, log and CSV imports, the second-person check."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..custody import services as custody
from ..custody.models import CustodyEvent
from ..core import Actor
from ..db import utcnow
from ..devices.models import Device, MediumKind, StorageMedium
from ..devices.services import get_device, scoped, transition, unknown_reference
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..intake.services import get_batch
from ..lifecycle import N_, NEEDS_WIPE, State
from . import nwipe
from .csv_import import WipeCsvError, parse_wipe_csv
from .models import EvidenceFile, NistCategory, VerificationStatus, WipeRecord, WipeResult, WipeVerification

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


# ---------------------------------------------------------------- evidence files


def store_evidence(data: bytes, filename: str, *, actor: Actor,
                   content_type: str = "application/octet-stream") -> EvidenceFile:
    """Keep a raw evidence file once: the same bytes uploaded again reuse the stored file."""
    digest = hashlib.sha256(data).hexdigest()
    found = db.session.scalar(select(EvidenceFile).where(EvidenceFile.sha256 == digest))
    if found is not None:
        return found
    evidence = EvidenceFile(sha256=digest, filename=(filename or "evidence")[:255], content_type=content_type,
                            size=len(data), content=data, uploaded_by_id=actor.user_id, created_at=utcnow())
    db.session.add(evidence)
    db.session.flush()
    return evidence


def get_evidence(sha256: str, *, actor: Actor) -> EvidenceFile:
    """An evidence file, for whoever may see at least one device it proves something about."""
    evidence = db.session.scalar(select(EvidenceFile).where(EvidenceFile.sha256 == (sha256 or "").lower()))
    if evidence is None:
        raise NotFound("No evidence file %(sha)s.", sha=sha256)
    visible = scoped(select(Device.id).join(WipeRecord, WipeRecord.device_id == Device.id)
                     .where(WipeRecord.evidence_id == evidence.id).limit(1), actor)
    if db.session.scalar(visible) is None:
        raise NotFound("No evidence file %(sha)s.", sha=sha256)
    return evidence


# ---------------------------------------------------------------- wipe records


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


# ---------------------------------------------------------------- nwipe import


@dataclass
class DiskPlan:
    """One disk of an uploaded log and the medium it will be recorded against (or why not yet)."""

    key: str
    filename: str
    sha256: str
    index: int
    disk: nwipe.DiskResult
    medium: StorageMedium | None = None
    device: Device | None = None
    how: str | None = None  # "serial" or "chosen"
    problem: str | None = None
    candidates: list = field(default_factory=list)
    result: str = ""
    skip: bool = False
    used_by: str | None = None  # tag of the device this disk section already cleared
    mismatches: list = field(default_factory=list)  # "serial", "size": the log is not obviously about this medium
    override: str | None = None  # the technician's written reason to record it anyway
    adopt: dict = field(default_factory=dict)  # serial / capacity the medium takes from the log
    started_at: dt.datetime | None = None  # as they will be recorded (log time read in the import's zone)
    ended_at: dt.datetime | None = None
    before_reception: bool = False

    @property
    def recordable(self) -> bool:
        return self.disk.nist_category is not None


@dataclass
class NwipePlan:
    files: list[nwipe.NwipeLog]
    disks: list[DiskPlan]

    @property
    def unresolved(self) -> list[DiskPlan]:
        return [d for d in self.disks if not d.skip and (d.medium is None or d.problem)]


def _parse_logs(files: list[tuple[str, bytes]]) -> list[nwipe.NwipeLog]:
    if not files:
        raise Invalid("Choose at least one nwipe log file.", details={"files": ["required"]})
    logs, seen = [], set()
    for filename, data in files:
        try:
            log = nwipe.parse_nwipe_log(data, filename)
        except nwipe.WipeLogError as exc:
            raise Invalid("%(file)s cannot be read as an nwipe log (line %(line)s: %(reason)s). Nothing was "
                          "imported.", file=filename, line=exc.line, reason=exc.reason,
                          details={"file": filename, "line": exc.line, "reason": exc.reason}) from None
        if log.sha256 in seen:
            continue
        seen.add(log.sha256)
        logs.append(log)
    return logs


def _disk_result(disk: nwipe.DiskResult) -> str:
    """What the record will say: nwipe's verdict, made stricter when the log itself raises doubts."""
    if disk.status == nwipe.PASSED and not disk.concerns and disk.nist_category:
        return WipeResult.PASSED.value
    if disk.status == nwipe.ABORTED:
        return WipeResult.ABORTED.value
    # FAILED, INSANITY (nwipe's own "this should never happen"), and "Erased" with doubts in the log.
    return WipeResult.FAILED.value


def _candidates(limit: int = 500) -> list[StorageMedium]:
    """Media of devices waiting for their wipe, for the technician to choose from."""
    q = (select(StorageMedium).join(Device, Device.id == StorageMedium.device_id)
         .where(Device.state.in_(list(NEEDS_WIPE))).order_by(Device.tag, StorageMedium.id).limit(limit))
    return db.session.execute(q).scalars().all()


def log_zone(timezone: str | None) -> ZoneInfo:
    """The zone an import reads nwipe's zone-less times in; an unknown name is refused (422)."""
    try:
        return ZoneInfo((timezone or "").strip() or "Europe/Paris")
    except (ValueError, KeyError, OSError):
        raise Invalid("Unknown time zone %(zone)s (use a name such as Europe/Paris or UTC).", zone=timezone,
                      details={"timezone": ["unknown time zone"]}) from None


# Sizes a technician types are marketing sizes ("256 GB" = 256 x 10^9 bytes, a little under the disk's real
# count) or read from an operating system in binary units (238 GiB): a declared size matches the log's exact
# byte count when it is within SIZE_TOLERANCE of it read either way (decimal, or GiB/TiB typed as GB/TB).
SIZE_TOLERANCE = 0.02
_UNIT_READINGS = (1.0, 2**30 / 10**9, 10**9 / 2**30, 2**40 / 10**12, 10**12 / 2**40)


def sizes_agree(declared: int, logged: int) -> bool:
    return any(abs(declared * k - logged) <= SIZE_TOLERANCE * logged for k in _UNIT_READINGS)


def _check_identity(plan: "DiskPlan", override: str | None) -> None:
    """The log must be about this medium: same serial when both are readable, same size within tolerance."""
    disk, medium = plan.disk, plan.medium
    logged_serial = _normal_serial(disk.serial) if disk.serial_readable else None
    if logged_serial and medium.serial and logged_serial != _normal_serial(medium.serial):
        plan.mismatches.append("serial")
    elif logged_serial and not medium.serial:
        plan.adopt["serial"] = logged_serial
    if disk.size_bytes and medium.capacity_bytes:
        if not sizes_agree(medium.capacity_bytes, disk.size_bytes):
            plan.mismatches.append("size")
    elif disk.size_bytes and disk.size_exact:
        plan.adopt["capacity_bytes"] = disk.size_bytes
    if plan.mismatches:
        if (override or "").strip():
            plan.override = override.strip()
        else:
            plan.problem = "identity_mismatch"


def plan_nwipe_import(files: list[tuple[str, bytes]], *, actor: Actor,
                      assignments: dict[str, object] | None = None, overrides: dict[str, str] | None = None,
                      timezone: str | None = None) -> NwipePlan:
    """Parse every log and match each disk to a medium: by a readable serial, or by the technician's choice.

    ``assignments`` maps a disk key to a medium id, or to "skip"; ``overrides`` maps a disk key to the
    written reason for recording a log whose serial or size differs from the medium's. Times are read in
    ``timezone`` (the wiping station's clock). Nothing is written.
    """
    assignments, overrides = assignments or {}, overrides or {}
    zone = log_zone(timezone)
    logs = _parse_logs(files)
    disks: list[DiskPlan] = []
    candidates = None
    for log in logs:
        for i, disk in enumerate(log.disks):
            plan = DiskPlan(key=f"{log.sha256[:16]}-{i}", filename=log.filename, sha256=log.sha256, index=i,
                            disk=disk, result=_disk_result(disk), started_at=_local(disk.started_at, zone),
                            ended_at=_local(disk.ended_at, zone))
            chosen = assignments.get(plan.key)
            if chosen == "skip":
                plan.skip = True
            elif chosen not in (None, ""):
                try:
                    medium = db.session.get(StorageMedium, int(chosen))
                except (TypeError, ValueError):
                    medium = None
                if medium is None:
                    raise Invalid("No storage medium %(id)s.", id=chosen, details={plan.key: ["unknown medium"]})
                plan.medium, plan.how = medium, "chosen"
            elif disk.serial_readable:
                serial = _normal_serial(disk.serial)
                found = db.session.execute(
                    select(StorageMedium).join(Device, Device.id == StorageMedium.device_id)
                    .where(func.upper(StorageMedium.serial) == serial, Device.state.in_(list(RECORDABLE_STATES)))
                ).scalars().all()
                if len(found) == 1:
                    plan.medium, plan.how = found[0], "serial"
                elif found:
                    plan.problem = "ambiguous_serial"
                else:
                    plan.problem = "unknown_serial"
            else:
                plan.problem = "unreadable_serial"
            if plan.medium is not None:
                plan.device = get_device(plan.medium.device_id, actor=actor, for_update=True)
                if plan.device.state not in RECORDABLE_STATES:
                    plan.problem = "device_not_in_workshop"
                elif not plan.recordable:
                    plan.problem = "not_a_sanitisation"
                elif _already_recorded(plan):
                    plan.problem = "already_recorded"
                else:
                    plan.problem = None
                    _check_identity(plan, overrides.get(plan.key))
                    last_in = plan.device.last_received_at
                    done = plan.ended_at or plan.started_at
                    if last_in is not None and done is not None and done < last_in - dt.timedelta(minutes=1):
                        plan.before_reception = True
                        plan.problem = plan.problem or "before_reception"
            if plan.medium is None and not plan.skip:
                if candidates is None:
                    candidates = _candidates()
                plan.candidates = _rank(candidates, disk)
            disks.append(plan)
    _mark_used(disks)
    used: dict[int, str] = {}
    for plan in disks:
        if plan.medium is not None and not plan.skip:
            if plan.medium.id in used:
                plan.problem = "medium_twice"
            used[plan.medium.id] = plan.key
    return NwipePlan(files=logs, disks=disks)


def _rank(media: list[StorageMedium], disk: nwipe.DiskResult) -> list[StorageMedium]:
    """Media whose capacity equals the disk's size first: the likeliest match when the serial is unreadable."""
    return sorted(media, key=lambda m: (not (disk.size_bytes and m.capacity_bytes == disk.size_bytes),))


def _mark_used(disks: list[DiskPlan]) -> None:
    """Disk sections already recorded for another medium, in one query: the preview names that device."""
    prints = {d.disk.fingerprint: d for d in disks if d.disk.fingerprint}
    if not prints:
        return
    rows = db.session.execute(select(WipeRecord.fingerprint, WipeRecord.medium_id, Device.tag)
                              .join(Device, Device.id == WipeRecord.device_id)
                              .where(WipeRecord.fingerprint.in_(list(prints))))
    for fingerprint, medium_id, tag in rows:
        plan = prints[fingerprint]
        plan.used_by = tag
        if plan.skip:
            continue
        plan.problem = "already_recorded" if plan.medium is not None and plan.medium.id == medium_id \
            else "already_used"


def _already_recorded(plan: DiskPlan) -> bool:
    q = (select(WipeRecord.id).join(EvidenceFile, EvidenceFile.id == WipeRecord.evidence_id)
         .where(EvidenceFile.sha256 == plan.sha256, WipeRecord.medium_id == plan.medium.id).limit(1))
    return db.session.scalar(q) is not None


PROBLEMS = {
    "unreadable_serial": N_("nwipe could not read this disk's serial number: choose the medium it belongs to."),
    "unknown_serial": N_("No medium of a device in the workshop has this serial number: choose the medium."),
    "ambiguous_serial": N_("Several media have this serial number: choose the right one."),
    "device_not_in_workshop": N_("This medium's device is not in the workshop (received or diagnosed)."),
    "not_a_sanitisation": N_("This nwipe method only reads the disk: it sanitises nothing and cannot be recorded."),
    "already_recorded": N_("This log is already recorded for this medium."),
    "medium_twice": N_("Two disks are matched to the same medium."),
    "already_used": N_("This disk section of the log already cleared a storage medium of device %(tag)s: it "
                       "cannot clear another one."),
    "identity_mismatch": N_("This log does not match the medium (%(what)s): record it only with a written reason."),
    "before_reception": N_("This wipe ended before the device was last received: it does not cover what was "
                           "stored since. Check the time zone of the wiping station."),
}


def import_nwipe(files: list[tuple[str, bytes]], *, actor: Actor, assignments: dict[str, object] | None = None,
                 timezone: str = "Europe/Paris", overrides: dict[str, str] | None = None) -> list[WipeRecord]:
    """Record every disk of the logs against its medium, all or nothing, keeping each raw log once.

    nwipe writes local times without a zone: they are read in ``timezone`` (the wiping station's clock).
    A disk section already recorded for another medium is refused (409) naming that device; a log whose
    serial or size differs from the medium's is refused (409) unless ``overrides`` gives a written reason.
    """
    plan = plan_nwipe_import(files, actor=actor, assignments=assignments, overrides=overrides, timezone=timezone)
    for d in plan.disks:
        if d.skip:
            continue
        if d.problem == "already_used":
            raise Conflict("The disk %(disk)s of %(file)s already cleared a storage medium of device %(tag)s; a log "
                           "clears one medium only. Nothing was imported.", disk=d.disk.device, file=d.filename,
                           tag=d.used_by, code="evidence_already_used",
                           details={d.key: ["already_used", d.used_by]})
        if d.problem == "identity_mismatch":
            raise Conflict("The disk %(disk)s of %(file)s does not match medium %(serial)s of %(tag)s (%(what)s). "
                           "Record it only with a written reason. Nothing was imported.", disk=d.disk.device,
                           file=d.filename, serial=d.medium.serial or f"#{d.medium.id}", tag=d.device.tag,
                           what=", ".join(mismatch_text(d)), code="evidence_mismatch",
                           details={d.key: mismatch_text(d)})
        if d.problem == "before_reception":
            raise Conflict("This wipe of %(serial)s ended before the device was last received: it does not cover "
                           "what was stored since. Wipe the medium again.", serial=d.medium.serial or f"#{d.medium.id}",
                           code="wipe_before_reception", details={d.key: ["before the last reception",
                                                                         d.ended_at.isoformat() if d.ended_at else None]})
    if plan.unresolved:
        raise Invalid("%(num)s disk(s) still need a medium before anything is imported.",
                      num=len(plan.unresolved), code="unmatched_disks",
                      details={d.key: [d.problem or "unmatched_disk", d.filename, d.disk.device, d.disk.serial]
                               for d in plan.unresolved})
    zone = log_zone(timezone)
    by_sha = {log.sha256: (log, data, filename) for (filename, data) in files
              for log in plan.files if hashlib.sha256(data).hexdigest() == log.sha256}
    evidence: dict[str, EvidenceFile] = {}
    records, events = [], []
    now = utcnow()
    for d in plan.disks:
        if d.skip:
            continue
        log, data, filename = by_sha[d.sha256]
        if d.sha256 not in evidence:
            evidence[d.sha256] = store_evidence(data, filename, actor=actor, content_type="text/plain")
        disk = d.disk
        if d.adopt:
            _adopt_identity(d, actor=actor, events=events)
        if d.override:
            events.append({"type": "wipe_identity_override", "device": d.device, "note": d.override, "details": {
                "medium_id": d.medium.id, "medium_serial": d.medium.serial, "medium_capacity_bytes":
                d.medium.capacity_bytes, "log_serial": disk.serial if disk.serial_readable else None,
                "log_size_bytes": disk.size_bytes, "mismatches": d.mismatches, "reason": d.override,
                "evidence_sha256": d.sha256, "disk": disk.device}})
        record, event = _add_record(
            d.device, d.medium, actor=actor, result=d.result, method=disk.method,
            nist_category=disk.nist_category, tool="nwipe", tool_version=disk.nwipe_version or log.nwipe_version,
            passes=(disk.rounds or 1) * (disk.passes_per_round or 1) if disk.rounds else None,
            pattern=(disk.pattern or None) and disk.pattern[:100],
            verification=_verification_text(disk), started_at=_local(disk.started_at, zone),
            ended_at=_local(disk.ended_at, zone), bytes_erased=disk.bytes_erased, source="nwipe",
            evidence=evidence[d.sha256], now=now, fingerprint=disk.fingerprint or None,
            unverified=disk.verification in (None, "none") or disk.verified is not True,
            override_reason=d.override, details={
                "nwipe_status": disk.raw_status, "device_path": disk.device, "disk_model": disk.model,
                "disk_serial": disk.serial, "serial_readable": disk.serial_readable, "size_bytes": disk.size_bytes,
                "rounds": disk.rounds, "blanking": disk.blanking, "prng": disk.prng, "verified": disk.verified,
                "errors": disk.errors, "concerns": list(disk.concerns), "matched_by": d.how,
                "log_line": disk.summary_line, "times_zone": None if disk.timezone_known else str(zone),
                "mismatches": d.mismatches, "identity_from_log": sorted(d.adopt),
            })
        records.append(record)
        events.append(event)
    if not records:
        raise Invalid("Every disk was skipped: nothing to import.", code="nothing_to_import")
    custody.record_many(events, actor=actor)
    db.session.commit()
    return records


def mismatch_text(d: DiskPlan) -> list[str]:
    """What differs, with both values: "serial WD-1 (log) ≠ WD-2 (medium)"."""
    out = []
    if "serial" in d.mismatches:
        out.append(f"serial {d.disk.serial} (log) ≠ {d.medium.serial} (medium)")
    if "size" in d.mismatches:
        out.append(f"size {d.disk.size_bytes} bytes (log) ≠ {d.medium.capacity_bytes} bytes (medium)")
    return out


def _adopt_identity(d: DiskPlan, *, actor: Actor, events: list) -> None:
    """A medium recorded without serial or size takes them from the log, and the chain says so."""
    diff = {}
    for key, value in d.adopt.items():
        diff[key] = {"before": getattr(d.medium, key), "after": value}
        setattr(d.medium, key, value)
    db.session.flush()
    events.append({"type": "medium_updated", "device": d.device, "details": {
        "medium_id": d.medium.id, "changes": diff, "source": "nwipe log", "evidence_sha256": d.sha256}})


def _local(value: dt.datetime | None, zone: ZoneInfo) -> dt.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=zone)


def _verification_text(disk: nwipe.DiskResult) -> str | None:
    if disk.verification is None:
        return None
    mode = {"none": "none", "last": "last pass", "all": "all passes"}.get(disk.verification, disk.verification)
    if disk.verification == "none":
        return "none"
    outcome = {True: "verified", False: "verification failed", None: "not verified"}[disk.verified]
    return f"{mode}: {outcome}"


# ---------------------------------------------------------------- CSV import


class CsvImport(list):
    """The records a CSV import wrote, and the rows it skipped because they were already recorded."""

    def __init__(self, records=(), skipped=()):
        super().__init__(records)
        self.skipped = list(skipped)


def csv_row_fingerprint(row) -> str:
    """What identifies one wipe reported by a CSV row, whatever the file around it (order, encoding, other rows)."""
    def t(v):
        return v.astimezone(dt.timezone.utc).isoformat() if isinstance(v, dt.datetime) else str(v or "")
    parts = ["wipe-csv-row-v1", row.device_tag, _normal_serial(row.medium_serial) or "", row.method.strip().lower(),
             row.nist_category, row.result, t(row.started_at), t(row.ended_at), (row.tool or "").strip().lower(),
             (row.operator or "").strip().lower()]
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


def import_wipe_csv(data: bytes, filename: str, *, actor: Actor, timezone: str = "Europe/Paris") -> CsvImport:
    """Wipe results of another tool, one row per medium: every row valid and matched, or nothing recorded.

    A medium is found on its device by serial; a serial the device does not list yet is added as a
    medium (the tool saw the disk), as long as the device's media may still change. A row already
    recorded (by this file or another) is skipped, so a file imported twice records nothing the second time.
    """
    try:
        parsed = parse_wipe_csv(data, filename, default_timezone=log_zone(timezone))
    except WipeCsvError as exc:
        raise Invalid("%(file)s was refused: %(num)s error(s). Nothing was imported.", file=filename,
                      num=len(exc.errors), code="invalid_csv",
                      details={"errors": [{"row": e.row, "column": e.column, "message": e.message}
                                          for e in exc.errors]}) from None
    prints = {csv_row_fingerprint(r): r for r in parsed.rows}
    done = set(db.session.scalars(select(WipeRecord.fingerprint).where(WipeRecord.fingerprint.in_(list(prints)))))
    skipped = [r.row for fp, r in prints.items() if fp in done]
    rows = [r for fp, r in prints.items() if fp not in done]
    if not rows:
        return CsvImport([], skipped)
    tags = {r.device_tag for r in rows}
    devices = {d.tag: d for d in db.session.execute(scoped(select(Device).where(Device.tag.in_(tags)), actor))
               .unique().scalars()}
    errors = []
    for r in rows:
        device = devices.get(r.device_tag)
        if device is None:
            errors.append({"row": r.row, "column": "device_tag", "message": f"no device {r.device_tag}"})
        elif device.state not in RECORDABLE_STATES:
            errors.append({"row": r.row, "column": "device_tag",
                           "message": f"{r.device_tag} is {device.state.value}, not in the workshop"})
    if errors:
        raise Invalid("%(file)s was refused: %(num)s error(s). Nothing was imported.", file=filename,
                      num=len(errors), code="invalid_csv", details={"errors": errors})
    evidence = store_evidence(data, filename, actor=actor, content_type="text/csv")
    records, events, now = [], [], utcnow()
    # Every medium of the file's devices in one query, not one per row.
    media = {(m.device_id, _normal_serial(m.serial)): m for m in db.session.scalars(
        select(StorageMedium).where(StorageMedium.device_id.in_([d.id for d in devices.values()])))}
    for r in rows:
        device = devices[r.device_tag]
        serial = _normal_serial(r.medium_serial)
        medium = media.get((device.id, serial))
        if medium is None:
            if device.state not in MEDIA_EDITABLE_STATES:
                db.session.rollback()
                raise Invalid("%(file)s was refused: row %(row)s names a medium %(tag)s does not have.",
                              file=filename, row=r.row, tag=r.device_tag, code="invalid_csv",
                              details={"errors": [{"row": r.row, "column": "medium_serial",
                                                   "message": "unknown medium"}]})
            medium = StorageMedium(device_id=device.id, kind=MediumKind(r.kind), serial=serial,
                                   capacity_bytes=r.capacity_bytes, created_at=now)
            db.session.add(medium)
            db.session.flush()
            media[(device.id, serial)] = medium
            events.append({"type": "medium_added", "device": device,
                           "details": {"medium": _medium_view(medium), "source": "csv"}})
        try:
            record, event = _add_record(
                device, medium, actor=actor, result=r.result, method=r.method, nist_category=r.nist_category,
                tool=r.tool, tool_version=r.tool_version, passes=r.passes, pattern=r.pattern,
                verification=r.verification, started_at=r.started_at, ended_at=r.ended_at, source="csv",
                evidence=evidence, operator_name=r.operator, now=now, details={"csv_row": r.row},
                fingerprint=csv_row_fingerprint(r))
        except (Invalid, Conflict) as exc:
            db.session.rollback()
            raise Invalid("%(file)s was refused: row %(row)s: %(reason)s Nothing was imported.", file=filename,
                          row=r.row, reason=str(exc), code="invalid_csv",
                          details={"errors": [{"row": r.row, "column": None, "message": str(exc)}]}) from None
        records.append(record)
        events.append(event)
    custody.record_many(events, actor=actor)
    db.session.commit()
    return CsvImport(records, skipped)


# ---------------------------------------------------------------- second-person check


def draw_score(tag: str, cycle: dt.datetime | None, seed: str) -> float:
    """A reproducible number in [0, 1) for one device and wipe cycle: an auditor can recompute the pick."""
    cycle_text = cycle.astimezone(dt.timezone.utc).isoformat() if cycle else "-"
    digest = hashlib.sha256(f"{seed}|{tag}|{cycle_text}".encode()).hexdigest()
    return int(digest[:13], 16) / 16**13


def pick_for_verification(device: Device, *, actor: Actor, share: float, seed: str) -> dict:
    """Called as a device becomes `wiped`: picks it for a second technician's check when its draw is below
    ``share``. Returns what the state change's event should say about the pick."""
    score = draw_score(device.tag, device.last_received_at, seed)
    if score >= share:
        return {}
    db.session.add(WipeVerification(device_id=device.id, cycle_received_at=device.last_received_at,
                                    selected_at=utcnow(), score=score, share=share, wiped_by_id=actor.user_id,
                                    wiped_by_name=actor.name, status=VerificationStatus.PENDING))
    db.session.flush()
    return {"wipe_check": "selected", "wipe_check_score": round(score, 6)}


def pending_verifications(*, actor: Actor, limit: int = 200) -> list[tuple[WipeVerification, Device]]:
    q = pending_verifications_query(actor=actor).order_by(WipeVerification.selected_at).limit(limit)
    return db.session.execute(q).unique().all()


def pending_verifications_query(*, actor: Actor):
    """(check, device) of the wipe checks still to be made, in the actor's scope (unordered)."""
    q = (select(WipeVerification, Device).join(Device, Device.id == WipeVerification.device_id)
         .where(WipeVerification.status == VerificationStatus.PENDING))
    return scoped(q, actor)


def current_verification(device: Device) -> WipeVerification | None:
    return db.session.scalar(select(WipeVerification).where(WipeVerification.device_id == device.id)
                             .order_by(WipeVerification.selected_at.desc(), WipeVerification.id.desc()).limit(1))


def verify_wipe(tag, *, actor: Actor, confirmed: bool, note: str | None = None) -> WipeVerification:
    """A second technician checks a picked device's wipe; whoever wiped it may not check it."""
    device = get_device(tag, actor=actor, for_update=True)
    check = db.session.scalar(select(WipeVerification).where(
        WipeVerification.device_id == device.id, WipeVerification.status == VerificationStatus.PENDING)
        .order_by(WipeVerification.id.desc()).limit(1))
    if check is None:
        raise Conflict("%(tag)s is not waiting for a second-person check.", tag=device.tag, code="no_check_pending")
    wipers = {check.wiped_by_id}
    q = select(WipeRecord.operator_id).where(WipeRecord.device_id == device.id)
    if check.cycle_received_at is not None:
        q = q.where(WipeRecord.recorded_at >= check.cycle_received_at)
    wipers.update(db.session.scalars(q))
    if actor.user_id is not None and actor.user_id in wipers:
        raise Conflict("You wiped this device: its check must be made by another technician.",
                       code="verifier_is_wiper")
    if not confirmed and not (note or "").strip():
        raise Invalid("Say what was wrong with the wipe.", details={"note": ["required when the check fails"]})
    check.status = VerificationStatus.CONFIRMED if confirmed else VerificationStatus.FAILED
    check.verified_by_id, check.verified_by_name, check.verified_at = actor.user_id, actor.name, utcnow()
    check.note = (note or "").strip() or None
    custody.record("wipe_verified", actor=actor, device=device, note=check.note,
                   details={"verification_id": check.id, "outcome": check.status.value,
                            "wiped_by": check.wiped_by_name})
    if not confirmed and device.state in (State.WIPED, State.REFURBISHED) and device.verdict is not None:
        # A refused check sends the device back to be wiped again; the reason is in the chain, twice.
        db.session.flush()
        transition(device, State.DIAGNOSED, actor=actor, note=check.note, commit=False,
                   event_details={"reason": "wipe_check_failed", "verification_id": check.id})
    db.session.commit()
    return check


# ---------------------------------------------------------------- lists and facts for pages and certificates


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


def record_events(records: list[WipeRecord]) -> dict[int, CustodyEvent]:
    """The custody event that wrote each wipe record, by record id."""
    if not records:
        return {}
    wanted = {r.id for r in records}
    devices = {r.device_id for r in records}
    out = {}
    rows = db.session.execute(select(CustodyEvent).where(CustodyEvent.device_id.in_(devices),
                                                         CustodyEvent.type == "wipe_recorded")).scalars()
    for ev in rows:
        rid = json.loads(ev.details or "{}").get("wipe_record_id")
        if rid in wanted:
            out[rid] = ev
    return out


@dataclass
class DeviceEvidence:
    """What a certificate says about one device: its media, their latest records this cycle, the outcome."""

    device: Device
    media: list[StorageMedium]
    records: dict[int, WipeRecord]  # medium id -> the record that decides it (latest passing, else latest)
    events: dict[int, CustodyEvent]  # record id -> its custody event
    no_media: bool
    wiped_event: CustodyEvent | None
    check: WipeVerification | None
    last_event: CustodyEvent | None

    @property
    def outcome(self) -> str:
        """sanitised, unverified (passing, but an overwrite was not read back), failed, pending or no_media."""
        if not self.media:
            return "no_media" if self.no_media else "pending"
        results = [self.records.get(m.id) for m in self.media]
        if all(r is not None and r.result == WipeResult.PASSED for r in results):
            # An overwrite nobody read back is never certified as a plain "sanitised".
            return "unverified" if any(r.unverified for r in results) else "sanitised"
        if any(r is not None and r.result != WipeResult.PASSED for r in results):
            return "failed"
        return "pending"


def device_evidence(devices: list[Device]) -> list[DeviceEvidence]:
    """Evidence of many devices in a few queries (batch certificates list hundreds)."""
    if not devices:
        return []
    ids = [d.id for d in devices]
    media: dict[int, list] = {i: [] for i in ids}
    for m in db.session.execute(select(StorageMedium).where(StorageMedium.device_id.in_(ids))
                                .order_by(StorageMedium.id)).scalars():
        media[m.device_id].append(m)
    by_device = {d.id: d for d in devices}
    chosen: dict[int, WipeRecord] = {}
    all_records = db.session.execute(select(WipeRecord).where(WipeRecord.device_id.in_(ids))
                                     .order_by(WipeRecord.recorded_at, WipeRecord.id)).scalars().all()
    for r in all_records:
        since = by_device[r.device_id].last_received_at
        if since is not None and r.recorded_at < since:
            continue
        current = chosen.get(r.medium_id)
        if current is None or r.result == WipeResult.PASSED or current.result != WipeResult.PASSED:
            chosen[r.medium_id] = r
    events = record_events(list(chosen.values()))
    wiped = {}
    last = {}
    for ev in db.session.execute(select(CustodyEvent).where(CustodyEvent.device_id.in_(ids))
                                 .order_by(CustodyEvent.seq)).scalars():
        last[ev.device_id] = ev
        if ev.state_after == State.WIPED.value and ev.state_before != State.WIPED.value:
            wiped[ev.device_id] = ev
    checks = {}
    for c in db.session.execute(select(WipeVerification).where(WipeVerification.device_id.in_(ids))
                                .order_by(WipeVerification.id)).scalars():
        checks[c.device_id] = c
    out = []
    for d in devices:
        no_media = bool(d.no_media_statement_at and (d.last_received_at is None
                                                     or d.no_media_statement_at >= d.last_received_at))
        wiped_ev = wiped.get(d.id)
        if wiped_ev is not None and d.last_received_at and wiped_ev.server_time < d.last_received_at:
            wiped_ev = None  # a previous cycle's
        out.append(DeviceEvidence(device=d, media=media[d.id],
                                  records={m.id: chosen[m.id] for m in media[d.id] if m.id in chosen},
                                  events=events, no_media=no_media, wiped_event=wiped_ev, check=checks.get(d.id),
                                  last_event=last.get(d.id)))
    return out


def certificate_for_device(tag, *, actor: Actor) -> DeviceEvidence:
    device = get_device(tag, actor=actor)
    return device_evidence([device])[0]


def certificate_for_batch(batch_id: int, *, actor: Actor):
    """A batch and the evidence of each of its devices; a batch outside the caller's scope is 404."""
    batch = get_batch(batch_id, actor=actor)
    devices = db.session.execute(scoped(select(Device).where(Device.batch_id == batch.id).order_by(Device.tag),
                                        actor)).unique().scalars().all()
    return batch, device_evidence(devices)


def chain_head() -> tuple[int, str]:
    from ..custody.models import ChainHead

    head = db.session.get(ChainHead, 1)
    return (head.last_seq, head.last_hash) if head else (0, custody.GENESIS)


def on_wiped(device: Device, *, actor: Actor) -> dict:
    """Hook of devices.services.transition as a device becomes `wiped` (the configured draw)."""
    from flask import current_app

    return pick_for_verification(device, actor=actor, share=float(current_app.config.get("WIPE_VERIFICATION_SHARE", 0.05)),
                                 seed=str(current_app.config.get("WIPE_VERIFICATION_SEED", "")))
