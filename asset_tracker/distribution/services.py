"""Distribution verbs: programmes, reservations, kits, hand-over, return, erasure of references, recycling."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

from flask import has_request_context
from flask_babel import get_locale
from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..core import Actor, validate_identity
from ..custody import services as custody
from ..db import reclaim_erased_space, utcnow
from ..devices import services as devices
from ..devices.models import DEVICE_TYPE_LABELS, Device, DeviceType
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..lifecycle import Grade, State
from ..organisations.models import Organisation, OrgKind
from .models import (
    ACCESSORY_MOVES,
    Accessory,
    AccessoryKind,
    AccessoryStatus,
    Handover,
    HandoverItem,
    KitKind,
    Programme,
    ProgrammeTarget,
    Recycling,
    Reservation,
    programme_partners,
)
from .references import ReferenceRefused, reference_hmac, validate_reference

ICCID_RE = re.compile(r"^89[0-9]{17,20}$")
ACCESSORY_TAG_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
UNIT_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
BENEFICIARY_POLICIES = ("allow", "warn", "refuse")


# ---------------------------------------------------------------- programmes


def programme_scope(actor: Actor):
    """Programmes an actor may see.

    All for the workshop, admins and auditors; its own for an owner; allowed ones for a partner.
    """
    if actor.role in ("admin", "auditor", "technician", None):
        return None
    if actor.role == "coordinator":
        allowed = select(programme_partners.c.programme_id).where(
            programme_partners.c.organisation_id == actor.organisation_id)
        return or_(Programme.id.in_(allowed), Programme.owner_organisation_id == actor.organisation_id)
    return Programme.owner_organisation_id == actor.organisation_id


def list_programmes(*, actor: Actor) -> list[Programme]:
    query = select(Programme).order_by(Programme.name)
    clause = programme_scope(actor)
    if clause is not None:
        query = query.where(clause)
    return db.session.execute(query).unique().scalars().all()


def get_programme(programme_id: int, *, actor: Actor) -> Programme:
    query = select(Programme).where(Programme.id == programme_id)
    clause = programme_scope(actor)
    if clause is not None:
        query = query.where(clause)
    programme = db.session.execute(query).unique().scalar_one_or_none()
    if programme is None:
        raise NotFound("No programme %(id)s.", id=programme_id)
    return programme


def _named_programme(programme_id, actor: Actor) -> Programme:
    """A programme named in a request body: unknown or outside the caller's scope is the same 404."""
    try:
        return get_programme(programme_id, actor=actor)
    except NotFound:
        raise devices.unknown_reference("programme_id") from None


def _partners(ids) -> list[Organisation]:
    ids = sorted(set(ids or ()))
    orgs = db.session.execute(select(Organisation).where(Organisation.id.in_(ids))).scalars().all() if ids else []
    if len(orgs) != len(ids) or any(o.kind != OrgKind.PARTNER for o in orgs):
        raise devices.unknown_reference("partner_ids")
    return orgs


def _kit_kinds(specs) -> list[KitKind]:
    """Kit kinds from plain dicts {code, name, device_types, accessory_kinds}, checked."""
    kinds, seen = [], set()
    types = {t.value for t in DeviceType}
    accessory_kinds = {k.value for k in AccessoryKind}
    for spec in specs or ():
        code = (spec.get("code") or "").strip().lower()
        if not UNIT_RE.match(code) or code in types or code == "device":
            raise Invalid("A kit kind needs a code of lower-case letters, digits and _ that is not a device type.",
                          details={"kit_kinds": [f"bad code {code!r}"]})
        if code in seen:
            raise Invalid("The kit kind %(code)s is defined twice.", code=code, details={"kit_kinds": ["duplicate"]})
        seen.add(code)
        device_types = sorted(set(spec.get("device_types") or ()))
        parts = list(dict.fromkeys(spec.get("accessory_kinds") or ()))
        if set(device_types) - types or set(parts) - accessory_kinds:
            raise Invalid("A kit holds a device of a known type and accessories of known kinds.",
                          details={"kit_kinds": [f"{code}: unknown type or accessory kind"]})
        kinds.append(KitKind(code=code, name=(spec.get("name") or code).strip()[:100], device_types=device_types,
                             accessory_kinds=parts))
    return kinds


def _targets(specs, kit_codes) -> list[ProgrammeTarget]:
    """Targets from plain dicts {unit, count}: a unit is a device type, "device" (any type) or a kit kind code."""
    targets, seen = [], set()
    allowed = {t.value for t in DeviceType} | {"device"} | set(kit_codes)
    for position, spec in enumerate(specs or ()):
        unit, count = (spec.get("unit") or "").strip(), spec.get("count")
        if unit not in allowed:
            raise Invalid("A target counts a device type or one of the programme's kit kinds, not %(unit)s.",
                          unit=unit, details={"targets": [f"unknown unit {unit!r}"]})
        if unit in seen:
            raise Invalid("The target %(unit)s is given twice.", unit=unit, details={"targets": ["duplicate unit"]})
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise Invalid("A target is a whole number of devices or kits.", details={"targets": ["count >= 0"]})
        seen.add(unit)
        targets.append(ProgrammeTarget(unit=unit, count=count, position=position))
    return targets


def create_programme(*, actor: Actor, name: str, owner_organisation_id: int, targets=(), kit_kinds=(),
                     starts_on: dt.date | None = None, ends_on: dt.date | None = None, beneficiary_categories=(),
                     partner_ids=(), description: str | None = None, beneficiary_policy: str = "warn") -> Programme:
    """A programme with its targets, its kit kinds and the partners allowed to distribute for it."""
    name = (name or "").strip()
    if not name:
        raise Invalid("A programme needs a name.", details={"name": ["required"]})
    if db.session.execute(select(Programme.id).where(Programme.name == name)).first():
        raise Conflict("A programme named %(name)s already exists.", name=name, code="duplicate_name")
    owner = db.session.get(Organisation, owner_organisation_id)
    if owner is None:
        raise devices.unknown_reference("owner_organisation_id")
    if starts_on and ends_on and ends_on < starts_on:
        raise Invalid("The programme ends before it starts.", details={"ends_on": ["before starts_on"]})
    if beneficiary_policy not in BENEFICIARY_POLICIES:
        raise Invalid("The second-device policy is allow, warn or refuse.",
                      details={"beneficiary_policy": ["allow, warn or refuse"]})
    kinds = _kit_kinds(kit_kinds)
    target_rows = _targets(targets, [k.code for k in kinds])
    categories = [c.strip() for c in beneficiary_categories or () if c and c.strip()]
    programme = Programme(name=name, owner_organisation_id=owner.id, starts_on=starts_on, ends_on=ends_on,
                          beneficiary_categories=categories, description=description,
                          beneficiary_policy=beneficiary_policy)
    programme.kit_kinds = kinds
    programme.targets = target_rows
    programme.partners = _partners(partner_ids)
    db.session.add(programme)
    db.session.flush()
    custody.record("programme_created", actor=actor, details={
        "programme_id": programme.id, "name": name, "owner_organisation_id": owner.id,
        "targets": [{"unit": t.unit, "count": t.count} for t in target_rows],
        "kit_kinds": [_kit_kind_summary(k) for k in kinds], "beneficiary_policy": beneficiary_policy,
        "beneficiary_categories": categories, "partner_ids": [p.id for p in programme.partners]})
    db.session.commit()
    return programme


def _kit_kind_summary(k: KitKind) -> dict:
    return {"code": k.code, "name": k.name, "device_types": k.device_types, "accessory_kinds": k.accessory_kinds}


def set_targets(programme_id: int, *, actor: Actor, targets, kit_kinds=None,
                beneficiary_policy: str | None = None) -> Programme:
    """Replace a programme's targets (and, when given, its kit kinds and second-device policy).

    A kit kind already used by a reservation or a hand-over keeps its row: it may change what it holds,
    not disappear.
    """
    programme = get_programme(programme_id, actor=actor)
    before = {"targets": [{"unit": t.unit, "count": t.count} for t in programme.targets],
              "kit_kinds": [_kit_kind_summary(k) for k in programme.kit_kinds],
              "beneficiary_policy": programme.beneficiary_policy}
    if beneficiary_policy is not None:
        if beneficiary_policy not in BENEFICIARY_POLICIES:
            raise Invalid("The second-device policy is allow, warn or refuse.",
                          details={"beneficiary_policy": ["allow, warn or refuse"]})
        programme.beneficiary_policy = beneficiary_policy
    if kit_kinds is not None:
        wanted = {k.code: k for k in _kit_kinds(kit_kinds)}
        for kind in list(programme.kit_kinds):
            if kind.code in wanted:
                new = wanted.pop(kind.code)
                kind.name, kind.device_types, kind.accessory_kinds = new.name, new.device_types, new.accessory_kinds
            elif _kit_kind_used(kind.id):
                raise Conflict("The kit kind %(code)s has reservations or hand-overs: it cannot be removed.",
                               code=kind.code)
            else:
                programme.kit_kinds.remove(kind)
        programme.kit_kinds.extend(wanted.values())
    rows = _targets(targets, [k.code for k in programme.kit_kinds])
    programme.targets.clear()
    db.session.flush()
    programme.targets.extend(rows)
    db.session.flush()
    after = {"targets": [{"unit": t.unit, "count": t.count} for t in programme.targets],
             "kit_kinds": [_kit_kind_summary(k) for k in programme.kit_kinds],
             "beneficiary_policy": programme.beneficiary_policy}
    if before != after:
        custody.record("programme_targets_changed", actor=actor,
                       details={"programme_id": programme.id, "before": before, "after": after})
    db.session.commit()
    return programme


def _kit_kind_used(kind_id: int) -> bool:
    return bool(
        db.session.execute(select(Handover.id).where(Handover.kit_kind_id == kind_id).limit(1)).first()
        or db.session.execute(select(Reservation.id).where(Reservation.kit_kind_id == kind_id).limit(1)).first()
    )


def set_programme_partners(programme_id: int, partner_ids, *, actor: Actor) -> Programme:
    programme = get_programme(programme_id, actor=actor)
    before = sorted(p.id for p in programme.partners)
    programme.partners = _partners(partner_ids)
    after = sorted(p.id for p in programme.partners)
    if before != after:
        custody.record("programme_partners_changed", actor=actor,
                       details={"programme_id": programme.id, "before": before, "after": after})
    db.session.commit()
    return programme


def targets_progress(programmes: list[Programme]) -> dict[int, list[dict]]:
    """Each programme's targets with what is done and reserved: {programme id: [{unit, count, done, reserved}]}.

    Done: beneficiaries served inside the programme's period (``starts_on``..``ends_on`` on the hand-over date),
    counted once per unit by the keyed hash of their reference, so a replacement for the same beneficiary
    adds nothing. A device handed over alone counts for its type (and for a "device" target); a kit counts for
    its kit kind only when it was complete (no missing part). A later return does not take a hand-over back:
    the beneficiary was equipped. Reserved: active reservations, by the same units.
    Two grouped queries for all the programmes, whatever their number.
    """
    ids = [p.id for p in programmes]
    if not ids:
        return {}
    unit = case((Handover.kit_kind_id.is_not(None), KitKind.code), else_=Device.type)
    served = (select(Handover.programme_id, unit, Handover.kit_kind_id.is_not(None),
                     func.count(func.distinct(Handover.beneficiary_ref_hmac)))
              .join(Device, Device.id == Handover.device_id)
              .outerjoin(KitKind, KitKind.id == Handover.kit_kind_id)
              .join(Programme, Programme.id == Handover.programme_id)
              .where(Handover.programme_id.in_(ids),
                     or_(Handover.kit_kind_id.is_(None), Handover.kit_complete.is_(True)),
                     or_(Programme.starts_on.is_(None), Handover.handed_over_on >= Programme.starts_on),
                     or_(Programme.ends_on.is_(None), Handover.handed_over_on <= Programme.ends_on))
              .group_by(Handover.programme_id, unit, Handover.kit_kind_id.is_not(None)))
    done: dict[tuple, int] = {}
    for pid, u, is_kit, n in db.session.execute(served).all():
        u = getattr(u, "value", u)
        done[(pid, u)] = done.get((pid, u), 0) + n
        if not is_kit:
            done[(pid, "device")] = done.get((pid, "device"), 0) + n
    r_unit = case((Reservation.kit_kind_id.is_not(None), KitKind.code), else_=Device.type)
    reserved_rows = db.session.execute(
        select(Reservation.programme_id, r_unit, Reservation.kit_kind_id.is_not(None), func.count())
        .join(Device, Device.id == Reservation.device_id).outerjoin(KitKind, KitKind.id == Reservation.kit_kind_id)
        .where(Reservation.programme_id.in_(ids), Reservation.active.is_(True))
        .group_by(Reservation.programme_id, r_unit, Reservation.kit_kind_id.is_not(None))).all()
    reserved: dict[tuple, int] = {}
    for pid, u, is_kit, n in reserved_rows:
        u = getattr(u, "value", u)
        reserved[(pid, u)] = reserved.get((pid, u), 0) + n
        if not is_kit:
            reserved[(pid, "device")] = reserved.get((pid, "device"), 0) + n
    out = {}
    for p in programmes:
        rows = []
        for t in p.targets:
            d = done.get((p.id, t.unit), 0)
            rows.append({"unit": t.unit, "label": unit_label(p, t.unit), "count": t.count, "done": d,
                         "reserved": reserved.get((p.id, t.unit), 0),
                         "percent": round(100 * d / t.count, 1) if t.count else None})
        out[p.id] = rows
    return out


def progress(programme: Programme) -> dict:
    """One programme's targets with their progress, and what is reserved for it now."""
    rows = targets_progress([programme])[programme.id]
    reserved = db.session.scalar(select(func.count()).select_from(Reservation).where(
        Reservation.programme_id == programme.id, Reservation.active.is_(True))) or 0
    return {"programme_id": programme.id, "targets": rows, "reserved": reserved,
            "handed_over": sum(r["done"] for r in rows)}


def unit_label(programme: Programme, unit: str, locale: str | None = None) -> str:
    """A target's unit as people say it: the kit kind's name, or the device type's label."""
    for kind in programme.kit_kinds:
        if kind.code == unit:
            return kind.name
    if unit == "device":
        return {"fr": "Appareils", "en": "Devices"}[_locale(locale)]
    try:
        return DEVICE_TYPE_LABELS[DeviceType(unit)][_locale(locale)]
    except ValueError:
        return unit


def _locale(locale: str | None) -> str:
    if locale in ("fr", "en"):
        return locale
    if not has_request_context():
        return "fr"
    return "en" if str(get_locale() or "fr").startswith("en") else "fr"


# ---------------------------------------------------------------- reservations


def _allowed_partner(programme: Programme, partner_id: int | None, actor: Actor) -> int:
    if actor.role == "coordinator":
        if partner_id not in (None, actor.organisation_id):
            raise Invalid("A coordinator reserves for their own organisation only.",
                          details={"partner_organisation_id": ["server-owned for coordinators"]})
        partner_id = actor.organisation_id
    if partner_id is None:
        raise Invalid("Say which partner organisation the devices are reserved for.",
                      details={"partner_organisation_id": ["required"]})
    partner = db.session.get(Organisation, partner_id)
    if partner is None or partner.kind != OrgKind.PARTNER:
        raise devices.unknown_reference("partner_organisation_id")
    if partner_id not in {p.id for p in programme.partners}:
        raise Conflict("This partner is not allowed to distribute for the programme %(programme)s.",
                       programme=programme.name, code="partner_not_allowed")
    return partner_id


def _reserve(device: Device, programme: Programme, partner_id: int, actor: Actor, note: str | None,
             kind: KitKind | None = None, lacking: list[str] | None = None) -> Reservation:
    if device.state != State.READY:
        raise Conflict("Device %(tag)s is %(state)s: only a ready device can be reserved.", tag=device.tag,
                       state=device.state.value, code="not_ready")
    reservation = Reservation(device_id=device.id, programme_id=programme.id, partner_organisation_id=partner_id,
                              kit_kind_id=kind.id if kind else None, active=True, reserved_by_user_id=actor.user_id,
                              created_at=utcnow())
    db.session.add(reservation)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Device %(tag)s is already reserved.", tag=device.tag, code="already_reserved") from None
    devices.transition(device, State.RESERVED, actor=actor, note=note, commit=False, via_distribution=True,
                       params={"programme_id": programme.id, "partner_organisation_id": partner_id},
                       event_details={"reservation_id": reservation.id,
                                      **({"kit_kind": kind.code, "missing_parts": lacking or []} if kind else {})})
    return reservation


def _ready_device(tag: str) -> Device:
    """A ready device by tag for reservation: stock is visible to everyone who may reserve."""
    device = (
        db.session.execute(select(Device).where(Device.tag == str(tag).strip().upper())).unique().scalar_one_or_none()
    )
    if device is None:
        raise devices.unknown_device(tag)
    return device


def reserve_device(tag: str, *, actor: Actor, programme_id: int, partner_organisation_id: int | None = None,
                   note: str | None = None, kit_kind: str | None = None) -> Reservation:
    """Set one ready device aside for a programme and an allowed partner (as a kit of a kind, when given)."""
    programme = _named_programme(programme_id, actor)
    partner_id = _allowed_partner(programme, partner_organisation_id, actor)
    kind = _kit_kind(programme, kit_kind)
    device = _ready_device(tag)
    if devices.claimed_by_other(device, actor):  # a technician reserves its own workshop's stock
        raise devices.unknown_device(tag)
    if device.state != State.READY:
        devices.named_device(device.tag, actor=actor)  # stock is public to reservers; anything else stays in scope
    # A kit may be reserved in part: what it lacks is recorded, and may be added at the hand-over.
    lacking = missing_parts(kind, device, kit_of(device)) if kind is not None else None
    reservation = _reserve(device, programme, partner_id, actor, note, kind, lacking)
    db.session.commit()
    return reservation


def reserve_devices(tags, *, actor: Actor, programme_id: int, partner_organisation_id: int | None = None,
                    note: str | None = None) -> list[Reservation]:
    """Reserve the chosen ready devices (the device list's selection) for a programme and partner — all or none."""
    programme = _named_programme(programme_id, actor)
    partner_id = _allowed_partner(programme, partner_organisation_id, actor)
    chosen = [_ready_device(tag) for tag in dict.fromkeys(str(t).strip().upper() for t in tags if t)]
    if not chosen:
        raise Invalid("Give the tags of the devices to reserve.", details={"device_tag": ["required"]})
    for device in chosen:
        if device.state != State.READY:
            devices.named_device(device.tag, actor=actor)  # stock is public to reservers; anything else stays in scope
    devices.lock_devices(d.id for d in chosen)
    reservations = [_reserve(device, programme, partner_id, actor, note) for device in chosen]
    db.session.commit()
    return reservations


def available_stock(*, type: str | None = None, grades=None) -> list[dict]:
    """Ready devices by type and grade, for the reservation form."""
    query = (select(Device.type, Device.grade, func.count()).where(Device.state == State.READY)
             .group_by(Device.type, Device.grade).order_by(Device.type, Device.grade))
    if type:
        query = query.where(Device.type == DeviceType(type))
    if grades:
        query = query.where(Device.grade.in_([Grade(g) for g in grades]))
    return [{"type": t.value, "grade": g.value if g else None, "count": n} for t, g, n in db.session.execute(query)]


def complete_kit_clause(kind: KitKind):
    """SQL: a ready device whose kit is a complete ``kind`` (its type fits, every accessory kind is in its kit)."""
    parts = [Device.state == State.READY]
    if kind.device_types:
        parts.append(Device.type.in_([DeviceType(t) for t in kind.device_types]))
    for accessory_kind in kind.accessory_kinds:
        parts.append(exists().where(Accessory.device_id == Device.id, Accessory.status == AccessoryStatus.IN_KIT,
                                    Accessory.kind == AccessoryKind(accessory_kind)))
    return and_(*parts)


def coordinator_stock(*, actor: Actor) -> dict:
    """What a partner may reserve: counts only, never a device, a reservation or another organisation.

    Ready devices by type and grade, and complete kits of each kit kind of the programmes the actor's
    organisation is a partner of (a coordinator), or of every programme (workshop, admins, auditors).
    Reserved devices are not stock, whoever reserved them.
    """
    programmes = list_programmes(actor=actor)
    if actor.role == "coordinator":
        programmes = [p for p in programmes if actor.organisation_id in {o.id for o in p.partners}]
    kits = []
    for programme in programmes:
        for kind in programme.kit_kinds:
            rows = db.session.execute(select(Device.type, Device.grade, func.count()).where(complete_kit_clause(kind))
                                      .group_by(Device.type, Device.grade).order_by(Device.type, Device.grade)).all()
            kits += [{"programme_id": programme.id, "programme": programme.name, "kit_kind": kind.code,
                      "name": kind.name, "type": t.value, "grade": g.value if g else None, "count": n}
                     for t, g, n in rows]
    return {"programmes": [{"id": p.id, "name": p.name} for p in programmes],
            "devices": available_stock() if programmes else [], "kits": kits}


def reserve_bulk(*, actor: Actor, programme_id: int, count: int, type: str | None = None, grades=None,
                 partner_organisation_id: int | None = None, note: str | None = None,
                 kit_kind: str | None = None) -> list[Reservation]:
    """Reserve ``count`` ready devices of a type (and grades), or complete kits of a kind.

    Oldest first — all or none.
    """
    if not count or count < 1:
        raise Invalid("Say how many devices to reserve.", details={"count": ["at least 1"]})
    try:
        device_type = DeviceType(type) if type else None
        grade_values = [Grade(g) for g in (grades or ())]
    except ValueError as exc:
        raise Invalid("Invalid input: %(fields)s", fields=str(exc)) from None
    programme = _named_programme(programme_id, actor)
    partner_id = _allowed_partner(programme, partner_organisation_id, actor)
    kind = _kit_kind(programme, kit_kind)
    if device_type is None and kind is None:
        raise Invalid("A bulk reservation needs a device type or a kit kind.", details={"type": ["required"]})
    query = select(Device).where(Device.state == State.READY).order_by(Device.state_since, Device.id).limit(count)
    if device_type is not None:
        query = query.where(Device.type == device_type)
    if kind is not None:
        query = query.where(complete_kit_clause(kind))
    if grade_values:
        query = query.where(Device.grade.in_(grade_values))
    if actor.role == "technician":  # a technician reserves its own workshop's stock
        query = query.where(Device.workshop_organisation_id == actor.organisation_id)
    chosen = db.session.execute(query).unique().scalars().all()
    if len(chosen) < count:
        raise Conflict("Only %(available)s ready devices match (%(type)s, grade %(grades)s); %(count)s were asked.",
                       available=len(chosen), type=kind.name if kind else device_type.value,
                       grades="/".join(g.value for g in grade_values) or "A/B/C", count=count,
                       code="not_enough_stock")
    devices.lock_devices(d.id for d in chosen)
    reservations = [_reserve(device, programme, partner_id, actor, note, kind, []) for device in chosen]
    db.session.commit()
    return reservations


def active_reservation(device: Device) -> Reservation | None:
    return db.session.execute(select(Reservation).where(Reservation.device_id == device.id,
                                                        Reservation.active.is_(True))).unique().scalar_one_or_none()


def cancel_reservation(tag: str, *, actor: Actor, note: str | None = None) -> Device:
    """Give a reserved device back to stock (ready)."""
    device = devices.get_device(tag, actor=actor)
    reservation = active_reservation(device)
    if reservation is None or device.state != State.RESERVED:
        raise Conflict("Device %(tag)s has no active reservation.", tag=device.tag, code="not_reserved")
    reservation.active, reservation.outcome, reservation.ended_at = False, "cancelled", utcnow()
    db.session.flush()
    devices.transition(device, State.READY, actor=actor, note=note, commit=False, via_distribution=True,
                       event_details={"reservation_id": reservation.id, "reservation_cancelled": True})
    db.session.commit()
    return device


def reservations_query(*, actor: Actor, active: bool = True):
    """The reservations an actor may see (unordered, unexecuted: lists sort and page it)."""
    query = select(Reservation).where(Reservation.active.is_(active))
    if actor.role == "coordinator":
        query = query.where(Reservation.partner_organisation_id == actor.organisation_id)
    elif actor.role not in ("admin", "technician", "auditor"):
        query = query.where(Reservation.id.is_(None))
    return query


def reservations_of(*, actor: Actor, active: bool = True) -> list[Reservation]:
    query = reservations_query(actor=actor, active=active).order_by(Reservation.created_at, Reservation.id)
    return db.session.execute(query).unique().scalars().all()


# ---------------------------------------------------------------- accessories, 4G keys and kits

# Device states in which a kit can still be made up or changed (before the hand-over).
KIT_OPEN_STATES = (State.RECEIVED, State.DIAGNOSED, State.WIPED, State.REFURBISHED, State.READY, State.RESERVED)


def iccid_ok(iccid: str) -> bool:
    """An ICCID (ITU-T E.118): 89, then 17 or 18 digits, the last a Luhn check digit."""
    if not ICCID_RE.match(iccid):
        return False
    total = 0
    for i, ch in enumerate(reversed(iccid)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _clean_accessory(kind, tag, imei, iccid) -> tuple:
    try:
        kind = AccessoryKind(kind)
    except ValueError:
        raise Invalid("Unknown accessory kind %(kind)s.", kind=str(kind), details={"kind": ["unknown"]}) from None
    tag = (tag or "").strip().upper() or None
    imei = (imei or "").replace(" ", "") or None
    iccid = (iccid or "").replace(" ", "") or None
    errors = {}
    if tag and not ACCESSORY_TAG_RE.match(tag):
        errors["tag"] = ["A tag has 2-32 letters, digits or dashes."]
    errors.update(validate_identity(None, imei))
    if iccid and not iccid_ok(iccid):
        errors["iccid"] = ["An ICCID has 19 or 20 digits, starts with 89 and ends with its check digit."]
    if errors:
        raise Invalid("Invalid input: %(fields)s", fields=", ".join(errors), details=errors)
    if tag and db.session.execute(select(Accessory.id).where(Accessory.tag == tag)).first():
        raise Conflict("The accessory tag %(tag)s is already used.", tag=tag, code="duplicate_tag")
    _refuse_duplicate(imei, iccid)
    return kind, tag, imei, iccid


def _refuse_duplicate(imei: str | None, iccid: str | None) -> None:
    """409 naming the key that already has this IMEI or ICCID."""
    for field, value in (("imei", imei), ("iccid", iccid)):
        if not value:
            continue
        existing = db.session.execute(select(Accessory).where(getattr(Accessory, field) == value)).scalar_one_or_none()
        if existing is not None:
            raise Conflict("%(field)s %(value)s is already recorded on accessory #%(id)s (%(name)s, %(status)s).",
                           field=field.upper(), value=value, id=existing.id, name=existing.tag or existing.kind.value,
                           status=existing.status.value, code=f"duplicate_{field}",
                           details={field: [f"already on accessory {existing.id}"], "existing_accessory_id":
                                    existing.id})


def _new_accessory(actor: Actor, device: Device | None, kind, tag=None, serial=None, imei=None, iccid=None,
                   description=None, operator=None, plan_ends_on=None) -> Accessory:
    kind, tag, imei, iccid = _clean_accessory(kind, tag, imei, iccid)
    accessory = Accessory(kind=kind, tag=tag, serial=(serial or "").strip() or None, imei=imei, iccid=iccid,
                          description=description, device_id=device.id if device else None,
                          operator=(operator or "").strip() or None, plan_ends_on=plan_ends_on,
                          status=AccessoryStatus.IN_KIT if device else AccessoryStatus.IN_STOCK, created_at=utcnow())
    db.session.add(accessory)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        # Another writer recorded the same IMEI or ICCID since the check: the database decided.
        _refuse_duplicate(imei, iccid)
        raise Conflict("This accessory is already recorded.", code="duplicate_accessory") from None
    return accessory


def _accessory_summary(a: Accessory) -> dict:
    return {k: v for k, v in {"id": a.id, "kind": a.kind.value, "tag": a.tag, "imei": a.imei, "iccid": a.iccid,
                              "serial": a.serial, "operator": a.operator,
                              "plan_ends_on": a.plan_ends_on.isoformat() if a.plan_ends_on else None}.items()
            if v is not None}


def _accessory_event(type_: str, accessory: Accessory, before: AccessoryStatus | None, *, actor: Actor,
                     device: Device | None = None, note: str | None = None, details: dict | None = None) -> None:
    custody.record(type_, actor=actor, device=device, accessory=accessory, note=note, details={
        **_accessory_summary(accessory), "status_before": before.value if before else None,
        "status_after": accessory.status.value, **(details or {})})


def _move(accessory: Accessory, to: AccessoryStatus) -> AccessoryStatus:
    before = accessory.status
    if to not in ACCESSORY_MOVES[before]:
        raise Conflict("Accessory #%(id)s is %(status)s: it cannot become %(target)s.", id=accessory.id,
                       status=before.value, target=to.value, code="accessory_transition_refused")
    accessory.status = to
    return before


def add_accessory(*, actor: Actor, kind: str, device_tag: str | None = None, tag=None, serial=None, imei=None,
                  iccid=None, description=None, operator=None, plan_ends_on=None) -> Accessory:
    """Track an accessory (4G key, SIM card, charger…): into stock, or straight into a device's kit."""
    device = _kit_device(device_tag, actor) if device_tag else None
    accessory = _new_accessory(actor, device, kind, tag, serial, imei, iccid, description, operator, plan_ends_on)
    _accessory_event("accessory_added", accessory, None, actor=actor, device=device)
    db.session.commit()
    return accessory


def _kit_device(tag: str, actor: Actor) -> Device:
    device = devices.named_device(tag, actor=actor, field="device_tag", for_update=True)
    if device.state not in KIT_OPEN_STATES:
        raise Conflict("A kit is made up before the hand-over; device %(tag)s is %(state)s.", tag=device.tag,
                       state=device.state.value, code="kit_closed")
    return device


def accessory_scope(actor: Actor):
    """Accessories an actor may see: all for the workshop, admins and auditors; a coordinator those in or from
    the kits of devices it reserved or holds."""
    if actor.role in ("admin", "auditor", "technician", None):
        return None
    if actor.role == "coordinator":
        return Accessory.device_id.in_(devices.scoped(select(Device.id), actor))
    return Accessory.id.is_(None)


def get_accessory(accessory_id: int, *, actor: Actor) -> Accessory:
    query = select(Accessory).where(Accessory.id == accessory_id)
    clause = accessory_scope(actor)
    if clause is not None:
        query = query.where(clause)
    accessory = db.session.execute(query).scalar_one_or_none()
    if accessory is None:
        raise NotFound("No accessory %(id)s.", id=accessory_id)
    return accessory


def list_accessories(*, actor: Actor, status: str | None = None, kind: str | None = None,
                     limit: int = 500) -> list[Accessory]:
    query = select(Accessory).order_by(Accessory.id).limit(limit)
    clause = accessory_scope(actor)
    if clause is not None:
        query = query.where(clause)
    if status:
        query = query.where(Accessory.status == AccessoryStatus(status))
    if kind:
        query = query.where(Accessory.kind == AccessoryKind(kind))
    return db.session.execute(query).scalars().all()


def put_in_kit(accessory_id: int, device_tag: str, *, actor: Actor, note: str | None = None) -> Accessory:
    """Put a key from stock (or one given back at a return) into a device's kit; one of each kind per kit."""
    accessory = get_accessory(accessory_id, actor=actor)
    device = _kit_device(device_tag, actor)
    if any(a.kind == accessory.kind for a in kit_of(device)):
        raise Conflict("The kit of %(tag)s already holds a %(kind)s.", tag=device.tag, kind=accessory.kind.value,
                       code="kit_has_kind")
    before = _move(accessory, AccessoryStatus.IN_KIT)
    accessory.device_id = device.id
    db.session.flush()
    _accessory_event("accessory_put_in_kit", accessory, before, actor=actor, device=device, note=note)
    db.session.commit()
    return accessory


def take_out_of_kit(accessory_id: int, *, actor: Actor, note: str | None = None) -> Accessory:
    """Take an accessory out of a kit back into loose stock."""
    accessory = get_accessory(accessory_id, actor=actor)
    device = db.session.get(Device, accessory.device_id) if accessory.device_id else None
    if device is not None and device.state not in KIT_OPEN_STATES:
        raise Conflict("A kit is made up before the hand-over; device %(tag)s is %(state)s.", tag=device.tag,
                       state=device.state.value, code="kit_closed")
    before = _move(accessory, AccessoryStatus.IN_STOCK)
    accessory.device_id = None
    db.session.flush()
    _accessory_event("accessory_taken_out_of_kit", accessory, before, actor=actor, device=device, note=note)
    db.session.commit()
    return accessory


def declare_accessory_lost(accessory_id: int, *, actor: Actor, note: str) -> Accessory:
    """A key or other accessory that cannot be found (a note says what happened)."""
    note = (note or "").strip()
    if not note:
        raise Invalid("Say what happened to it.", details={"note": ["required"]})
    accessory = get_accessory(accessory_id, actor=actor)
    before = _move(accessory, AccessoryStatus.LOST)
    db.session.flush()
    _accessory_event("accessory_lost", accessory, before, actor=actor, note=note)
    db.session.commit()
    return accessory


def kit_of(device: Device) -> list[Accessory]:
    """Accessories that are with a device now (in its kit, or handed over with it)."""
    return db.session.execute(select(Accessory).where(
        Accessory.device_id == device.id,
        Accessory.status.in_([AccessoryStatus.IN_KIT, AccessoryStatus.WITH_BENEFICIARY])
    ).order_by(Accessory.id)).scalars().all()


def missing_parts(kind: KitKind, device: Device, accessories) -> list[str]:
    """What a kit of ``kind`` lacks: "device" when the device type does not fit, then each absent accessory kind."""
    missing = []
    if kind.device_types and device.type.value not in kind.device_types:
        missing.append("device")
    present = {a.kind.value for a in accessories}
    missing += [k for k in kind.accessory_kinds if k not in present]
    return missing


def _kit_kind(programme: Programme, kit_kind: str | int | None) -> KitKind | None:
    if kit_kind in (None, ""):
        return None
    for kind in programme.kit_kinds:
        if kind.code == kit_kind or kind.id == kit_kind:
            return kind
    raise Invalid("The programme %(programme)s has no kit kind %(kind)s.", programme=programme.name,
                  kind=str(kit_kind), details={"kit_kind": ["unknown for this programme"]})


# ---------------------------------------------------------------- hand-over


def handover_settings(config: Mapping) -> dict:
    """The hand-over settings of the configuration, as `record_handover`'s keyword arguments (the route and the
    page): the key of the beneficiary reference's hash, the reference pattern of partners without one."""
    return {"hmac_key": config["BENEFICIARY_HMAC_KEY"],
            "default_pattern": config.get("BENEFICIARY_REF_DEFAULT_PATTERN")}


def check_reference(value: str | None, partner: Organisation, *, default_pattern: str | None) -> str:
    """``default_pattern`` (BENEFICIARY_REF_DEFAULT_PATTERN) applies to a partner without a pattern of its own."""
    pattern = partner.beneficiary_ref_pattern or default_pattern
    try:
        return validate_reference(value, pattern)
    except ReferenceRefused as exc:
        raise Invalid(exc.message, code=exc.code, details={"beneficiary_ref": [exc.code]}, **exc.params) from None


def _reserved_device(tag: str, actor: Actor):
    """The reserved device (locked) and its reservation; a coordinator sees only its partner's."""
    device = devices.named_device(tag, actor=actor, for_update=True)
    reservation = active_reservation(device)
    if device.state != State.RESERVED or reservation is None:
        raise Conflict("Device %(tag)s is %(state)s: only a reserved device can be handed over.", tag=device.tag,
                       state=device.state.value, code="not_reserved")
    if actor.role == "coordinator" and reservation.partner_organisation_id != actor.organisation_id:
        raise devices.unknown_device(tag)
    return device, reservation


def _beneficiary_category(programme: Programme, beneficiary_category: str | None) -> str:
    category = (beneficiary_category or "").strip()
    if not category:
        raise Invalid("Say the beneficiary's category.", details={"beneficiary_category": ["required"]})
    if programme.beneficiary_categories and category not in programme.beneficiary_categories:
        raise Invalid("The programme %(programme)s serves these categories: %(categories)s.",
                      programme=programme.name, categories=", ".join(programme.beneficiary_categories),
                      details={"beneficiary_category": ["not in the programme"]})
    return category


def _handover_date(handed_over_on: dt.date | None, loan: bool, expected_return_on: dt.date | None) -> dt.date:
    """The hand-over date (today when not given), not in the future and before a loan's return."""
    today = utcnow().date()
    handed_over_on = handed_over_on or today
    if handed_over_on > today:
        raise Invalid("The hand-over date is in the future.", details={"handed_over_on": ["in the future"]})
    if loan and expected_return_on and expected_return_on <= handed_over_on:
        raise Invalid("The expected return date of a loan must be after the hand-over.",
                      details={"expected_return_on": ["not after the hand-over"]})
    return handed_over_on


def _handed_kit(device: Device, accessory_ids, new_accessories, actor: Actor) -> tuple[list, list]:
    """The kit parts handed over (all, or those named) and the parts added at the hand-over."""
    kit = kit_of(device)
    if accessory_ids is not None:
        wanted = set(accessory_ids)
        unknown = wanted - {a.id for a in kit}
        if unknown:
            raise devices.unknown_reference("accessory_ids")  # not in this device's kit
        kit = [a for a in kit if a.id in wanted]
    added = [_new_accessory(actor, device, **spec) for spec in new_accessories or ()]
    kit += added
    return kit, added


def record_handover(tag: str, *, actor: Actor, beneficiary_ref: str, beneficiary_category: str,
                    handed_over_on: dt.date | None = None, loan: bool = False,
                    expected_return_on: dt.date | None = None, accessory_ids=None, new_accessories=(),
                    kit_kind: str | None = None, confirm_second_device: bool = False,
                    conditions: str | None = None, note: str | None = None, hmac_key: str,
                    default_pattern: str | None) -> Handover:
    """Hand a reserved device (and its kit) to a beneficiary known only by a pseudonymous reference.

    The reference stays in the hand-over row; the custody event carries only its keyed hash. Custody passes
    to the partner organisation. As a kit of a kind (given, or the reservation's), the parts it lacks are
    recorded and the kit counts toward its target only when complete. The programme's second-device policy
    compares keyed hashes with the partner's open hand-overs in the programme. ``hmac_key``:
    BENEFICIARY_HMAC_KEY; ``default_pattern``: BENEFICIARY_REF_DEFAULT_PATTERN.
    """
    device, reservation = _reserved_device(tag, actor)
    partner = db.session.get(Organisation, reservation.partner_organisation_id)
    programme = db.session.get(Programme, reservation.programme_id)
    ref = check_reference(beneficiary_ref, partner, default_pattern=default_pattern)
    category = _beneficiary_category(programme, beneficiary_category)
    handed_over_on = _handover_date(handed_over_on, loan, expected_return_on)
    kind = _kit_kind(programme, kit_kind) if kit_kind else (
        db.session.get(KitKind, reservation.kit_kind_id) if reservation.kit_kind_id else None)
    digest = reference_hmac(ref, hmac_key)
    holds = second_device_check(programme, partner.id, digest, confirmed=confirm_second_device)

    kit, added = _handed_kit(device, accessory_ids, new_accessories, actor)
    lacking = missing_parts(kind, device, kit) if kind else []

    handover = Handover(
        device_id=device.id, reservation_id=reservation.id, programme_id=programme.id,
        partner_organisation_id=partner.id, beneficiary_ref=ref, beneficiary_ref_hmac=digest,
        beneficiary_category=category, handed_over_on=handed_over_on, loan=bool(loan),
        expected_return_on=expected_return_on if loan else None, handed_over_by_user_id=actor.user_id,
        handed_over_by_name=actor.name, conditions=conditions, created_at=utcnow(),
        kit_kind_id=kind.id if kind else None, missing_parts=lacking, kit_complete=(not lacking) if kind else None)
    db.session.add(handover)
    db.session.flush()
    moved = []
    for accessory in kit:
        moved.append((accessory, _move(accessory, AccessoryStatus.WITH_BENEFICIARY)))
        db.session.add(HandoverItem(handover_id=handover.id, accessory_id=accessory.id))
    reservation.active, reservation.outcome, reservation.ended_at = False, "handed_over", utcnow()
    db.session.flush()
    details = {"beneficiary_ref_hmac": digest, "handover_id": handover.id,
               "handed_over_on": handed_over_on.isoformat(), "kit": [_accessory_summary(a) for a in kit]}
    if kind:
        details.update(kit_kind=kind.code, missing_parts=lacking)
    if holds:
        details["second_device"] = {"policy": programme.beneficiary_policy, "open_handover_ids": holds}
    devices.transition(
        device, State.HANDED_OVER, actor=actor, note=note, commit=False, via_distribution=True,
        params={"beneficiary_ref": ref, "beneficiary_category": category, "loan": bool(loan),
                "expected_return_on": expected_return_on if loan else None},
        event_details=details)
    # Each key's own line of events (after the device's, so the chain head stays the last lock taken); the
    # device's hand-over event above already lists the kit.
    custody.record_many(
        [
            {
                "type": "accessory_added",
                "accessory_id": a.id,
                "details": {
                    **_accessory_summary(a),
                    "status_before": None,
                    "status_after": AccessoryStatus.IN_KIT.value,
                    "device_tag": device.tag,
                },
            }
            for a in added
        ]
        + [
            {
                "type": "accessory_handed_over",
                "accessory_id": a.id,
                "details": {
                    **_accessory_summary(a),
                    "status_before": before.value,
                    "status_after": a.status.value,
                    "handover_id": handover.id,
                    "device_tag": device.tag,
                },
            }
            for a, before in moved
        ],
        actor=actor,
    )
    db.session.commit()
    return handover


def second_device_to_confirm(tag: str, beneficiary_ref: str, *, actor: Actor, hmac_key: str) -> bool:
    """Whether handing ``tag`` over to this reference needs the partner's confirmation (the programme warns and
    the beneficiary, by keyed hash, already holds a device from it). Reads only; a bad reference says False
    and is refused by the hand-over itself."""
    device = devices.get_device(tag, actor=actor)
    reservation = active_reservation(device)
    if reservation is None:
        return False
    programme = db.session.get(Programme, reservation.programme_id)
    if programme.beneficiary_policy != "warn":
        return False
    try:
        ref = validate_reference(beneficiary_ref, None)
    except ReferenceRefused:
        return False
    return bool(_open_holds(programme, reservation.partner_organisation_id, reference_hmac(ref, hmac_key)))


def _open_holds(programme: Programme, partner_id: int, digest: str) -> list[int]:
    """The partner's hand-overs in the programme to this keyed hash that no return has closed."""
    return list(db.session.scalars(select(Handover.id).where(
        Handover.programme_id == programme.id, Handover.partner_organisation_id == partner_id,
        Handover.beneficiary_ref_hmac == digest, Handover.returned_at.is_(None)).order_by(Handover.id)).all())


def second_device_check(programme: Programme, partner_id: int, digest: str, *, confirmed: bool) -> list[int]:
    """Apply the programme's policy when the beneficiary (by keyed hash) already holds a device from it.

    Returns the open hand-overs found (recorded on the event); warn without confirmation, or refuse, is a 409.
    Only hashes are compared: the clear references are never read.
    """
    if programme.beneficiary_policy == "allow":
        return []
    holds = _open_holds(programme, partner_id, digest)
    if not holds:
        return []
    if programme.beneficiary_policy == "refuse":
        raise Conflict("This beneficiary already holds a device from the programme %(programme)s, which gives "
                       "one device per beneficiary.", programme=programme.name, code="second_device_refused",
                       details={"beneficiary_ref": ["already holds a device from this programme"]})
    if not confirmed:
        raise Conflict("This beneficiary already holds a device from the programme %(programme)s. Confirm to hand "
                       "over a second one.", programme=programme.name, code="second_device_confirm",
                       details={"confirm_second_device": ["required: the beneficiary already holds a device"]})
    return holds


def handover_scope(actor: Actor):
    """Hand-overs an actor may see: a coordinator its organisation's; admins and auditors all (without references)."""
    if actor.role in ("admin", "auditor"):
        return None
    if actor.role == "coordinator":
        return Handover.partner_organisation_id == actor.organisation_id
    return Handover.id.is_(None)


def handovers_of_device(device_id: int, *, actor: Actor) -> list[Handover]:
    """A device's hand-overs the actor may see, latest first (for links from the device page)."""
    query = select(Handover).where(Handover.device_id == device_id).order_by(Handover.id.desc())
    clause = handover_scope(actor)
    if clause is not None:
        query = query.where(clause)
    return list(db.session.execute(query).unique().scalars())


def get_handover(handover_id: int, *, actor: Actor) -> Handover:
    query = select(Handover).where(Handover.id == handover_id)
    clause = handover_scope(actor)
    if clause is not None:
        query = query.where(clause)
    handover = db.session.execute(query).unique().scalar_one_or_none()
    if handover is None:
        raise NotFound("No hand-over %(id)s.", id=handover_id)
    return handover


def visible_reference(handover: Handover, actor: Actor) -> str | None:
    """Only the partner organisation that recorded a reference ever reads it."""
    if actor.role == "coordinator" and actor.organisation_id == handover.partner_organisation_id:
        return handover.beneficiary_ref
    return None


def handovers_query(*, actor: Actor, open_only: bool = False, loans_due_by: dt.date | None = None,
                    returned_only: bool = False):
    """The hand-overs an actor may see, filtered (unordered, unexecuted: lists sort and page it)."""
    query = select(Handover)
    clause = handover_scope(actor)
    if clause is not None:
        query = query.where(clause)
    if open_only:
        query = query.where(Handover.returned_at.is_(None))
    if returned_only:
        query = query.where(Handover.returned_at.is_not(None))
    if loans_due_by is not None:
        query = query.where(Handover.returned_at.is_(None), Handover.loan.is_(True),
                            Handover.expected_return_on <= loans_due_by)
    return query


def list_handovers(*, actor: Actor, open_only: bool = False, loans_due_by: dt.date | None = None,
                   returned_only: bool = False, limit: int = 500) -> list[Handover]:
    """The newest hand-overs first (loans due: the earliest due first), at most ``limit``."""
    query = handovers_query(actor=actor, open_only=open_only, loans_due_by=loans_due_by,
                            returned_only=returned_only)
    order = (Handover.expected_return_on,) if loans_due_by is not None else (Handover.created_at.desc(),
                                                                             Handover.id.desc())
    return db.session.execute(query.order_by(*order).limit(limit)).unique().scalars().all()


def devices_by_id(ids) -> dict[int, Device]:
    ids = set(ids)
    if not ids:
        return {}
    return {d.id: d for d in db.session.execute(select(Device).where(Device.id.in_(ids))).unique().scalars()}


# ---------------------------------------------------------------- returns


def record_return(handover_id: int, *, actor: Actor, reason: str, condition: str | None = None,
                  missing_accessory_ids=(), note: str | None = None) -> Handover:
    """The beneficiary gives the device back to the partner, with its kit whole or in part.

    Accessories given back become `returned` (loose, ready to go into another kit); the missing ones `lost`.
    """
    handover = get_handover(handover_id, actor=actor)
    if actor.role == "coordinator" and handover.partner_organisation_id != actor.organisation_id:
        raise NotFound("No hand-over %(id)s.", id=handover_id)
    device = db.session.get(Device, handover.device_id)
    if handover.returned_at is not None or device.state != State.HANDED_OVER:
        raise Conflict("This hand-over was already closed by a return.", code="already_returned")
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("Say why the device comes back.", details={"reason": ["required"]})
    missing = set(missing_accessory_ids or ())
    unknown = missing - {i.accessory_id for i in handover.items}
    if unknown:
        raise devices.unknown_reference("missing_accessory_ids")  # not handed over with this device
    missing_summary, moved = [], []
    for item in handover.items:
        item.returned = item.accessory_id not in missing
        accessory = item.accessory
        if accessory.status != AccessoryStatus.WITH_BENEFICIARY:
            continue  # declared lost meanwhile
        if item.returned:
            moved.append((accessory, _move(accessory, AccessoryStatus.RETURNED), "accessory_returned"))
            accessory.device_id = None
        else:
            moved.append((accessory, _move(accessory, AccessoryStatus.LOST), "accessory_lost"))
            missing_summary.append(_accessory_summary(accessory))
    handover.returned_at = utcnow()
    handover.return_reason, handover.return_condition, handover.return_note = reason, condition, note
    db.session.flush()
    devices.transition(
        device,
        State.RETURNED,
        actor=actor,
        note=note,
        commit=False,
        via_distribution=True,
        event_details={
            "handover_id": handover.id,
            "reason": reason,
            "condition": condition,
            "missing": missing_summary,
        },
    )
    custody.record_many([{"type": type_, "accessory_id": a.id, "details": {
        **_accessory_summary(a), "status_before": before.value, "status_after": a.status.value,
        "handover_id": handover.id, "device_tag": device.tag}} for a, before, type_ in moved], actor=actor)
    db.session.commit()
    return handover


# ---------------------------------------------------------------- privacy: erasure and retention


def erase_reference(handover_id: int, *, actor: Actor) -> Handover:
    """Erase a beneficiary reference on request; the custody chain, which holds only its keyed hash, is untouched."""
    handover = get_handover(handover_id, actor=actor)
    if actor.role != "coordinator" or handover.partner_organisation_id != actor.organisation_id:
        raise NotFound("No hand-over %(id)s.", id=handover_id)
    if handover.beneficiary_ref is None:
        raise Conflict("This reference is already erased.", code="already_erased")
    handover.beneficiary_ref, handover.ref_erased_at = None, utcnow()
    db.session.flush()
    device = db.session.get(Device, handover.device_id)
    custody.record("beneficiary_reference_erased", actor=actor, device=device,
                   details={"handover_id": handover.id, "why": "request"})
    db.session.commit()
    reclaim_erased_space(db.engine, Handover.__tablename__)  # no copy left in free pages or dead tuples
    return handover


def purge_references(*, retention_days: int, actor: Actor | None = None, now: dt.datetime | None = None) -> int:
    """Erase the references of devices returned more than ``retention_days`` (BENEFICIARY_REF_RETENTION_DAYS) ago
    (set-based, one event each)."""
    actor = actor or Actor.system("retention")
    now = now or utcnow()
    days = retention_days
    cutoff = now - dt.timedelta(days=days)
    due = db.session.execute(select(Handover.id, Handover.device_id).where(
        Handover.beneficiary_ref.is_not(None), Handover.returned_at.is_not(None),
        Handover.returned_at <= cutoff)).all()
    if not due:
        return 0
    db.session.execute(update(Handover).where(Handover.id.in_([h for h, _ in due]))
                       .values(beneficiary_ref=None, ref_erased_at=now).execution_options(synchronize_session=False))
    tags = dict(db.session.execute(select(Device.id, Device.tag).where(Device.id.in_({d for _, d in due}))).all())
    custody.record_many([{"type": "beneficiary_reference_erased", "device_id": device_id, "device_tag": tags[device_id],
                          "details": {"handover_id": hid, "why": "retention", "retention_days": days}}
                         for hid, device_id in due], actor=actor)
    db.session.commit()
    reclaim_erased_space(db.engine, Handover.__tablename__)
    return len(due)


# ---------------------------------------------------------------- end of life


def record_recycling(tag: str, *, actor: Actor, recycler_organisation_id: int, disposal_reference: str | None = None,
                     shipment_reference: str | None = None, parts_harvested=(), note: str | None = None) -> Recycling:
    """Send a wiped device diagnosed "parts" or "recycle" to a named recycler, with its disposal reference."""
    device = devices.named_device(tag, actor=actor, for_update=True)
    recycling = _recycle(device, actor, recycler_organisation_id, disposal_reference, shipment_reference,
                         parts_harvested, note)
    db.session.commit()
    return recycling


def record_recycling_many(tags, *, actor: Actor, recycler_organisation_id: int, disposal_reference: str | None = None,
                          shipment_reference: str | None = None, parts_harvested=(), note: str | None = None
                          ) -> list[Recycling]:
    """Send several devices (the device list's selection) to one recycler in one shipment — all or none."""
    chosen = [
        devices.named_device(tag, actor=actor, for_update=True)
        for tag in dict.fromkeys(t.strip().upper() for t in tags if t)
    ]
    if not chosen:
        raise Invalid("Give the tags of the devices to recycle.", details={"device_tag": ["required"]})
    devices.lock_devices(d.id for d in chosen)
    out = [_recycle(device, actor, recycler_organisation_id, disposal_reference, shipment_reference, parts_harvested,
                    note) for device in chosen]
    db.session.commit()
    return out


def _recycle(device: Device, actor: Actor, recycler_organisation_id: int, disposal_reference, shipment_reference,
             parts_harvested, note) -> Recycling:
    disposal_reference = (disposal_reference or "").strip()
    if not disposal_reference:
        raise Invalid(
            "Recycling needs the recycler's disposal reference.", details={"disposal_reference": ["required"]}
        )
    parts = [p.strip() for p in parts_harvested or () if p and p.strip()]
    recycling = Recycling(device_id=device.id, recycler_organisation_id=recycler_organisation_id,
                          disposal_reference=disposal_reference,
                          shipment_reference=(shipment_reference or "").strip() or None, parts_harvested=parts,
                          recorded_by_name=actor.name, created_at=utcnow())
    devices.transition(device, State.RECYCLED, actor=actor, note=note, commit=False, via_distribution=True,
                       params={"recycler_organisation_id": recycler_organisation_id,
                               "disposal_reference": disposal_reference},
                       event_details={"shipment_reference": recycling.shipment_reference, "parts_harvested": parts})
    db.session.add(recycling)
    return recycling


def recyclings_for(*, actor: Actor, recycling_id: int | None = None, shipment: str | None = None) -> list[Recycling]:
    """Recycling records for a certificate: one device or a whole shipment; 404 outside the actor's scope."""
    query = select(Recycling).join(Device, Device.id == Recycling.device_id).order_by(Recycling.id)
    if recycling_id is not None:
        query = query.where(Recycling.id == recycling_id)
    elif shipment:
        query = query.where(Recycling.shipment_reference == shipment)
    else:
        raise Invalid("Say which recycling or shipment.")
    query = devices.scoped(query, actor)
    rows = db.session.execute(query).unique().scalars().all()
    if not rows:
        raise NotFound("No recycling record %(id)s.", id=recycling_id or shipment)
    return rows


def programme_choices(*, actor: Actor) -> list[Programme]:
    """Every programme by name, for the device pages' filters and steps (names only)."""
    return db.session.execute(select(Programme).order_by(Programme.name)).unique().scalars().all()


def programme_categories(programme_id: int | None, *, actor: Actor) -> list[str]:
    """The beneficiary categories of a device's programme (none without one)."""
    programme = db.session.get(Programme, programme_id) if programme_id else None
    return list(programme.beneficiary_categories or []) if programme else []


def open_handover_id(device_id: int, *, actor: Actor) -> int | None:
    """The hand-over of a device not returned yet (its return is recorded on that hand-over's page)."""
    return db.session.execute(select(Handover.id).where(
        Handover.device_id == device_id, Handover.returned_at.is_(None))).scalar()


def count_rows(query) -> int:
    """How many rows a list's query finds (the tabs of the coordinator's desk)."""
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def handover_device(handover: Handover, *, actor: Actor) -> Device | None:
    """The device of a hand-over the actor may already see."""
    return db.session.get(Device, handover.device_id)


def recent_recyclings(*, actor: Actor, limit: int = 100) -> list[Recycling]:
    """The latest devices handed to a recycler, newest first."""
    return db.session.execute(select(Recycling).order_by(Recycling.created_at.desc(), Recycling.id.desc())
                              .limit(limit)).unique().scalars().all()
