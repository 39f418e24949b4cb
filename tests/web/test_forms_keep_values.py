"""Refused forms come back with every typed value and a message next to the field, in French and English."""
from __future__ import annotations

import io
import re

import pytest
from flask_babel import refresh
from sqlalchemy import func, select

from asset_tracker.core import Actor
from asset_tracker.devices.models import Device
from asset_tracker.extensions import db
from asset_tracker.intake import services as intake
from tests.conftest import csrf_token


@pytest.fixture
def batch(users):
    return intake.create_batch(actor=Actor.of(users["donor"]), name="CAF — juin")


def _field_error(page: str, name: str) -> str:
    match = re.search(rf'<p class="error-text" id="f-{name}-error">(.*?)</p>', page, re.S)
    return match.group(1).strip() if match else ""


def _devices() -> int:
    return db.session.scalar(select(func.count()).select_from(Device))


DEVICE = {"type": "laptop", "brand": "Lenovo", "model": "ThinkPad T480", "serial": "PF-1X2Y3Z",
          "imei": "", "unit_value": "120,50", "disk_kind": "ssd", "disk_serial": "S4-XYZ", "disk_capacity_gb": "256",
          "notes": "Rayure sur le capot"}


def test_register_and_log_another_registers_and_reopens_an_empty_form(client, login, batch):
    login("donor")
    token = csrf_token(client, f"/batches/{batch.id}/devices/new")
    resp = client.post(f"/batches/{batch.id}/devices/new", data={**DEVICE, "csrf_token": token, "another": "1"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/batches/{batch.id}/devices/new")
    assert _devices() == 1


def test_an_amount_in_words_keeps_every_value_and_says_what_is_expected_in_french(client, login, batch):
    login("donor")
    token = csrf_token(client, f"/batches/{batch.id}/devices/new")
    resp = client.post(f"/batches/{batch.id}/devices/new",
                       data={**DEVICE, "unit_value": "deux cents", "csrf_token": token, "another": "1"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "montant attendu, ex. 120,50" in _field_error(page, "unit_value").lower()
    for name in ("brand", "model", "serial", "disk_serial", "disk_capacity_gb"):
        assert f'value="{DEVICE[name]}"' in page, name
    assert 'value="deux cents"' in page and "Rayure sur le capot</textarea>" in page
    assert re.search(r'<option value="laptop"\s+selected', page) and re.search(r'<option value="ssd"\s+selected', page)
    assert _devices() == 0


def test_a_mistyped_imei_names_its_check_digit_next_to_the_field_in_english(client, login, batch):
    login("donor")
    token = csrf_token(client, f"/batches/{batch.id}/devices/new")
    refresh()  # the test's app context would otherwise keep the first request's language
    resp = client.post(f"/batches/{batch.id}/devices/new?lang=en",
                       data={**DEVICE, "type": "phone", "serial": "", "imei": "490154203237519", "csrf_token": token})
    refresh()
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    message = _field_error(page, "imei")
    assert "does not match its check digit (Luhn)" in message
    assert 'value="490154203237519"' in page


def test_a_mistyped_preprinted_tag_says_why_in_french_next_to_the_field(client, login, batch):
    login("donor")
    token = csrf_token(client, f"/batches/{batch.id}/devices/new")
    resp = client.post(f"/batches/{batch.id}/devices/new",
                       data={**DEVICE, "preprinted_tag": "RB-000042-Q", "csrf_token": token})
    page = resp.get_data(as_text=True).replace("&#39;", "'")
    assert resp.status_code == 422
    assert _field_error(page, "preprinted_tag").startswith("le caractère de contrôle de 'RB-000042-Q' est faux "
                                                            "(attendu : ")
    assert "check character" not in page  # neither next to the field nor in the summary
    assert 'value="RB-000042-Q"' in page
    assert _devices() == 0


def test_a_batch_with_a_bad_count_and_email_keeps_the_form(client, login, users):
    login("donor")
    token = csrf_token(client, "/batches/new")
    resp = client.post("/batches/new", data={"csrf_token": token, "name": "Collecte mars", "count_laptop": "dix",
                                             "contact_email": "pas-une-adresse", "notes": "Quai 3"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert _field_error(page, "count_laptop")
    assert 'value="Collecte mars"' in page and 'value="dix"' in page and "Quai 3</textarea>" in page


def test_a_refused_wipe_record_keeps_what_the_technician_typed(client, login, orgs, users):
    from tests.factories import make_device

    device = make_device(orgs, users, state="diagnosed")
    medium = device.media[0]
    login("technician")
    token = csrf_token(client, f"/wiping/devices/{device.tag}")
    resp = client.post(f"/wiping/devices/{device.tag}/records", data={
        "csrf_token": token, "medium_id": str(medium.id), "nist_category": "purge", "method": "ATA Secure Erase",
        "tool": "hdparm", "passes": "beaucoup", "verification": "relecture complète", "result": "passed",
        "ended_at": "2026-03-02T10:15"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "nombre entier attendu" in _field_error(page, "rec-passes")
    for value in ("ATA Secure Erase", "hdparm", "beaucoup", "relecture complète", "2026-03-02T10:15"):
        assert f'value="{value}"' in page, value
    assert 'id="f-new-model" value=""' in page or 'id="f-new-model" name="model" value=""' in page


def test_a_refused_hand_over_keeps_the_form_but_never_shows_the_refused_reference_again(client, login, orgs, users):
    from asset_tracker.distribution import services as dist
    from tests.factories import make_device

    device = make_device(orgs, users, state="ready")
    dist.reserve_device(device.tag, actor=Actor.of(users["coordinator_b"]), programme_id=orgs["programme"].id)
    login("coordinator_b")
    token = csrf_token(client, f"/distribution/handover/{device.tag}")
    resp = client.post(f"/distribution/handover/{device.tag}", data={
        "csrf_token": token, "beneficiary_ref": "Lina Benali", "beneficiary_category": "pupil", "loan": "loan",
        "expected_return_on": "2027-06-30", "conditions": "Rendre avec le chargeur"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert re.search(r'id="f-beneficiary_ref-error">[^<]*\S', page)
    assert "Lina Benali" not in page
    assert 'value="2027-06-30"' in page and "Rendre avec le chargeur</textarea>" in page
    assert re.search(r'id="terms-loan" name="loan" value="loan"\s+checked', page)


def test_a_refused_reservation_keeps_the_chosen_tags(client, login, orgs, users):
    from tests.factories import make_device

    device = make_device(orgs, users, state="received")
    login("technician")
    token = csrf_token(client, "/distribution/reserve")
    resp = client.post("/distribution/reserve", data={
        "csrf_token": token, "programme_id": orgs["programme"].id, "partner_organisation_id": orgs["partner"].id,
        "device_tag": device.tag, "note": "Pour la rentrée"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert f">{device.tag}</textarea>" in page and "Pour la rentrée</textarea>" in page


def test_a_programme_with_a_bad_target_keeps_its_name_partners_and_dates(client, login, orgs):
    login("admin")
    token = csrf_token(client, "/distribution/programmes")
    resp = client.post("/distribution/programmes", data={
        "csrf_token": token, "name": "Lycéens 2027", "owner_organisation_id": orgs["owner"].id,
        "targets": "laptop=mille", "starts_on": "2027-09-01", "partner_ids": [orgs["partner"].id]})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert _field_error(page, "targets")
    assert 'value="Lycéens 2027"' in page and 'value="2027-09-01"' in page
    assert re.search(rf'<option value="{orgs["partner"].id}"\s+selected', page)


# ---------------------------------------------------------------- the batch import form


def _post_import(client, batch_id, mode="valid_only", file=None, lang=""):
    token = csrf_token(client, f"/batches/{batch_id}")
    data = {"csrf_token": token, "mode": mode}
    if file is not None:
        data["file"] = (io.BytesIO(file[1]), file[0])
    return client.post(f"/batches/{batch_id}/import{lang}", data=data, content_type="multipart/form-data")


def test_an_import_without_its_file_keeps_the_mode_and_says_to_choose_the_file(client, login, batch):
    login("donor")
    resp = _post_import(client, batch.id)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "Choisissez le fichier à importer." in _field_error(page, "file")
    assert re.search(r'id="mode-valid" name="mode" value="valid_only"\s+checked', page)
    assert not re.search(r'id="mode-all" name="mode" value="all"\s+checked', page)
    assert "Choisissez à nouveau le fichier" in page
    assert _devices() == 0


def test_a_file_missing_its_columns_is_refused_next_to_the_file_field_in_english(client, login, batch):
    login("donor")
    refresh()
    resp = _post_import(client, batch.id, file=("parc.csv", b"Marque;Remarques\r\nDell;rien\r\n"), lang="?lang=en")
    refresh()
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    message = _field_error(page, "file")
    assert "Missing column(s)" in message and "Serial number" in message
    assert "Choose the file again" in page
    assert re.search(r'id="mode-valid" name="mode" value="valid_only"\s+checked', page)
    assert _devices() == 0


def test_rows_with_errors_are_still_listed_and_the_form_to_import_again_keeps_the_mode(client, login, batch):
    from tests.intake_helpers import FR_HEADER

    login("donor")
    data = (FR_HEADER + "\r\n" + "frigo;Dell;Latitude;SN-OK-1;;;\r\n").encode()
    resp = _post_import(client, batch.id, mode="all", file=("parc.csv", data))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td>", page) == [("2", "Type (A)")]
    assert re.search(r'id="mode-all" name="mode" value="all"\s+checked', page)
    assert 'name="file"' in page and "Choisissez à nouveau le fichier" in page


# ---------------------------------------------------------------- the device page's next step


def test_a_refused_step_shows_the_device_page_with_the_target_and_its_typed_values(client, login, orgs, users):
    from tests.factories import make_device

    device = make_device(orgs, users, state="received")
    login("technician")
    token = csrf_token(client, f"/devices/{device.tag}")
    resp = client.post(f"/devices/{device.tag}/transitions", data={
        "csrf_token": token, "target": "diagnosed", "verdict": "réparer", "note": "Écran fissuré, clavier OK"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/devices/{device.tag}")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "valeurs proposées" in _field_error(page, "diagnosed-verdict")
    assert "Écran fissuré, clavier OK</textarea>" in page
    assert re.search(r'<details class="step__note"\s+open', page)
    # Shown once: the next view of the page is the plain page.
    again = client.get(f"/devices/{device.tag}").get_data(as_text=True)
    assert not _field_error(again, "diagnosed-verdict") and "Écran fissuré" not in again


def test_a_step_refused_by_its_guard_names_the_field_and_keeps_the_reason_typed(client, login, orgs, users):
    from tests.factories import make_device

    device = make_device(orgs, users, state="received")
    login("technician")
    token = csrf_token(client, f"/devices/{device.tag}")
    resp = client.post(f"/devices/{device.tag}/transitions", data={
        "csrf_token": token, "target": "diagnosed", "note": "Batterie gonflée"}, follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "verdict" in _field_error(page, "diagnosed-verdict").lower()
    assert "Batterie gonflée</textarea>" in page
