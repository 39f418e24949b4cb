"""The scanning station in headless Chromium, typed like a keyboard-wedge scanner (a burst of keys, then Enter)."""
import time

import pytest
from sqlalchemy import func, select

from asset_tracker.custody.models import CustodyEvent
from asset_tracker.devices import keyboard
from asset_tracker.devices.models import Device
from asset_tracker.extensions import db as _db
from tests.factories import make_device

from .conftest import axe_check, login_as, settle

pytestmark = pytest.mark.e2e
KEY_DELAY_MS = 15  # a scanner types far faster than a person: well under 60 ms between keys


def open_station(page, live_server, user):
    login_as(page, live_server, user)
    page.goto(f"{live_server}/workshop/station")
    page.wait_for_selector("#station[data-ready='1']")


def scan(page, code, finish="Enter"):
    page.keyboard.type(code, delay=KEY_DELAY_MS)
    page.keyboard.press(finish)


def wait_answered(page, count, timeout=20_000):
    """Wait until ``count`` scans have an answer and nothing is waiting to be sent."""
    page.wait_for_function(
        """(n) => document.querySelectorAll('#scan-list tr:not([data-outcome=pending])').length >= n
                  && document.querySelectorAll('#scan-list tr[data-outcome=pending]').length === 0""",
        arg=count, timeout=timeout)


def script_errors(page):
    # Refusals (404/409/422) and refused connections are logged by Chromium itself; they are expected here.
    return [e for e in page.js_errors if "Failed to load resource" not in e]


def received_events(tag):
    return _db.session.scalar(select(func.count()).select_from(CustodyEvent).where(
        CustodyEvent.device_tag == tag, CustodyEvent.state_after == "received"))


def test_twenty_devices_received_in_a_row(orgs, users, live_server, page):
    tags = [make_device(orgs, users, state="collected").tag for _ in range(20)]
    open_station(page, live_server, users["technician"])
    axe_check(page)
    assert page.evaluate("document.activeElement.id") == "scan-code"
    started = time.monotonic()
    for tag in tags:
        scan(page, tag)
    wait_answered(page, 20)
    elapsed = time.monotonic() - started
    assert page.locator("#scan-list tr[data-outcome=applied]").count() == 20
    assert page.get_attribute("#scan-result", "data-outcome") == "applied"
    assert tags[-1] in page.inner_text("#scan-result")
    assert page.evaluate("document.activeElement.id") == "scan-code"  # focus never left the input
    settle()
    for tag in tags:
        assert _db.session.execute(select(Device.state).where(Device.tag == tag)).scalar_one().value == "received"
        assert received_events(tag) == 1
    settle()
    assert not script_errors(page), page.js_errors
    print(f"20 scans typed and answered in {elapsed:.2f} s")


def test_a_refused_scan_is_shown_as_refused_with_its_reason(orgs, users, live_server, page):
    device = make_device(orgs, users, state="ready")
    tag = device.tag
    open_station(page, live_server, users["technician"])
    page.select_option("#st-action", "wipe")
    assert page.evaluate("document.activeElement.id") == "scan-code"  # back to the input after choosing
    scan(page, tag, finish="Tab")  # scanners set to end with Tab work too
    wait_answered(page, 1)
    result = page.locator("#scan-result")
    assert result.get_attribute("data-outcome") == "refused"
    text = result.inner_text()
    assert tag in text and "Prêt" in text  # why: the device is ready, which cannot be wiped
    assert "scan-result--refused" in result.get_attribute("class")
    settle()
    assert _db.session.execute(select(Device.state).where(Device.tag == tag)).scalar_one().value == "ready"
    settle()


def test_a_duplicate_burst_is_ignored(orgs, users, live_server, page):
    tag = make_device(orgs, users, state="collected").tag
    open_station(page, live_server, users["technician"])
    scan(page, tag)
    scan(page, tag)  # the scanner read the same label twice
    wait_answered(page, 1)
    page.wait_for_timeout(300)
    assert page.locator("#scan-list tr").count() == 1
    assert page.inner_text("#station-notice").strip()
    settle()
    assert received_events(tag) == 1
    settle()


def test_an_azerty_garbled_code_is_recovered_and_said_so(orgs, users, live_server, page):
    tag = make_device(orgs, users, state="collected").tag
    typed = keyboard.garble(tag)
    assert typed != tag
    open_station(page, live_server, users["technician"])
    scan(page, typed)
    wait_answered(page, 1)
    assert page.get_attribute("#scan-result", "data-outcome") == "applied"
    recovered = page.inner_text("#scan-result .scan-result__recovered")
    assert typed in recovered and tag in recovered and "AZERTY" in recovered
    settle()
    assert received_events(tag) == 1
    settle()


def test_scans_made_while_the_server_is_unreachable_are_applied_once_when_it_returns(
        orgs, users, live_server, page):
    tags = [make_device(orgs, users, state="collected").tag for _ in range(8)]
    settle()
    before = _db.session.scalar(select(func.count()).select_from(CustodyEvent))
    settle()
    open_station(page, live_server, users["technician"])
    for tag in tags[:2]:
        scan(page, tag)
    wait_answered(page, 2)

    # The server goes away: the first request reaches it but its answer is lost, then connections are refused.
    state = {"lost_answers": 0}

    def server_down(route):
        if state["lost_answers"] == 0:
            state["lost_answers"] += 1
            route.fetch()  # applied on the server...
            route.abort("connectionreset")  # ...but the station never hears back
        else:
            route.abort("connectionrefused")

    page.route("**/api/v1/scans", server_down)
    for tag in tags[2:]:
        scan(page, tag)
    page.wait_for_function("() => document.querySelector('#queue-status').dataset.pending === '6'")
    assert page.get_attribute("#scan-result", "data-outcome") == "pending"
    assert page.locator("#scan-list tr[data-outcome=pending]").count() == 6
    page.wait_for_timeout(4000)  # a retry or two fail meanwhile
    assert page.locator("#scan-list tr[data-outcome=pending]").count() == 6

    page.unroute("**/api/v1/scans")  # the server is back
    wait_answered(page, 8, timeout=30_000)
    assert page.get_attribute("#queue-status", "data-pending") == "0"
    outcomes = page.eval_on_selector_all("#scan-list tr", "rows => rows.map(r => r.dataset.outcome)")
    assert outcomes == ["applied"] * 8, outcomes
    settle()
    for tag in tags:
        assert received_events(tag) == 1, tag
    assert _db.session.scalar(select(func.count()).select_from(CustodyEvent)) == before + 8
    # Sent in order: the events follow the scanning order.
    seqs = [_db.session.scalar(select(CustodyEvent.seq).where(CustodyEvent.device_tag == tag,
                                                              CustodyEvent.state_after == "received"))
            for tag in tags]
    assert seqs == sorted(seqs)
    settle()


def test_the_browser_going_offline_queues_scans_and_sends_them_in_order(orgs, users, live_server, page):
    tags = [make_device(orgs, users, state="collected").tag for _ in range(4)]
    open_station(page, live_server, users["technician"])
    page.context.set_offline(True)
    for tag in tags:
        scan(page, tag)
    page.wait_for_function("() => document.querySelector('#queue-status').dataset.pending === '4'")
    page.context.set_offline(False)
    wait_answered(page, 4, timeout=30_000)
    settle()
    for tag in tags:
        assert received_events(tag) == 1
    settle()


def test_the_last_scan_can_be_undone_where_the_lifecycle_allows(orgs, users, live_server, page):
    device = make_device(orgs, users, state="ready")
    tag = device.tag
    open_station(page, live_server, users["technician"])
    page.select_option("#st-action", "reserve")
    page.select_option("#st-programme", str(orgs["programme"].id))
    page.select_option("#st-partner", str(orgs["partner"].id))
    page.focus("#scan-code")
    scan(page, tag)
    wait_answered(page, 1)
    page.click("#undo-button")
    page.wait_for_selector("#scan-result[data-outcome=undone]")
    settle()
    assert _db.session.execute(select(Device.state).where(Device.tag == tag)).scalar_one().value == "ready"
    settle()
