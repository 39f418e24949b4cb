"""Reminder verbs: the sweep (set-based SQL), the digest and escalation mails, acknowledgement, counts."""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import String, and_, case, exists, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ..auth.models import Role, User
from ..core import Actor
from ..custody import services as custody
from ..db import UTCDateTime, utcnow
from ..devices.models import Device
from ..devices.services import claimed_by_other, scope_clause
from ..distribution.models import Accessory, AccessoryStatus, Programme
from ..errors import Conflict, Forbidden, Invalid, NotFound
from ..extensions import db
from ..intake.models import Batch
from ..lifecycle import IN_WORKSHOP, State
from ..organisations.models import Organisation, OrgKind
from . import mail
from .mail import MailSettings
from .models import Reminder, ReminderMail, ReminderSweep
from .rules import Rule, current_rules, rule_by_id

log = logging.getLogger(__name__)
SCHEDULER = Actor.system("reminder scheduler")
NOTE_MAX = 1000


# ---------------------------------------------------------------- the sweep


# How far back an incremental sweep looks before the previous one (transactions still in flight, clock drift).
SWEEP_OVERLAP = dt.timedelta(minutes=10)
# A full sweep at least this often, whatever happened in between.
FULL_SWEEP_EVERY = dt.timedelta(hours=24)


def run_sweep(now: dt.datetime | None = None, *, settings: MailSettings, send: bool = True,
              full: bool | None = None) -> dict:
    """One sweep: close reminders of devices that moved on, open new ones, flag escalations, send mails.

    Every step is one set-based statement per rule over indexed columns, in its own short
    transaction, so scans are never held up behind a long sweep. Safe to run in two
    processes at once: unique rows decide who creates a reminder or sends a mail.

    A sweep normally looks only at the devices whose overdue moment (or escalation moment, or
    last move) falls since the previous sweep; ``full`` (or no previous sweep, the first sweep of
    this process, a day without a full sweep, a clock set back) looks at every device.
    ``settings``: the mail settings of the configuration (``MailSettings.of(app.config)``).
    Returns counts: closed, created, escalated, mails_sent, mails_failed, full, seconds.
    """
    now = now or utcnow()
    started = time.perf_counter()
    rules = current_rules()
    since = None if full else _incremental_since(now)
    counts = {"closed": close_moved_on(rules, now, since), "created": open_reminders(rules, now, since),
              "escalated": flag_escalations(rules, now, since)}
    _advance_watermark(now, full=since is None)
    if send:
        counts.update(send_mails(now, settings=settings))
    counts["full"] = since is None
    counts["seconds"] = round(time.perf_counter() - started, 4)
    log.info("reminder sweep at %s: %s", now.isoformat(), counts)
    return counts


def _incremental_since(now: dt.datetime) -> dt.datetime | None:
    """Where an incremental sweep may start, or None when this sweep must look at everything."""
    processes = current_app.extensions.setdefault("reminder_sweeps_in_process", set())
    if db.engine.url.render_as_string() not in processes:
        return None  # the first sweep of a process: rules may have changed since the last one
    mark = db.session.get(ReminderSweep, 1)
    db.session.commit()
    if mark is None or mark.last_swept_at > now or now - mark.last_full_at > FULL_SWEEP_EVERY:
        return None
    return mark.last_swept_at - SWEEP_OVERLAP


def _advance_watermark(now: dt.datetime, *, full: bool) -> None:
    values = {"last_swept_at": now, **({"last_full_at": now} if full else {})}
    if not db.session.execute(update(ReminderSweep).where(ReminderSweep.id == 1).values(**values)).rowcount:
        stmt = _insert(ReminderSweep).values(id=1, last_swept_at=now, last_full_at=now)
        db.session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))
    db.session.commit()
    current_app.extensions.setdefault("reminder_sweeps_in_process", set()).add(db.engine.url.render_as_string())


def close_moved_on(rules: list[Rule], now: dt.datetime, since: dt.datetime | None = None) -> int:
    """A reminder closes by itself once its device is no longer in the stay it was opened for."""
    same_stay = exists().where(Device.id == Reminder.device_id, Device.state == Reminder.state,
                               Device.state_since == Reminder.stay_started_at)
    where = [Reminder.closed_at.is_(None)]
    if since is None:
        where.append(or_(~same_stay, Reminder.rule_id.not_in([r.id for r in rules])))
    else:  # only devices that moved since the last sweep (ix_devices_state_since, one range per state)
        moved = db.session.scalars(select(Device.id).where(Device.state.in_(list(State)),
                                                           Device.state_since >= since)).all()
        if not moved:
            db.session.commit()
            return 0
        # Ids are looked up first so both databases probe reminders by device, not by scanning open ones.
        candidates = db.session.scalars(select(Reminder.id).where(Reminder.device_id.in_(moved))).all()
        where += [Reminder.id.in_(candidates), ~same_stay]
    if _on_sqlite():
        db.session.commit()
        closed = 0
        for chunk in _batches([row[0] for row in _read_all(select(Reminder.id).where(*where))]):
            closed += db.session.execute(update(Reminder).where(Reminder.id.in_(chunk), Reminder.closed_at.is_(None))
                                         .values(closed_at=now).execution_options(synchronize_session=False)).rowcount
            db.session.commit()
        return closed
    closed = db.session.execute(update(Reminder).where(*where).values(closed_at=now)
                                .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return closed


def open_reminders(rules: list[Rule], now: dt.datetime, since: dt.datetime | None = None) -> int:
    """Insert one reminder per overdue device, rule and stay; existing ones are left alone."""
    defaults = _default_organisations()
    created = 0
    for rule in rules:
        condition = overdue_condition(rule, now)
        if since is not None:  # only devices whose overdue moment came since the last sweep
            condition = and_(condition, _not_before(rule, since, rule.days))
        already = exists().where(Reminder.device_id == Device.id, Reminder.rule_id == rule.id,
                                 Reminder.stay_started_at == Device.state_since)
        escalation = (_party(rule.escalate_to, rule.state, defaults) if rule.escalate_days is not None
                      else literal(None, db.Integer))
        rows = select(
            Device.id, literal(rule.id, String), Device.state, Device.state_since,
            _party(rule.responsible, rule.state, defaults), escalation, literal(now, UTCDateTime),
        ).where(condition, ~already)
        columns = ["device_id", "rule_id", "state", "stay_started_at", "responsible_organisation_id",
                   "escalation_organisation_id", "created_at"]
        if _on_sqlite():
            db.session.commit()
            found = _read_all(rows)
            for chunk in _batches(found):
                insert = (
                    _insert(Reminder)
                    .values([dict(zip(columns, r, strict=False)) for r in chunk])
                    .on_conflict_do_nothing(index_elements=["device_id", "rule_id", "stay_started_at"])
                    .returning(Reminder.id)
                )
                created += len(db.session.execute(insert).all())
                db.session.commit()
            continue
        insert = _insert(Reminder).from_select(columns, rows).on_conflict_do_nothing(
            index_elements=["device_id", "rule_id", "stay_started_at"]).returning(Reminder.id)
        # rowcount of INSERT … SELECT … ON CONFLICT is not reported by every driver: count what came back.
        created += len(db.session.execute(insert).all())
        db.session.commit()  # one short write transaction per rule
    return created


# On SQLite a writing transaction holds the only write lock: a sweep that finds thousands of rows
# reads them without it, then writes them this many at a time, each batch its own short transaction.
SQLITE_WRITE_BATCH = 200
# ...and pauses between batches, so writers of other processes (waiting in SQLite's busy handler) get in.
SQLITE_WRITE_PAUSE_SECONDS = 0.02


def _on_sqlite() -> bool:
    return db.session.get_bind().dialect.name == "sqlite"


def _read_all(query) -> list:
    """Rows of a read-only query on SQLite without taking the write lock."""
    with db.engine.connect().execution_options(sqlite_deferred=True) as conn:
        return conn.execute(query).all()


def _batches(items: list, size: int = SQLITE_WRITE_BATCH):
    for start in range(0, len(items), size):
        if start:
            time.sleep(SQLITE_WRITE_PAUSE_SECONDS)
        yield items[start:start + size]


def _not_before(rule: Rule, since: dt.datetime, days: int):
    """Devices whose moment ``days`` after the start of the count is at or after ``since``."""
    if rule.plan_end:  # handed over since, or a plan whose warning day came since
        return or_(Device.state_since >= since, exists().where(
            Accessory.device_id == Device.id, Accessory.status == AccessoryStatus.WITH_BENEFICIARY,
            Accessory.plan_ends_on >= (since + dt.timedelta(days=days - 1)).date()))
    if rule.loan:
        return Device.expected_return_on >= (since - dt.timedelta(days=days + 1)).date()
    return Device.state_since >= since - dt.timedelta(days=days)


def overdue_condition(rule: Rule, now: dt.datetime, extra_days: int = 0):
    """Devices overdue under ``rule`` (by at least ``extra_days`` more), on the (state, state_since) index."""
    if rule.plan_end:  # a key or SIM handed over with the device whose data plan ends within `days`
        return and_(Device.state == rule.state, exists().where(
            Accessory.device_id == Device.id, Accessory.status == AccessoryStatus.WITH_BENEFICIARY,
            Accessory.plan_ends_on <= (now + dt.timedelta(days=rule.days - extra_days)).date()))
    if rule.loan:
        return and_(Device.state == rule.state, Device.loan.is_(True),
                    Device.expected_return_on < (now - dt.timedelta(days=rule.days + extra_days)).date())
    return and_(Device.state == rule.state, Device.state_since < now - dt.timedelta(days=rule.days + extra_days))


def flag_escalations(rules: list[Rule], now: dt.datetime, since: dt.datetime | None = None) -> int:
    """Open reminders past their rule's escalation delay are marked for the escalation mail."""
    flagged = 0
    for rule in rules:
        if rule.escalate_days is None:
            continue
        stmt = update(Reminder).where(Reminder.closed_at.is_(None), Reminder.rule_id == rule.id,
                                      Reminder.escalation_due_at.is_(None))
        if rule.loan:
            late = (now - dt.timedelta(days=rule.escalate_days)).date()
            if since is None:
                stmt = stmt.where(exists().where(Device.id == Reminder.device_id, Device.expected_return_on < late))
            else:  # loans whose escalation day came since the last sweep, on the expected_return_on index
                due = db.session.scalars(select(Device.id).where(
                    Device.expected_return_on < late, _not_before(rule, since, rule.escalate_days),
                    Device.state == rule.state)).all()
                if not due:
                    continue
                stmt = stmt.where(Reminder.device_id.in_(due))
        else:
            stmt = stmt.where(Reminder.stay_started_at < now - dt.timedelta(days=rule.escalate_days))
            if since is not None:
                stmt = stmt.where(Reminder.stay_started_at >= since - dt.timedelta(days=rule.escalate_days))
        if _on_sqlite():
            db.session.commit()
            ids = [row[0] for row in _read_all(select(Reminder.id).where(stmt.whereclause))]
            for chunk in _batches(ids):
                flagged += db.session.execute(
                    update(Reminder).where(Reminder.id.in_(chunk), Reminder.escalation_due_at.is_(None))
                    .values(escalation_due_at=now).execution_options(synchronize_session=False)).rowcount
                db.session.commit()
            continue
        flagged += db.session.execute(stmt.values(escalation_due_at=now)
                                      .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return flagged


def _insert(model):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


@dataclass(frozen=True)
class _Defaults:
    owner: int | None
    workshop: int | None


def _default_organisations() -> _Defaults:
    def first(kind):
        return db.session.scalar(select(func.min(Organisation.id)).where(Organisation.kind == kind))

    return _Defaults(first(OrgKind.PROGRAMME_OWNER), first(OrgKind.WORKSHOP))


def _party(party: str, state: State, defaults: _Defaults):
    """SQL for the organisation playing ``party`` for a device in ``state`` (the programme owner if none)."""
    owner = func.coalesce(select(Programme.owner_organisation_id).where(Programme.id == Device.programme_id)
                          .scalar_subquery(), literal(defaults.owner, db.Integer))
    if party == "programme_owner":
        return owner
    if party == "donor":
        expr = Device.donor_organisation_id
    elif party == "partner":
        expr = Device.partner_organisation_id
    else:  # workshop: the one holding the device, else the batch's workshop, else the first workshop
        batch_workshop = select(Batch.workshop_organisation_id).where(Batch.id == Device.batch_id).scalar_subquery()
        parts = [batch_workshop, literal(defaults.workshop, db.Integer)]
        if state in IN_WORKSHOP:
            parts.insert(0, Device.custodian_organisation_id)
        expr = func.coalesce(*parts)
    return func.coalesce(expr, owner)


# ---------------------------------------------------------------- mails


def local_day(now: dt.datetime, timezone: str) -> dt.date:
    """The programme's calendar day in ``timezone`` (digests are one per organisation and day)."""
    return now.astimezone(ZoneInfo(timezone)).date()


def send_mails(now: dt.datetime, *, settings: MailSettings) -> dict:
    """Retry failed mails, then claim and send today's digests and escalations."""
    out = {"mails_sent": 0, "mails_failed": 0}
    day = local_day(now, settings.timezone)
    claimed = (_claim_retries(now, settings.max_attempts) + _claim_new("digest", now, day)
               + _claim_new("escalation", now, day))
    for mail_id in claimed:
        status = deliver(mail_id, now, settings=settings)
        if status == "sent":
            out["mails_sent"] += 1
        elif status == "failed":
            out["mails_failed"] += 1
    return out


def _claim_retries(now: dt.datetime, limit: int) -> list[int]:
    """A failed mail is taken back by exactly one sweep (compare-and-set on its status), ``limit`` times at most."""
    ids = db.session.scalars(select(ReminderMail.id).where(ReminderMail.status == "failed",
                                                           ReminderMail.attempts < limit)
                             .order_by(ReminderMail.id)).all()
    mine = []
    for mail_id in ids:
        won = db.session.execute(
            update(ReminderMail).where(ReminderMail.id == mail_id, ReminderMail.status == "failed")
            .values(status="sending", attempts=ReminderMail.attempts + 1, claimed_at=now)
            .execution_options(synchronize_session=False)).rowcount
        db.session.commit()
        if won == 1:
            mine.append(mail_id)
    return mine


def _claim_new(kind: str, now: dt.datetime, day: dt.date) -> list[int]:
    """Claim today's mail row per organisation with pending reminders, and tie those reminders to it."""
    if kind == "digest":
        org_col, link_col = Reminder.responsible_organisation_id, Reminder.notified_mail_id
        pending = and_(Reminder.closed_at.is_(None), Reminder.notified_mail_id.is_(None))
    else:
        org_col, link_col = Reminder.escalation_organisation_id, Reminder.escalated_mail_id
        pending = and_(Reminder.closed_at.is_(None), Reminder.escalated_mail_id.is_(None),
                       Reminder.escalation_due_at.is_not(None))
    org_ids = db.session.scalars(select(org_col).where(pending, org_col.is_not(None)).distinct()).all()
    db.session.commit()
    mine = []
    for org_id in org_ids:
        org = db.session.get(Organisation, org_id)
        row = ReminderMail(organisation_id=org_id, day=day, kind=kind, status="sending", attempts=1,
                           locale=(org.locale or "fr")[:2], claimed_at=now)
        db.session.add(row)
        try:
            db.session.flush()
        except IntegrityError:  # already sent today, or another scheduler has just claimed it
            db.session.rollback()
            continue
        tied = db.session.execute(
            update(Reminder).where(pending, org_col == org_id).values({link_col.key: row.id})
            .execution_options(synchronize_session=False)).rowcount
        if not tied:
            db.session.rollback()
            continue
        row.reminder_count = tied
        db.session.commit()
        mine.append(row.id)
    return mine


def deliver(mail_id: int, now: dt.datetime, *, settings: MailSettings) -> str:
    """Send one claimed mail, then record it. A failure leaves it `failed` for a later sweep."""
    row = db.session.get(ReminderMail, mail_id)
    link_col = Reminder.notified_mail_id if row.kind == "digest" else Reminder.escalated_mail_id
    reminders = db.session.execute(
        select(Reminder).join(Device, Device.id == Reminder.device_id)
        .where(link_col == mail_id, Reminder.closed_at.is_(None))
        .order_by(Reminder.rule_id, Reminder.stay_started_at, Device.tag)).unique().scalars().all()
    if not reminders:  # every device moved on before a retry: nothing left to say
        _finish(mail_id, "cancelled", now)
        return "cancelled"
    org = row.organisation
    kind, day, org_id, org_name = row.kind, row.day, org.id, org.name
    recipients = recipients_of(org)
    if not recipients:
        _finish(mail_id, "no_recipient", now, error="the organisation has no e-mail address and no active user")
        log.warning("reminder %s for %s not sent: no recipient", kind, org_name)
        return "no_recipient"
    try:
        message = mail.build(kind=kind, organisation=org, reminders=reminders, locale=row.locale, now=now,
                             recipients=recipients, mail_id=mail_id, day=day, settings=settings)
        count = len(reminders)
        db.session.commit()  # end the read transaction before talking to the SMTP server
        mail.send(message, settings=settings)
    except Exception as exc:  # noqa: BLE001  (any SMTP or network failure is retried later)
        db.session.rollback()
        _finish(mail_id, "failed", now, error=f"{type(exc).__name__}: {exc}"[:1000])
        log.warning("reminder %s %s for %s failed, will retry: %s", kind, mail_id, org_name, exc)
        return "failed"
    _finish(mail_id, "sent", now, recipients=recipients, count=count,
            details={"mail_id": mail_id, "kind": kind, "organisation_id": org_id, "organisation": org_name,
                     "day": day.isoformat(), "devices": count, "recipients": len(recipients)})
    return "sent"


def _finish(mail_id: int, status: str, now: dt.datetime, *, error: str | None = None, recipients=None,
            count: int | None = None, details: dict | None = None) -> None:
    values = {"status": status, "last_error": error}
    if status == "sent":
        values.update(sent_at=now, recipients=", ".join(recipients), reminder_count=count, last_error=None)
    db.session.execute(update(ReminderMail).where(ReminderMail.id == mail_id).values(**values)
                       .execution_options(synchronize_session=False))
    if status == "sent":
        custody.record("reminder_mail_sent", actor=SCHEDULER, details=details)
    db.session.commit()


def recipients_of(org: Organisation) -> list[str]:
    """The organisation's contact address, else its active staff (auditors excepted)."""
    if org.contact_email:
        return [org.contact_email]
    return list(db.session.scalars(
        select(User.email).where(User.organisation_id == org.id, User.active.is_(True), User.role != Role.AUDITOR)
        .order_by(User.id)).all())


# ---------------------------------------------------------------- simulation


@dataclass
class _Pending:
    """A reminder as a sweep at a given moment would mail it (an existing row or one it would create)."""

    rule_id: str
    device: Device
    state: State
    stay_started_at: dt.datetime
    acknowledgement_note: str | None = None


def simulate(now: dt.datetime, *, settings: MailSettings) -> list[dict]:
    """The mails a sweep at ``now`` would send, built exactly as it would build them; nothing is written.

    Reads only: which devices would be overdue (or past escalation) at ``now``, which of them were already
    announced, which organisation already had its digest that day. Each mail: kind, organisation,
    recipients, subject and text. The caller's transaction is rolled back at the end.
    """
    try:
        rules = current_rules()
        defaults = _default_organisations()
        digests: dict[int, list[_Pending]] = {}
        escalations: dict[int, list[_Pending]] = {}
        for rule in rules:
            existing = {(r.device_id, r.stay_started_at): r for r in db.session.execute(
                select(Reminder).where(Reminder.rule_id == rule.id, Reminder.closed_at.is_(None))).unique().scalars()}
            responsible = _party(rule.responsible, rule.state, defaults)
            escalation = (_party(rule.escalate_to, rule.state, defaults) if rule.escalate_days is not None
                          else literal(None, db.Integer))
            late = (case((overdue_condition(rule, now, rule.escalate_days - rule.days), True), else_=False)
                    if rule.escalate_days is not None else literal(False))
            rows = db.session.execute(select(Device, responsible, escalation, late)
                                      .where(overdue_condition(rule, now))).unique().all()
            for device, responsible_id, escalation_id, escalated in rows:
                row = existing.get((device.id, device.state_since))
                pending = _Pending(rule.id, device, device.state, device.state_since,
                                   row.acknowledgement_note if row else None)
                if responsible_id and (row is None or row.notified_mail_id is None):
                    digests.setdefault(responsible_id, []).append(pending)
                if escalation_id and escalated and (row is None or row.escalated_mail_id is None):
                    escalations.setdefault(escalation_id, []).append(pending)
        day = local_day(now, settings.timezone)
        sent_today = {(m.organisation_id, m.kind) for m in db.session.execute(
            select(ReminderMail).where(ReminderMail.day == day)).scalars()}
        out = []
        for kind, groups in (("digest", digests), ("escalation", escalations)):
            for org_id in sorted(groups):
                if (org_id, kind) in sent_today:
                    continue
                org = db.session.get(Organisation, org_id)
                items = sorted(groups[org_id], key=lambda p: (p.rule_id, p.stay_started_at, p.device.tag))
                recipients = recipients_of(org)
                message = mail.build(kind=kind, organisation=org, reminders=items, locale=(org.locale or "fr")[:2],
                                     now=now, recipients=recipients or ["(no recipient)"], mail_id=0, day=day,
                                     settings=settings)
                out.append({"kind": kind, "organisation": org.name, "recipients": recipients,
                            "subject": message["Subject"], "text": message.get_body(("plain",)).get_content(),
                            "devices": len(items)})
        return out
    finally:
        db.session.rollback()


# ---------------------------------------------------------------- pages


@dataclass
class ReminderFilter:
    rule: str | None = None
    organisation: int | None = None
    min_days: int | None = None
    acknowledged: str | None = None  # "yes", "no" or None for both


def _visible(query, actor: Actor):
    query = query.join(Device, Device.id == Reminder.device_id).where(Reminder.closed_at.is_(None))
    clause = scope_clause(actor)
    return query if clause is None else query.where(clause)


def _filtered(query, f: ReminderFilter, now: dt.datetime):
    if f.rule:
        query = query.where(Reminder.rule_id == f.rule)
    if f.organisation:
        query = query.where(Reminder.responsible_organisation_id == f.organisation)
    if f.acknowledged == "yes":
        query = query.where(Reminder.acknowledged_at.is_not(None))
    elif f.acknowledged == "no":
        query = query.where(Reminder.acknowledged_at.is_(None))
    if f.min_days and f.min_days > 1:
        parts = []
        for rule in current_rules():
            if rule.plan_end:
                continue  # a warning before a plan ends is not counted in days overdue
            if rule.loan:
                cut = (now - dt.timedelta(days=rule.days + f.min_days)).date()
                parts.append(and_(Reminder.rule_id == rule.id, Device.expected_return_on <= cut))
            else:
                cut = now - dt.timedelta(days=rule.days + f.min_days - 1)
                parts.append(and_(Reminder.rule_id == rule.id, Reminder.stay_started_at < cut))
        query = query.where(or_(*parts))
    return query


def overdue_query(f: ReminderFilter, *, actor: Actor, now=None):
    """Open reminders the actor may see, filtered (unordered, unexecuted: lists sort and page it)."""
    return _filtered(_visible(select(Reminder), actor), f, now or utcnow())


def overdue_rows(items, now=None) -> list[dict]:
    """Each reminder with its rule and how many days it is overdue."""
    now = now or utcnow()
    rows = []
    for r in items:
        rule = rule_by_id(r.rule_id)
        days = rule.days_overdue(now, r.stay_started_at, r.device.expected_return_on) if rule else None
        rows.append({"reminder": r, "rule": rule, "days_overdue": days})
    return rows


def overdue_list(f: ReminderFilter, *, actor: Actor, page: int = 1, per_page: int = 50):
    """Open reminders the actor may see, oldest stay first, with the total count."""
    now = utcnow()
    base = overdue_query(f, actor=actor, now=now)
    total = db.session.scalar(select(func.count()).select_from(base.order_by(None).subquery()))
    items = db.session.execute(base.order_by(Reminder.stay_started_at, Reminder.id)
                               .limit(per_page).offset((page - 1) * per_page)).unique().scalars().all()
    return overdue_rows(items, now), total


def overdue_counts(actor: Actor) -> dict:
    """Open reminders in the actor's scope: total, not yet acknowledged, escalated, and per rule."""
    query = _visible(select(
        Reminder.rule_id, func.count(),
        func.sum(case((Reminder.acknowledged_at.is_(None), 1), else_=0)),
        func.sum(case((Reminder.escalation_due_at.is_not(None), 1), else_=0)),
    ), actor).group_by(Reminder.rule_id)
    out = {"total": 0, "unacknowledged": 0, "escalated": 0, "by_rule": {}}
    for rule_id, n, unack, escalated in db.session.execute(query).all():
        out["total"] += n
        out["unacknowledged"] += int(unack or 0)
        out["escalated"] += int(escalated or 0)
        out["by_rule"][rule_id] = n
    return out


def may_acknowledge(reminder: Reminder, actor: Actor) -> bool:
    """Seeing a reminder is not always being able to answer it: a workshop sees every device no workshop has taken
    yet (to collect it) but answers only for its own devices, unless it is the reminder's responsible or escalation
    organisation."""
    if actor.organisation_id is not None and actor.organisation_id in (
            reminder.responsible_organisation_id, reminder.escalation_organisation_id):
        return True
    return not claimed_by_other(reminder.device, actor)


def acknowledge(reminder_id: int, note: str, *, actor: Actor) -> Reminder:
    """Someone responsible says they are on it; the note goes to the device's custody log."""
    note = (note or "").strip()
    if not note:
        raise Invalid("Say what is being done about it: a note is required.", details={"note": ["required"]})
    if len(note) > NOTE_MAX:
        raise Invalid("The note is too long (%(max)s characters at most).", max=NOTE_MAX,
                      details={"note": [f"at most {NOTE_MAX} characters"]})
    query = _visible(select(Reminder), actor).where(Reminder.id == reminder_id)
    reminder = db.session.execute(query).unique().scalar_one_or_none()
    if reminder is None:
        raise NotFound("No open reminder %(id)s.", id=reminder_id)
    if not may_acknowledge(reminder, actor):
        raise Forbidden("Only the organisation responsible for this reminder, or the one it escalates to, can "
                        "acknowledge it.", code="not_responsible")
    now = utcnow()
    won = db.session.execute(
        update(Reminder).where(Reminder.id == reminder.id, Reminder.acknowledged_at.is_(None),
                               Reminder.closed_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by_user_id=actor.user_id, acknowledgement_note=note)
        .execution_options(synchronize_session=False)).rowcount
    if won != 1:
        db.session.rollback()
        raise Conflict("This reminder is already acknowledged.", code="already_acknowledged")
    custody.record("reminder_acknowledged", actor=actor, device=reminder.device, note=note,
                   details={"reminder_id": reminder.id, "rule": reminder.rule_id,
                            "stay_started_at": reminder.stay_started_at.isoformat()})
    db.session.commit()
    db.session.refresh(reminder)
    return reminder


def recent_mails(limit: int = 50) -> list[ReminderMail]:
    return list(db.session.scalars(select(ReminderMail).order_by(ReminderMail.id.desc()).limit(limit)).all())
