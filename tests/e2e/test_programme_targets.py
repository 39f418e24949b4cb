"""The programme owner's dashboard with both Reboot' targets, and the coordinator's stock, in the browser."""
from playwright.sync_api import expect

from .conftest import axe_check, login_as, screenshot, settle


def test_the_dashboard_shows_both_reboot_targets_and_a_coordinator_sees_the_stock(app, live_server, page):
    from asset_tracker.demo import DEMO_PASSWORD, load_demo

    load_demo(60)
    settle()
    login_as(page, live_server, "admin@demo.reboot.example", password=DEMO_PASSWORD)
    page.goto(f"{live_server}/reports")
    rows = page.locator("table tr").filter(has_text="Reboot'")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("td").first).to_have_text("Portable")
    expect(rows.nth(0).locator("td").nth(1)).to_have_text("1 000")
    expect(rows.nth(1).locator("td").first).to_have_text("Kit famille")
    expect(rows.nth(1).locator("td").nth(1)).to_have_text("2 000")
    chart = page.locator("svg.chart").filter(has_text="Kit famille")
    expect(chart).to_contain_text("Portable")
    axe_check(page)
    page.locator("#programmes-title").scroll_into_view_if_needed()
    screenshot(page, "dashboard-targets", full_page=False)

    page.goto(f"{live_server}/distribution/programmes")
    expect(page.locator("main")).to_contain_text("Kit famille")
    expect(page.locator("progress")).to_have_count(2)
    axe_check(page)

    page.context.clear_cookies()
    login_as(page, live_server, "coordinatrice@demo.reboot.example", password=DEMO_PASSWORD)
    page.goto(f"{live_server}/distribution/stock")
    expect(page.get_by_role("heading", name="Kits complets")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("RB-")  # counts, never a device of someone else
    axe_check(page)
    screenshot(page, "coordinator-stock")

    page.context.clear_cookies()
    login_as(page, live_server, "technicien@demo.reboot.example", password=DEMO_PASSWORD)
    page.goto(f"{live_server}/distribution/accessories?kind=mobile_key&status=in_stock")
    expect(page.get_by_role("heading", name="Clés 4G et accessoires")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(6)  # the demo's loose keys, each with its IMEI and ICCID
    axe_check(page)
