"""The web application in a real browser: scoping, a workshop step, languages, read-only auditors, accessibility."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from asset_tracker.devices.models import Device
from asset_tracker.extensions import db
from asset_tracker.lifecycle import State

from ..factories import make_device
from .conftest import axe_check, login_as, screenshot, settle

pytestmark = pytest.mark.e2e


def test_login_page_is_french_by_default_and_accessible(live_server, page):
    page.goto(live_server + "/")
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()
    axe_check(page)
    assert page.js_errors == []


def test_a_donor_sees_only_the_devices_of_their_own_organisation(orgs, users, live_server, page):
    own = [make_device(orgs, users).tag, make_device(orgs, users, state="received").tag]
    other = make_device(orgs, users, donor="donor_b").tag

    login_as(page, live_server, users["donor"])
    expect(page.get_by_role("heading", name=re.compile("Où sont vos appareils"))).to_be_visible()
    axe_check(page)

    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name="Appareils").click()
    table = page.get_by_role("table")
    for tag in own:
        expect(table.get_by_role("link", name=tag)).to_be_visible()
    expect(table.get_by_role("link", name=other)).to_have_count(0)
    expect(page.get_by_text("2 appareils", exact=True)).to_be_visible()
    axe_check(page)

    response = page.goto(f"{live_server}/devices/{other}")
    assert response.status == 404
    expect(page.get_by_role("heading", name=re.compile("Introuvable"))).to_be_visible()


def test_a_technician_moves_a_device_one_step_and_sees_it_in_the_timeline(orgs, users, live_server, page):
    tag = make_device(orgs, users, state="received").tag

    login_as(page, live_server, users["technician"])
    page.goto(f"{live_server}/devices/{tag}")
    axe_check(page)
    diagnose = page.locator("form.step", has=page.locator("input[name=target][value=diagnosed]"))
    diagnose.get_by_label("Verdict").select_option("refurbish")
    diagnose.get_by_role("button", name="Diagnostiquer").click()

    expect(page.locator(".flash--success")).to_contain_text(f"{tag} est maintenant Diagnostiqué")
    expect(page.locator(".device-head .badge")).to_have_text("Diagnostiqué")
    last = page.locator(".timeline__item").last
    expect(last).to_contain_text("Changement d'état")
    expect(last.locator(".badge").last).to_have_text("Diagnostiqué")
    expect(last).to_contain_text(f"Par {users['technician'].display_name} (Weeefund)")  # a name, not an e-mail
    expect(last).to_contain_text("Verdict : Reconditionner")
    # The next steps now offered are those after a diagnosis.
    expect(page.locator("input[name=target][value=wiped]")).to_have_count(1)
    assert page.js_errors == []

    settle()
    device = db.session.execute(db.select(Device).where(Device.tag == tag)).scalar_one()
    db.session.refresh(device)
    assert device.state == State.DIAGNOSED and device.verdict.value == "refurbish"


def test_a_refused_step_says_why_and_changes_nothing(orgs, users, live_server, page):
    tag = make_device(orgs, users, state="received", media=1).tag  # its disk is not wiped since reception

    login_as(page, live_server, users["technician"])
    page.goto(f"{live_server}/devices/{tag}")
    page.locator("form.step", has=page.locator("input[name=target][value=wiped]")) \
        .get_by_role("button", name="Valider l'effacement").click()

    expect(page.locator(".flash--error")).to_contain_text("1 support(s) de stockage sur 1")
    expect(page.locator(".device-head .badge")).to_have_text("Reçu à l'atelier")


def test_switching_to_english_translates_pages_states_and_dates(orgs, users, live_server, page):
    tag = make_device(orgs, users, state="collected").tag

    login_as(page, live_server, users["technician"])
    expect(page.get_by_role("heading", name="En attente à l'atelier")).to_be_visible()
    page.get_by_role("button", name="English").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Waiting in the workshop")).to_be_visible()
    page.goto(f"{live_server}/devices/{tag}")
    expect(page.locator(".device-head .badge")).to_have_text("Collected")
    expect(page.get_by_role("heading", name="Custody timeline")).to_be_visible()
    expect(page.get_by_role("button", name="Receive")).to_be_visible()
    # English dates: month names in English, e.g. "Nov 29, 2026, 4:01:02 AM".
    assert re.search(r"[A-Z][a-z]{2} \d{1,2}, \d{4}", page.locator(".timeline__when time").first.inner_text())
    axe_check(page)

    page.get_by_role("button", name="Français").click()
    expect(page.locator(".device-head .badge")).to_have_text("Collecté")


def test_an_auditor_reads_everything_but_sees_no_action_buttons(orgs, users, live_server, page):
    tag = make_device(orgs, users, state="received").tag

    login_as(page, live_server, users["auditor"])
    expect(page.get_by_role("heading", name="Chaîne de traçabilité")).to_be_visible()
    axe_check(page)
    page.goto(f"{live_server}/devices/{tag}")
    expect(page.get_by_role("heading", name="Historique de traçabilité")).to_be_visible()
    expect(page.locator(".timeline__item")).to_have_count(3)
    expect(page.locator("form.step")).to_have_count(0)
    expect(page.get_by_role("heading", name="Prochaines étapes")).to_have_count(0)
    expect(page.locator("main button")).to_have_count(0)


def test_screenshots_of_home_list_and_device_pages(app, live_server, page):
    """Documentation screenshots on the demo data set, as a workshop technician sees it."""
    from asset_tracker.demo import DEMO_PASSWORD, load_demo

    load_demo(30)
    settle()
    login_as(page, live_server, "technicien@demo.reboot.example", password=DEMO_PASSWORD)
    axe_check(page)
    screenshot(page, "home")

    page.goto(f"{live_server}/devices")
    axe_check(page)
    screenshot(page, "device-list", full_page=False)

    page.goto(f"{live_server}/devices?state=received")
    page.locator("table a.tag").first.click()
    expect(page.get_by_role("heading", name="Prochaines étapes")).to_be_visible()
    axe_check(page)
    screenshot(page, "device")

    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "device-phone", full_page=False)
    assert page.js_errors == []


def test_api_documentation_renders_from_vendored_assets(live_server, page):
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server) else None)
    page.goto(f"{live_server}/api/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Reboot Tracker API")
    assert outside == []
