"""The auditor in the browser: the dashboard and a device timeline, accessible, captured for docs/audit.md."""
import os

from playwright.sync_api import expect

from .conftest import axe_check, login_as, screenshot, settle

DOCS_AUDIT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "docs", "audit")


def _shot(page, name, full_page=True):
    screenshot(page, name, full_page=full_page, folder=DOCS_AUDIT)


def test_an_auditor_reads_the_dashboard_and_a_device_timeline(app, live_server, page, tmp_path):
    from asset_tracker.audit import keys, services
    from asset_tracker.core import Actor
    from asset_tracker.demo import DEMO_PASSWORD, load_demo

    load_demo(60)
    before = app.config["AUDIT_SIGNING_KEY_PATH"]
    app.config["AUDIT_SIGNING_KEY_PATH"] = keys.generate(str(tmp_path / "checkpoint.pem"))[0]
    try:
        services.sign_checkpoint(actor=Actor.system("scheduler"), key_path=app.config["AUDIT_SIGNING_KEY_PATH"])
        settle()
        login_as(page, live_server, "auditeur@demo.reboot.example", password=DEMO_PASSWORD)

        page.goto(f"{live_server}/reports")
        expect(page.get_by_role("heading", name="Tableau de bord du programme")).to_be_visible()
        expect(page.locator("svg.chart")).to_have_count(5)
        axe_check(page)
        _shot(page, "dashboard")

        page.goto(f"{live_server}/devices?state=handed_over")
        tag = page.locator("table a.tag").first.inner_text().strip()
        page.goto(f"{live_server}/audit")
        page.fill("main input[name=q]", tag)
        page.press("main input[name=q]", "Enter")
        expect(page.get_by_role("heading", name="Historique complet de la chaîne de garde")).to_be_visible()
        expect(page.locator("main")).not_to_contain_text("MC-0")  # no beneficiary reference, ever
        axe_check(page)
        _shot(page, "device-timeline")

        page.goto(f"{live_server}/audit/chain")
        expect(page.locator("main")).to_contain_text("1")
        axe_check(page)
        _shot(page, "chain", full_page=False)

        for path in ("/audit", "/audit/watch/in_transit", "/audit/batches", "/audit/exports"):
            page.goto(f"{live_server}{path}")
            axe_check(page)
        assert page.js_errors == []
    finally:
        app.config["AUDIT_SIGNING_KEY_PATH"] = before
