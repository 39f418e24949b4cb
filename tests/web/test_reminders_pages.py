"""Reminder pages: the overdue list and its filters, acknowledgement, the rules, counts on the home page."""
from __future__ import annotations

import datetime as dt

from flask import current_app
from sqlalchemy import select

from asset_tracker.custody.models import CustodyEvent
from asset_tracker.extensions import db
from asset_tracker.lifecycle import State
from asset_tracker.organisations.models import Organisation, OrgKind
from asset_tracker.reminders import services as reminders
from asset_tracker.reminders.mail import MailSettings
from asset_tracker.reminders.models import Reminder
from tests.conftest import csrf_token
from tests.factories import make_user
from tests.reminders_support import T0, make

DAY = dt.timedelta(days=1)


def _overdue(orgs, users, frozen_clock):
    frozen_clock(T0)
    made = {
        "registered": make(orgs, users, State.REGISTERED),
        "other_donor": make(orgs, users, State.REGISTERED, donor="donor_b"),
        "received": make(orgs, users, State.RECEIVED),
    }
    frozen_clock(T0 + 30 * DAY)
    reminders.run_sweep(send=False, settings=MailSettings.of(current_app.config))
    return made


def test_the_overdue_list_shows_each_device_with_its_rule_and_days(client, login, orgs, users, frozen_clock):
    made = _overdue(orgs, users, frozen_clock)
    login("technician")
    html = client.get("/reminders").get_data(as_text=True)
    for device in made.values():
        assert device.tag in html
    assert "Reçu, non effacé (risque pour les données)" in html and "signalée" in html
    filtered = client.get("/reminders?rule=received_not_wiped&lang=fr").get_data(as_text=True)
    assert made["received"].tag in filtered and made["registered"].tag not in filtered
    aged = client.get("/reminders?min_days=10").get_data(as_text=True)
    assert made["received"].tag in aged and made["registered"].tag not in aged  # 23 vs 9 days overdue
    assert client.get("/reminders?min_days=abc").status_code == 422


def test_a_donor_sees_only_the_reminders_of_its_own_devices(client, login, orgs, users, frozen_clock):
    made = _overdue(orgs, users, frozen_clock)
    login("donor_b")
    html = client.get("/reminders").get_data(as_text=True)
    assert made["other_donor"].tag in html
    assert made["registered"].tag not in html and made["received"].tag not in html


def test_acknowledging_from_the_list_records_the_note(client, login, orgs, users, frozen_clock):
    made = _overdue(orgs, users, frozen_clock)
    reminder = db.session.scalars(select(Reminder).where(Reminder.device_id == made["received"].id)).one()
    login("technician")
    token = csrf_token(client, "/reminders")
    resp = client.post(f"/reminders/{reminder.id}/acknowledge",
                       data={"note": "<b>Eraser</b> back Monday", "csrf_token": token, "next": "/reminders"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/reminders")
    html = client.get("/reminders").get_data(as_text=True)
    assert "&lt;b&gt;Eraser&lt;/b&gt; back Monday" in html and "<b>Eraser</b>" not in html
    event = db.session.scalars(select(CustodyEvent).where(CustodyEvent.type == "reminder_acknowledged")).one()
    assert event.note == "<b>Eraser</b> back Monday" and event.device_tag == made["received"].tag


def test_acknowledging_refuses_missing_notes_foreign_reminders_and_read_only_roles(
        client, login, orgs, users, frozen_clock):
    made = _overdue(orgs, users, frozen_clock)
    theirs = db.session.scalars(select(Reminder).where(Reminder.device_id == made["registered"].id)).one()
    login("donor_b")
    token = csrf_token(client, "/reminders")
    assert (
        client.post(f"/reminders/{theirs.id}/acknowledge", data={"note": "x", "csrf_token": token}).status_code == 404
    )
    assert client.post("/reminders/999999/acknowledge", data={"note": "x", "csrf_token": token}).status_code == 404
    login("donor")
    token = csrf_token(client, "/reminders")
    assert client.post(f"/reminders/{theirs.id}/acknowledge", data={"note": "", "csrf_token": token}).status_code == 422
    assert client.post(f"/reminders/{theirs.id}/acknowledge",
                       data={"note": "ok", "state": "closed", "csrf_token": token}).status_code == 422
    login("auditor")
    token = csrf_token(client, "/reminders")
    assert (
        client.post(f"/reminders/{theirs.id}/acknowledge", data={"note": "x", "csrf_token": token}).status_code == 403
    )
    assert db.session.scalars(select(CustodyEvent).where(CustodyEvent.type == "reminder_acknowledged")).all() == []


def test_the_acknowledge_button_shows_only_where_the_workshop_may_answer(client, login, orgs, users, frozen_clock):
    frozen_clock(T0)
    device = make(orgs, users, State.REGISTERED)  # no workshop has taken it: every workshop sees it, to collect it
    frozen_clock(T0 + 22 * DAY)
    reminders.run_sweep(send=False, settings=MailSettings.of(current_app.config))
    reminder = db.session.scalars(select(Reminder).where(Reminder.device_id == device.id)).one()
    assert reminder.responsible_organisation_id == orgs["workshop"].id
    south = Organisation(name="Atelier Sud", kind=OrgKind.WORKSHOP, contact_email="sud@example.org")
    db.session.add(south)
    db.session.commit()
    button = f'action="/reminders/{reminder.id}/acknowledge"'

    login(make_user("technician", south))
    html = client.get("/reminders").get_data(as_text=True)
    assert f'id="reminder-{reminder.id}"' in html and device.tag in html
    assert button not in html

    login("technician")
    html = client.get("/reminders").get_data(as_text=True)
    assert f'id="reminder-{reminder.id}"' in html and button in html


def test_the_rules_in_force_are_shown_read_only_to_admins(client, login, users):
    login("admin")
    html = client.get("/reminders/rules").get_data(as_text=True)
    assert "Reçu, non effacé (risque pour les données)" in html and "received_not_wiped" in html
    assert "<form" not in html.split("<main", 1)[1].split("</main>", 1)[0].replace(
        'class="lang-switch"', "")  # no form in the page body
    assert client.post("/reminders/rules").status_code == 405  # read-only: no POST route at all
    login("technician")
    assert client.get("/reminders/rules").status_code == 403


def test_the_home_page_shows_the_overdue_counts_of_the_role(client, login, orgs, users, frozen_clock):
    _overdue(orgs, users, frozen_clock)
    login("technician")
    html = client.get("/home").get_data(as_text=True)
    assert 'id="overdue-title"' in html and "<strong>3</strong> appareils en retard" in html
    login("donor_b")
    html = client.get("/home").get_data(as_text=True)
    assert "<strong>1</strong> appareil en retard<" in html
    login("coordinator")
    assert "Rien n'est en retard." in client.get("/home").get_data(as_text=True)


def test_pages_are_in_english_for_an_english_speaking_user(client, login, orgs, users, frozen_clock):
    _overdue(orgs, users, frozen_clock)
    users["technician"].locale = "en"
    db.session.commit()
    html = client.get("/login?lang=en").get_data(as_text=True)
    login("technician")
    html = client.get("/reminders?lang=en").get_data(as_text=True)
    assert "Overdue devices" in html and "Received, not wiped (data risk)" in html
