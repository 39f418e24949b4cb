"""Imports of wipe evidence: nwipe logs and workshop CSV files."""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ..core import Actor
from ..custody import services as custody
from ..db import utcnow
from ..devices.models import Device, MediumKind, StorageMedium
from ..devices.services import get_device, scoped
from ..errors import Conflict, Invalid
from ..extensions import db
from ..lifecycle import N_, NEEDS_WIPE
from . import nwipe
from .csv_import import WipeCsvError, parse_wipe_csv
from .evidence import store_evidence
from .media import MEDIA_EDITABLE_STATES, RECORDABLE_STATES, _medium_view, _normal_serial
from .models import EvidenceFile, WipeRecord, WipeResult
from .records import _add_record

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


def _check_identity(plan: DiskPlan, override: str | None) -> None:
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


def _refuse_problems(plan: NwipePlan) -> None:
    """Refuses the import, naming the first disk that cannot be recorded, or every disk still unmatched."""
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
            raise Conflict(
                "This wipe of %(serial)s ended before the device was last received: it does not cover "
                "what was stored since. Wipe the medium again.",
                serial=d.medium.serial or f"#{d.medium.id}",
                code="wipe_before_reception",
                details={d.key: ["before the last reception", d.ended_at.isoformat() if d.ended_at else None]},
            )
    if plan.unresolved:
        raise Invalid("%(num)s disk(s) still need a medium before anything is imported.",
                      num=len(plan.unresolved), code="unmatched_disks",
                      details={d.key: [d.problem or "unmatched_disk", d.filename, d.disk.device, d.disk.serial]
                               for d in plan.unresolved})


def _record_disk(d: DiskPlan, log: nwipe.NwipeLog, zone: ZoneInfo, evidence: EvidenceFile, *, now: dt.datetime,
                 actor: Actor, events: list) -> tuple[WipeRecord, dict]:
    """The wipe record of one disk, with the identity it adopts from the log and an override's own event."""
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
        evidence=evidence, now=now, fingerprint=disk.fingerprint or None,
        unverified=disk.verification in (None, "none") or disk.verified is not True,
        override_reason=d.override, details={
            "nwipe_status": disk.raw_status, "device_path": disk.device, "disk_model": disk.model,
            "disk_serial": disk.serial, "serial_readable": disk.serial_readable, "size_bytes": disk.size_bytes,
            "rounds": disk.rounds, "blanking": disk.blanking, "prng": disk.prng, "verified": disk.verified,
            "errors": disk.errors, "concerns": list(disk.concerns), "matched_by": d.how,
            "log_line": disk.summary_line, "times_zone": None if disk.timezone_known else str(zone),
            "mismatches": d.mismatches, "identity_from_log": sorted(d.adopt),
        })
    return record, event


def import_nwipe(files: list[tuple[str, bytes]], *, actor: Actor, assignments: dict[str, object] | None = None,
                 timezone: str = "Europe/Paris", overrides: dict[str, str] | None = None) -> list[WipeRecord]:
    """Record every disk of the logs against its medium, all or nothing, keeping each raw log once.

    nwipe writes local times without a zone: they are read in ``timezone`` (the wiping station's clock).
    A disk section already recorded for another medium is refused (409) naming that device; a log whose
    serial or size differs from the medium's is refused (409) unless ``overrides`` gives a written reason.
    """
    plan = plan_nwipe_import(files, actor=actor, assignments=assignments, overrides=overrides, timezone=timezone)
    _refuse_problems(plan)
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
        record, event = _record_disk(d, log, zone, evidence[d.sha256], now=now, actor=actor, events=events)
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
        return v.astimezone(dt.UTC).isoformat() if isinstance(v, dt.datetime) else str(v or "")
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
