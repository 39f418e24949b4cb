"""Batch pages and imports count right, and carry what the donation slip needs: the disposal decision, the
signatories, the donor's inventory numbers."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from asset_tracker.core import Actor
from asset_tracker.devices.models import Device
from asset_tracker.intake import importing
from asset_tracker.intake import services as intake
from tests.conftest import csrf_token
from tests.factories import make_device
from tests.intake_helpers import csv_rows


@pytest.fixture
def batch(users):
    return intake.create_batch(actor=Actor.of(users["donor"]), name="CAF — collecte de mars",
                               declared_counts={"laptop": 3})


def test_a_foreign_device_scanned_at_reception_is_not_counted_in_the_batch_header(client, login, users, orgs, batch):
    intake.import_file(batch.id, csv_rows(3), actor=Actor.of(users["donor"]))
    stray = make_device(orgs, users, donor="donor_b", serial="STRAY-042")
    login("technician")
    token = csrf_token(client, f"/batches/{batch.id}/receive")
    for code in ("PF00000000", "PF00000001", "STRAY-042"):  # one of its own is missing, one foreign arrives
        assert client.post(f"/batches/{batch.id}/receive", data={"csrf_token": token, "code": code}).status_code == 200
    page = client.get(f"/batches/{batch.id}/reconciliation").get_data(as_text=True)
    assert "2 reçus sur 3 attendus" in page and "3 reçus" not in page
    counts = re.search(r"<td>Portable</td><td>3</td><td>3</td><td>(\d+)</td>", page)
    assert counts and counts.group(1) == "2"
    assert stray.tag in page.split("Reçus, non attendus", 1)[1]
    show = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert re.search(r"<dt>Reçus</dt><dd>2</dd>", show)
    api = client.get(f"/api/v1/batches/{batch.id}/reconciliation").get_json()
    assert api["received"] == 2 and api["counts"]["laptop"]["received"] == 2 and len(api["unexpected"]) == 1


def test_a_25_row_import_with_errors_reports_at_most_25_rows(client, login, users, batch):
    donor = Actor.of(users["donor"])
    earlier = intake.create_batch(actor=donor, name="Collecte précédente")
    intake.import_file(earlier.id, csv_rows(19), actor=donor)  # rows 0-18 are already registered elsewhere
    data = csv_rows(25, bad={i: {"type": "grille-pain"} for i in range(19, 25)})
    result = intake.import_file(batch.id, data, actor=donor)
    assert result.status == "rejected"
    assert result.rows == 25 and result.invalid_rows == 25
    login("donor")
    token = csrf_token(client, f"/batches/{batch.id}")
    resp = client.post(f"/batches/{batch.id}/import", data={"csrf_token": token, "mode": "all",
                                                            "file": (io.BytesIO(data), "parc.csv")},
                       content_type="multipart/form-data")
    page = resp.get_data(as_text=True)
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert resp.status_code == 422 and "25 lignes sur 25 comportent des erreurs" in text and "sur 44" not in text


def test_the_import_reads_the_donors_inventory_number_and_the_template_has_its_column(users, batch, db):
    header = importing.template_headers("fr")
    assert "N° d'inventaire du donateur" in header and "Donor inventory number" in importing.template_headers("en")
    wb = Workbook()
    ws = wb.active
    ws.append(["Type", "Numéro de série", "N° d'inventaire", "Type de disque"])
    ws.append(["portable", "INV-TEST-1", "2019-INF-00042", "SSD"])
    out = io.BytesIO()
    wb.save(out)
    result = intake.import_file(batch.id, out.getvalue(), actor=Actor.of(users["donor"]), filename="parc.xlsx")
    assert result.created == 1 and not result.ignored_columns
    device = db.session.scalars(select(Device).where(Device.serial == "INV-TEST-1")).one()
    assert device.donor_inventory_number == "2019-INF-00042"
    template = load_workbook(io.BytesIO(importing.template_xlsx("fr")))
    assert template.active.cell(row=1, column=len(header)).value == "N° d'inventaire du donateur"


def test_the_device_form_and_the_api_take_the_donors_inventory_number(client, login, users, batch, api_headers, db):
    login("donor")
    token = csrf_token(client, f"/batches/{batch.id}/devices/new")
    page = client.get(f"/batches/{batch.id}/devices/new").get_data(as_text=True)
    assert 'name="donor_inventory_number"' in page
    resp = client.post(f"/batches/{batch.id}/devices/new", data={
        "csrf_token": token, "type": "laptop", "serial": "FORM-INV-1", "donor_inventory_number": "VDL-0042"})
    assert resp.status_code == 302
    assert db.session.scalars(select(Device).where(Device.serial == "FORM-INV-1")).one().donor_inventory_number \
        == "VDL-0042"
    h = api_headers("donor")
    created = client.post("/api/v1/devices", headers=h, json={"type": "laptop", "serial": "API-INV-1",
                                                              "donor_inventory_number": "VDL-0043"})
    assert created.status_code == 201 and created.get_json()["donor_inventory_number"] == "VDL-0043"
    tag = created.get_json()["tag"]
    changed = client.patch(f"/api/v1/devices/{tag}", headers=h, json={"donor_inventory_number": "VDL-0044"})
    assert changed.status_code == 200 and changed.get_json()["donor_inventory_number"] == "VDL-0044"


def test_the_batch_page_sets_the_disposal_decision_and_the_signatories(client, login, users, batch, db):
    login("donor")
    token = csrf_token(client, f"/batches/{batch.id}")
    resp = client.post(f"/batches/{batch.id}/slip-details", data={
        "csrf_token": token, "disposal_decision_ref": "Délibération n° 2026-114",
        "disposal_decision_date": "2026-03-02", "donor_signatory_name": "Sophie Garnier",
        "donor_signatory_title": "Responsable logistique"})
    assert resp.status_code == 302
    db.session.refresh(batch)
    assert batch.disposal_decision_ref == "Délibération n° 2026-114" and str(batch.disposal_decision_date) == \
        "2026-03-02" and batch.donor_signatory_title == "Responsable logistique"
    page = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert 'value="Sophie Garnier"' in page
    bad = client.post(f"/batches/{batch.id}/slip-details", data={
        "csrf_token": token, "disposal_decision_date": "le 2 mars", "donor_signatory_name": "Autre nom"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert 'id="f-disposal_decision_date-error"' in html and 'value="Autre nom"' in html
    db.session.refresh(batch)
    assert batch.donor_signatory_name == "Sophie Garnier"  # nothing written
    api = client.get(f"/api/v1/batches/{batch.id}").get_json()
    assert api["disposal_decision_ref"] == "Délibération n° 2026-114"
