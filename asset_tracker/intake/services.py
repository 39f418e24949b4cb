"""Intake verbs: batches, donor entry, bulk import, collection, reception, reconciliation and closing."""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import and_, false, func, or_, select, update

from .. import idempotency
from ..core import Actor
from ..custody import services as custody
from ..db import utcnow
from ..devices import services as devices
from ..devices.lookup import resolve_code
from ..devices.models import Device, DeviceType
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..lifecycle import IN_WORKSHOP, N_, State
from ..organisations.models import Organisation, OrgKind
from . import importing
from .importing import ArchiveLimits, ParsedRow, RowError
from .models import Batch, BatchExplanation, BatchReceipt, BatchStatus, ExplanationKind, ImportFile

MODES = ("all", "valid_only")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # MAX_CONTENT_LENGTH's default
DEFAULT_ARCHIVE_LIMITS = ArchiveLimits()  # XLSX_MAX_UNCOMPRESSED and XLSX_MAX_RATIO's defaults
_CHUNK = 900  # IN (...) lists stay under every database's parameter limit
_WRITE_CHUNK = 250  # device moves per transaction in batch-wide writes (well under a second of write lock)


# ---------------------------------------------------------------- scope


def batch_scope(query, actor: Actor):
    """Batches an actor may see.

    A donor its own organisation's; a technician its workshop's (the workshop that collects or was assigned
    the batch) and, for collection only, open batches no workshop has taken yet; auditors and admins all.
    """
    if actor.role in (None, "admin", "auditor"):
        return query
    if actor.role == "donor":
        return query.where(Batch.donor_organisation_id == actor.organisation_id)
    if actor.role == "technician":
        return query.where(or_(Batch.workshop_organisation_id == actor.organisation_id,
                               and_(Batch.workshop_organisation_id.is_(None), Batch.status == BatchStatus.OPEN)))
    return query.where(false())


def get_batch(batch_id, *, actor: Actor, for_update: bool = False) -> Batch:
    """A batch in the actor's scope; 404 otherwise (ids cannot be probed).

    ``for_update``: the caller changes the batch, which a technician may do only once its workshop has taken
    it (collecting and receiving are how a workshop takes an open batch).
    """
    try:
        batch_id = int(batch_id)
    except (TypeError, ValueError):
        raise NotFound("No batch %(id)s.", id=str(batch_id)) from None
    batch = db.session.execute(batch_scope(select(Batch).where(Batch.id == batch_id), actor)).unique() \
        .scalar_one_or_none()
    if batch is None or (for_update and actor.role == "technician"
                         and batch.workshop_organisation_id != actor.organisation_id):
        raise NotFound("No batch %(id)s.", id=str(batch_id))
    return batch


def batch_for_registration(batch_id, donor_organisation_id: int, *, actor: Actor) -> Batch:
    """The batch a device is registered into, named in a request body: in scope, of the device's donor, open.

    A batch outside the caller's scope and a batch that does not exist get the same 404.
    """
    try:
        batch = get_batch(batch_id, actor=actor, for_update=True)
    except NotFound:
        raise devices.unknown_reference("batch_id") from None
    if batch.donor_organisation_id != donor_organisation_id:
        raise Invalid("The batch belongs to another donor than the device.",
                      details={"batch_id": ["batch of another donor"]})
    _require_open(batch)
    return batch


def _take_batch(batch: Batch, workshop_id: int) -> None:
    """A workshop takes a batch: the batch and its devices no workshop has taken yet become that workshop's."""
    batch.workshop_organisation_id = workshop_id
    db.session.execute(update(Device).where(Device.batch_id == batch.id, Device.workshop_organisation_id.is_(None))
                       .values(workshop_organisation_id=workshop_id).execution_options(synchronize_session=False))


def _workshop_for(actor: Actor, workshop_organisation_id: int | None) -> int | None:
    """A workshop named in a body: a technician may name only its own (another one answers like an unknown id)."""
    if workshop_organisation_id is None:
        return actor.organisation_id if actor.role == "technician" else None
    org = db.session.get(Organisation, workshop_organisation_id)
    if org is None or org.kind != OrgKind.WORKSHOP or (
            actor.role == "technician" and org.id != actor.organisation_id):
        raise devices.unknown_reference("workshop_organisation_id")
    return org.id


def batches_query(*, actor: Actor, status: str | None = None, donor: int | None = None):
    """The batches an actor may see, filtered (unordered, unexecuted: lists sort and page it)."""
    query = batch_scope(select(Batch), actor)
    if status:
        query = query.where(Batch.status == BatchStatus(status))
    if donor:
        query = query.where(Batch.donor_organisation_id == donor)
    return query


def list_batches(*, actor: Actor, status: str | None = None, donor: int | None = None) -> list[Batch]:
    query = batches_query(actor=actor, status=status, donor=donor)
    return db.session.execute(query.order_by(Batch.id.desc())).unique().scalars().all()


def batch_devices(batch_id: int, *, actor: Actor, page: int = 1, per_page: int = 50) -> tuple[list[Device], int]:
    """The devices logged in a batch, one page in tag order, and how many there are."""
    batch = get_batch(batch_id, actor=actor)
    total = db.session.execute(select(func.count(Device.id)).where(Device.batch_id == batch.id)).scalar_one()
    items = db.session.execute(select(Device).where(Device.batch_id == batch.id).order_by(Device.id)
                               .limit(per_page).offset((page - 1) * per_page)).unique().scalars().all()
    return items, total


def progress(batch_ids: list[int]) -> dict[int, dict[str, int]]:
    """Devices per state for each batch, in one grouped query."""
    out: dict[int, dict[str, int]] = {b: {} for b in batch_ids}
    for chunk in _chunks(list(batch_ids)):
        rows = db.session.execute(select(Device.batch_id, Device.state, func.count())
                                  .where(Device.batch_id.in_(chunk)).group_by(Device.batch_id, Device.state))
        for batch_id, state, n in rows:
            out[batch_id][state.value] = n
    return out


# ---------------------------------------------------------------- batches


def _declared(counts: dict | None) -> dict[str, int]:
    out = {}
    for key, value in (counts or {}).items():
        try:
            kind = DeviceType(key).value
        except ValueError:
            raise Invalid("Unknown device type %(type)s in the declared counts.", type=str(key),
                          details={"declared_counts": [f"unknown type {key}"]}) from None
        if value is None or value == "":
            continue
        if not isinstance(value, int) or value < 0:
            raise Invalid("A declared count is a whole number.", details={"declared_counts": [f"{key}: {value}"]})
        if value:
            out[kind] = value
    return out


def create_batch(
    *, actor: Actor, name: str, donor_organisation_id: int | None = None, pickup_date: dt.date | None = None,
    declared_counts: dict | None = None, contact_name: str | None = None, contact_email: str | None = None,
    notes: str | None = None, unit_value_cents: int | None = None, workshop_organisation_id: int | None = None,
    **slip,
) -> Batch:
    """Open a collection batch for a donor (a donor opens batches for its own organisation only)."""
    if actor.role == "donor":
        if donor_organisation_id not in (None, actor.organisation_id):
            raise Invalid("A donor opens batches for its own organisation only.",
                          details={"donor_organisation_id": ["server-owned for donors"]})
        donor_organisation_id = actor.organisation_id
    if donor_organisation_id is None:
        raise Invalid("Say which donor organisation gives the batch.",
                      details={"donor_organisation_id": ["a donor organisation is required"]})
    donor = _require_org(donor_organisation_id, OrgKind.DONOR, "donor_organisation_id")
    workshop_organisation_id = _workshop_for(actor, workshop_organisation_id)
    name = (name or "").strip()
    if not name:
        raise Invalid("A batch needs a name.", details={"name": ["required"]})
    batch = Batch(name=name, donor_organisation_id=donor.id, workshop_organisation_id=workshop_organisation_id,
                  status=BatchStatus.OPEN, pickup_date=pickup_date, declared_counts=_declared(declared_counts),
                  contact_name=contact_name, contact_email=contact_email, notes=notes,
                  unit_value_cents=unit_value_cents, created_at=utcnow(), **_slip_values(slip))
    db.session.add(batch)
    db.session.flush()
    custody.record("batch_created", actor=actor, details={
        "batch_id": batch.id, "name": batch.name, "donor_organisation_id": donor.id,
        "declared_counts": batch.declared_counts, "pickup_date": pickup_date,
        **{k: v for k, v in _slip_values(slip).items() if v is not None}})
    db.session.commit()
    return batch


UPDATABLE = ("name", "pickup_date", "declared_counts", "contact_name", "contact_email", "notes", "unit_value_cents")
# What the donation slip says about the transfer itself: the donor's disposal decision and who signs for each
# party. The paperwork often follows the count, so these stay editable by the batch's donor and the workshop
# until the slip is signed, including on a closed batch (every change is in the custody log).
SLIP_FIELDS = ("disposal_decision_ref", "disposal_decision_date", "donor_signatory_name", "donor_signatory_title",
               "workshop_signatory_name", "workshop_signatory_title")


def _slip_values(values: dict) -> dict:
    unknown = set(values) - set(SLIP_FIELDS)
    if unknown:
        raise Invalid("Field %(field)s cannot be changed here.", field=", ".join(sorted(unknown)))
    return {k: (v.strip() or None) if isinstance(v, str) else v for k, v in values.items()}


def update_batch(batch_id: int, changes: dict, *, actor: Actor) -> Batch:
    """Change what was declared about a batch; before and after go to the custody log."""
    declared = {k: v for k, v in changes.items() if k not in SLIP_FIELDS}
    # What the donor declared is changed by a technician only once their workshop has taken the batch; the
    # workshop's signatory may be named before the pickup (the paperwork is prepared with the donor).
    batch = get_batch(batch_id, actor=actor, for_update=bool(declared))
    if declared and batch.status == BatchStatus.CLOSED:
        raise Conflict("A closed batch cannot be changed.", code="batch_closed")
    if declared and actor.role == "donor" and batch.status != BatchStatus.OPEN:
        raise Conflict("A donor can change a batch only until it is collected.", code="batch_not_open")
    slip = {k: v for k, v in changes.items() if k in SLIP_FIELDS}
    if slip and actor.role == "technician" and batch.workshop_organisation_id not in (None, actor.organisation_id):
        raise NotFound("No batch %(id)s.", id=str(batch.id))  # another workshop's batch: not theirs to sign
    changes = {**changes, **_slip_values(slip)}
    diff = {}
    for key, value in changes.items():
        if key not in UPDATABLE + SLIP_FIELDS:
            raise Invalid("Field %(field)s cannot be changed here.", field=key)
        if key == "declared_counts":
            value = _declared(value)
        if key == "name" and not (value or "").strip():
            raise Invalid("A batch needs a name.", details={"name": ["required"]})
        old = getattr(batch, key)
        if old != value:
            diff[key] = {"before": old, "after": value}
            setattr(batch, key, value)
    if diff:
        custody.record("batch_updated", actor=actor, details={"batch_id": batch.id, "changes": diff})
    db.session.commit()
    return batch


def _require_org(org_id, kind: OrgKind, field_name: str) -> Organisation:
    org = db.session.get(Organisation, org_id)
    if org is None or org.kind != kind:
        raise devices.unknown_reference(field_name)
    return org


def _require_open(batch: Batch) -> None:
    if batch.status != BatchStatus.OPEN:
        raise Conflict("Devices can be added to a batch only while it is open (this batch is %(status)s).",
                       status=batch.status.value, code="batch_not_open")


def registration_settings(config: Mapping) -> dict:
    """What `add_device` takes from the application's configuration (the routes pass it in)."""
    return {"tag_prefix": config["TAG_PREFIX"], "tag_width": config["TAG_WIDTH"],
            "batch_max_devices": config.get("BATCH_MAX_DEVICES", 10_000)}


def import_settings(config: Mapping) -> dict:
    """What `import_file` takes from the application's configuration (the routes and the command pass it in)."""
    return {**registration_settings(config), "max_upload_bytes": config.get("MAX_CONTENT_LENGTH") or MAX_UPLOAD_BYTES,
            "max_rows": config.get("IMPORT_MAX_ROWS", 10_000),
            "archive_limits": ArchiveLimits(config.get("XLSX_MAX_UNCOMPRESSED", 64 * 2**20),
                                            config.get("XLSX_MAX_RATIO", 100)),
            "barrier_file": config.get("IMPORT_BARRIER_FILE")}


def _require_room(batch: Batch, adding: int, limit: int) -> None:
    """A batch holds at most BATCH_MAX_DEVICES devices, so every batch page, slip and write stays bounded."""
    held = db.session.execute(select(func.count(Device.id)).where(Device.batch_id == batch.id)).scalar_one()
    if held + adding > limit:
        raise Conflict("Batch %(name)s would hold %(count)s devices; a batch holds at most %(max)s. "
                       "Create another batch for the rest of this donation.", name=batch.name, count=held + adding,
                       max=limit, code="batch_full", details={"batch_id": batch.id, "devices": held,
                                                              "adding": adding, "max": limit})


# ---------------------------------------------------------------- donor entry


def add_device(batch_id: int, *, actor: Actor, type: str, brand=None, model=None, serial=None, imei=None,
               notes=None, unit_value_cents=None, media: list[dict] | None = None, tag: str | None = None,
               donor_inventory_number: str | None = None, tag_prefix: str = "RB", tag_width: int = 6,
               batch_max_devices: int = 10_000) -> Device:
    """Log one device into a batch (the donor's entry form): tag and custody event in one transaction.

    ``tag_prefix``, ``tag_width`` and ``batch_max_devices``: the settings (`registration_settings`).
    """
    batch = get_batch(batch_id, actor=actor, for_update=True)
    _require_open(batch)
    if not (serial or "").strip() and not (imei or "").strip():
        raise Invalid("A serial number or an IMEI is required, so the workshop can recognise the device.",
                      details={"serial": [N_("A serial number or an IMEI is required.")]})
    _require_room(batch, 1, batch_max_devices)
    return devices.register_device(
        actor=actor, type=type, donor_organisation_id=batch.donor_organisation_id, brand=brand, model=model,
        serial=serial, imei=imei, notes=notes, unit_value_cents=unit_value_cents, batch_id=batch.id, tag=tag,
        tag_prefix=tag_prefix, tag_width=tag_width, media=media, donor_inventory_number=donor_inventory_number)


# ---------------------------------------------------------------- bulk import


@dataclass
class ImportResult:
    status: str  # imported | rejected | already_imported
    batch_id: int
    mode: str
    sha256: str
    filename: str | None
    rows: int = 0
    created: int = 0
    skipped: int = 0  # rows whose device is already in this batch (a corrected file uploaded again)
    invalid_rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    import_id: int | None = None
    first_tag: str | None = None
    last_tag: str | None = None
    previous: dict | None = None  # the earlier import of the same file
    replayed: bool = False

    def as_dict(self, translate=None) -> dict:
        return {
            "status": self.status, "batch_id": self.batch_id, "mode": self.mode, "sha256": self.sha256,
            "filename": self.filename, "rows": self.rows, "created": self.created, "skipped": self.skipped,
            "invalid_rows": self.invalid_rows, "errors": [e.as_dict(translate) for e in self.errors],
            "ignored_columns": self.ignored_columns, "import_id": self.import_id, "first_tag": self.first_tag,
            "last_tag": self.last_tag, "previous": self.previous, "replayed": self.replayed,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ImportResult:
        data = dict(data)
        data["errors"] = [RowError(e["row"], e["column"], e["letter"], e["field"], e["value"], e["code"],
                                   e["message"].replace("%", "%%")) for e in data.get("errors", [])]
        data["replayed"] = True
        return cls(**data)


def _chunks(values: list, size: int = _CHUNK):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def import_file(batch_id: int, data: bytes, *, actor: Actor, filename: str | None = None, mode: str = "all",
                client_id: str | None = None, tag_prefix: str = "RB", tag_width: int = 6,
                batch_max_devices: int = 10_000, max_upload_bytes: int = MAX_UPLOAD_BYTES, max_rows: int = 10_000,
                archive_limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
                barrier_file: str | None = None) -> ImportResult:
    """Validate every row of a CSV/XLSX file and create its devices, all or nothing (or only the valid rows).

    Set-based: one pass of validation in Python, duplicate checks with IN (...) queries, then the rows
    to create registered at once by `devices.register_many` (tags allocated at once, one multi-row
    insert of devices and disks, one of events), one commit. The same file (SHA-256) uploaded again
    imports nothing. The keyword settings come from the configuration (`import_settings`).
    """
    if mode not in MODES:
        raise Invalid("Unknown import mode %(mode)s (use all or valid_only).", mode=str(mode),
                      details={"mode": ["all or valid_only"]})
    batch = get_batch(batch_id, actor=actor, for_update=True)
    if len(data) > max_upload_bytes:
        raise Invalid("The file is too large (%(size)s MB; the limit is %(mb)s MB): split it into several files.",
                      size=round(len(data) / 2**20, 1), mb=max_upload_bytes // 2**20, code="too_large")
    sha = hashlib.sha256(data).hexdigest()
    request_hash = idempotency.payload_hash({"batch": batch.id, "mode": mode, "sha256": sha})
    if client_id:
        stored = idempotency.replay(db.session, "import", client_id, request_hash)
        if stored is not None:
            return ImportResult.from_dict(stored[1])
    _require_open(batch)
    session = db.session
    result = ImportResult("imported", batch.id, mode, sha, filename)

    previous = session.execute(select(ImportFile).where(ImportFile.sha256 == sha)).scalar_one_or_none()
    if previous is not None:
        result.status = "already_imported"
        result.previous = {"import_id": previous.id, "batch_id": previous.batch_id,
                           "created_at": previous.created_at.isoformat(), "created": previous.rows_created}
        return result

    sheet = importing.read_sheet(data, filename, max_rows=max_rows, limits=archive_limits)
    parsed, errors, unknown = importing.validate_rows(sheet)
    result.ignored_columns = unknown
    if not parsed and not errors:
        raise Invalid("The file has a header row but no devices.", code="no_rows")

    registered = devices.registered_identities((p.serial for p in parsed if p.serial),
                                               (p.imei for p in parsed if p.imei))
    to_create, skipped = _check_against_database(parsed, errors, batch.id, registered)
    columns, _ = importing.map_headers(sheet.headers)
    for e in errors:
        if e.column is None and e.field in columns:
            e.column, e.letter = sheet.headers[columns[e.field]], importing.column_letter(columns[e.field])
    errors.sort(key=lambda e: (e.row, e.letter or ""))
    result.errors = errors
    # A row valid in the file can still be refused against the database: count each row once.
    invalid = {e.row for e in errors}
    result.invalid_rows = len(invalid)
    result.rows = len(invalid | {p.row for p in parsed})
    result.skipped = len(skipped)
    if errors and mode == "all":
        result.status = "rejected"
        session.rollback()
        return result
    if not to_create:
        session.rollback()
        return result
    _require_room(batch, len(to_create), batch_max_devices)

    imp = ImportFile(batch_id=batch.id, sha256=sha, filename=(filename or "")[:255] or None, size_bytes=len(data),
                     mode=mode, rows_total=result.rows, rows_created=len(to_create), rows_skipped=len(skipped),
                     rows_invalid=result.invalid_rows, actor_user_id=actor.user_id, actor_name=actor.name,
                     created_at=utcnow())
    session.add(imp)
    session.flush()
    for p in to_create:
        p.details = {"import_id": imp.id, "row": p.row}  # in the device's custody event

    def closing(inserted: list[devices.Registered]) -> list[dict]:
        result.created = len(inserted)
        result.import_id = imp.id
        result.first_tag, result.last_tag = inserted[0].tag, inserted[-1].tag
        if client_id:
            idempotency.remember(session, "import", client_id, request_hash, 201, result.as_dict(),
                                 user_id=actor.user_id)
        return [{"type": "batch_import", "details": {
            "batch_id": batch.id, "import_id": imp.id, "sha256": sha, "filename": filename, "mode": mode,
            "rows": result.rows, "created": result.created, "skipped": result.skipped,
            "invalid_rows": result.invalid_rows, "first_tag": result.first_tag, "last_tag": result.last_tag}}]

    devices.register_many(to_create, actor=actor, donor_organisation_id=batch.donor_organisation_id,
                          batch_id=batch.id, tag_prefix=tag_prefix, tag_width=tag_width, commit=False,
                          registered=registered, then=closing)
    _barrier(barrier_file)
    session.commit()
    return result


def _barrier(path: str | None) -> None:
    """Crash tests only (IMPORT_BARRIER_FILE, unset in every real configuration): say that every row is
    written but not committed, by creating ``path``, then wait there to be killed."""
    if not path:
        return
    with open(path, "w") as marker:
        marker.write("rows written, not committed\n")
    time.sleep(120)


def _check_against_database(parsed: list[ParsedRow], errors: list[RowError], batch_id: int,
                            registered: tuple[dict, dict]):
    """Rows whose serial/IMEI is already registered (``registered``: `devices.registered_identities` of the
    file): in this batch they are skipped, elsewhere refused."""
    by_serial, by_imei = registered
    if not by_serial and not by_imei:
        return parsed, []
    to_create, skipped = [], []
    for p in parsed:
        hits = []
        if p.serial and p.serial in by_serial:
            hits.append(("serial", p.serial, by_serial[p.serial]))
        if p.imei and p.imei in by_imei:
            hits.append(("imei", p.imei, by_imei[p.imei]))
        if not hits:
            to_create.append(p)
        elif all(b == batch_id for _, _, b in hits):
            skipped.append(p)
        else:
            for key, value, _b in hits:
                errors.append(RowError(
                    p.row, None, None, key, value, "duplicate_in_database",
                    "A device with serial number %(value)s is already registered." if key == "serial"
                    else "A device with IMEI %(value)s is already registered.", {"value": value}))
    return to_create, skipped


# ---------------------------------------------------------------- collection


def collect_batch(batch_id: int, *, actor: Actor, workshop_organisation_id: int | None = None,
                  note: str | None = None) -> Batch:
    """The pickup: every registered device of the batch goes to `collected`, in the workshop's custody."""
    batch = get_batch(batch_id, actor=actor)
    if batch.status != BatchStatus.OPEN:
        raise Conflict("Only an open batch can be collected (this batch is %(status)s).", status=batch.status.value,
                       code="batch_not_open")
    workshop_id = _workshop_for(actor, workshop_organisation_id)
    if batch.workshop_organisation_id is not None:
        if workshop_id not in (None, batch.workshop_organisation_id):
            raise Conflict("This batch is assigned to another workshop.", code="other_workshop",
                           details={"workshop_organisation_id": ["the batch is assigned to another workshop"]})
        workshop_id = batch.workshop_organisation_id
    if workshop_id is None:
        raise Invalid("Say which workshop takes the batch (workshop_organisation_id).",
                      details={"workshop_organisation_id": ["required"]})
    to_move = db.session.execute(select(Device.id).where(Device.batch_id == batch.id,
                                                         Device.state == State.REGISTERED)
                                 .order_by(Device.id)).scalars().all()
    if not to_move:
        raise Conflict("This batch has no registered device to collect.", code="batch_empty")
    _take_batch(batch, workshop_id)
    # One transaction per chunk: a batch of BATCH_MAX_DEVICES never holds the write lock for more than
    # a chunk's worth of moves. Each device's move stands on its own; if the pickup is interrupted, the
    # batch stays open (taken by its workshop) and collecting it again moves the devices still registered.
    for chunk in _chunks(to_move, _WRITE_CHUNK):
        devices.lock_devices(chunk)
        moving = db.session.execute(select(Device).where(Device.id.in_(chunk), Device.state == State.REGISTERED)
                                    .order_by(Device.id)).unique().scalars().all()
        devices.transition_many(moving, State.COLLECTED, actor=actor, params={"custodian_organisation_id": workshop_id},
                                note=note, event_details={"batch_id": batch_id})
        db.session.commit()
    batch = get_batch(batch_id, actor=actor)
    now = utcnow()
    batch.status, batch.collected_at = BatchStatus.COLLECTED, now
    custody.record("batch_collected", actor=actor, custodian_before_id=batch.donor_organisation_id,
                   custodian_after_id=workshop_id, note=note,
                   details={"batch_id": batch.id, "devices": len(to_move)})
    db.session.commit()
    return batch


# ---------------------------------------------------------------- reception


@dataclass
class Reception:
    device: Device
    batch: Batch | None
    expected: bool  # the device belongs to the batch being received
    already: bool  # it was already in the workshop: nothing moved
    message: str  # English msgid
    params: dict


def find_device(code: str, *, actor: Actor) -> Device:
    """A scanned or typed code: an asset tag (check character verified), a serial number, an IMEI, or a tag
    garbled by a scanner typing on an AZERTY keyboard (the scanning station's reader)."""
    return resolve_code(code, actor=actor)[0]


def receive_device(code: str | Device, *, actor: Actor, batch_id: int | None = None, station: str | None = None,
                   client_time: dt.datetime | None = None, note: str | None = None, commit: bool = True) -> Reception:
    """Scan a device in at the workshop (`received`), noting the batch being received if any.

    A device still `registered` (the donor brought it without a pickup) is collected on the spot, then
    received. A device already in the workshop is not moved again. For the scanning station.
    """
    batch = get_batch(batch_id, actor=actor) if batch_id is not None else None
    if batch is not None and batch.status == BatchStatus.CLOSED:
        raise Conflict("Batch %(name)s is closed: reopen nothing, receive the device without a batch.",
                       name=batch.name, code="batch_closed")
    device = code if isinstance(code, Device) else find_device(code, actor=actor)
    expected = batch is not None and device.batch_id == batch.id
    details = {"batch_id": batch.id, "expected": expected} if batch is not None else None
    workshop_id = (batch.workshop_organisation_id if batch is not None and batch.workshop_organisation_id
                   else actor.organisation_id)
    params = {"custodian_organisation_id": workshop_id}
    already = device.state in IN_WORKSHOP
    if not already:
        if device.state == State.REGISTERED:
            devices.transition(device, State.COLLECTED, actor=actor, params=params, station=station,
                               client_time=client_time, note=note or "collected at reception", commit=False,
                               event_details=details)
        devices.transition(device, State.RECEIVED, actor=actor, params=params, station=station,
                           client_time=client_time, note=note, commit=False, event_details=details)
    if batch is not None:
        seen = db.session.execute(select(BatchReceipt.id).where(BatchReceipt.batch_id == batch.id,
                                                                BatchReceipt.device_id == device.id)).first()
        if seen is None:
            db.session.add(BatchReceipt(batch_id=batch.id, device_id=device.id, expected=expected,
                                        actor_name=actor.name, received_at=utcnow()))
            if already:
                custody.record("batch_receipt", actor=actor, device=device, station=station, client_time=client_time,
                               note=note, details=details)
        if batch.status in (BatchStatus.OPEN, BatchStatus.COLLECTED):
            if batch.status == BatchStatus.OPEN and batch.collected_at is None:
                batch.collected_at = utcnow()
            batch.status = BatchStatus.RECEIVED
            batch.received_at = utcnow()
            if batch.workshop_organisation_id is None and actor.role == "technician":
                _take_batch(batch, actor.organisation_id)
        db.session.flush()
    if commit:
        db.session.commit()
        db.session.refresh(device)
    if already:
        message = "%(tag)s was already in the workshop (%(state)s)."
    elif batch is not None and not expected:
        message = "%(tag)s received, but it is not expected in this batch."
    else:
        message = "%(tag)s received."
    return Reception(device, batch, expected, already, message, {"tag": device.tag, "state": device.state.value})


# ---------------------------------------------------------------- reconciliation


@dataclass
class Line:
    device: Device
    kind: str  # "missing" | "unexpected"
    explanation: BatchExplanation | None = None

    @property
    def explained(self) -> bool:
        return self.explanation is not None or (self.kind == "missing" and self.device.state == State.LOST)


@dataclass
class Reconciliation:
    batch: Batch
    expected: list[Device]
    received: list[Device]  # the batch's own devices received (a device of another batch never counts here)
    missing: list[Line]
    unexpected: list[Line]
    counts: dict[str, dict[str, int]]  # type -> {"declared", "logged", "received"}

    @property
    def discrepancies(self) -> list[Line]:
        return self.missing + self.unexpected

    @property
    def unexplained(self) -> list[Line]:
        return [line for line in self.discrepancies if not line.explained]

    @property
    def counts_differ(self) -> bool:
        if not self.batch.declared_counts:
            return False
        return any(c["declared"] != c["received"] for c in self.counts.values())

    @property
    def can_close(self) -> bool:
        return self.batch.status != BatchStatus.CLOSED and not self.unexplained


# States a device of the batch is in once it has been received at least once.
_NOT_YET_RECEIVED = frozenset({State.REGISTERED, State.COLLECTED, State.LOST})


def reconciliation(batch_id: int, *, actor: Actor, for_update: bool = False) -> Reconciliation:
    """Expected-not-received, received-not-expected and counts by type (declared, logged, received)."""
    batch = get_batch(batch_id, actor=actor, for_update=for_update)
    session = db.session
    expected = session.execute(select(Device).where(Device.batch_id == batch.id).order_by(Device.id)) \
        .unique().scalars().all()
    receipts = session.execute(select(BatchReceipt).where(BatchReceipt.batch_id == batch.id)).scalars().all()
    scanned = {r.device_id for r in receipts}
    explanations = {e.device_id: e for e in session.execute(
        select(BatchExplanation).where(BatchExplanation.batch_id == batch.id)).scalars()}
    received, missing = [], []
    for d in expected:
        if _discrepancy_kind(d, batch.id, d.id in scanned) is None:
            received.append(d)
        else:
            missing.append(Line(d, "missing", explanations.get(d.id)))
    expected_ids = {d.id for d in expected}
    others = [r.device_id for r in receipts if r.device_id not in expected_ids]
    unexpected = []
    if others:
        for d in session.execute(select(Device).where(Device.id.in_(others)).order_by(Device.id)).unique().scalars():
            unexpected.append(Line(d, "unexpected", explanations.get(d.id)))
    declared = batch.declared_counts or {}
    logged = Counter(d.type.value for d in expected)
    got = Counter(d.type.value for d in received)
    types = [t.value for t in DeviceType if t.value in declared or logged[t.value] or got[t.value]]
    counts = {t: {"declared": int(declared.get(t, 0)), "logged": logged[t], "received": got[t]} for t in types}
    return Reconciliation(batch, expected, received, missing, unexpected, counts)


def _discrepancy_kind(device: Device, batch_id: int, scanned: bool) -> str | None:
    """Whether a device is a discrepancy of a batch: "missing" (logged, never received), "unexpected"
    (received at this batch's reception but logged elsewhere) or None. The one rule reconciliation and
    explanations share."""
    if device.batch_id == batch_id:
        return None if scanned or device.state not in _NOT_YET_RECEIVED else "missing"
    return "unexpected" if scanned else None


def _discrepancy(batch: Batch, tag: str) -> Line | None:
    """One line of the reconciliation, found by its tag with three indexed look-ups (not the whole batch)."""
    session = db.session
    device = session.execute(select(Device).where(Device.tag == tag)).unique().scalar_one_or_none()
    if device is None:
        return None
    scanned = session.execute(select(BatchReceipt.id).where(BatchReceipt.batch_id == batch.id,
                                                            BatchReceipt.device_id == device.id)).first() is not None
    kind = _discrepancy_kind(device, batch.id, scanned)
    if kind is None:
        return None
    explanation = session.execute(select(BatchExplanation).where(BatchExplanation.batch_id == batch.id,
                                                                 BatchExplanation.device_id == device.id)).scalar()
    return Line(device, kind, explanation)


def explain(batch_id: int, tag: str, *, actor: Actor, note: str, declare_lost: bool = False) -> BatchExplanation:
    """Explain one discrepancy of a batch: a note, or (for a missing device) declaring it lost.

    Touches the one device explained, whatever the size of the batch: the write lock is held for
    milliseconds, not for a reconciliation of the whole batch.
    """
    note = (note or "").strip()
    if not note:
        raise Invalid("Explain the discrepancy in a note.", details={"note": ["required"]})
    batch = get_batch(batch_id, actor=actor, for_update=True)
    if batch.status == BatchStatus.CLOSED:
        raise Conflict("A closed batch cannot be changed.", code="batch_closed")
    tag = (tag or "").strip().upper()
    line = _discrepancy(batch, tag)
    if line is None:
        raise NotFound("%(tag)s is not a discrepancy of this batch.", tag=tag)
    if line.explanation is not None:
        raise Conflict("%(tag)s is already explained.", tag=tag, code="already_explained")
    if declare_lost:
        if line.kind != "missing":
            raise Invalid("Only a missing device can be declared lost.", details={"declare_lost": ["missing only"]})
        if line.device.state != State.LOST:
            devices.transition(line.device, State.LOST, actor=actor, params={"reason": note}, note=note,
                               commit=False, event_details={"batch_id": batch.id})
    explanation = BatchExplanation(batch_id=batch.id, device_id=line.device.id, kind=ExplanationKind(line.kind),
                                   declared_lost=declare_lost, note=note, actor_name=actor.name, created_at=utcnow())
    db.session.add(explanation)
    db.session.flush()
    device = db.session.get(Device, line.device.id)
    custody.record("batch_discrepancy_explained", actor=actor, device=device, note=note,
                   details={"batch_id": batch.id, "kind": line.kind, "declared_lost": declare_lost})
    db.session.commit()
    return explanation


def close_batch(batch_id: int, *, actor: Actor, note: str | None = None) -> Reconciliation:
    """Close a received batch; refused while a discrepancy is unexplained, or counts differ without a note."""
    rec = reconciliation(batch_id, actor=actor, for_update=True)
    batch = rec.batch
    if batch.status == BatchStatus.CLOSED:
        raise Conflict("This batch is already closed.", code="batch_closed")
    if batch.status != BatchStatus.RECEIVED:
        raise Conflict("Only a received batch can be closed (this batch is %(status)s).", status=batch.status.value,
                       code="batch_not_received")
    if rec.unexplained:
        tags = [line.device.tag for line in rec.unexplained]
        raise Conflict("%(count)s discrepancies are not explained yet: %(tags)s.", count=len(tags),
                       tags=", ".join(tags[:20]) + (" …" if len(tags) > 20 else ""), code="unexplained_discrepancies",
                       details={"unexplained": tags})
    note = (note or "").strip() or None
    if rec.counts_differ and not note:
        raise Conflict("The counts received differ from the counts declared: explain the difference in a note.",
                       code="counts_differ", details={"counts": rec.counts})
    now = utcnow()
    batch.status, batch.closed_at, batch.closing_note = BatchStatus.CLOSED, now, note
    custody.record("batch_closed", actor=actor, note=note, details={
        "batch_id": batch.id, "expected": len(rec.expected), "received": len(rec.received),
        "missing": [line.device.tag for line in rec.missing],
        "unexpected": [line.device.tag for line in rec.unexpected], "counts": rec.counts})
    db.session.commit()
    return rec


def slip_devices(rec: Reconciliation) -> tuple[list[Device], list[Device]]:
    """What the donor really handed over with this batch, and the devices received with it that are not part of
    the transfer.

    Handed over: the batch's own devices received, plus devices of the same donor logged in no batch and
    scanned in with it. Not part of it: devices of another donor, or of another batch (they go on that batch's
    slip)."""
    donor_id = rec.batch.donor_organisation_id
    strays = [line.device for line in rec.unexpected]
    own = list(rec.received) + [d for d in strays if d.donor_organisation_id == donor_id and d.batch_id is None]
    others = [d for d in strays if not (d.donor_organisation_id == donor_id and d.batch_id is None)]
    return own, others


def recent_batches(*, actor: Actor, limit: int = 200) -> list[Batch]:
    """The latest batches, a donor's own only, for the device list's batch filter."""
    query = select(Batch).order_by(Batch.created_at.desc(), Batch.id.desc()).limit(limit)
    if actor.role == "donor":
        query = query.where(Batch.donor_organisation_id == actor.organisation_id)
    return db.session.execute(query).unique().scalars().all()
