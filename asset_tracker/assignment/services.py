"""Distribution verbs: programmes, reservations, kits, hand-over, return, erasure of references, recycling."""
from __future__ import annotations

import datetime as dt
import re

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..custody import services as custody
from ..custody.services import Actor
from ..db import utcnow
from ..devices import services as devices
from ..devices.models import Device, DeviceType
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..lifecycle import Grade, State
from ..organisations.models import OrgKind, Organisation
from .models import (Accessory, AccessoryKind, AccessoryStatus, Handover, HandoverItem, Programme, Recycling,
                     Reservation)
from .references import ReferenceRefused, reference_hmac, validate_reference

ICCID_RE = re.compile(r"^89[0-9]{17,20}$")
ACCESSORY_TAG_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
TARGET_UNITS = ("device", "kit")


# ---------------------------------------------------------------- programmes


def programme_scope(actor: Actor):
    """Programmes an actor may see: all for the workshop, admins and auditors; its own for an owner; allowed ones for a partner."""
    if actor.role in ("admin", "auditor", "technician", None):
        return None
    if actor.role == "coordinator":
        from .models import programme_partners

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


def _partners(ids) -> list[Organisation]:
    ids = sorted(set(ids or ()))
    orgs = db.session.execute(select(Organisation).where(Organisation.id.in_(ids))).scalars().all() if ids else []
    if len(orgs) != len(ids) or any(o.kind != OrgKind.PARTNER for o in orgs):
        raise Invalid("Every allowed partner must be a partner organisation.",
                      details={"partner_ids": ["not a partner organisation"]})
    return orgs


def create_programme(*, actor: Actor, name: str, owner_organisation_id: int, target_count: int,
                     target_unit: str = "device", starts_on: dt.date | None = None, ends_on: dt.date | None = None,
                     beneficiary_categories=(), partner_ids=(), description: str | None = None) -> Programme:
    """A programme with its target and the partners allowed to distribute for it."""
    name = (name or "").strip()
    if not name:
        raise Invalid("A programme needs a name.", details={"name": ["required"]})
    if db.session.execute(select(Programme.id).where(Programme.name == name)).first():
        raise Conflict("A programme named %(name)s already exists.", name=name, code="duplicate_name")
    owner = db.session.get(Organisation, owner_organisation_id)
    if owner is None:
        raise Invalid("Unknown owner organisation.", details={"owner_organisation_id": ["unknown"]})
    if target_unit not in TARGET_UNITS:
        raise Invalid("The target counts devices or kits.", details={"target_unit": ["device or kit"]})
    if target_count is None or target_count < 0:
        raise Invalid("The target is a number of devices or kits.", details={"target_count": ["must be >= 0"]})
    if starts_on and ends_on and ends_on < starts_on:
        raise Invalid("The programme ends before it starts.", details={"ends_on": ["before starts_on"]})
    categories = [c.strip() for c in beneficiary_categories or () if c and c.strip()]
    programme = Programme(name=name, owner_organisation_id=owner.id, target_count=target_count,
                          target_unit=target_unit, starts_on=starts_on, ends_on=ends_on,
                          beneficiary_categories=categories, description=description)
    programme.partners = _partners(partner_ids)
    db.session.add(programme)
    db.session.flush()
    custody.record("programme_created", actor=actor, details={
        "programme_id": programme.id, "name": name, "owner_organisation_id": owner.id, "target_count": target_count,
        "target_unit": target_unit, "beneficiary_categories": categories,
        "partner_ids": [p.id for p in programme.partners]})
    db.session.commit()
    return programme


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


def progress(programme: Programme) -> dict:
    """Reserved now, handed over so far (kits: hand-overs with at least one accessory), against the target."""
    reserved = db.session.scalar(select(func.count()).select_from(Reservation).where(
        Reservation.programme_id == programme.id, Reservation.active.is_(True))) or 0
    handed = select(func.count(func.distinct(Handover.device_id))).where(Handover.programme_id == programme.id)
    if programme.target_unit == "kit":
        handed = handed.where(Handover.id.in_(select(HandoverItem.handover_id)))
    delivered = db.session.scalar(handed) or 0
    target = programme.target_count or 0
    return {"programme_id": programme.id, "target": target, "unit": programme.target_unit, "reserved": reserved,
            "handed_over": delivered, "percent": round(100 * delivered / target, 1) if target else None}


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
    if partner_id not in {p.id for p in programme.partners}:
        raise Conflict("This partner is not allowed to distribute for the programme %(programme)s.",
                       programme=programme.name, code="partner_not_allowed")
    return partner_id


def _reserve(device: Device, programme: Programme, partner_id: int, actor: Actor, note: str | None) -> Reservation:
    if device.state != State.READY:
        raise Conflict("Device %(tag)s is %(state)s: only a ready device can be reserved.", tag=device.tag,
                       state=device.state.value, code="not_ready")
    reservation = Reservation(device_id=device.id, programme_id=programme.id, partner_organisation_id=partner_id,
                              active=True, reserved_by_user_id=actor.user_id, created_at=utcnow())
    db.session.add(reservation)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Device %(tag)s is already reserved.", tag=device.tag, code="already_reserved") from None
    devices.transition(device, State.RESERVED, actor=actor, note=note, commit=False, via_distribution=True,
                       params={"programme_id": programme.id, "partner_organisation_id": partner_id},
                       event_details={"reservation_id": reservation.id})
    return reservation


def _ready_device(tag: str) -> Device:
    """A ready device by tag for reservation: stock is visible to everyone who may reserve."""
    device = db.session.execute(select(Device).where(Device.tag == str(tag).strip().upper())).unique().scalar_one_or_none()
    if device is None:
        raise NotFound("No device %(tag)s.", tag=str(tag))
    return device


def reserve_device(tag: str, *, actor: Actor, programme_id: int, partner_organisation_id: int | None = None,
                   note: str | None = None) -> Reservation:
    """Set one ready device aside for a programme and an allowed partner."""
    programme = get_programme(programme_id, actor=actor)
    partner_id = _allowed_partner(programme, partner_organisation_id, actor)
    device = _ready_device(tag)
    if device.state != State.READY:
        devices.get_device(device.tag, actor=actor)  # stock is public to reservers; anything else stays in scope
    reservation = _reserve(device, programme, partner_id, actor, note)
    db.session.commit()
    return reservation


def available_stock(*, type: str | None = None, grades=None) -> list[dict]:
    """Ready devices by type and grade, for the reservation form."""
    query = (select(Device.type, Device.grade, func.count()).where(Device.state == State.READY)
             .group_by(Device.type, Device.grade).order_by(Device.type, Device.grade))
    if type:
        query = query.where(Device.type == DeviceType(type))
    if grades:
        query = query.where(Device.grade.in_([Grade(g) for g in grades]))
    return [{"type": t.value, "grade": g.value if g else None, "count": n} for t, g, n in db.session.execute(query)]


def reserve_bulk(*, actor: Actor, programme_id: int, count: int, type: str, grades=None,
                 partner_organisation_id: int | None = None, note: str | None = None) -> list[Reservation]:
    """Reserve ``count`` ready devices of a type (and grades), oldest stock first — all or none."""
    if not count or count < 1:
        raise Invalid("Say how many devices to reserve.", details={"count": ["at least 1"]})
    try:
        device_type = DeviceType(type)
        grade_values = [Grade(g) for g in (grades or ())]
    except ValueError as exc:
        raise Invalid("Invalid input: %(fields)s", fields=str(exc)) from None
    programme = get_programme(programme_id, actor=actor)
    partner_id = _allowed_partner(programme, partner_organisation_id, actor)
    query = (select(Device).where(Device.state == State.READY, Device.type == device_type)
             .order_by(Device.state_since, Device.id).limit(count))
    if grade_values:
        query = query.where(Device.grade.in_(grade_values))
    chosen = db.session.execute(query).unique().scalars().all()
    if len(chosen) < count:
        raise Conflict("Only %(available)s ready devices match (%(type)s, grade %(grades)s); %(count)s were asked.",
                       available=len(chosen), type=device_type.value,
                       grades="/".join(g.value for g in grade_values) or "A/B/C", count=count,
                       code="not_enough_stock")
    devices.lock_devices(d.id for d in chosen)
    reservations = [_reserve(device, programme, partner_id, actor, note) for device in chosen]
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


def reservations_of(*, actor: Actor, active: bool = True) -> list[Reservation]:
    query = select(Reservation).where(Reservation.active.is_(active)).order_by(Reservation.created_at, Reservation.id)
    if actor.role == "coordinator":
        query = query.where(Reservation.partner_organisation_id == actor.organisation_id)
    elif actor.role not in ("admin", "technician", "auditor"):
        return []
    return db.session.execute(query).unique().scalars().all()


# ---------------------------------------------------------------- accessories and kits


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
    errors.update(devices.validate_identity(None, imei))
    if iccid and not ICCID_RE.match(iccid):
        errors["iccid"] = ["An ICCID has 19 to 22 digits and starts with 89."]
    if errors:
        raise Invalid("Invalid input: %(fields)s", fields=", ".join(errors), details=errors)
    if tag and db.session.execute(select(Accessory.id).where(Accessory.tag == tag)).first():
        raise Conflict("The accessory tag %(tag)s is already used.", tag=tag, code="duplicate_tag")
    return kind, tag, imei, iccid


def _new_accessory(actor: Actor, device: Device | None, kind, tag=None, serial=None, imei=None, iccid=None,
                   description=None) -> Accessory:
    kind, tag, imei, iccid = _clean_accessory(kind, tag, imei, iccid)
    accessory = Accessory(kind=kind, tag=tag, serial=(serial or "").strip() or None, imei=imei, iccid=iccid,
                          description=description, device_id=device.id if device else None,
                          status=AccessoryStatus.IN_STOCK, created_at=utcnow())
    db.session.add(accessory)
    db.session.flush()
    return accessory


def _accessory_summary(a: Accessory) -> dict:
    return {k: v for k, v in {"id": a.id, "kind": a.kind.value, "tag": a.tag, "imei": a.imei, "iccid": a.iccid,
                              "serial": a.serial}.items() if v is not None}


def add_accessory(*, actor: Actor, kind: str, device_tag: str | None = None, tag=None, serial=None, imei=None,
                  iccid=None, description=None) -> Accessory:
    """Track an accessory; with a device it joins that device's kit."""
    device = devices.get_device(device_tag, actor=actor) if device_tag else None
    if device is not None and device.state not in (State.RECEIVED, State.DIAGNOSED, State.WIPED, State.REFURBISHED,
                                                   State.READY, State.RESERVED):
        raise Conflict("A kit is made up before the hand-over; device %(tag)s is %(state)s.", tag=device.tag,
                       state=device.state.value, code="kit_closed")
    accessory = _new_accessory(actor, device, kind, tag, serial, imei, iccid, description)
    custody.record("accessory_added", actor=actor, device=device, details=_accessory_summary(accessory))
    db.session.commit()
    return accessory


def kit_of(device: Device) -> list[Accessory]:
    """Accessories attached to a device that are with it now (in stock or handed over with it)."""
    return db.session.execute(select(Accessory).where(
        Accessory.device_id == device.id, Accessory.status.in_([AccessoryStatus.IN_STOCK, AccessoryStatus.HANDED_OVER])
    ).order_by(Accessory.id)).scalars().all()


# ---------------------------------------------------------------- hand-over


def _hmac_key() -> str:
    return current_app.config["BENEFICIARY_HMAC_KEY"]


def check_reference(value: str | None, partner: Organisation) -> str:
    pattern = partner.beneficiary_ref_pattern or current_app.config.get("BENEFICIARY_REF_DEFAULT_PATTERN")
    try:
        return validate_reference(value, pattern)
    except ReferenceRefused as exc:
        raise Invalid(exc.message, code=exc.code, details={"beneficiary_ref": [exc.code]}, **exc.params) from None


def record_handover(tag: str, *, actor: Actor, beneficiary_ref: str, beneficiary_category: str,
                    handed_over_on: dt.date | None = None, loan: bool = False,
                    expected_return_on: dt.date | None = None, accessory_ids=None, new_accessories=(),
                    conditions: str | None = None, note: str | None = None) -> Handover:
    """Hand a reserved device (and its kit) to a beneficiary known only by a pseudonymous reference.

    The reference stays in the hand-over row; the custody event carries only its keyed hash.
    Custody passes to the partner organisation.
    """
    device = devices.get_device(tag, actor=actor)
    reservation = active_reservation(device)
    if device.state != State.RESERVED or reservation is None:
        raise Conflict("Device %(tag)s is %(state)s: only a reserved device can be handed over.", tag=device.tag,
                       state=device.state.value, code="not_reserved")
    if actor.role == "coordinator" and reservation.partner_organisation_id != actor.organisation_id:
        raise NotFound("No device %(tag)s.", tag=str(tag))
    partner = db.session.get(Organisation, reservation.partner_organisation_id)
    programme = db.session.get(Programme, reservation.programme_id)
    ref = check_reference(beneficiary_ref, partner)
    category = (beneficiary_category or "").strip()
    if not category:
        raise Invalid("Say the beneficiary's category.", details={"beneficiary_category": ["required"]})
    if programme.beneficiary_categories and category not in programme.beneficiary_categories:
        raise Invalid("The programme %(programme)s serves these categories: %(categories)s.",
                      programme=programme.name, categories=", ".join(programme.beneficiary_categories),
                      details={"beneficiary_category": ["not in the programme"]})
    today = utcnow().date()
    handed_over_on = handed_over_on or today
    if handed_over_on > today:
        raise Invalid("The hand-over date is in the future.", details={"handed_over_on": ["in the future"]})
    if loan and expected_return_on and expected_return_on <= handed_over_on:
        raise Invalid("The expected return date of a loan must be after the hand-over.",
                      details={"expected_return_on": ["not after the hand-over"]})

    kit = kit_of(device)
    if accessory_ids is not None:
        wanted = set(accessory_ids)
        unknown = wanted - {a.id for a in kit}
        if unknown:
            raise Invalid("Accessories %(ids)s are not in this device's kit.", ids=", ".join(map(str, sorted(unknown))),
                          details={"accessory_ids": ["not in the kit"]})
        kit = [a for a in kit if a.id in wanted]
    for spec in new_accessories or ():
        kit.append(_new_accessory(actor, device, **spec))

    digest = reference_hmac(ref, _hmac_key())
    handover = Handover(
        device_id=device.id, reservation_id=reservation.id, programme_id=programme.id,
        partner_organisation_id=partner.id, beneficiary_ref=ref, beneficiary_ref_hmac=digest,
        beneficiary_category=category, handed_over_on=handed_over_on, loan=bool(loan),
        expected_return_on=expected_return_on if loan else None, handed_over_by_user_id=actor.user_id,
        handed_over_by_name=actor.name, conditions=conditions, created_at=utcnow())
    db.session.add(handover)
    db.session.flush()
    for accessory in kit:
        accessory.status = AccessoryStatus.HANDED_OVER
        db.session.add(HandoverItem(handover_id=handover.id, accessory_id=accessory.id))
    reservation.active, reservation.outcome, reservation.ended_at = False, "handed_over", utcnow()
    db.session.flush()
    devices.transition(
        device, State.HANDED_OVER, actor=actor, note=note, commit=False, via_distribution=True,
        params={"beneficiary_ref": ref, "beneficiary_category": category, "loan": bool(loan),
                "expected_return_on": expected_return_on if loan else None},
        event_details={"beneficiary_ref_hmac": digest, "handover_id": handover.id,
                       "handed_over_on": handed_over_on.isoformat(), "kit": [_accessory_summary(a) for a in kit]})
    db.session.commit()
    return handover


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


def list_handovers(*, actor: Actor, open_only: bool = False, loans_due_by: dt.date | None = None,
                   returned_only: bool = False, limit: int = 500) -> list[Handover]:
    query = select(Handover).order_by(Handover.created_at.desc(), Handover.id.desc()).limit(limit)
    clause = handover_scope(actor)
    if clause is not None:
        query = query.where(clause)
    if open_only:
        query = query.where(Handover.returned_at.is_(None))
    if returned_only:
        query = query.where(Handover.returned_at.is_not(None))
    if loans_due_by is not None:
        query = query.where(Handover.returned_at.is_(None), Handover.loan.is_(True),
                            Handover.expected_return_on <= loans_due_by).order_by(None).order_by(
            Handover.expected_return_on)
    return db.session.execute(query).unique().scalars().all()


def devices_by_id(ids) -> dict[int, Device]:
    ids = set(ids)
    if not ids:
        return {}
    return {d.id: d for d in db.session.execute(select(Device).where(Device.id.in_(ids))).unique().scalars()}


# ---------------------------------------------------------------- returns


def record_return(handover_id: int, *, actor: Actor, reason: str, condition: str | None = None,
                  missing_accessory_ids=(), note: str | None = None) -> Handover:
    """The beneficiary gives the device back to the partner; what is missing from the kit is recorded."""
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
        raise Invalid("Accessories %(ids)s were not handed over with this device.",
                      ids=", ".join(map(str, sorted(unknown))), details={"missing_accessory_ids": ["not in the kit"]})
    missing_summary = []
    for item in handover.items:
        item.returned = item.accessory_id not in missing
        if item.returned:
            item.accessory.status = AccessoryStatus.IN_STOCK
        else:
            item.accessory.status = AccessoryStatus.MISSING
            missing_summary.append(_accessory_summary(item.accessory))
    handover.returned_at = utcnow()
    handover.return_reason, handover.return_condition, handover.return_note = reason, condition, note
    db.session.flush()
    devices.transition(device, State.RETURNED, actor=actor, note=note, commit=False, via_distribution=True, event_details={
        "handover_id": handover.id, "reason": reason, "condition": condition, "missing": missing_summary})
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
    return handover


def purge_references(*, actor: Actor | None = None, now: dt.datetime | None = None,
                     retention_days: int | None = None) -> int:
    """Erase the references of devices returned more than the retention period ago (set-based, one event each)."""
    actor = actor or Actor.system("retention")
    now = now or utcnow()
    days = current_app.config["BENEFICIARY_REF_RETENTION_DAYS"] if retention_days is None else retention_days
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
    return len(due)


# ---------------------------------------------------------------- end of life


def record_recycling(tag: str, *, actor: Actor, recycler_organisation_id: int, disposal_reference: str | None = None,
                     shipment_reference: str | None = None, parts_harvested=(), note: str | None = None) -> Recycling:
    """Send a wiped device diagnosed "parts" or "recycle" to a named recycler, with its disposal reference."""
    device = devices.get_device(tag, actor=actor)
    disposal_reference = (disposal_reference or "").strip()
    if not disposal_reference:
        raise Invalid("Recycling needs the recycler's disposal reference.", details={"disposal_reference": ["required"]})
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
    db.session.commit()
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
