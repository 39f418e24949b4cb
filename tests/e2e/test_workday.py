"""A full working day in a real browser on the demo data: every page of every role on a phone, the station on a
workshop screen, and the header search."""
from __future__ import annotations

from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from asset_tracker.demo import DEMO_PASSWORD, USERS, load_demo
from asset_tracker.devices import keyboard
from asset_tracker.devices.models import Device
from asset_tracker.extensions import db as _db
from asset_tracker.lifecycle import State

from .conftest import axe_check, login_as, screenshot, settle

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}
WORKSHOP_SCREEN = {"width": 1366, "height": 768}
# Links that are files, actions or another application, not pages of the site.
NOT_PAGES = (".pdf", ".csv", ".xlsx", ".zip", ".json", "/api/", "/logout", "/export", "export=")


@pytest.fixture
def demo(app, db):
    load_demo(30)
    settle()


def header_height(page) -> float:
    return page.evaluate("() => document.getElementById('site-header').getBoundingClientRect().height")


def sideways_overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")


def _links(page, live_server, selector) -> list[str]:
    hrefs = page.eval_on_selector_all(selector, "els => els.map(e => e.getAttribute('href'))")
    out = []
    for href in hrefs:
        if not href or href.startswith(("#", "mailto:", "http")) or any(n in href for n in NOT_PAGES):
            continue
        out.append(urlparse(href).path + (("?" + urlparse(href).query) if urlparse(href).query else ""))
    return out


def pages_of(page, live_server) -> list[str]:
    """The home page, every menu entry, and the pages the home page and the menu pages link to (one level)."""
    page.goto(f"{live_server}/home")
    menu = ["/home"] + _links(page, live_server, "#site-menu a")
    found = list(dict.fromkeys(menu + _links(page, live_server, "main a")))
    for path in menu:
        page.goto(live_server + path)
        found += [p for p in _links(page, live_server, "main a") if p not in found][:6]
        found = list(dict.fromkeys(found))
    return found


@pytest.mark.parametrize("email", [u[0] for u in USERS if u[0] != "mairie@demo.reboot.example"])
def test_every_page_of_every_role_fits_a_phone_with_a_compact_header(demo, live_server, page, email):
    login_as(page, live_server, email, password=DEMO_PASSWORD)
    paths = pages_of(page, live_server)
    assert len(paths) > 5
    page.set_viewport_size(PHONE)
    problems = []
    for path in paths:
        response = page.goto(live_server + path)
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        assert response.status < 400, f"{path} answered {response.status}"
        expect(page.locator("#menu-toggle")).to_have_attribute("aria-expanded", "false")
        overflow = sideways_overflow(page)
        height = header_height(page)
        if overflow > 0:
            problems.append(f"{path}: {overflow} px sideways")
        if height >= PHONE["height"] / 3:
            problems.append(f"{path}: header {height:.0f} px high")
        axe_check(page)
    assert problems == []
    assert page.js_errors == []


# Other screens than the two the programme names: a small phone, the menu-button limit, a tablet in landscape.
OTHER_SCREENS = ({"width": 360, "height": 640}, {"width": 800, "height": 600}, {"width": 1024, "height": 768})


@pytest.mark.parametrize("email", [u[0] for u in USERS])
def test_the_menu_pages_of_every_role_never_scroll_sideways_on_other_screens(demo, live_server, page, email):
    login_as(page, live_server, email, password=DEMO_PASSWORD)
    page.goto(f"{live_server}/home")
    paths = ["/home", "/devices"] + _links(page, live_server, "#site-menu a")
    problems = []
    for screen in OTHER_SCREENS:
        page.set_viewport_size(screen)
        for path in dict.fromkeys(paths):
            response = page.goto(live_server + path)
            assert response.status < 400, f"{path} answered {response.status}"
            overflow = sideways_overflow(page)
            if overflow > 0:
                problems.append(f"{screen['width']}x{screen['height']} {path}: {overflow} px sideways")
            if header_height(page) >= screen["height"] / 3:
                problems.append(f"{screen['width']}x{screen['height']} {path}: header over a third of the screen")
    assert problems == []


def test_the_phone_menu_opens_from_its_button_and_closes_with_escape(demo, live_server, page):
    page.set_viewport_size(PHONE)
    login_as(page, live_server, "admin@demo.reboot.example", password=DEMO_PASSWORD)
    nav = page.locator("#main-nav")
    expect(nav).to_be_hidden()
    closed = header_height(page)
    screenshot(page, "phone-menu-closed", full_page=False)
    toggle = page.locator("#menu-toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(nav).to_be_visible()
    group = page.get_by_role("button", name="Effacement")
    group.click()
    expect(group).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("link", name="Contrôles d'effacement")).to_be_visible()
    page.keyboard.press("Escape")
    expect(group).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Escape")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(nav).to_be_hidden()
    assert closed < PHONE["height"] / 3


def test_desktop_menu_groups_open_with_the_keyboard(demo, live_server, page):
    login_as(page, live_server, "technicien@demo.reboot.example", password=DEMO_PASSWORD)
    expect(page.locator("#menu-toggle")).to_be_hidden()
    group = page.get_by_role("button", name="Atelier")
    expect(group).to_have_attribute("aria-expanded", "false")
    station = page.get_by_role("link", name="Poste de scan")
    expect(station).to_be_hidden()
    group.focus()
    page.keyboard.press("Enter")
    expect(group).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")
    expect(station).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url("**/workshop/station")
    axe_check(page)


def test_the_station_shows_the_result_of_a_scan_on_a_workshop_screen(demo, live_server, page):
    page.set_viewport_size(WORKSHOP_SCREEN)
    login_as(page, live_server, "technicien@demo.reboot.example", password=DEMO_PASSWORD)
    page.goto(f"{live_server}/workshop/station")
    page.wait_for_selector("#station[data-ready='1']")
    # Only the chosen action's fields show: "receive" asks for nothing but the station name.
    for name in ("verdict", "grade", "programme_id", "recycler_organisation_id"):
        expect(page.locator(f"[name={name}]")).to_be_hidden()
    page.select_option("#st-action", "diagnose")
    expect(page.locator("[name=verdict]")).to_be_visible()
    expect(page.locator("[name=grade]")).to_be_hidden()
    page.select_option("#st-action", "lookup")
    # No barcode detector in headless Chromium on Linux: no camera button that would do nothing.
    if not page.evaluate("() => 'BarcodeDetector' in window"):
        expect(page.locator("#camera-button")).to_be_hidden()
    tag = _db.session.scalar(select(Device.tag).where(Device.state == State.RECEIVED).limit(1))
    page.locator("#scan-code").focus()
    page.keyboard.type(tag, delay=10)
    page.keyboard.press("Enter")
    result = page.locator("#scan-result")
    expect(result).to_have_attribute("data-outcome", "looked_up")
    box = result.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= WORKSHOP_SCREEN["height"], box
    assert sideways_overflow(page) <= 0
    expect(page.locator("#scan-list tr").first).not_to_contain_text("lookup")
    axe_check(page)
    screenshot(page, "station", full_page=False)
    page.set_viewport_size(PHONE)
    assert sideways_overflow(page) <= 0
    assert page.js_errors == []


def test_the_pending_box_names_the_code_just_scanned_while_offline(demo, live_server, page):
    login_as(page, live_server, "technicien@demo.reboot.example", password=DEMO_PASSWORD)
    page.goto(f"{live_server}/workshop/station")
    page.wait_for_selector("#station[data-ready='1']")
    page.select_option("#st-action", "lookup")
    tags = _db.session.scalars(select(Device.tag).order_by(Device.id).limit(3)).all()
    page.context.set_offline(True)
    for tag in tags:
        page.locator("#scan-code").focus()
        page.keyboard.type(tag, delay=5)
        page.keyboard.press("Enter")
        expect(page.locator("#scan-result")).to_have_attribute("data-outcome", "pending")
        expect(page.locator("#scan-result .scan-result__title")).to_contain_text(tag)
    page.context.set_offline(False)


@pytest.mark.parametrize("how", ["serial", "tag without dashes", "garbled tag"])
def test_the_header_search_opens_the_device(demo, live_server, page, how):
    device = _db.session.scalars(select(Device).where(Device.serial.is_not(None)).order_by(Device.id)).first()
    text = {"serial": device.serial, "tag without dashes": device.tag.replace("-", ""),
            "garbled tag": keyboard.garble(device.tag)}[how]
    tag = device.tag
    login_as(page, live_server, "technicien@demo.reboot.example", password=DEMO_PASSWORD)
    page.goto(f"{live_server}/devices")
    page.fill("#header-q", text)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/devices/{tag}")
    expect(page.locator("h1")).to_contain_text(tag)


def test_the_header_search_lists_brand_and_model_matches(demo, live_server, page):
    login_as(page, live_server, "technicien@demo.reboot.example", password=DEMO_PASSWORD)
    page.fill("#header-q", "Lenovo ThinkPad")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=*")
    rows = page.locator("main table tbody tr")
    expect(rows.first).to_contain_text("ThinkPad")
    assert all("Lenovo" in t and "ThinkPad" in t for t in rows.all_inner_texts())
    axe_check(page)


def header_rows(page) -> list[tuple[str, float, float, str]]:
    """(class, top, bottom, text) of each visible piece of the header's bar: brand, search, menu entries and tools."""
    return page.evaluate("""() => [...document.querySelectorAll(
        '.site-header__inner > .brand, .header-search, .main-nav__list > li, .header-tools > *')]
        .filter(e => e.getClientRects().length)
        .map(e => { const r = e.getBoundingClientRect();
                    return [e.className || e.tagName, r.top, r.bottom, e.textContent.trim().slice(0, 30)]; })""")


# Roles whose menu fits beside the search on a 1366 px screen; the admin's and the auditor's longer menus take a
# second row, never more.
ONE_ROW_ROLES = ("donor", "technician", "coordinator")


@pytest.mark.parametrize("email, role", [u[:2] for u in USERS if u[0] != "mairie@demo.reboot.example"])
def test_the_header_is_one_row_on_a_desktop_screen(demo, live_server, page, email, role):
    page.set_viewport_size(WORKSHOP_SCREEN)
    login_as(page, live_server, email, password=DEMO_PASSWORD)
    for lang in ("fr", "en"):
        page.goto(f"{live_server}/devices?lang={lang}")
        pieces = header_rows(page)
        assert len(pieces) > 4
        height = header_height(page)
        if role in ONE_ROW_ROLES:
            # One row: every piece overlaps the vertical band of the logo.
            _, top, bottom, *_ = pieces[0]
            assert all(t < bottom and b > top for _, t, b, *_ in pieces), (lang, pieces)
            assert height < 70, (lang, height)
        else:
            assert height < 125, (lang, height)
        axe_check(page)
