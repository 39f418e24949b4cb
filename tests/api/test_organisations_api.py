"""Organisations' legal identity through the API: admins read and change it; bad input names the field."""
from __future__ import annotations

from sqlalchemy import select

from asset_tracker.custody.models import CustodyEvent


def test_an_admin_sets_and_reads_the_legal_identity(client, api_headers, orgs):
    h = api_headers("admin")
    donor = orgs["donor"]
    resp = client.patch(f"/api/v1/organisations/{donor.id}", headers=h, json={
        "legal_name": "Caisse d'allocations familiales du Rhône", "address": "67 boulevard Vivier-Merle\n69003 Lyon",
        "siret": "000 456 789 00015", "legal_nature": "public_establishment",
        "donation_legal_basis": "Cession gratuite de matériels informatiques réformés.",
        "donation_legal_basis_ref": "CG3P, art. L3212-2, 2°"})
    assert resp.status_code == 200, resp.get_json()
    body = client.get(f"/api/v1/organisations/{donor.id}", headers=h).get_json()
    assert body["siret"] == "00045678900015" and body["legal_nature"] == "public_establishment"
    assert body["legal_name"].startswith("Caisse") and body["donation_legal_basis_ref"] == "CG3P, art. L3212-2, 2°"
    event = client.application.extensions["sqlalchemy"].session.scalars(
        select(CustodyEvent).where(CustodyEvent.type == "organisation_updated")).one()
    assert "00045678900015" in event.details
    # Clearing the legal basis: null removes it (nothing will be printed on the slip).
    cleared = client.patch(f"/api/v1/organisations/{donor.id}", headers=h,
                           json={"donation_legal_basis": None, "donation_legal_basis_ref": None})
    assert cleared.status_code == 200 and cleared.get_json()["donation_legal_basis"] is None


def test_a_bad_siret_is_a_422_naming_the_field_in_french_and_english_and_writes_nothing(client, api_headers, orgs):
    h = api_headers("admin")
    donor = orgs["donor"]
    fr = client.patch(f"/api/v1/organisations/{donor.id}", headers=h, json={"siret": "00045678900016"})
    assert fr.status_code == 422
    error = fr.get_json()["error"]
    assert error["code"] == "bad_siret" and list(error["details"]) == ["siret"]
    assert "clé de contrôle" in error["message"] and "00045678900016" in error["message"]
    short = client.patch(f"/api/v1/organisations/{donor.id}", headers=h, json={"siret": "12 34", "legal_name": "X"})
    assert short.status_code == 422 and "14 chiffres" in short.get_json()["error"]["message"]
    after = client.get(f"/api/v1/organisations/{donor.id}", headers=h).get_json()
    assert after["siret"] is None and after["legal_name"] is None
    nature = client.patch(f"/api/v1/organisations/{donor.id}", headers=h, json={"legal_nature": "kingdom"})
    assert nature.status_code == 422 and "legal_nature" in nature.get_json()["error"]["details"]
    unknown = client.patch(f"/api/v1/organisations/{donor.id}", headers=h, json={"kind": "workshop"})
    assert unknown.status_code == 422 and "kind" in unknown.get_json()["error"]["details"]


def test_the_siret_error_in_english(client, api_headers, orgs):
    resp = client.patch(f"/api/v1/organisations/{orgs['donor'].id}", headers={**api_headers("admin"),
                                                                              "Accept-Language": "en"},
                        json={"siret": "00045678900016"})
    assert resp.status_code == 422 and "fails its check key (Luhn)" in resp.get_json()["error"]["message"]


def test_creating_an_organisation_with_its_identity_and_only_admins_see_it(client, api_headers, orgs):
    resp = client.post("/api/v1/organisations", headers=api_headers("admin"), json={
        "name": "Ville de Villeurbanne", "kind": "donor", "legal_name": "Commune de Villeurbanne",
        "siret": "00034567800015", "legal_nature": "local_authority"})
    assert resp.status_code == 201 and resp.get_json()["siret"] == "00034567800015"
    org_id = resp.get_json()["id"]
    assert client.get(f"/api/v1/organisations/{org_id}", headers=api_headers("donor")).status_code == 403
    listed = client.get("/api/v1/organisations", headers=api_headers("donor")).get_json()
    assert all("siret" not in o for o in listed)
    missing = client.get("/api/v1/organisations/99999", headers=api_headers("admin"))
    assert missing.status_code == 404
