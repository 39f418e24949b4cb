"""Lists beyond devices with the shared toolkit: distribution tabs, batches, wiping, reminders, audit."""
from __future__ import annotations

import csv
import io
import re

from asset_tracker.core import Actor
from asset_tracker.distribution import services as dist
from asset_tracker.intake import services as intake
from asset_tracker.lifecycle import State
from tests import factories
from tests.web.test_distribution_pages import _handed_over
from tests.web.test_reminders_pages import _overdue


def _csv(resp) -> list[dict]:
    assert resp.status_code == 200 and resp.mimetype.startswith("text/csv")
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))


def test_the_distribution_desk_shows_one_paged_list_at_a_time(client, orgs, users, login):
    reserved = [factories.make_device(orgs, users, State.READY) for _ in range(3)]
    for d in reserved:
        dist.reserve_device(d.tag, actor=Actor.of(users["coordinator_b"]), programme_id=orgs["programme"].id)
    handed, _h = _handed_over(orgs, users, ref="MC-0042")
    login("coordinator_b")
    page = client.get("/distribution/?per_page=2&sort=tag").get_data(as_text=True)
    shown = re.findall(r'class="tag" href="/devices/([A-Z0-9-]+)"', page)
    assert shown == sorted(d.tag for d in reserved)[:2] and "Page 1 sur 2" in page
    assert "Remis (1)" in page and "Réservés (3)" in page
    page = client.get("/distribution/?view=handed").get_data(as_text=True)
    assert handed.tag in page and reserved[0].tag not in page
    rows = _csv(client.get("/distribution/?view=handed&export=csv"))
    assert [(r["device_tag"], r["beneficiary_ref"]) for r in rows] == [(handed.tag, "MC-0042")]


def test_an_admin_exports_hand_overs_without_references(client, orgs, users, login):
    _handed_over(orgs, users, ref="MC-0043")
    login("admin")
    rows = _csv(client.get("/distribution/?view=handed&export=csv"))
    assert len(rows) == 1 and rows[0]["beneficiary_ref"] == ""


def test_batches_sort_page_and_export_within_the_donors_scope(client, orgs, users, login):
    donor = Actor.of(users["donor"])
    for name in ("Collecte B", "Collecte A", "Collecte C"):
        intake.create_batch(actor=donor, name=name)
    intake.create_batch(actor=Actor.of(users["donor_b"]), name="Autre donateur")
    login("donor")
    page = client.get("/batches?sort=name&per_page=2").get_data(as_text=True)
    assert re.findall(r'>(Collecte [ABC])</a>', page) == ["Collecte A", "Collecte B"] and "Page 1 sur 2" in page
    rows = _csv(client.get("/batches?export=csv"))
    assert sorted(r["name"] for r in rows) == ["Collecte A", "Collecte B", "Collecte C"]
    login("auditor")
    page = client.get("/audit/batches?sort=name&dir=desc").get_data(as_text=True)
    assert re.findall(r'>(Autre donateur|Collecte [ABC])</a>', page)[0] == "Collecte C"


def test_the_wipe_waiting_list_sorts_pages_and_exports(client, orgs, users, login):
    tags = sorted(factories.make_device(orgs, users, State.DIAGNOSED).tag for _ in range(3))
    login("technician")
    page = client.get("/wiping/waiting?sort=tag&dir=desc&per_page=2").get_data(as_text=True)
    assert re.findall(r'class="tag">([A-Z0-9-]+)</a>', page) == tags[::-1][:2] and "Page 1 sur 2" in page
    rows = _csv(client.get("/wiping/waiting?export=csv"))
    assert sorted(r["tag"] for r in rows) == tags and {r["media"] for r in rows} == {"1"}


def test_the_overdue_list_sorts_by_tag_and_exports_the_current_filter(client, orgs, users, login, frozen_clock):
    made = _overdue(orgs, users, frozen_clock)
    login("technician")
    page = client.get("/reminders?sort=tag&dir=desc").get_data(as_text=True)
    shown = re.findall(r'<td><a href="/devices/([A-Z0-9-]+)">', page)
    assert shown == sorted((d.tag for d in made.values()), reverse=True)
    rows = _csv(client.get("/reminders?rule=received_not_wiped&export=csv"))
    assert [r["tag"] for r in rows] == [made["received"].tag]


def test_the_auditors_watch_list_sorts_and_exports(client, orgs, users, login):
    lost = sorted(factories.make_device(orgs, users, State.LOST).tag for _ in range(2))
    factories.make_device(orgs, users, State.RECEIVED)
    login("auditor")
    page = client.get("/audit/watch/lost?sort=tag&dir=desc").get_data(as_text=True)
    assert re.findall(r'class="tag" href="/audit/devices/([A-Z0-9-]+)"', page) == lost[::-1]
    rows = _csv(client.get("/audit/watch/lost?export=csv"))
    assert sorted(r["tag"] for r in rows) == lost and {r["state"] for r in rows} == {"lost"}
