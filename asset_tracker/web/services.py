"""What each home page shows: set-based counts in the caller's scope (read-only)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import and_, func, select

from ..core import Actor
from ..db import utcnow
from ..devices.filters import overdue_clause
from ..devices.models import Device
from ..devices.services import scoped, state_counts
from ..distribution import services as distribution
from ..extensions import db
from ..intake.models import Batch
from ..lifecycle import State

# The workshop's steps in the order a device goes through them (arrivals first).
WORKSHOP_QUEUE = (State.COLLECTED, State.RETURNED, State.RECEIVED, State.DIAGNOSED, State.WIPED,
                  State.REFURBISHED, State.READY)
# How a donor follows a batch: where its devices are now.
PROGRESS_GROUPS = {
    "at_donor": (State.REGISTERED,),
    "on_the_way": (State.COLLECTED,),
    "in_workshop": (State.RECEIVED, State.DIAGNOSED, State.WIPED, State.REFURBISHED, State.RETURNED),
    "reused": (State.READY, State.RESERVED, State.HANDED_OVER),
    "recycled": (State.RECYCLED,),
    "lost": (State.LOST,),
}
LOANS_DUE_WITHIN_DAYS = 14


@dataclass
class HomeSummary:
    counts: dict[str, int]
    total: int
    overdue: dict[str, int] = field(default_factory=dict)
    batches: list[dict] = field(default_factory=list)
    loans_due: list[Device] = field(default_factory=list)
    programmes: list[dict] = field(default_factory=list)

    @property
    def overdue_total(self) -> int:
        return sum(self.overdue.values())


def overdue_by_state(actor: Actor, rules: list[dict], now: dt.datetime | None = None) -> dict[str, int]:
    query = scoped(select(Device.state, func.count()).where(overdue_clause(rules, now)).group_by(Device.state),
                   actor)
    return {s.value: n for s, n in db.session.execute(query).all()}


def batch_progress(actor: Actor, limit: int = 8) -> list[dict]:
    """The most recent batches in scope, with their devices counted by progress group."""
    batches = select(Batch).order_by(Batch.created_at.desc(), Batch.id.desc()).limit(limit)
    if actor.role == "donor":
        batches = batches.where(Batch.donor_organisation_id == actor.organisation_id)
    rows = db.session.execute(batches).unique().scalars().all()
    if not rows:
        return []
    counts = db.session.execute(
        scoped(select(Device.batch_id, Device.state, func.count())
               .where(Device.batch_id.in_([b.id for b in rows])).group_by(Device.batch_id, Device.state), actor)
    ).all()
    group_of = {s: g for g, states in PROGRESS_GROUPS.items() for s in states}
    out = []
    for batch in rows:
        groups = dict.fromkeys(PROGRESS_GROUPS, 0)
        for batch_id, state, n in counts:
            if batch_id == batch.id and state in group_of:
                groups[group_of[state]] += n
        out.append({"batch": batch, "groups": groups, "total": sum(groups.values())})
    return out


def loans_due(actor: Actor, today: dt.date, within_days: int = LOANS_DUE_WITHIN_DAYS, limit: int = 10):
    query = scoped(select(Device).where(and_(Device.state == State.HANDED_OVER, Device.loan.is_(True),
                                             Device.expected_return_on <= today + dt.timedelta(days=within_days)))
                   .order_by(Device.expected_return_on, Device.id).limit(limit), actor)
    return db.session.execute(query).unique().scalars().all()


def programme_progress(actor: Actor) -> list[dict]:
    """Each target of each programme the actor may see: done against its count (see `targets_progress`)."""
    programmes = distribution.list_programmes(actor=actor)
    progress = distribution.targets_progress(programmes)
    out = []
    for p in programmes:
        for t in progress[p.id]:
            out.append({"programme": p, "unit": t["unit"], "label": t["label"], "handed_over": t["done"],
                        "reserved": t["reserved"], "target": t["count"],
                        "percent": min(100, round(t["percent"])) if t["percent"] is not None else None})
    return out


def home_summary(actor: Actor, *, rules: list[dict], today: dt.date | None = None) -> HomeSummary:
    """Everything the caller's home page needs, each figure one grouped query in their scope."""
    now = utcnow()
    today = today or now.date()
    counts = state_counts(actor)
    summary = HomeSummary(counts=counts, total=sum(counts.values()))
    if actor.role in ("technician", "admin", "coordinator"):
        summary.overdue = overdue_by_state(actor, rules, now)
    if actor.role in ("donor", "technician", "admin", "auditor"):
        summary.batches = batch_progress(actor, limit=5 if actor.role != "donor" else 8)
    if actor.role in ("coordinator", "admin"):
        summary.loans_due = loans_due(actor, today)
    if actor.role in ("admin", "auditor", "coordinator"):
        summary.programmes = programme_progress(actor)
    return summary
