"""Device filters, defined once for the list page, the API list and the CSV export."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import selectinload

from ..core import Actor
from ..db import utcnow
from ..extensions import db
from ..lifecycle import State
from .models import Device, DeviceType
from .services import scoped


@dataclass
class DeviceFilter:
    state: list[str] = field(default_factory=list)
    type: list[str] = field(default_factory=list)
    donor: int | None = None
    batch: int | None = None
    programme: int | None = None
    custodian: int | None = None
    overdue: bool = False
    q: str | None = None

    @classmethod
    def from_args(cls, args: dict) -> DeviceFilter:
        return cls(**{k: args.get(k) for k in cls.__dataclass_fields__ if args.get(k) not in (None, "", [])})

    def is_empty(self) -> bool:
        return self == DeviceFilter()


def overdue_clause(rules: list[dict], now: dt.datetime | None = None):
    """Devices past any rule's delay in their current state (indexed on state, state_since)."""
    now = now or utcnow()
    parts = []
    for rule in rules:
        if rule.get("plan_end"):
            continue  # a warning before a data plan ends, not a step that is late
        if rule.get("loan"):
            parts.append(and_(Device.state == State(rule["state"]), Device.loan.is_(True),
                              Device.expected_return_on < (now - dt.timedelta(days=rule["days"])).date()))
        else:
            parts.append(and_(Device.state == State(rule["state"]),
                              Device.state_since < now - dt.timedelta(days=rule["days"])))
    return or_(*parts) if parts else false()


def apply(query, f: DeviceFilter, *, rules: list[dict] | None = None):
    if f.state:
        query = query.where(Device.state.in_([State(s) for s in f.state]))
    if f.type:
        query = query.where(Device.type.in_([DeviceType(t) for t in f.type]))
    if f.donor:
        query = query.where(Device.donor_organisation_id == f.donor)
    if f.batch:
        query = query.where(Device.batch_id == f.batch)
    if f.programme:
        query = query.where(Device.programme_id == f.programme)
    if f.custodian:
        query = query.where(Device.custodian_organisation_id == f.custodian)
    if f.overdue:
        query = query.where(overdue_clause(rules or []))
    if f.q:
        term = f.q.strip().upper()
        query = query.where(or_(Device.tag == term, Device.serial == term, Device.imei == term,
                                func.upper(Device.model).like(f"%{_escape_like(term)}%", escape="\\")))
    return query


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(f: DeviceFilter, *, actor: Actor, rules: list[dict], page: int = 1, per_page: int = 50, session=None):
    """One page of devices and the total count, newest first."""
    session = session or db.session
    # Counted on the device ids alone: no eager-loaded organisations joined into the count.
    total = session.scalar(select(func.count()).select_from(
        apply(scoped(select(Device.id), actor), f, rules=rules).subquery()))
    base = apply(scoped(select(Device), actor), f, rules=rules).options(selectinload(Device.media))
    items = session.execute(base.order_by(Device.id.desc()).limit(per_page).offset((page - 1) * per_page)) \
        .unique().scalars().all()
    return items, total


def list_queries(f: DeviceFilter, *, actor: Actor, rules):
    """The device list: the filtered devices in the caller's scope (with their media) and the query counting them
    (unordered, unexecuted: the list sorts and pages it)."""
    query = apply(scoped(select(Device), actor), f, rules=rules).options(selectinload(Device.media))
    return query, apply(scoped(select(Device.id), actor), f, rules=rules)
