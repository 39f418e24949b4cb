"""Admin pages: users, organisations, API tokens and programme partners, with the API's rules and custody events."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from asset_tracker.auth import services as auth
from asset_tracker.auth.models import ApiToken, User
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.extensions import db
from asset_tracker.organisations.models import Organisation
from tests.conftest import csrf_token

ADMIN_PAGES = ["/admin/users", "/admin/organisations", "/admin/tokens", "/admin/partners", "/admin/organisations/1"]
ADMIN_WRITES = ["/admin/users", "/admin/users/1/active", "/admin/users/1/password", "/admin/organisations",
                "/admin/organisations/1", "/admin/tokens", "/admin/tokens/1/revoke", "/admin/programmes/1/partners",
                "/admin/programmes/1/partners/1/remove"]


def _events(kind: str) -> list[dict]:
    rows = db.session.execute(select(CustodyEvent).where(CustodyEvent.type == kind).order_by(CustodyEvent.seq))
    return [json.loads(e.details) for e in rows.scalars()]


def _post(client, path, data, page="/admin/users"):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


@pytest.mark.parametrize("role", ["donor", "technician", "coordinator", "auditor"])
def test_only_admins_open_or_post_the_admin_pages(client, login, role):
    login(role)
    token = csrf_token(client, "/devices")
    for path in ADMIN_PAGES:
        assert client.get(path).status_code == 403, path
    for path in ADMIN_WRITES:
        assert client.post(path, data={"csrf_token": token}).status_code == 403, path


def test_admin_creates_a_user_with_role_and_organisation(client, login, orgs):
    login("admin")
    resp = _post(client, "/admin/users", {"email": "Nina@Weeefund.org", "name": "Nina", "role": "technician",
                                          "organisation_id": orgs["workshop"].id, "password": "atelier-2026-ok"})
    assert resp.status_code == 302
    user = db.session.execute(select(User).where(User.email == "nina@weeefund.org")).scalar_one()
    assert user.role.value == "technician" and user.organisation_id == orgs["workshop"].id
    assert _events("user_created")[-1]["email"] == "nina@weeefund.org"
    assert "nina@weeefund.org" in client.get("/admin/users").get_data(as_text=True)


def test_a_role_in_the_wrong_kind_of_organisation_is_refused_next_to_the_field_keeping_the_form(client, login, orgs):
    login("admin")
    resp = _post(client, "/admin/users", {"email": "x@donor.org", "name": "Xavier", "role": "technician",
                                          "organisation_id": orgs["donor"].id, "password": "long-enough-1"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert re.search(r'id="f-organisation_id-error">[^<]*\S', page)
    assert 'value="x@donor.org"' in page and 'value="Xavier"' in page
    assert "long-enough-1" not in page  # a password is never sent back
    assert db.session.execute(select(User).where(User.email == "x@donor.org")).first() is None


def test_admin_deactivates_a_user_who_can_no_longer_sign_in_but_not_itself(client, login, users):
    admin = login("admin")
    tech = users["technician"]
    assert _post(client, f"/admin/users/{tech.id}/active", {"active": "0"}).status_code == 302
    db.session.refresh(tech)
    assert tech.active is False and _events("user_deactivated")[-1]["user_id"] == tech.id
    resp = _post(client, f"/admin/users/{admin.id}/active", {"active": "0"})
    assert resp.status_code == 409
    db.session.refresh(admin)
    assert admin.active is True


def test_a_generated_password_is_shown_once_and_signs_in(client, login, users, app):
    login("admin")
    donor = users["donor"]
    resp = _post(client, f"/admin/users/{donor.id}/password", {})
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code class="secret" id="new-password">([^<]+)</code>', resp.get_data(as_text=True))[1]
    assert _events("user_password_reset")[-1] == {"user_id": donor.id, "generated": True}
    db.session.expire_all()
    assert auth.authenticate(donor.email, password) is not None


def test_admin_creates_and_edits_an_organisation(client, login):
    login("admin")
    resp = _post(client, "/admin/organisations", {"name": "Ressourcerie Est", "kind": "recycler",
                                                  "contact_email": "contact@ressourcerie.example"})
    assert resp.status_code == 302
    org = db.session.execute(select(Organisation).where(Organisation.name == "Ressourcerie Est")).scalar_one()
    page = client.get(f"/admin/organisations/{org.id}").get_data(as_text=True)
    assert 'value="contact@ressourcerie.example"' in page
    resp = _post(client, f"/admin/organisations/{org.id}",
                 {"name": "Ressourcerie de l'Est", "kind": "recycler", "contact_email": "", "locale": "fr",
                  "address": "3 rue du Tri\n69003 Lyon", "beneficiary_ref_pattern": ""},
                 page=f"/admin/organisations/{org.id}")
    assert resp.status_code == 302
    db.session.refresh(org)
    assert org.name == "Ressourcerie de l'Est" and org.address.startswith("3 rue du Tri") and org.contact_email is None
    changes = _events("organisation_updated")[-1]["changes"]
    assert set(changes) == {"name", "address", "contact_email"}


def test_an_organisation_name_already_used_is_refused_next_to_the_name(client, login, orgs):
    login("admin")
    org = orgs["recycler"]
    resp = _post(client, f"/admin/organisations/{org.id}",
                 {"name": orgs["donor"].name, "kind": "recycler", "locale": "fr", "address": "Zone nord"},
                 page=f"/admin/organisations/{org.id}")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert re.search(r'id="f-name-error">[^<]*\S', page) and "Zone nord</textarea>" in page


def test_the_kind_of_an_organisation_with_users_cannot_change(client, login, orgs):
    login("admin")
    org = orgs["workshop"]
    resp = _post(client, f"/admin/organisations/{org.id}", {"name": org.name, "kind": "donor", "locale": "fr"},
                 page=f"/admin/organisations/{org.id}")
    assert resp.status_code == 409
    db.session.refresh(org)
    assert org.kind.value == "workshop"


def test_a_token_is_shown_once_works_and_stops_working_when_revoked(client, login, users, app):
    login("admin")
    resp = _post(client, "/admin/tokens", {"user_id": users["technician"].id, "name": "nwipe station 2"},
                 page="/admin/tokens")
    assert resp.status_code == 201 and resp.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="new-token">([^<]+)<', resp.get_data(as_text=True))[1]
    api = app.test_client()
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    token = db.session.execute(select(ApiToken).where(ApiToken.name == "nwipe station 2")).scalar_one()
    assert secret not in client.get("/admin/tokens").get_data(as_text=True)
    assert _post(client, f"/admin/tokens/{token.id}/revoke", {}, page="/admin/tokens").status_code == 302
    assert _events("token_revoked")[-1]["token_id"] == token.id
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_admin_adds_and_removes_a_programme_partner_with_custody_events(client, login, orgs):
    login("admin")
    programme = orgs["programme"]
    partner = orgs["partner_b"]
    resp = _post(client, f"/admin/programmes/{programme.id}/partners/{partner.id}/remove", {}, page="/admin/partners")
    assert resp.status_code == 302
    db.session.refresh(programme)
    assert partner not in programme.partners
    resp = _post(client, f"/admin/programmes/{programme.id}/partners", {"organisation_id": partner.id},
                 page="/admin/partners")
    assert resp.status_code == 302
    db.session.refresh(programme)
    assert partner in programme.partners
    removed, added = _events("programme_partners_changed")[-2:]
    assert partner.id in removed["before"] and partner.id not in removed["after"] and partner.id in added["after"]
    # A donor is not a partner organisation: refused on the page like an unknown id (404), nothing changes.
    resp = _post(client, f"/admin/programmes/{programme.id}/partners", {"organisation_id": orgs["donor"].id},
                 page="/admin/partners")
    assert resp.status_code == 404


def test_admin_lists_sort_by_whitelisted_keys_only_and_export_formula_safe_csv(client, login, orgs):
    login("admin")
    _post(client, "/admin/organisations", {"name": "=HYPERLINK(\"http://x\")", "kind": "donor"},
          page="/admin/organisations")
    page = client.get("/admin/organisations?sort=kind&dir=desc").get_data(as_text=True)
    assert 'aria-sort="descending"' in page
    assert client.get("/admin/organisations?sort=password_hash").status_code == 200  # unknown key: default order
    csv_text = client.get("/admin/organisations?export=csv").get_data(as_text=True)
    assert "'=HYPERLINK" in csv_text and "\n=HYPERLINK" not in csv_text
    assert _events("export")[-1]["kind"] == "organisations"


def test_a_password_too_short_is_refused_on_the_users_page(client, login, users):
    login("admin")
    donor = users["donor"]
    before = donor.password_hash
    resp = _post(client, f"/admin/users/{donor.id}/password", {"password": "court"})
    assert resp.status_code == 422
    assert re.search(rf'id="pw-{donor.id}-error">[^<]*10 et 200 caractères', resp.get_data(as_text=True))
    db.session.refresh(donor)
    assert donor.password_hash == before
