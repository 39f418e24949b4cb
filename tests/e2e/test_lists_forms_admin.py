"""Lists with their tools, forms that keep what was typed, and the admin pages, in a real browser."""
from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from asset_tracker.auth.models import ApiToken, User
from asset_tracker.core import Actor
from asset_tracker.extensions import db
from asset_tracker.intake import services as intake

from ..factories import make_device, token_for
from ..services.test_labels_printing import decoded_tags
from .conftest import axe_check, login_as, screenshot, settle

pytestmark = pytest.mark.e2e


def test_three_chosen_devices_print_as_a_pdf_of_exactly_three_labels(orgs, users, live_server, page):
    tags = [make_device(orgs, users, state="received").tag for _ in range(5)]
    chosen = [tags[0], tags[2], tags[4]]
    login_as(page, live_server, users["technician"])
    page.goto(f"{live_server}/devices")
    select_all = page.get_by_role("checkbox", name="Choisir tous les appareils de cette page")
    select_all.check()
    expect(page.locator("input[name=tags]:checked")).to_have_count(5)
    expect(page.locator("[data-selection-count]")).to_have_text("5 appareils choisis :")
    select_all.uncheck()
    expect(page.locator("input[name=tags]:checked")).to_have_count(0)
    for tag in chosen:
        page.get_by_role("checkbox", name=f"Choisir {tag}").check()
    expect(page.locator("[data-selection-count]")).to_have_text("3 appareils choisis :")
    axe_check(page)
    assert page.js_errors == []
    page.get_by_role("button", name="Imprimer leurs étiquettes").click()
    tags_box = page.locator("#p-tags")
    assert sorted(tags_box.input_value().split()) == sorted(chosen)
    with page.expect_download() as info:
        page.locator("form[action$='/labels/print'] button[type=submit]").click()
    pdf = open(info.value.path(), "rb").read()
    assert pdf.startswith(b"%PDF")
    assert sorted(decoded_tags(pdf)) == sorted(chosen)


def test_the_csv_export_of_a_filtered_device_list_holds_exactly_the_filtered_rows(orgs, users, live_server, page):
    received = {make_device(orgs, users, state="received").tag for _ in range(3)}
    for _ in range(2):
        make_device(orgs, users)  # registered: filtered out
    login_as(page, live_server, users["technician"])
    page.goto(f"{live_server}/devices?state=received&sort=tag&dir=desc&per_page=25")
    expect(page.locator(".page-head .lead")).to_contain_text("3 appareils")
    header = page.get_by_role("columnheader", name=re.compile("Étiquette"))
    expect(header).to_have_attribute("aria-sort", "descending")
    shown = page.locator("table tbody a.tag").all_inner_texts()
    assert shown == sorted(received, reverse=True)
    axe_check(page)
    screenshot(page, "device-list-tools")
    with page.expect_download() as info:
        page.get_by_role("link", name="CSV").click()
    rows = list(csv.DictReader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
    assert {r["tag"] for r in rows} == received and len(rows) == 3
    assert {r["state"] for r in rows} == {"received"}


def test_a_donor_form_with_a_wrong_value_keeps_every_field_and_says_why_next_to_it(orgs, users, live_server, page):
    batch = intake.create_batch(actor=Actor.of(users["donor"]), name="Collecte CAF — mars")
    settle()
    login_as(page, live_server, users["donor"])
    page.goto(f"{live_server}/batches/{batch.id}/devices/new")
    page.select_option("#f-type", "laptop")
    page.fill("#f-brand", "Lenovo")
    page.fill("#f-model", "ThinkPad T480")
    page.fill("#f-serial", "PF-1X2Y3Z")
    page.fill("#f-unit_value", "deux cents")
    page.select_option("#f-disk_kind", "ssd")
    page.fill("#f-disk_serial", "S4-XYZ")
    page.fill("#f-notes", "Rayure sur le capot")
    page.get_by_role("button", name="Enregistrer et en saisir un autre").click()
    value = page.locator("#f-unit_value")
    expect(value).to_have_value("deux cents")
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-unit_value-error")).to_contain_text("montant attendu, ex. 120,50")
    expect(page.locator("#f-brand")).to_have_value("Lenovo")
    expect(page.locator("#f-model")).to_have_value("ThinkPad T480")
    expect(page.locator("#f-serial")).to_have_value("PF-1X2Y3Z")
    expect(page.locator("#f-type")).to_have_value("laptop")
    expect(page.locator("#f-disk_kind")).to_have_value("ssd")
    expect(page.locator("#f-disk_serial")).to_have_value("S4-XYZ")
    expect(page.locator("#f-notes")).to_have_value("Rayure sur le capot")
    axe_check(page)
    # Corrected, the same button registers the device and opens an empty form for the next one.
    page.fill("#f-unit_value", "120,50")
    page.get_by_role("button", name="Enregistrer et en saisir un autre").click()
    expect(page.get_by_role("heading", name="Enregistrer un appareil")).to_be_visible()
    expect(page.locator("#f-brand")).to_have_value("")
    expect(page.locator(".flash--success")).to_contain_text("enregistré")


def test_an_admin_creates_a_user_and_revokes_a_token(orgs, users, live_server, page):
    token_for(users["technician"])
    settle()
    login_as(page, live_server, users["admin"])
    page.goto(f"{live_server}/admin/users")
    axe_check(page)
    page.fill("#f-email", "nina@weeefund.example")
    page.fill("#f-name", "Nina Diallo")
    page.select_option("#f-role", "technician")
    page.select_option("#f-organisation_id", str(orgs["workshop"].id))
    page.fill("#f-password", "atelier-2026-solide")
    page.get_by_role("button", name="Créer le compte").click()
    expect(page.locator(".flash--success")).to_contain_text("nina@weeefund.example")
    expect(page.get_by_role("cell", name="nina@weeefund.example", exact=True)).to_be_visible()
    screenshot(page, "admin-users", full_page=False)
    settle()
    user = db.session.execute(select(User).where(User.email == "nina@weeefund.example")).scalar_one()
    assert user.role.value == "technician" and user.organisation_id == orgs["workshop"].id

    page.goto(f"{live_server}/admin/tokens")
    axe_check(page)
    token = db.session.execute(select(ApiToken).where(ApiToken.user_id == users["technician"].id)).scalar_one()
    page.get_by_role("button", name=f"Révoquer le jeton {token.prefix}…").click()
    expect(page.locator(".flash--success")).to_contain_text("révoqué")
    expect(page.get_by_role("button", name=f"Révoquer le jeton {token.prefix}…")).to_have_count(0)
    settle()
    db.session.refresh(token)
    assert token.revoked_at is not None


def test_every_list_and_admin_page_passes_axe(orgs, users, live_server, page):
    from asset_tracker.distribution import services as dist
    from asset_tracker.lifecycle import State

    device = make_device(orgs, users, State.READY)
    dist.reserve_device(device.tag, actor=Actor.of(users["coordinator_b"]), programme_id=orgs["programme"].id)
    make_device(orgs, users, State.DIAGNOSED)
    intake.create_batch(actor=Actor.of(users["donor"]), name="Collecte avril")
    settle()
    login_as(page, live_server, users["admin"])
    for path in ("/admin/organisations", f"/admin/organisations/{orgs['donor'].id}", "/admin/partners",
                 "/admin/tokens", "/distribution/", "/distribution/?view=handed", "/batches?sort=name",
                 "/wiping/waiting", "/wiping/checks", "/reminders", "/audit/watch/lost", "/audit/batches",
                 "/distribution/reserve?tags=" + device.tag, "/distribution/recycling"):
        response = page.goto(live_server + path)
        assert response.status == 200, path
        axe_check(page)
    assert page.js_errors == []


def test_a_refused_import_keeps_the_mode_and_asks_for_the_file_again(orgs, users, live_server, page):
    batch = intake.create_batch(actor=Actor.of(users["donor"]), name="Collecte juin")
    settle()
    login_as(page, live_server, users["donor"], next_path=f"/batches/{batch.id}")
    page.get_by_label("Importer seulement les lignes valides").check()
    page.set_input_files("#f-file", files=[{"name": "parc.csv", "mimeType": "text/csv",
                                            "buffer": b"Marque;Remarques\r\nDell;rien\r\n"}])
    page.locator("form[action$='/import'] button[type=submit]").click()
    expect(page.locator("#f-file-error")).to_contain_text("Colonne(s) manquante(s)")
    expect(page.get_by_label("Importer seulement les lignes valides")).to_be_checked()
    expect(page.locator("#f-file-again")).to_contain_text("Choisissez à nouveau le fichier")
    expect(page.locator("#f-file")).to_have_attribute("aria-invalid", "true")
    axe_check(page)
    # The page itself answers 422 (the refusal); no script failed.
    assert [e for e in page.js_errors if "status of 422" not in e] == []
