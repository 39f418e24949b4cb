"""The reminder sweep with a real local SMTP server and time travel: who gets which mail, once."""
from __future__ import annotations

import datetime as dt

import pytest
from flask import current_app
from sqlalchemy import func, select

from asset_tracker import create_app
from asset_tracker.core import Actor
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.custody.services import verify_chain
from asset_tracker.devices.models import Device
from asset_tracker.extensions import db
from asset_tracker.lifecycle import State
from asset_tracker.organisations.models import Organisation, OrgKind
from asset_tracker.reminders import services as reminders
from asset_tracker.reminders.mail import MailSettings
from asset_tracker.reminders.models import Reminder, ReminderMail
from asset_tracker.reminders.rules import RuleError, parse_rules
from tests import factories
from tests.reminders_support import T0, html_of, make, smtp, text_of, walk  # noqa: F401  (smtp is a fixture)

DAY = dt.timedelta(days=1)


def at(frozen_clock, when):
    frozen_clock(when)
    return when


def tags_in(msg) -> set[str]:
    import re

    return set(re.findall(r"RB-\d{6}-[0-9A-Z]", text_of(msg)))


def mails_to(inbox, address):
    return [m for m in inbox.messages if address in m["To"]]


@pytest.fixture
def overdue_world(orgs, users, frozen_clock):
    """One device in every overdue situation of the default rules, all entering their state at T0."""
    at(frozen_clock, T0)
    made = {state: make(orgs, users, state) for state in (
        State.REGISTERED, State.COLLECTED, State.RECEIVED, State.DIAGNOSED, State.WIPED, State.READY,
        State.RESERVED, State.RETURNED)}
    loan = make(orgs, users, State.RESERVED)
    made["loan"] = walk(loan, orgs, users, [State.HANDED_OVER], loan=True,
                        expected_return_on=(T0 + 5 * DAY).date())
    made["gift"] = walk(make(orgs, users, State.RESERVED), orgs, users, [State.HANDED_OVER])
    made[State.REFURBISHED] = make(orgs, users, State.REFURBISHED)  # no rule for this state
    return made


def test_every_overdue_situation_mails_the_responsible_organisations_once(overdue_world, smtp, frozen_clock):
    d = {k: v.tag for k, v in overdue_world.items()}
    at(frozen_clock, T0 + 61 * DAY)

    counts = reminders.run_sweep(settings=MailSettings.of(current_app.config))

    assert counts["created"] == 9 and counts["mails_sent"] == 4 and counts["mails_failed"] == 0
    workshop, owner, partner = (mails_to(smtp, f"{k}@example.org") for k in ("workshop", "owner", "partner"))
    assert len(workshop) == 1 and len(partner) == 1 and len(owner) == 2
    assert tags_in(workshop[0]) == {d[State.REGISTERED], d[State.COLLECTED], d[State.RECEIVED],
                                    d[State.DIAGNOSED], d[State.WIPED]}
    assert tags_in(partner[0]) == {d[State.RESERVED], d["loan"], d[State.RETURNED]}
    digest = next(m for m in owner if "Alerte" not in m["Subject"])
    escalation = next(m for m in owner if "Alerte" in m["Subject"])
    assert tags_in(digest) == {d[State.READY]}  # stock ageing is the programme owner's own reminder
    assert tags_in(escalation) == {d[State.COLLECTED], d[State.RECEIVED], d[State.DIAGNOSED],
                                   d[State.RESERVED], d["loan"], d[State.RETURNED]}
    assert not {d["gift"], d[State.REFURBISHED]} & set().union(*(tags_in(m) for m in smtp.messages))

    # A second sweep, at once or the next day, sends nothing: every reminder was already told.
    assert reminders.run_sweep(settings=MailSettings.of(current_app.config))["mails_sent"] == 0
    at(frozen_clock, T0 + 62 * DAY)
    next_day = reminders.run_sweep(settings=MailSettings.of(current_app.config))
    assert (next_day["created"], next_day["escalated"], next_day["mails_sent"]) == (0, 0, 0)
    assert len(smtp.messages) == 4
    assert db.session.scalar(select(db.func.count()).select_from(Reminder)) == 9
    assert verify_chain().ok


def test_digest_is_multipart_in_the_organisation_language_with_tag_state_days_and_link(
        orgs, users, smtp, frozen_clock, app):
    orgs["partner"].locale = "en"
    orgs["partner"].name = "Emmaüs <Connect>"
    db.session.commit()
    at(frozen_clock, T0)
    returned = make(orgs, users, State.RETURNED)
    received = make(orgs, users, State.RECEIVED)
    at(frozen_clock, T0 + 10 * DAY)

    reminders.run_sweep(settings=MailSettings.of(current_app.config))

    (english,) = mails_to(smtp, "partner@example.org")
    (french,) = [m for m in mails_to(smtp, "workshop@example.org")]
    assert english.is_multipart() and english.get_content_type() == "multipart/alternative"
    assert english["Subject"] == "[Reboot Tracker] 1 overdue device — Emmaüs <Connect>"
    text = text_of(english)
    assert f"{returned.tag} · Returned · 3 days overdue" in text
    assert f"{app.config['BASE_URL']}/devices/{returned.tag}" in text
    html = html_of(english)
    assert f'<a href="{app.config["BASE_URL"]}/devices/{returned.tag}">{returned.tag}</a>' in html
    assert "Emmaüs &lt;Connect&gt;" in html and "<Connect>" not in html
    assert french["Subject"] == "[Reboot Tracker] 1 appareil en retard — Weeefund"
    assert f"{received.tag} · Reçu à l'atelier · 3 jours de retard · Reçu, non effacé" in text_of(french)
    assert "Bonjour," in html_of(french)


def test_escalation_reaches_the_programme_owner_only_after_its_delay(orgs, users, smtp, frozen_clock):
    at(frozen_clock, T0)
    device = make(orgs, users, State.RECEIVED)  # 7 days, escalate at 14

    at(frozen_clock, T0 + 6 * DAY)
    assert reminders.run_sweep(settings=MailSettings.of(current_app.config))["created"] == 0 and smtp.messages == []
    at(frozen_clock, T0 + 7 * DAY + dt.timedelta(minutes=5))
    reminders.run_sweep(settings=MailSettings.of(current_app.config))
    assert [m["To"] for m in smtp.messages] == ["workshop@example.org"]
    at(frozen_clock, T0 + 13 * DAY)
    reminders.run_sweep(settings=MailSettings.of(current_app.config))
    assert len(smtp.messages) == 1
    at(frozen_clock, T0 + 14 * DAY + dt.timedelta(minutes=5))
    counts = reminders.run_sweep(settings=MailSettings.of(current_app.config))
    assert counts["escalated"] == 1 and counts["mails_sent"] == 1
    assert smtp.messages[-1]["To"] == "owner@example.org" and tags_in(smtp.messages[-1]) == {device.tag}
    at(frozen_clock, T0 + 20 * DAY)
    assert reminders.run_sweep(settings=MailSettings.of(current_app.config))["mails_sent"] == 0 \
        and len(smtp.messages) == 2


def test_a_device_that_moves_on_closes_its_reminder_and_is_never_escalated(orgs, users, smtp, frozen_clock):
    at(frozen_clock, T0)
    device = make(orgs, users, State.RECEIVED)
    at(frozen_clock, T0 + 8 * DAY)
    reminders.run_sweep(settings=MailSettings.of(current_app.config))
    reminder = db.session.scalars(select(Reminder)).one()
    assert reminder.closed_at is None and reminder.state == State.RECEIVED

    at(frozen_clock, T0 + 9 * DAY)
    walk(device, orgs, users, [State.DIAGNOSED])
    counts = reminders.run_sweep(settings=MailSettings.of(current_app.config))

    db.session.refresh(reminder)
    assert counts["closed"] == 1 and reminder.closed_at == T0 + 9 * DAY
    at(frozen_clock, T0 + 15 * DAY)  # past the escalation delay of the closed reminder, diagnosed 6 days
    reminders.run_sweep(settings=MailSettings.of(current_app.config))
    assert [m["To"] for m in smtp.messages] == ["workshop@example.org"]
    assert reminders.overdue_counts(Actor.of(users["admin"]))["total"] == 0


def test_a_returned_then_received_device_starts_a_new_stay(orgs, users, smtp, frozen_clock):
    at(frozen_clock, T0)
    device = make(orgs, users, State.RECEIVED)
    at(frozen_clock, T0 + 8 * DAY)
    reminders.run_sweep(settings=MailSettings.of(current_app.config))
    at(frozen_clock, T0 + 9 * DAY)
    device = walk(device, orgs, users, [State.DIAGNOSED, State.WIPED, State.REFURBISHED, State.READY,
                                        State.RESERVED, State.HANDED_OVER, State.RETURNED])
    at(frozen_clock, T0 + 10 * DAY)
    device = walk(device, orgs, users, [State.RECEIVED])
    at(frozen_clock, T0 + 18 * DAY)

    reminders.run_sweep(settings=MailSettings.of(current_app.config))

    rows = db.session.scalars(select(Reminder).where(Reminder.rule_id == "received_not_wiped")
                              .order_by(Reminder.id)).all()
    assert [r.stay_started_at for r in rows] == [T0, T0 + 10 * DAY]
    assert rows[0].closed_at is not None and rows[1].closed_at is None
    assert [tags_in(m) for m in mails_to(smtp, "workshop@example.org")] == [{device.tag}, {device.tag}]


def test_a_loan_is_overdue_the_day_after_its_expected_return_date(orgs, users, smtp, frozen_clock):
    at(frozen_clock, T0)
    device = walk(make(orgs, users, State.RESERVED), orgs, users, [State.HANDED_OVER],
                  loan=True, expected_return_on=(T0 + 30 * DAY).date())
    at(frozen_clock, T0 + 30 * DAY + dt.timedelta(hours=10))
    assert reminders.run_sweep(settings=MailSettings.of(current_app.config))["created"] == 0
    at(frozen_clock, T0 + 31 * DAY)
    assert reminders.run_sweep(settings=MailSettings.of(current_app.config))["created"] == 1
    assert tags_in(mails_to(smtp, "partner@example.org")[0]) == {device.tag}


def test_a_failed_send_is_retried_by_a_later_sweep_and_never_duplicated(orgs, users, smtp, frozen_clock):
    at(frozen_clock, T0)
    device = make(orgs, users, State.REGISTERED)
    at(frozen_clock, T0 + 22 * DAY)
    smtp.refuse = 1

    first = reminders.run_sweep(settings=MailSettings.of(current_app.config))

    mail = db.session.scalars(select(ReminderMail)).one()
    assert first["mails_failed"] == 1 and smtp.messages == [] and mail.status == "failed"
    assert "451" in mail.last_error
    second = reminders.run_sweep(settings=MailSettings.of(current_app.config))
    db.session.refresh(mail)
    assert second["mails_sent"] == 1 and mail.status == "sent" and mail.attempts == 2
    assert [tags_in(m) for m in smtp.messages] == [{device.tag}]
    at(frozen_clock, T0 + 23 * DAY)
    reminders.run_sweep(settings=MailSettings.of(current_app.config))
    assert len(smtp.messages) == 1
    sent = db.session.scalars(select(CustodyEvent).where(CustodyEvent.type == "reminder_mail_sent")).all()
    assert len(sent) == 1


def test_a_crash_between_sending_and_recording_never_sends_twice(orgs, users, smtp, frozen_clock, monkeypatch):
    at(frozen_clock, T0)
    make(orgs, users, State.REGISTERED)
    at(frozen_clock, T0 + 22 * DAY)

    class Crash(Exception):
        pass

    real_finish = reminders._finish

    def crash_after_send(mail_id, status, now, **kw):
        if status == "sent":
            raise Crash("process killed after the SMTP server accepted the mail")
        return real_finish(mail_id, status, now, **kw)

    monkeypatch.setattr(reminders, "_finish", crash_after_send)
    with pytest.raises(Crash):
        reminders.run_sweep(settings=MailSettings.of(current_app.config))
    db.session.rollback()
    monkeypatch.setattr(reminders, "_finish", real_finish)
    assert len(smtp.messages) == 1

    reminders.run_sweep(settings=MailSettings.of(current_app.config))
    at(frozen_clock, T0 + 25 * DAY)
    reminders.run_sweep(settings=MailSettings.of(current_app.config))

    assert len(smtp.messages) == 1
    assert db.session.scalars(select(ReminderMail.status)).all() == ["sending"]


def test_an_organisation_gets_one_digest_a_day_new_reminders_wait_for_the_next_day(
        orgs, users, smtp, frozen_clock):
    at(frozen_clock, T0)
    first = make(orgs, users, State.REGISTERED)
    at(frozen_clock, T0 + 2 * DAY)
    second = make(orgs, users, State.REGISTERED)
    at(frozen_clock, T0 + 21 * DAY + dt.timedelta(hours=1))
    reminders.run_sweep(settings=MailSettings.of(current_app.config))
    at(frozen_clock, T0 + 21 * DAY + dt.timedelta(hours=3))
    reminders.run_sweep(settings=MailSettings.of(current_app.config))
    assert [tags_in(m) for m in smtp.messages] == [{first.tag}]
    at(frozen_clock, T0 + 23 * DAY + dt.timedelta(hours=1))
    reminders.run_sweep(settings=MailSettings.of(current_app.config))
    assert [tags_in(m) for m in smtp.messages] == [{first.tag}, {second.tag}]


def test_an_organisation_without_address_reaches_its_staff(orgs, users, smtp, frozen_clock):
    orgs["workshop"].contact_email = None
    db.session.commit()
    at(frozen_clock, T0)
    make(orgs, users, State.REGISTERED)
    at(frozen_clock, T0 + 22 * DAY)
    reminders.run_sweep(settings=MailSettings.of(current_app.config))
    assert smtp.messages[0].envelope_to == ["tech@example.org", "tech.b@example.org"]


def test_acknowledging_writes_the_note_to_the_custody_log(orgs, users, smtp, frozen_clock):
    at(frozen_clock, T0)
    device = make(orgs, users, State.RECEIVED)
    at(frozen_clock, T0 + 8 * DAY)
    reminders.run_sweep(send=False, settings=MailSettings.of(current_app.config))
    reminder = db.session.scalars(select(Reminder)).one()
    tech = Actor.of(users["technician"])

    reminders.acknowledge(reminder.id, "  Disk eraser broken, new one on Monday ", actor=tech)

    assert reminder.acknowledged_at == T0 + 8 * DAY and reminder.acknowledgement_note.startswith("Disk eraser")
    event = db.session.scalars(select(CustodyEvent).where(CustodyEvent.type == "reminder_acknowledged")).one()
    assert (event.device_tag, event.actor_name, event.note) == (
        device.tag, "Technician", "Disk eraser broken, new one on Monday")
    assert reminders.overdue_counts(tech) == {"total": 1, "unacknowledged": 0, "escalated": 0,
                                              "by_rule": {"received_not_wiped": 1}}
    with pytest.raises(Exception) as again:
        reminders.acknowledge(reminder.id, "again", actor=tech)
    assert again.value.status == 409
    assert verify_chain().ok


def test_acknowledging_needs_a_note_and_a_reminder_in_scope(orgs, users, frozen_clock):
    at(frozen_clock, T0)
    make(orgs, users, State.REGISTERED)
    at(frozen_clock, T0 + 22 * DAY)
    reminders.run_sweep(send=False, settings=MailSettings.of(current_app.config))
    reminder = db.session.scalars(select(Reminder)).one()
    with pytest.raises(Exception) as empty:
        reminders.acknowledge(reminder.id, "   ", actor=Actor.of(users["donor"]))
    assert empty.value.status == 422
    with pytest.raises(Exception) as other_donor:
        reminders.acknowledge(reminder.id, "not mine", actor=Actor.of(users["donor_b"]))
    assert other_donor.value.status == 404
    assert db.session.scalars(select(CustodyEvent).where(CustodyEvent.type == "reminder_acknowledged")).all() == []


def test_a_workshop_sees_an_untaken_devices_reminder_but_cannot_answer_for_it(orgs, users, frozen_clock):
    at(frozen_clock, T0)
    make(orgs, users, State.REGISTERED)  # no workshop has taken it: every workshop sees it, to collect it
    at(frozen_clock, T0 + 22 * DAY)
    reminders.run_sweep(send=False, settings=MailSettings.of(current_app.config))
    reminder = db.session.scalars(select(Reminder)).one()
    south = Organisation(name="Atelier Sud", kind=OrgKind.WORKSHOP, contact_email="sud@example.org")
    db.session.add(south)
    db.session.commit()
    south_tech = Actor.of(factories.make_user("technician", south))
    assert reminders.overdue_counts(south_tech)["total"] == 1

    with pytest.raises(Exception) as refused:
        reminders.acknowledge(reminder.id, "we will fetch it", actor=south_tech)
    assert refused.value.status == 403 and refused.value.code == "not_responsible"
    assert db.session.scalars(select(CustodyEvent).where(CustodyEvent.type == "reminder_acknowledged")).all() == []

    assert reminder.responsible_organisation_id == orgs["workshop"].id
    reminders.acknowledge(reminder.id, "Pickup on Tuesday", actor=Actor.of(users["technician"]))
    assert reminder.acknowledged_at is not None


def test_counts_follow_each_role_scope(orgs, users, frozen_clock):
    at(frozen_clock, T0)
    make(orgs, users, State.REGISTERED, donor="donor")
    make(orgs, users, State.REGISTERED, donor="donor_b")
    make(orgs, users, State.RESERVED, partner="partner_b")
    at(frozen_clock, T0 + 30 * DAY)
    reminders.run_sweep(send=False, settings=MailSettings.of(current_app.config))
    count = {role: reminders.overdue_counts(Actor.of(users[role]))["total"]
             for role in ("admin", "technician", "donor", "donor_b", "coordinator", "coordinator_b")}
    assert count == {"admin": 3, "technician": 3, "donor": 2, "donor_b": 1, "coordinator": 0, "coordinator_b": 1}


def test_the_overdue_list_filters_by_rule_organisation_and_age(orgs, users, frozen_clock):
    at(frozen_clock, T0)
    old = make(orgs, users, State.REGISTERED)
    at(frozen_clock, T0 + 5 * DAY)
    young = make(orgs, users, State.REGISTERED)
    received = make(orgs, users, State.RECEIVED)
    at(frozen_clock, T0 + 30 * DAY)
    reminders.run_sweep(send=False, settings=MailSettings.of(current_app.config))
    admin = Actor.of(users["admin"])

    def tags(**kw):
        rows, total = reminders.overdue_list(reminders.ReminderFilter(**kw), actor=admin)
        assert total == len(rows)
        return [r["reminder"].device.tag for r in rows]

    assert tags() == [old.tag, young.tag, received.tag]
    assert tags(rule="registered_not_collected") == [old.tag, young.tag]
    assert tags(min_days=9) == [old.tag, received.tag]  # 9, 4 and 18 days overdue
    assert tags(min_days=10) == [received.tag]
    assert tags(organisation=orgs["workshop"].id) == [old.tag, young.tag, received.tag]
    assert tags(organisation=orgs["owner"].id) == []
    rows, _ = reminders.overdue_list(reminders.ReminderFilter(), actor=admin)
    assert [r["days_overdue"] for r in rows] == [9, 4, 18]


BAD_RULES = [
    ({"id": "typo_state", "state": "recieved", "days": 7, "responsible": "workshop"}, "unknown state"),
    ({"id": "negative", "state": "received", "days": -1, "responsible": "workshop"}, "days must be"),
    ({"id": "nobody", "state": "received", "days": 7, "responsible": "carrier"}, "responsible must be"),
    ({"id": "early_escalation", "state": "received", "days": 7, "responsible": "workshop", "escalate_days": 7},
     "escalate_days must be"),
    ({"id": "terminal", "state": "recycled", "days": 7, "responsible": "workshop"}, "terminal"),
    ({"id": "odd_loan", "state": "ready", "days": 0, "responsible": "partner", "loan": True}, "handed_over"),
    ({"id": "extra_key", "state": "ready", "days": 0, "responsible": "partner", "dayz": 3}, "unknown key"),
]


@pytest.mark.parametrize("rule,problem", BAD_RULES, ids=[r[0]["id"] for r in BAD_RULES])
def test_a_bad_rule_stops_the_start_with_a_message_naming_it(app, rule, problem):
    good = list(app.config["REMINDER_RULES"])
    with pytest.raises(RuntimeError) as err:
        create_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                   REMINDER_RULES=good + [rule])
    assert f"reminder rule '{rule['id']}'" in str(err.value) and problem in str(err.value)


def test_rule_ids_must_be_unique():
    rule = {"id": "twice", "state": "ready", "days": 3, "responsible": "workshop"}
    with pytest.raises(RuleError, match="'twice': the id is used twice"):
        parse_rules([rule, rule])


def test_the_default_rules_are_valid_and_match_the_specification(app):
    rules = {r.id: r for r in parse_rules(app.config["REMINDER_RULES"])}
    assert (rules["received_not_wiped"].days, rules["received_not_wiped"].escalate_days) == (7, 14)
    assert rules["loan_overdue"].loan and rules["loan_overdue"].days == 0
    assert {r.state.value: r.days for r in rules.values() if not r.loan and not r.plan_end} == {
        "registered": 21, "collected": 3, "received": 7, "diagnosed": 7, "wiped": 21, "ready": 60,
        "reserved": 14, "returned": 7}
    plan = rules["data_plan_ending"]
    assert (plan.plan_end, plan.days, plan.responsible, plan.escalate_days) == (True, 30, "partner", None)


def test_cli_simulates_a_date_without_writing_and_sweeps_for_real_only_now(orgs, users, smtp, runner, frozen_clock):
    at(frozen_clock, T0)
    device = make(orgs, users, State.REGISTERED)
    frozen_clock(None)

    on_that_day = runner.invoke(args=["reminders", "run", "--at", (T0 + 10 * DAY).date().isoformat()])
    assert on_that_day.exit_code == 0, on_that_day.output
    assert "0 mails would be sent; nothing was written" in on_that_day.output
    later = runner.invoke(args=["reminders", "run", "--at", (T0 + 30 * DAY).date().isoformat()])
    assert later.exit_code == 0, later.output
    assert "To: workshop@example.org" in later.output and f"- {device.tag} · " in later.output
    assert "1 mails would be sent; nothing was written" in later.output
    # Nothing was stored or sent: the real sweep of that day still finds and tells everything.
    assert smtp.messages == [] and db.session.scalar(select(func.count()).select_from(Reminder)) == 0
    assert db.session.scalar(select(func.count()).select_from(ReminderMail)) == 0
    at(frozen_clock, T0 + 30 * DAY)
    real = runner.invoke(args=["reminders", "run", "--now"])
    assert "created=1" in real.output and "mails_sent=1" in real.output
    assert tags_in(smtp.messages[0]) == {device.tag}
    assert db.session.scalars(select(ReminderMail.day)).one() == (T0 + 30 * DAY).date()
    frozen_clock(None)
    bad = runner.invoke(args=["reminders", "run", "--at", "15/01/2027"])
    assert bad.exit_code != 0 and "is not a date" in bad.output
    listed = runner.invoke(args=["reminders", "rules"])
    assert "received_not_wiped: received, 7 d in the state, workshop reminded, escalate at 14 d" in listed.output


def test_incremental_sweeps_look_only_at_what_changed_and_a_full_sweep_catches_the_rest(
        orgs, users, smtp, frozen_clock):
    at(frozen_clock, T0)
    crossing = make(orgs, users, State.RECEIVED)
    at(frozen_clock, T0 + 7 * DAY - dt.timedelta(hours=1))
    assert reminders.run_sweep(full=True, settings=MailSettings.of(current_app.config))["created"] == 0
    backdated = make(orgs, users, State.RECEIVED)
    # Written behind the services' back (e.g. a restored backup): overdue long before the last sweep.
    db.session.execute(Device.__table__.update().where(Device.id == backdated.id)
                       .values(state_since=T0 - 40 * DAY))
    db.session.commit()
    at(frozen_clock, T0 + 7 * DAY + dt.timedelta(hours=1))

    incremental = reminders.run_sweep(settings=MailSettings.of(current_app.config))

    assert incremental["full"] is False and incremental["created"] == 1
    assert tags_in(smtp.messages[0]) == {crossing.tag}
    at(frozen_clock, T0 + 8 * DAY)  # more than a day since the last full sweep
    daily = reminders.run_sweep(settings=MailSettings.of(current_app.config))
    assert daily["full"] is True and daily["created"] == 1 and daily["escalated"] == 1
    assert db.session.scalars(select(Reminder.device_id).order_by(Reminder.id)).all() == [crossing.id, backdated.id]
