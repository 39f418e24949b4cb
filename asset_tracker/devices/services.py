"""Device verbs: register, update, transition. The only place device rules live."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from .. import lifecycle
from ..core import Actor, normalise_serial, validate_identity
from ..custody import services as custody
from ..db import utcnow
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..lifecycle import N_, Facts, State, TransitionRefused
from ..organisations.models import Organisation, OrgKind
from ..tags import TagError, format_tag, parse_tag
from . import extension_points
from .models import Device, DeviceType, MediumKind, StorageMedium, TagCounter

DESCRIPTIVE_FIELDS = ("type", "brand", "model", "serial", "imei", "specs", "notes", "unit_value_cents",
                      "donor_inventory_number")


# ---------------------------------------------------------------- scope


# A device no workshop has taken yet is in one of these states (at its donor, or lost on the way).
UNTAKEN_STATES = (State.REGISTERED, State.LOST)


def scope_clause(actor: Actor):
    """The devices an actor may see.

    A donor its own; a technician those of its workshop (the workshop that holds or last held them) and,
    for collection and reception only, devices no workshop has taken yet (registered, or lost on the way);
    a coordinator what it reserved or holds; admins, auditors and the system everything.
    """
    if actor.role in ("admin", "auditor") or actor.role is None:
        return None
    if actor.role == "donor":
        return Device.donor_organisation_id == actor.organisation_id
    if actor.role == "technician":
        return or_(Device.workshop_organisation_id == actor.organisation_id,
                   and_(Device.workshop_organisation_id.is_(None), Device.state.in_(UNTAKEN_STATES)))
    if actor.role == "coordinator":
        return or_(Device.partner_organisation_id == actor.organisation_id,
                   Device.custodian_organisation_id == actor.organisation_id)
    return Device.id.is_(None)


def scoped(query, actor: Actor, *, for_update: bool = False):
    """``query`` limited to the actor's devices; ``for_update``: those it may act on (see get_device)."""
    clause = scope_clause(actor)
    if for_update and actor.role == "technician":
        clause = Device.workshop_organisation_id == actor.organisation_id
    return query if clause is None else query.where(clause)


def claimed_by_other(device: Device, actor: Actor) -> bool:
    """A technician acts on a device only once its workshop has taken it (reading and collecting aside)."""
    return actor.role == "technician" and device.workshop_organisation_id != actor.organisation_id


def get_device(tag_or_id, *, actor: Actor, for_update: bool = False) -> Device:
    """A device in the actor's scope, by tag or id; 404 otherwise (never 403, so tags cannot be probed).

    ``for_update``: the caller changes the device, which a technician may do only to its workshop's devices
    (a registered device no workshop has taken is visible to every workshop, for collection only).
    """
    query = select(Device)
    if isinstance(tag_or_id, int):
        query = query.where(Device.id == tag_or_id)
    else:
        query = query.where(Device.tag == str(tag_or_id).strip().upper())
    device = db.session.execute(scoped(query, actor)).unique().scalar_one_or_none()
    if device is None or (for_update and claimed_by_other(device, actor)):
        raise NotFound("No device %(tag)s.", tag=str(tag_or_id))
    return device


def named_device(tag, *, actor: Actor, field: str = "device_tag", for_update: bool = False) -> Device:
    """A device named in a request body: like get_device, the 404 naming the field."""
    try:
        return get_device(tag, actor=actor, for_update=for_update)
    except NotFound:
        raise unknown_device(tag, field) from None


def unknown_device(tag, field: str = "device_tag") -> NotFound:
    """``unknown_reference`` for a typed tag: the message names the tag, so a list of tags says which one."""
    return NotFound("No device %(tag)s that you can use here.", tag=str(tag).strip().upper(),
                    details={field: ["unknown, or outside your scope"]})


def unknown_reference(field: str) -> NotFound:
    """The one answer to an id in a request body that names nothing the caller may use there: 404.

    An id that does not exist, one outside the caller's scope and an organisation of the wrong kind get
    the same answer, so ids cannot be probed through bodies either.
    """
    return NotFound("%(field)s names nothing you can use here.", field=field,
                    details={field: ["unknown, or outside your scope"]})


# ---------------------------------------------------------------- registration


_CHUNK = 900  # IN (...) lists stay under every database's parameter limit


def allocate_tags(count: int, prefix: str, width: int = 6, session=None) -> list[str]:
    """Reserve ``count`` new tags; the counter row is the lock, so tags are unique and never reused."""
    session = session or db.session
    row = session.execute(
        update(TagCounter).where(TagCounter.prefix == prefix)
        .values(last_value=TagCounter.last_value + count).returning(TagCounter.last_value)
    ).scalar_one_or_none()
    if row is None:
        session.add(TagCounter(prefix=prefix, last_value=count))
        session.flush()
        row = count
    return [format_tag(prefix, n, width) for n in range(row - count + 1, row + 1)]


@dataclass(slots=True)
class NewDevice:
    """One device to register, as the form, the API or a spreadsheet row describes it."""

    type: str | DeviceType
    brand: str | None = None
    model: str | None = None
    serial: str | None = None
    imei: str | None = None
    specs: dict | None = None
    notes: str | None = None
    unit_value_cents: int | None = None
    donor_inventory_number: str | None = None
    tag: str | None = None  # a blank pre-printed tag to bind; none: the next tag of the sequence
    media: list[dict] = field(default_factory=list)  # kind, serial, capacity_bytes and model of each medium
    details: dict | None = None  # what its custody event says besides the device (an import's id and row)


class Registered(NamedTuple):
    id: int
    tag: str


def register_device(
    *, actor: Actor, type: str, donor_organisation_id: int, brand=None, model=None, serial=None, imei=None,
    specs=None, notes=None, unit_value_cents=None, batch_id=None, tag: str | None = None, tag_prefix: str = "RB",
    tag_width: int = 6, media: list[dict] | None = None, commit: bool = True, donor_inventory_number=None,
) -> Device:
    """Log one device at its donor (state `registered`), with its tag and a custody event: `register_many` of one.

    ``tag`` binds a blank pre-printed tag; otherwise the next tag of the sequence is allocated.
    """
    new = NewDevice(type, brand, model, serial, imei, specs, notes, unit_value_cents, donor_inventory_number, tag,
                    list(media or ()), {"preprinted_tag": bool(tag)})
    (registered,) = register_many([new], actor=actor, donor_organisation_id=donor_organisation_id,
                                  batch_id=batch_id, tag_prefix=tag_prefix, tag_width=tag_width, commit=commit)
    return db.session.get(Device, registered.id)


def register_many(
    new: Sequence[NewDevice], *, actor: Actor, donor_organisation_id: int, batch_id=None, tag_prefix: str = "RB",
    tag_width: int = 6, commit: bool = True, registered: tuple[dict, dict] | None = None,
    then: Callable[[list[Registered]], list[dict]] | None = None,
) -> list[Registered]:
    """Log devices of one donor (state `registered`), each with its tag and a custody event; all or none.

    The one registration path (the form, the API and the importers), set-based: the donor and the batch
    checked once, the identities validated (`core.validate_identity`), serial numbers and IMEIs already
    registered found in one query, pre-printed tags claimed through the `tag_claim` extension point and
    the other tags allocated at once, then one multi-row insert of devices and of media and one
    `custody.record_many`. The first refusal raises and nothing is written.

    ``registered``: what `registered_identities` answered for these devices' identities earlier in this
    transaction (an importer sorts its rows with it first), so the look-up is not made twice.
    ``then(registered)``: the caller's own writes once the devices are in (an import's idempotency record),
    made before the chain head is taken (always the last lock); the events it returns follow the devices'.
    """
    donor = db.session.get(Organisation, donor_organisation_id)
    if donor is None or donor.kind != OrgKind.DONOR:
        raise unknown_reference("donor_organisation_id")
    workshop_id = None
    if batch_id is not None:
        resolve = extension_points.points().batch
        if resolve is None:
            raise unknown_reference("batch_id")
        batch = resolve(batch_id, donor.id, actor=actor)  # intake: in scope, open, of this donor
        workshop_id = batch.workshop_organisation_id
    stored = [_stored(item) for item in new]
    _refuse_registered(stored, registered)
    tags = _tags_for(new, donor.id, tag_prefix, tag_width)
    inserted = _insert_devices(new, stored, tags, donor_id=donor.id, batch_id=batch_id, workshop_id=workshop_id)
    events = [_registration_event(item, values, device, donor.id, batch_id)
              for item, values, device in zip(new, stored, inserted, strict=True)]
    if then is not None:
        events += then(inserted)
    custody.record_many(events, actor=actor)
    if commit:
        db.session.commit()
    return inserted


def _stored(item: NewDevice) -> tuple[str, str | None, str | None, str | None]:
    """The device's type, serial number, IMEI and donor inventory number as stored; a wrong identity is refused."""
    serial, imei = normalise_serial(item.serial), (item.imei or "").strip() or None
    errors = validate_identity(serial, imei)
    if errors:
        raise Invalid("Invalid input: %(fields)s", fields=", ".join(errors), details=errors)
    return _enum_value(DeviceType, item.type), serial, imei, (item.donor_inventory_number or "").strip() or None


def _enum_value(kind, value) -> str:
    return value.value if isinstance(value, kind) else kind(value).value


def registered_identities(serials, imeis) -> tuple[dict[str, int | None], dict[str, int | None]]:
    """The serial numbers and the IMEIs among these that a device already has, each with that device's batch.

    One query per chunk of values (both columns indexed).
    """
    wanted_serials, wanted_imeis = set(serials), set(imeis)
    values = [(Device.serial, v) for v in wanted_serials] + [(Device.imei, v) for v in wanted_imeis]
    by_serial: dict[str, int | None] = {}
    by_imei: dict[str, int | None] = {}
    for start in range(0, len(values), _CHUNK):
        chunk = values[start:start + _CHUNK]
        clauses = [column.in_([v for c, v in chunk if c is column]) for column in (Device.serial, Device.imei)
                   if any(c is column for c, _ in chunk)]
        query = select(Device.serial, Device.imei, Device.batch_id).where(or_(*clauses))
        for serial, imei, batch_id in db.session.execute(query).all():
            if serial in wanted_serials:
                by_serial[serial] = batch_id
            if imei in wanted_imeis:
                by_imei[imei] = batch_id
    return by_serial, by_imei


def _refuse_registered(stored: list[tuple], registered: tuple[dict, dict] | None) -> None:
    """A serial number or an IMEI already registered, or given twice in the set, is refused."""
    by_serial, by_imei = registered or registered_identities((v[1] for v in stored if v[1]),
                                                             (v[2] for v in stored if v[2]))
    seen_serials, seen_imeis = set(), set()
    for _type, serial, imei, _inventory in stored:
        if serial and (serial in by_serial or serial in seen_serials):
            raise Conflict("A device with serial number %(serial)s is already registered.", serial=serial,
                           details={"serial": [N_("already registered")]}, code="duplicate_serial")
        if imei and (imei in by_imei or imei in seen_imeis):
            raise Conflict("A device with IMEI %(imei)s is already registered.", imei=imei,
                           details={"imei": [N_("already registered")]}, code="duplicate_imei")
        seen_serials.add(serial)
        seen_imeis.add(imei)


def _tags_for(new: Sequence[NewDevice], donor_id: int, prefix: str, width: int) -> list[str]:
    """Each device's tag: its pre-printed tag, claimed, or the next of the sequence (allocated at once)."""
    given = {}
    for i, item in enumerate(new):
        if item.tag:
            try:
                given[i] = parse_tag(item.tag).text
            except TagError as exc:
                raise Invalid(exc.phrase.template, details={"tag": [exc.phrase]}, **exc.phrase.params) from None
    if given:
        _claim_tags(list(given.values()), donor_id)
    fresh = allocate_tags(len(new) - len(given), prefix, width) if len(new) > len(given) else []
    if not given:
        return fresh
    fresh.reverse()
    return [given[i] if i in given else fresh.pop() for i in range(len(new))]


def _claim_tags(tags: list[str], donor_id: int) -> None:
    """Pre-printed tags: each unbound, then claimed (labels: a blank issued to this donor, never a made-up one)."""
    bound = set(db.session.execute(select(Device.tag).where(Device.tag.in_(tags))).scalars())
    seen = set()
    for tag in tags:
        if tag in bound or tag in seen:
            raise Conflict("Tag %(tag)s is already bound to another device.", tag=tag, code="duplicate_tag")
        seen.add(tag)
    claim = extension_points.points().tag_claim
    for tag in tags:
        if claim is None:
            raise Invalid("Tag %(tag)s was never issued as a blank pre-printed tag. Check the label, or leave the tag "
                          "empty to get a new one.", tag=tag, code="tag_not_issued",
                          details={"preprinted_tag": ["never issued as a blank tag"]})
        claim(tag, donor_id)


def _insert_devices(new: Sequence[NewDevice], stored: list[tuple], tags: list[str], *, donor_id: int, batch_id,
                    workshop_id) -> list[Registered]:
    """One multi-row insert of the devices and one of their media; their ids read back by tag."""
    db.session.flush()  # what the caller added goes first (an import's file record)
    now = utcnow()
    conn = db.session.connection()
    constant = {"state": State.REGISTERED, "state_since": now, "donor_organisation_id": donor_id,
                "custodian_organisation_id": donor_id, "batch_id": batch_id, "workshop_organisation_id": workshop_id,
                "loan": False, "created_at": now, "updated_at": now, "version": 1}
    varying = ("tag", "type", "brand", "model", "serial", "imei", "specs", "notes", "unit_value_cents",
               "donor_inventory_number")
    _bulk_insert(conn, Device.__table__, constant, varying, [
        (tag, kind, item.brand, item.model, serial, imei, json.dumps(item.specs) if item.specs else "{}", item.notes,
         item.unit_value_cents, inventory)
        for item, (kind, serial, imei, inventory), tag in zip(new, stored, tags, strict=True)])
    ids: dict[str, int] = {}
    for start in range(0, len(tags), _CHUNK):
        chunk = tags[start:start + _CHUNK]
        ids.update((tag, device_id) for device_id, tag in
                   conn.execute(select(Device.id, Device.tag).where(Device.tag.in_(chunk))).all())
    registered = [Registered(ids[tag], tag) for tag in tags]
    media = [(device.id, _enum_value(MediumKind, m["kind"]), m.get("model"), m.get("serial"), m.get("capacity_bytes"))
             for item, device in zip(new, registered, strict=True) for m in item.media]
    if media:
        _bulk_insert(conn, StorageMedium.__table__, {"created_at": now},
                     ("device_id", "kind", "model", "serial", "capacity_bytes"), media)
    return registered


def _registration_event(item: NewDevice, stored: tuple, device: Registered, donor_id: int, batch_id) -> dict:
    kind, serial, imei, inventory = stored
    details = {"type": kind, "brand": item.brand, "model": item.model, "serial": serial, "imei": imei,
               "batch_id": batch_id, "media": len(item.media), "donor_inventory_number": inventory}
    if item.details:
        details.update(item.details)
    return {"type": "device_registered", "device_id": device.id, "device_tag": device.tag,
            "state_after": State.REGISTERED, "custodian_after_id": donor_id, "details": details}


def _bulk_insert(conn, table, constant: dict, varying: tuple[str, ...], rows: list[tuple]) -> None:
    """One driver-level executemany: constant columns are converted once by their column type, varying
    columns are given as plain values (strings, integers, JSON text), so 10,000 rows cost no per-row ORM work."""
    dialect = conn.dialect
    names = list(varying) + list(constant)
    if dialect.name == "postgresql":
        # COPY is PostgreSQL's bulk path: one stream instead of one statement per row.
        fixed = tuple(json.dumps(v) if isinstance(v, dict) else getattr(v, "value", v) for v in constant.values())
        with conn.connection.driver_connection.cursor() as cur:
            with cur.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row + fixed)
        return
    fixed = []
    for name, value in constant.items():
        processor = table.c[name].type._cached_bind_processor(dialect)
        fixed.append(processor(value) if processor else value)
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([marker] * len(names))})")
    fixed = tuple(fixed)
    conn.exec_driver_sql(sql, [row + fixed for row in rows])


def update_device(tag: str, changes: dict, *, actor: Actor) -> Device:
    """Change descriptive fields; the custody log keeps before and after of each."""
    device = get_device(tag, actor=actor, for_update=True)
    if actor.role == "donor" and device.state != State.REGISTERED:
        raise Conflict("A donor can edit a device only until it is collected.")
    if "serial" in changes:
        changes["serial"] = normalise_serial(changes["serial"])
    errors = validate_identity(changes.get("serial"), changes.get("imei"))
    if errors:
        raise Invalid("Invalid input: %(fields)s", fields=", ".join(errors), details=errors)
    for key in ("serial", "imei"):
        if changes.get(key) and changes[key] != getattr(device, key):
            if db.session.execute(select(Device.id).where(getattr(Device, key) == changes[key])).first():
                raise Conflict("Another device already has this %(field)s.", field=key, code=f"duplicate_{key}")
    diff = {}
    for key, value in changes.items():
        if key not in DESCRIPTIVE_FIELDS:
            raise Invalid("Field %(field)s cannot be changed here.", field=key)
        if key == "type":
            value = DeviceType(value)
        old = getattr(device, key)
        if old != value:
            diff[key] = {"before": getattr(old, "value", old), "after": getattr(value, "value", value)}
            setattr(device, key, value)
    if diff:
        device.updated_at = utcnow()
        custody.record("device_updated", actor=actor, device=device, details={"changes": diff})
    db.session.commit()
    return device


# ---------------------------------------------------------------- transitions


def facts_for(device: Device, params: dict, today: dt.date | None = None, *, wipe_evidence: bool = True,
              wipe_check: bool = False) -> Facts:
    """What the guards need: the device after the step's inputs are applied, and what capabilities add.

    The registered facts providers (wiping: the media cleared, the second-person check) add their fields;
    the wipe evidence costs a few queries, and only the `wiped` guard reads it (``wipe_evidence=False``
    skips it), and only the `ready` guard reads the second-person check (``wipe_check``).
    """
    extra = {}
    for provider in extension_points.points().facts:
        extra.update(provider(device, wipe_evidence=wipe_evidence, wipe_check=wipe_check))
    return Facts(
        verdict=params.get("verdict") or (device.verdict.value if device.verdict else None),
        grade=params.get("grade") or (device.grade.value if device.grade else None),
        programme_id=params.get("programme_id") or device.programme_id,
        partner_id=params.get("partner_organisation_id") or device.partner_organisation_id,
        beneficiary_ref=params.get("beneficiary_ref"),
        loan=bool(params.get("loan")), expected_return_on=params.get("expected_return_on"),
        recycler_id=params.get("recycler_organisation_id"), reason=params.get("reason"),
        today=today or utcnow().date(), **extra,
    )


def _custodian_after(device: Device, target: State, params: dict, actor: Actor) -> int | None:
    if target in (State.COLLECTED, State.RECEIVED):
        wanted = params.get("custodian_organisation_id") or actor.organisation_id
        org = db.session.get(Organisation, wanted) if wanted else None
        named = params.get("custodian_organisation_id")
        if named and (org is None or (actor.role == "technician" and org.kind == OrgKind.WORKSHOP
                                      and org.id != actor.organisation_id)):
            raise unknown_reference("custodian_organisation_id")  # a technician hands over to its own workshop
        if org is None or org.kind != OrgKind.WORKSHOP:
            if target == State.COLLECTED and org is not None and params.get("custodian_organisation_id"):
                return org.id  # a named carrier
            raise Invalid("Say which workshop takes the device (custodian_organisation_id).",
                          details={"custodian_organisation_id": ["a workshop organisation is required"]})
        return org.id
    if target in (State.HANDED_OVER, State.RETURNED):
        return device.partner_organisation_id
    if target == State.RECYCLED:
        return params.get("recycler_organisation_id")
    if target == State.LOST:
        return None
    return device.custodian_organisation_id


def _workshop_after(device: Device, target: State, custodian_after: int | None, actor: Actor) -> int | None:
    """The workshop a device belongs to after a step: the workshop that takes it at collection or reception."""
    if target in (State.COLLECTED, State.RECEIVED):
        org = db.session.get(Organisation, custodian_after) if custodian_after else None
        if org is not None and org.kind == OrgKind.WORKSHOP:
            return org.id
        if actor.role == "technician":  # collected by a named carrier for this technician's workshop
            return actor.organisation_id
    return device.workshop_organisation_id


def _check_org(org_id, kind: OrgKind, field: str):
    if org_id is None:
        return
    org = db.session.get(Organisation, org_id)
    if org is None or org.kind != kind:
        raise unknown_reference(field)


# Steps that keep records of their own (reservation, hand-over and kit, return, recycling): only the
# distribution services take them, so no device is reserved or handed over without those records.
DISTRIBUTION_STEPS = frozenset({State.RESERVED, State.HANDED_OVER, State.RETURNED, State.RECYCLED})


def lock_devices(device_ids) -> None:
    """Row-lock devices in id order before moving several in one transaction.

    Each transition takes the chain head; a bulk mover must already hold every device row it will
    move, or it could wait for a row while holding the head that the row's holder waits for.
    SQLite serialises writers anyway (and ignores FOR UPDATE).
    """
    ids = sorted(set(device_ids))
    if ids:
        db.session.execute(select(Device.id).where(Device.id.in_(ids)).order_by(Device.id).with_for_update())


def is_distribution_step(source: State, target: State) -> bool:
    return target in DISTRIBUTION_STEPS or (source == State.RESERVED and target == State.READY)


def _check_who(device: Device, target: State, actor: Actor) -> None:
    """Another workshop's device is unknown (except a collection or reception of an unclaimed one); roles."""
    if claimed_by_other(device, actor) and not (device.workshop_organisation_id is None
                                                and target in (State.COLLECTED, State.RECEIVED)):
        raise NotFound("No device %(tag)s.", tag=device.tag)
    if actor.role not in (None, "admin") and actor.role not in lifecycle.ROLES_FOR.get(target, ()):
        raise Conflict("Your role (%(role)s) cannot move a device to %(target)s.", role=actor.role,
                       target=target.value, code="role_not_allowed")


def _check_move(device: Device, source: State, target: State, params: dict, via_distribution: bool) -> None:
    """The lifecycle allows the move and its guards pass; distribution steps go through the distribution."""
    if lifecycle.is_allowed(source, target) and is_distribution_step(source, target) and not via_distribution:
        raise Conflict("Reservations, hand-overs, returns and recycling are recorded on the distribution pages "
                       "(or their API), which keep the reservation, the kit and the beneficiary reference.",
                       code="use_distribution", details={"from": source.value, "to": target.value})
    try:
        lifecycle.check_transition(source, target, facts_for(device, params, wipe_evidence=target == State.WIPED,
                                                                 wipe_check=target == State.READY))
    except TransitionRefused as exc:
        r = exc.refusal
        raise Conflict(r.message, code=r.code, details={"from": source.value, "to": target.value}, **r.params) from None


# What a move to each state sets on the device besides its state: (device, source, params, now) -> values.


def _received_values(device: Device, source: State, params: dict, now: dt.datetime) -> dict:
    return {"last_received_at": now, "expected_return_on": None}


def _diagnosed_values(device: Device, source: State, params: dict, now: dt.datetime) -> dict:
    return {"verdict": lifecycle.Verdict(params["verdict"]) if params.get("verdict") else device.verdict}


def _ready_values(device: Device, source: State, params: dict, now: dt.datetime) -> dict:
    values = {"grade": lifecycle.Grade(params.get("grade") or device.grade.value)}
    if source == State.RESERVED:  # reservation cancelled
        values["programme_id"] = None
        values["partner_organisation_id"] = None
    return values


def _reserved_values(device: Device, source: State, params: dict, now: dt.datetime) -> dict:
    return {"programme_id": params["programme_id"], "partner_organisation_id": params["partner_organisation_id"]}


def _handed_over_values(device: Device, source: State, params: dict, now: dt.datetime) -> dict:
    return {"loan": bool(params.get("loan")),
            "expected_return_on": params.get("expected_return_on") if params.get("loan") else None}


def _no_return_expected(device: Device, source: State, params: dict, now: dt.datetime) -> dict:
    return {"expected_return_on": None}


def _recycled_values(device: Device, source: State, params: dict, now: dt.datetime) -> dict:
    return {"recycler_organisation_id": params["recycler_organisation_id"]}


_TARGET_VALUES = {
    State.RECEIVED: _received_values,
    State.DIAGNOSED: _diagnosed_values,
    State.READY: _ready_values,
    State.RESERVED: _reserved_values,
    State.HANDED_OVER: _handed_over_values,
    State.RETURNED: _no_return_expected,
    State.LOST: _no_return_expected,
    State.RECYCLED: _recycled_values,
}


@dataclass
class _Move:
    """One device's planned step: what the compare-and-set writes and what its event says."""
    device: Device
    source: State
    custodian_before: int | None
    custodian_after: int | None
    values: dict


def _target_state(target) -> State:
    try:
        return State(target)
    except ValueError:
        raise Invalid("Unknown state %(state)s.", state=str(target), details={"target": ["unknown state"]}) from None


def _plan(device: Device, target: State, params: dict, actor: Actor, via_distribution: bool,
          now: dt.datetime) -> _Move:
    """Check that ``device`` may move to ``target`` (roles, lifecycle, guards) and compute what the move writes."""
    _check_who(device, target, actor)
    _check_org(params.get("recycler_organisation_id"), OrgKind.RECYCLER, "recycler_organisation_id")
    _check_org(params.get("partner_organisation_id"), OrgKind.PARTNER, "partner_organisation_id")
    source = device.state
    _check_move(device, source, target, params, via_distribution)
    custodian_after = _custodian_after(device, target, params, actor)
    values = {"state": target, "state_since": now, "updated_at": now, "custodian_organisation_id": custodian_after}
    workshop_after = _workshop_after(device, target, custodian_after, actor)
    if workshop_after != device.workshop_organisation_id:
        values["workshop_organisation_id"] = workshop_after
    setter = _TARGET_VALUES.get(target)
    if setter is not None:
        values.update(setter(device, source, params, now))
    return _Move(device, source, device.custodian_organisation_id, custodian_after, values)


def _event_details(params: dict, event_details: dict | None) -> dict:
    details = {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v)
               for k, v in params.items() if v is not None and k not in ("beneficiary_ref",)}
    details.update(event_details or {})
    return details


def _concurrent_change(device: Device) -> Conflict:
    db.session.rollback()
    return Conflict("Device %(tag)s was changed by someone else at the same moment; reload and try again.",
                    tag=device.tag, code="concurrent_change")


def _keep_in_step(move: _Move) -> None:
    """The compare-and-set succeeded, so the row now holds exactly these values: keep the object in step
    without reading it back (a scan saves its round trips while it holds the chain lock)."""
    device = move.device
    values = {**move.values, "version": device.version + 1}
    for key, value in values.items():
        set_committed_value(device, key, value)
    db.session.expire(device, ["custodian", "partner", "recycler"])  # their keys may have changed


def transition(
    tag_or_device, target: str | State, *, actor: Actor, params: dict | None = None, note: str | None = None,
    client_time: dt.datetime | None = None, station: str | None = None, commit: bool = True,
    event_details: dict | None = None, via_distribution: bool = False,
) -> Device:
    """Move a device to ``target`` if the lifecycle and its guards allow it.

    Reservation, hand-over, return, cancellation and recycling are taken only with
    ``via_distribution`` (by asset_tracker.distribution.services, which keeps their records).

    The write is a compare-and-set on the state read here, so of two concurrent moves of one
    device exactly one wins; the loser gets 409 and nothing is written for it.
    """
    params = dict(params or {})
    target = _target_state(target)
    device = tag_or_device if isinstance(tag_or_device, Device) else get_device(tag_or_device, actor=actor)
    if target == State.LOST and not params.get("reason"):
        params["reason"] = note  # a note given when declaring a device lost is its reason
    move = _plan(device, target, params, actor, via_distribution, utcnow())

    result = db.session.execute(
        update(Device).where(and_(Device.id == device.id, Device.state == move.source))
        .values(**move.values, version=Device.version + 1).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise _concurrent_change(device)
    details = _event_details(params, event_details)
    for hook in extension_points.points().on_enter.get(target, ()):  # e.g. wiping draws its second-person check
        details.update(hook(device, actor=actor))
    custody.record("state_changed", actor=actor, device=device, state_before=move.source, state_after=target,
                   custodian_before_id=move.custodian_before, custodian_after_id=move.custodian_after,
                   client_time=client_time, station=station, note=note, details=details)
    _keep_in_step(move)
    if commit:
        db.session.commit()
    else:
        db.session.flush()
    return device


def transition_many(devices: Sequence[Device], target: str | State, *, actor: Actor, params: dict | None = None,
                    note: str | None = None, event_details: dict | None = None) -> int:
    """``transition`` for devices that move together (a batch's pickup), in the caller's transaction.

    Every device is checked exactly as ``transition`` checks one (roles, lifecycle, guards; the first refusal
    refuses the set); devices whose move writes the same values share one compare-and-set, and the events are
    appended with one ``record_many``. The caller locks the rows first (``lock_devices``) and commits.
    Distribution steps are not taken here: they keep records of their own, one device at a time.
    """
    params = dict(params or {})
    target = _target_state(target)
    now = utcnow()
    moves = [_plan(device, target, params, actor, False, now) for device in devices]
    groups: dict[tuple, list[_Move]] = {}
    for move in moves:
        groups.setdefault((move.source, tuple(sorted(move.values.items()))), []).append(move)
    for (source, _values), members in groups.items():
        ids = [m.device.id for m in members]
        result = db.session.execute(
            update(Device).where(and_(Device.id.in_(ids), Device.state == source))
            .values(**members[0].values, version=Device.version + 1).execution_options(synchronize_session=False))
        if result.rowcount != len(ids):
            raise _concurrent_change(members[0].device)
    hooks = extension_points.points().on_enter.get(target, ())
    events = []
    for move in moves:
        details = _event_details(params, event_details)
        for hook in hooks:
            details.update(hook(move.device, actor=actor))
        events.append({"type": "state_changed", "device": move.device, "state_before": move.source,
                       "state_after": target, "custodian_before_id": move.custodian_before,
                       "custodian_after_id": move.custodian_after, "note": note, "details": details})
    custody.record_many(events, actor=actor)
    for move in moves:
        _keep_in_step(move)
    db.session.flush()
    return len(moves)


def state_counts(actor: Actor) -> dict[str, int]:
    query = scoped(select(Device.state, func.count()).group_by(Device.state), actor)
    return {s.value: n for s, n in db.session.execute(query).all()}
