"""Signing in: password check, CSRF, rate limit, safe redirects, sign-out."""
import pytest

from tests.conftest import csrf_token
from tests.factories import PASSWORD


def test_sign_in_and_out(client, users):
    token = csrf_token(client)
    resp = client.post("/login", data={"email": "TECH@example.org ", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/home")
    assert client.get("/home").status_code == 200
    token = csrf_token(client, "/home")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/home").status_code == 302


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client, users):
    token = csrf_token(client)
    resp = client.post("/login", data={"email": "tech@example.org", "password": "nope-nope-nope", "csrf_token": token})
    assert resp.status_code == 401
    unknown = client.post("/login", data={"email": "ghost@example.org", "password": "x", "csrf_token": token})
    assert unknown.status_code == 401
    assert client.get("/home").status_code == 302


def test_login_form_without_csrf_token_is_refused(client, users):
    resp = client.post("/login", data={"email": "tech@example.org", "password": PASSWORD})
    assert resp.status_code == 400
    assert client.get("/home").status_code == 302


def test_login_is_rate_limited(client, users):
    token = csrf_token(client)
    codes = [client.post("/login", data={"email": "tech@example.org", "password": f"wrong-{i}", "csrf_token": token},
                         environ_base={"REMOTE_ADDR": "10.9.9.9"}).status_code for i in range(7)]
    assert codes[:5] == [401] * 5
    assert codes[-1] == 429
    # even the right password waits out the limit
    right = client.post("/login", data={"email": "tech@example.org", "password": PASSWORD, "csrf_token": token},
                        environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert right.status_code == 429


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/",
                                    "/\t/evil.example/", "/\n/evil.example/", " //evil.example/"])
def test_next_parameter_cannot_redirect_elsewhere(client, users, target):
    token = csrf_token(client)
    resp = client.post("/login", query_string={"next": target},
                       data={"email": "tech@example.org", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/home"


def test_next_parameter_brings_back_to_the_page_asked_for(client, users):
    token = csrf_token(client)
    resp = client.post("/login", query_string={"next": "/devices?state=received"},
                       data={"email": "tech@example.org", "password": PASSWORD, "csrf_token": token})
    assert resp.headers["Location"] == "/devices?state=received"


def test_passwords_are_hashed_with_a_modern_scheme(app, users):
    from asset_tracker.auth.services import hash_password

    with app.test_request_context():
        app.config["PASSWORD_HASH_METHOD"] = "scrypt"
        try:
            assert hash_password("a-long-password", method=app.config["PASSWORD_HASH_METHOD"]).startswith("scrypt:")
        finally:
            app.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:1000"
    assert PASSWORD not in users["technician"].password_hash


def test_pages_answer_404_for_another_donors_device(client, login, orgs, users):
    from tests.factories import make_device

    device = make_device(orgs, users, "registered", donor="donor_b")
    login("donor")
    assert client.get(f"/devices/{device.tag}").status_code == 404
    token = csrf_token(client, "/home")
    assert client.post(f"/devices/{device.tag}/transitions", data={"target": "lost", "reason": "x",
                                                                   "csrf_token": token}).status_code == 404
