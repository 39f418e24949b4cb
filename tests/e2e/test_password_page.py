"""Changing one's password in Chromium: reachable from the header, accessible, weak passwords refused in French."""
import pytest
from playwright.sync_api import expect

from .conftest import axe_check, login_as

pytestmark = pytest.mark.e2e


def test_a_technician_changes_their_password_and_every_session_ends(users, live_server, page, browser):
    login_as(page, live_server, users["technician"])
    other = browser.new_context(locale="fr-FR").new_page()  # the same person on a second browser
    login_as(other, live_server, users["technician"])

    page.locator("button[aria-controls=account-menu]").click()  # the account menu in the header
    page.get_by_role("link", name="Mon mot de passe").click()
    expect(page.get_by_role("heading", name="Changer mon mot de passe")).to_be_visible()
    axe_check(page)

    page.get_by_label("Mot de passe actuel").fill("correct-horse-battery")
    page.locator("#f-password").fill("aaaaaaaaaa")
    page.get_by_label("Nouveau mot de passe, à nouveau").fill("aaaaaaaaaa")
    page.get_by_role("button", name="Changer mon mot de passe").click()
    expect(page.get_by_role("alert")).to_contain_text("trop facile à deviner")
    axe_check(page)

    new = "lichen ardoise tramway 42"
    page.get_by_label("Mot de passe actuel").fill("correct-horse-battery")
    page.locator("#f-password").fill(new)
    page.get_by_label("Nouveau mot de passe, à nouveau").fill(new)
    page.get_by_role("button", name="Changer mon mot de passe").click()
    expect(page).to_have_url(f"{live_server}/login")
    expect(page.get_by_role("status")).to_contain_text("Toutes les sessions ont été fermées")

    other.goto(f"{live_server}/home")
    assert "/login" in other.url  # the second browser was signed out too
    login_as(page, live_server, users["technician"], password=new)
    other.context.close()
