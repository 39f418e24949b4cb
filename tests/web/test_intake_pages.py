"""Batch pages: a donor's batches, import with its error table, escaping, templates, limits, reception."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from asset_tracker.core import Actor
from asset_tracker.intake import services as intake
from tests.conftest import csrf_token
from tests.intake_helpers import FR_HEADER, csv_rows


@pytest.fixture
def batch(users):
    return intake.create_batch(actor=Actor.of(users["donor"]), name="CAF — juin <b>urgent</b>")


def post_file(client, batch_id, data, name="parc.csv", mode="all"):
    token = csrf_token(client, f"/batches/{batch_id}")
    return client.post(f"/batches/{batch_id}/import", data={"csrf_token": token, "mode": mode,
                                                            "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_a_donor_lists_its_batches_with_progress_and_never_another_donors(client, login, users, batch):
    intake.import_file(batch.id, csv_rows(3), actor=Actor.of(users["donor"]))
    login("donor")
    page = client.get("/batches").get_data(as_text=True)
    assert "CAF — juin &lt;b&gt;urgent&lt;/b&gt;" in page and "<b>urgent</b>" not in page
    assert "stacked-bar" in page
    assert client.get(f"/batches/{batch.id}").status_code == 200


def test_another_donor_gets_404_on_every_batch_page(client, login, batch):
    login("donor_b")
    assert "juin" not in client.get("/batches").get_data(as_text=True)
    for path in ("", "/reconciliation", "/slip.pdf", "/devices/new"):
        assert client.get(f"/batches/{batch.id}{path}").status_code == 404, path


def test_auditors_read_but_cannot_import_or_close(client, login, batch):
    login("auditor")
    assert client.get(f"/batches/{batch.id}/reconciliation").status_code == 200
    token = csrf_token(client, f"/batches/{batch.id}")
    resp = client.post(f"/batches/{batch.id}/close", data={"csrf_token": token})
    assert resp.status_code == 403
    assert post_file(client, batch.id, csv_rows(1)).status_code == 403


def test_import_errors_are_shown_by_row_and_column_and_escaped(client, login, batch):
    login("donor")
    data = (FR_HEADER + "\r\n" + "portable;Dell;<img src=x onerror=alert(1)>;BAD SERIAL !;;;\r\n"
            + "frigo;Dell;Latitude;SN-OK-1;;;\r\n").encode()
    resp = post_file(client, batch.id, data)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "Rien n'a été importé" in page or "Nothing was imported" in page
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td>", page)
    assert rows == [("2", "Numéro de série (D)"), ("3", "Type (A)")]
    assert "<img src=x" not in page


def test_formulas_and_html_are_stored_as_text_and_shown_escaped(client, login, users, batch):
    login("donor")
    data = (FR_HEADER + "\r\n" + 'portable;"=cmd|\' /C calc\'!A0";<script>alert(1)</script>;SN-XSS-1;;;\r\n').encode()
    assert post_file(client, batch.id, data).status_code == 200
    page = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page
    assert "=cmd|&#39; /C calc&#39;!A0" in page


def test_a_50_mb_upload_from_the_page_is_refused_with_a_clear_message(client, login, batch):
    login("donor")
    resp = post_file(client, batch.id, b"x" * (50 * 1024 * 1024))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 413 and "20 Mo" in page


@pytest.mark.parametrize("lang, first, second", [("fr", "Type", "Marque"), ("en", "Type", "Brand")])
def test_templates_download_in_french_and_english(client, login, lang, first, second):
    login("donor")
    csv = client.get(f"/batches/template.csv?lang={lang}")
    assert csv.status_code == 200 and csv.headers["Content-Disposition"].startswith("attachment")
    header = csv.data.decode("utf-8-sig").splitlines()[0]
    assert header.split(";" if lang == "fr" else ",")[:2] == [first, second]
    xlsx = client.get(f"/batches/template.xlsx?lang={lang}")
    ws = load_workbook(io.BytesIO(xlsx.data)).active
    assert [c.value for c in ws[1]][:2] == [first, second]


def test_the_downloaded_template_imports_once_filled(client, login, users, batch):
    login("donor")
    wb = load_workbook(io.BytesIO(client.get("/batches/template.xlsx?lang=fr").data))
    wb.active.append(["portable", "HP", "EliteBook 840", "5CG1234XYZ", None, "60", None, "SSD", "S4X1", "512"])
    out = io.BytesIO()
    wb.save(out)
    result = intake.import_file(batch.id, out.getvalue(), actor=Actor.of(users["donor"]), filename="modele.xlsx")
    assert result.created == 1 and not result.errors


def test_the_donor_entry_form_registers_a_device_with_its_tag(client, login, batch):
    login("donor")
    token = csrf_token(client, f"/batches/{batch.id}/devices/new")
    resp = client.post(f"/batches/{batch.id}/devices/new", data={
        "csrf_token": token, "type": "laptop", "brand": "Dell", "model": "Latitude 5490", "serial": "dl5490-001",
        "disk_kind": "ssd", "disk_capacity_gb": "256", "unit_value": "45,5"}, follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "DL5490-001" in page and re.search(r"RB-\d{6}-[0-9A-Z]", page)


def test_the_technician_receives_by_scanning_on_the_reception_page(client, login, users, batch):
    intake.import_file(batch.id, csv_rows(2), actor=Actor.of(users["donor"]))
    login("technician")
    token = csrf_token(client, f"/batches/{batch.id}/receive")
    resp = client.post(f"/batches/{batch.id}/receive", data={"csrf_token": token, "code": "PF00000001"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "1 reçu" in page.replace("\u202f", " ") or "1 received" in page


def test_the_reception_page_recovers_a_tag_garbled_by_an_azerty_keyboard(client, login, users, batch, db):
    from sqlalchemy import select

    from asset_tracker.devices import keyboard
    from asset_tracker.devices.models import Device

    intake.import_file(batch.id, csv_rows(2), actor=Actor.of(users["donor"]))
    device = db.session.scalars(select(Device).where(Device.batch_id == batch.id).order_by(Device.id)).first()
    tag = device.tag
    login("technician")
    page = client.get(f"/batches/{batch.id}/receive").get_data(as_text=True)
    assert "data-scan-input" in page and "js/scan-input.js" in page  # the station's scan input
    token = csrf_token(client, f"/batches/{batch.id}/receive")
    resp = client.post(f"/batches/{batch.id}/receive", data={"csrf_token": token, "code": keyboard.garble(tag)})
    assert resp.status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(Device.state).where(Device.tag == tag)).value == "received"
