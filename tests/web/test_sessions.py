"""Sessions end for real (logout, password change, idle and absolute lifetimes); tokens expire and are their owner's."""
import datetime as dt
import re

import pytest

from asset_tracker.auth.models import ApiToken, User
from tests.conftest import csrf_token
from tests.factories import PASSWORD, token_for

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def sign_in(app, user, password=PASSWORD):
    """A fresh browser signed in as ``user``."""
    browser = app.test_client()
    resp = browser.post("/login", data={"email": user.email, "password": password, "csrf_token": csrf_token(browser)})
    assert resp.status_code == 302, re.findall(r"<(?:p class=\"lead\"|li)>(.*?)</", resp.get_data(as_text=True))
    return browser


def copy_of(app, browser):
    """Another client holding a copy of ``browser``'s session cookie (what a thief would replay)."""
    thief = app.test_client()
    cookie = browser.get_cookie("session")
    thief.set_cookie("session", cookie.value)
    return thief


def signed_in(browser) -> bool:
    return browser.get("/home").status_code == 200 and browser.get("/api/v1/me").status_code == 200


def test_a_session_cookie_copied_before_logout_is_refused_after_it(app, users):
    laptop = sign_in(app, users["technician"])
    station = sign_in(app, users["technician"])  # the same person on the scanning station
    thief = copy_of(app, laptop)
    assert signed_in(thief)

    assert laptop.post("/logout", data={"csrf_token": csrf_token(laptop, "/home")}).status_code == 302

    assert not signed_in(laptop)
    assert thief.get("/home").status_code == 302 and "/login" in thief.get("/home").headers["Location"]
    assert thief.get("/api/v1/me").status_code == 401
    assert not signed_in(station)  # logout ends every session of the user
    assert signed_in(sign_in(app, users["technician"]))  # signing in again works
    assert signed_in(sign_in(app, users["donor"]))


def test_a_password_change_ends_every_session_and_the_new_password_works(app, users, db):
    new = "lichen ardoise tramway 42"
    browser, other = sign_in(app, users["donor"]), sign_in(app, users["donor"])
    thief = copy_of(app, browser)
    resp = browser.post("/account/password", data={"current": PASSWORD, "password": new, "confirm": new,
                                                   "csrf_token": csrf_token(browser, "/account/password")})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert not signed_in(browser) and not signed_in(other) and not signed_in(thief)
    assert signed_in(sign_in(app, users["donor"], new))
    stranger = app.test_client()
    refused = stranger.post("/login", data={"email": users["donor"].email, "password": PASSWORD,
                                            "csrf_token": csrf_token(stranger)})
    assert refused.status_code == 401
    assert db.session.get(User, users["donor"].id).session_generation == 1


@pytest.mark.parametrize("weak", ["aaaaaaaaaa", "password123", "azertyuiop1", "donor@example.org"])
def test_a_weak_password_is_refused_with_a_french_message(app, users, db, weak):
    browser = sign_in(app, users["donor"])
    before = db.session.get(User, users["donor"].id).password_hash
    resp = browser.post("/account/password", data={"current": PASSWORD, "password": weak, "confirm": weak,
                                                   "csrf_token": csrf_token(browser, "/account/password")})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "trop facile à deviner" in html or "au moins 10 caractères" in html
    db.session.expire_all()
    assert db.session.get(User, users["donor"].id).password_hash == before
    assert signed_in(browser)


def test_a_short_password_and_a_wrong_current_one_are_refused(app, users):
    browser = sign_in(app, users["donor"])
    token = csrf_token(browser, "/account/password")
    short = browser.post("/account/password", data={"current": PASSWORD, "password": "Zq8!x", "confirm": "Zq8!x",
                                                    "csrf_token": token}, headers={"Accept-Language": "en"})
    assert short.status_code == 422 and "at least 10 characters" in short.get_data(as_text=True)
    wrong = browser.post("/account/password", data={"current": "not-it-at-all", "password": "lichen ardoise tramway 42",
                                                    "confirm": "lichen ardoise tramway 42", "csrf_token": token})
    assert wrong.status_code == 422
    assert signed_in(browser)


def test_the_api_refuses_a_weak_password_for_a_new_user(client, api_headers, orgs):
    resp = client.post("/api/v1/users", headers={**api_headers("admin"), "Accept-Language": "en"}, json={
        "email": "new@example.org", "role": "donor", "organisation_id": orgs["donor"].id, "password": "aaaaaaaaaa"})
    assert resp.status_code == 422
    assert resp.json["error"]["code"] == "weak_password"
    assert "too easy to guess" in resp.json["error"]["message"]


def test_an_idle_session_ends_after_the_idle_lifetime(app, users, frozen_clock):
    frozen_clock(T0)
    browser = sign_in(app, users["technician"])
    frozen_clock(T0 + dt.timedelta(minutes=119))
    assert signed_in(browser)
    frozen_clock(T0 + dt.timedelta(minutes=119 + 121))
    assert not signed_in(browser)


def test_an_active_session_ends_after_the_absolute_lifetime(app, users, frozen_clock):
    frozen_clock(T0)
    browser = sign_in(app, users["technician"])
    for hours in range(1, 12):
        frozen_clock(T0 + dt.timedelta(hours=hours))
        assert signed_in(browser), hours
    frozen_clock(T0 + dt.timedelta(hours=12, minutes=1))
    assert not signed_in(browser)


def test_the_session_cookie_needs_csrf_even_with_another_authorization_header(app, users, orgs):
    browser = sign_in(app, users["donor"])
    body = {"type": "laptop"}
    for headers in ({}, {"Authorization": "Basic Zm9vOmJhcg=="}, {"Authorization": "Negotiate xyz"}):
        resp = browser.post("/api/v1/devices", json=body, headers=headers)
        assert resp.status_code == 400, (headers, resp.status_code)
        assert "CSRF" in resp.json["error"]["message"] or resp.json["error"]["code"] == "bad_request"
    token = csrf_token(browser, "/home")
    assert browser.post("/api/v1/devices", json=body, headers={"X-CSRFToken": token}).status_code == 201


def test_an_expired_token_is_refused(client, users, frozen_clock, app):
    frozen_clock(T0)
    secret = token_for(users["technician"])
    headers = {"Authorization": f"Bearer {secret}"}
    frozen_clock(T0 + dt.timedelta(days=364))
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    frozen_clock(T0 + dt.timedelta(days=app.config["TOKEN_LIFETIME_DAYS"], seconds=1))
    resp = client.get("/api/v1/me", headers=headers)
    assert resp.status_code == 401 and resp.json["error"]["code"] == "unauthorized"


def test_a_token_shows_its_expiry_and_last_use(client, users, frozen_clock, db):
    frozen_clock(T0)
    secret = token_for(users["donor"])
    headers = {"Authorization": f"Bearer {secret}"}
    listed = client.get("/api/v1/tokens", headers=headers).json
    assert len(listed) == 1 and "token" not in listed[0]
    assert listed[0]["last_used_at"].startswith("2026-11-30T08:00")
    assert listed[0]["expires_at"].startswith("2027-11-30")
    frozen_clock(T0 + dt.timedelta(hours=3))
    db.session.rollback()  # requests share the test's session here: end its read snapshot
    client.get("/api/v1/devices", headers=headers)
    db.session.rollback()
    assert client.get("/api/v1/tokens", headers=headers).json[0]["last_used_at"].startswith("2026-11-30T11:00")


def test_a_token_is_revoked_only_by_its_owner_or_an_admin(client, users, api_headers, db):
    mine = token_for(users["donor"])
    theirs = db.session.query(ApiToken).filter_by(user_id=users["donor"].id).one()
    for other in ("donor_b", "technician", "auditor"):
        resp = client.delete(f"/api/v1/tokens/{theirs.id}", headers=api_headers(other))
        assert resp.status_code == 404, other
        assert resp.json["error"]["code"] == "not_found"
        listed = client.get("/api/v1/tokens", headers=api_headers(other)).json
        assert theirs.id not in {t["id"] for t in listed}
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {mine}"}).status_code == 200

    own = client.delete(f"/api/v1/tokens/{theirs.id}", headers={"Authorization": f"Bearer {mine}"})
    assert own.status_code == 200 and own.json["revoked_at"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {mine}"}).status_code == 401

    second = token_for(users["donor"])
    second_id = db.session.query(ApiToken).filter_by(user_id=users["donor"].id).order_by(ApiToken.id.desc()).first().id
    assert client.delete(f"/api/v1/tokens/{second_id}", headers=api_headers("admin")).status_code == 200
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {second}"}).status_code == 401


def test_the_command_line_lists_tokens_with_their_expiry_and_last_use(runner, users, client, frozen_clock):
    frozen_clock(T0)
    secret = token_for(users["donor"])
    client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    result = runner.invoke(args=["tokens", "list", "--email", users["donor"].email])
    assert result.exit_code == 0, result.output
    assert users["donor"].email in result.output and "expires 2027-11-30" in result.output
    assert "2026-11-30T08:00" in result.output and secret not in result.output
