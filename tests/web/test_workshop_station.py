"""The station page without JavaScript: a plain form (POST, redirect, GET), and its all-day CSRF token."""
import datetime as dt
import re
import uuid

from sqlalchemy import func, select

from asset_tracker.custody.models import CustodyEvent
from asset_tracker.devices import keyboard
from asset_tracker.devices.models import Device
from tests.conftest import csrf_token
from tests.factories import make_device


def form_scan(client, code, action="receive", **values):
    page = client.get("/workshop/station").get_data(as_text=True)
    scan_id = re.search(r'name="scan_id" value="([^"]+)"', page).group(1)
    data = {"csrf_token": csrf_token(client, "/workshop/station"), "scan_id": scan_id, "code": code,
            "action": action, "station": "Poste 2", **values}
    return client.post("/workshop/station", data=data), scan_id


def test_the_station_page_is_for_technicians_and_admins(client, login, users):
    login("technician")
    page = client.get("/workshop/station")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="scan-code"' in html and "autofocus" in html
    assert "<script>" not in html  # strict CSP: scripts come from files only
    client.post("/logout", data={"csrf_token": csrf_token(client, "/workshop/station")})
    login("donor")
    assert client.get("/workshop/station").status_code == 403


def test_a_scan_through_the_plain_form_applies_and_shows_its_result(client, db, login, orgs, users):
    device = make_device(orgs, users, state="collected")
    login("technician")
    resp, _ = form_scan(client, device.tag)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/workshop/station")
    html = client.get("/workshop/station").get_data(as_text=True)
    assert "scan-result--applied" in html and device.tag in html
    assert db.session.get(Device, device.id).state.value == "received"


def test_a_refusal_through_the_plain_form_is_shown_with_its_reason(client, db, login, orgs, users):
    device = make_device(orgs, users, state="ready")
    login("technician")
    form_scan(client, device.tag, action="wipe")
    html = client.get("/workshop/station").get_data(as_text=True)
    assert "scan-result--refused" in html
    assert db.session.get(Device, device.id).state.value == "ready"


def test_the_chosen_value_is_kept_for_the_next_scans(client, db, login, orgs, users):
    first = make_device(orgs, users, state="refurbished")
    second = make_device(orgs, users, state="refurbished")
    login("technician")
    form_scan(client, first.tag, action="ready", grade="B")
    html = client.get("/workshop/station").get_data(as_text=True)
    assert re.search(r'<option value="B"\s+selected', html)
    assert re.search(r'<option value="ready"\s+selected', html)
    form_scan(client, second.tag, action="ready", grade="B")
    assert db.session.get(Device, second.id).grade.value == "B"


def test_the_same_code_twice_within_two_seconds_is_ignored(client, db, login, orgs, users):
    device = make_device(orgs, users, state="collected")
    login("technician")
    form_scan(client, device.tag)
    count = db.session.scalar(select(func.count()).select_from(CustodyEvent))
    form_scan(client, device.tag)
    html = client.get("/workshop/station").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(CustodyEvent)) == count
    assert "station-notice" in html


def test_a_resubmitted_form_applies_once(client, db, login, orgs, users):
    device = make_device(orgs, users, state="collected")
    login("technician")
    resp, scan_id = form_scan(client, device.tag)
    count = db.session.scalar(select(func.count()).select_from(CustodyEvent))
    client.post("/workshop/station", data={"csrf_token": csrf_token(client, "/workshop/station"),
                                           "scan_id": scan_id, "code": device.tag, "action": "receive",
                                           "station": "Poste 2"})
    assert db.session.scalar(select(func.count()).select_from(CustodyEvent)) == count


def test_undo_of_the_last_scan_through_the_plain_form(client, db, login, orgs, users):
    device = make_device(orgs, users, state="ready")
    login("technician")
    form_scan(client, device.tag, action="reserve", programme_id=str(orgs["programme"].id),
              partner_organisation_id=str(orgs["partner"].id))
    html = client.get("/workshop/station").get_data(as_text=True)
    scan_id = re.search(r'class="undo-form">.*?name="scan_id" value="([^"]+)"', html, re.S).group(1)
    client.post("/workshop/station/undo", data={"csrf_token": csrf_token(client, "/workshop/station"),
                                                "scan_id": scan_id})
    assert db.session.get(Device, device.id).state.value == "ready"
    assert "scan-result--undone" in client.get("/workshop/station").get_data(as_text=True)


def test_the_page_explains_when_the_last_scan_cannot_be_undone(client, db, login, orgs, users):
    device = make_device(orgs, users, state="collected")
    login("technician")
    form_scan(client, device.tag)
    html = client.get("/workshop/station").get_data(as_text=True)
    assert "undo-form" not in html
    assert 'id="undo-box"' in html and re.search(r'id="undo-box"[^>]*>\s*<p class="hint">\S', html)


def test_a_garbled_code_is_recovered_through_the_plain_form(client, db, login, orgs, users):
    device = make_device(orgs, users, state="collected")
    login("technician")
    form_scan(client, keyboard.garble(device.tag))
    html = client.get("/workshop/station").get_data(as_text=True)
    assert "scan-result__recovered" in html and "AZERTY" in html
    assert db.session.get(Device, device.id).state.value == "received"


def test_a_station_csrf_token_is_still_accepted_twelve_hours_later(app, client, db, login, orgs, users,
                                                                   monkeypatch):
    import itsdangerous.timed

    device = make_device(orgs, users, state="collected")
    login("technician")
    token = csrf_token(client, "/workshop/station")
    later = itsdangerous.timed.time.time() + 12 * 3600
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    body = {"code": device.tag, "action": "receive", "scan_id": uuid.uuid4().hex,
            "scanned_at": dt.datetime.now(dt.UTC).isoformat()}
    # The same token with the one-hour default is refused: the clock really moved.
    monkeypatch.setitem(app.config, "WTF_CSRF_TIME_LIMIT", 3600)
    assert client.post("/api/v1/scans", json=body, headers={"X-CSRFToken": token}).status_code == 400
    monkeypatch.setitem(app.config, "WTF_CSRF_TIME_LIMIT", None)
    resp = client.post("/api/v1/scans", json=body, headers={"X-CSRFToken": token})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert db.session.get(Device, device.id).state.value == "received"


def test_a_cookie_authenticated_scan_without_csrf_token_is_refused(client, db, login, orgs, users):
    device = make_device(orgs, users, state="collected")
    login("technician")
    resp = client.post("/api/v1/scans", json={"code": device.tag, "action": "receive", "scan_id": uuid.uuid4().hex})
    assert resp.status_code == 400
    assert db.session.get(Device, device.id).state.value == "collected"


def test_the_station_speaks_french_by_default(client, db, login, orgs, users):
    device = make_device(orgs, users, state="ready")
    login("technician")
    client.post("/language", data={"lang": "fr", "csrf_token": csrf_token(client, "/workshop/station"),
                                   "next": "/workshop/station"})
    html = client.get("/workshop/station").get_data(as_text=True)
    assert "Poste de scan" in html and "Scanner un code" in html
    form_scan(client, device.tag, action="lookup")
    html = client.get("/workshop/station").get_data(as_text=True)
    assert "En stock : ensuite, le réserver pour un programme." in html
