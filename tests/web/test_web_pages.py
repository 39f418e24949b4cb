"""Pages through the test client: scoping, CSRF, post/redirect/get, error pages in the user's language."""
from __future__ import annotations

from asset_tracker.lifecycle import State
from tests.conftest import csrf_token
from tests.factories import make_device


def test_an_out_of_scope_device_page_is_a_404_in_french(client, login, orgs, users):
    other = make_device(orgs, users, donor="donor_b").tag
    login("donor")
    resp = client.get(f"/devices/{other}")
    assert resp.status_code == 404
    assert "Introuvable" in resp.get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(client, login, orgs, users):
    device = make_device(orgs, users, state="received")
    login("technician")
    resp = client.post(f"/devices/{device.tag}/transitions", data={"target": "diagnosed", "verdict": "refurbish"})
    assert resp.status_code == 400
    assert "formulaire a expiré" in resp.get_data(as_text=True)
    client.application.extensions["sqlalchemy"].session.refresh(device)
    assert device.state == State.RECEIVED


def test_a_step_redirects_to_the_device_page_with_a_message(client, login, orgs, users):
    device = make_device(orgs, users, state="received")
    login("technician")
    resp = client.post(f"/devices/{device.tag}/transitions",
                       data={"target": "diagnosed", "verdict": "parts", "csrf_token": csrf_token(client, "/home")})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/devices/{device.tag}")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"{device.tag} est maintenant Diagnostiqué" in page
    assert "Garder pour pièces" in page


def test_the_language_choice_is_remembered_on_the_user(client, login, orgs, users):
    # (Pages in English are checked in the browser tests: here every request shares the test's
    # application context, where Flask-Babel caches the first request's locale.)
    user = login("technician")
    resp = client.post("/language", data={"lang": "en", "next": "/devices", "csrf_token": csrf_token(client, "/home")})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/devices")
    assert user.locale == "en"


def test_an_auditor_cannot_post_a_step(client, login, orgs, users):
    device = make_device(orgs, users, state="received")
    login("auditor")
    resp = client.post(f"/devices/{device.tag}/transitions",
                       data={"target": "diagnosed", "verdict": "refurbish", "csrf_token": csrf_token(client, "/home")})
    assert resp.status_code == 403
    assert "Non autorisé" in resp.get_data(as_text=True)


def test_the_list_filters_by_state_and_paginates(client, login, orgs, users):
    for _ in range(3):
        make_device(orgs, users, state="collected")
    make_device(orgs, users)
    login("technician")
    html = client.get("/devices?state=collected&per_page=2").get_data(as_text=True)
    assert "3 appareils" in html and "Page 1 sur 2" in html and 'rel="next"' in html
