"""Bulk import of a donor's spreadsheet into a batch: validation by row and column, all or nothing, idempotence."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from asset_tracker.core import Actor
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.custody.services import verify_chain
from asset_tracker.devices.models import Device, StorageMedium
from asset_tracker.errors import Conflict, Invalid, NotFound
from asset_tracker.intake import services as intake
from asset_tracker.intake.models import ImportFile
from tests.intake_helpers import FR_HEADER, csv_rows, imei_with_check


@pytest.fixture
def donor(users):
    return Actor.of(users["donor"])


@pytest.fixture
def batch(donor):
    return intake.create_batch(actor=donor, name="CAF Rhône — collecte de mars", declared_counts={"laptop": 3})


def count(db, model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_ten_thousand_rows_with_bad_rows_import_nothing_then_all_after_fixing(db, donor, batch):
    bad = {17: {"type": "frigo"}, 4242: {"serial": "PF00000010"}, 9999: {"imei": "123"}, 5000: {"unit_value": "abc"}}
    data = csv_rows(10_000, bad=bad)
    events_before = count(db, CustodyEvent)

    result = intake.import_file(batch.id, data, actor=donor, filename="parc.csv")

    assert result.status == "rejected" and result.created == 0
    assert result.rows == 10_000 and result.invalid_rows == 4
    where = {(e.row, e.column, e.letter) for e in result.errors}
    # Spreadsheet rows: the header is row 1, the first device row 2.
    assert where == {(19, "Type", "A"), (4244, "Numéro de série", "D"), (10001, "IMEI", "E"),
                     (5002, "Valeur unitaire (€)", "F")}
    dup = next(e for e in result.errors if e.row == 4244)
    assert "row 12" in dup.text()  # PF00000010 first appears on spreadsheet row 12
    assert count(db, Device) == 0 and count(db, CustodyEvent) == events_before

    fixed = intake.import_file(batch.id, csv_rows(10_000), actor=donor, filename="parc-corrige.csv")

    assert fixed.status == "imported" and fixed.created == 10_000 and not fixed.errors
    assert count(db, Device, Device.batch_id == batch.id) == 10_000
    assert count(db, StorageMedium) == 10_000
    tags = db.session.scalars(select(Device.tag)).all()
    assert len(set(tags)) == 10_000 and all(t.startswith("RB-") for t in tags)
    events = db.session.execute(select(CustodyEvent.type, func.count()).group_by(CustodyEvent.type)).all()
    assert dict(events)["device_registered"] == 10_000 and dict(events)["batch_import"] == 1
    assert count(db, CustodyEvent) == events_before + 10_001
    assert verify_chain().ok


def test_same_file_twice_imports_nothing_the_second_time(db, donor, batch):
    data = csv_rows(5)
    first = intake.import_file(batch.id, data, actor=donor, filename="a.csv")
    second = intake.import_file(batch.id, data, actor=donor, filename="a (1).csv")

    assert first.created == 5
    assert second.status == "already_imported" and second.created == 0
    assert second.previous["import_id"] == first.import_id
    assert count(db, Device) == 5


def test_a_corrected_file_after_importing_the_valid_rows_adds_only_the_fixed_rows(db, donor, batch):
    partial = intake.import_file(batch.id, csv_rows(6, bad={2: {"type": "?"}}), actor=donor, mode="valid_only")
    assert partial.status == "imported" and partial.created == 5 and partial.invalid_rows == 1
    assert partial.errors[0].row == 4

    again = intake.import_file(batch.id, csv_rows(6), actor=donor)

    assert again.created == 1 and again.skipped == 5 and not again.errors
    assert count(db, Device) == 6


def test_serial_already_registered_elsewhere_is_an_error_with_row_and_column(db, users, donor, batch):
    other = intake.create_batch(actor=Actor.of(users["donor_b"]), name="Mairie")
    intake.import_file(other.id, csv_rows(1, prefix="ZZ"), actor=Actor.of(users["donor_b"]))

    result = intake.import_file(batch.id, csv_rows(3, prefix="ZZ"), actor=donor)

    assert result.status == "rejected"
    assert [(e.row, e.column, e.code) for e in result.errors] == [(2, "Numéro de série", "duplicate_in_database")]


def test_retry_with_the_same_client_id_returns_the_first_answer(db, donor, batch):
    data = csv_rows(3)
    first = intake.import_file(batch.id, data, actor=donor, client_id="upload-1")
    retry = intake.import_file(batch.id, data, actor=donor, client_id="upload-1")

    assert retry.replayed and retry.created == first.created == 3 and retry.first_tag == first.first_tag
    with pytest.raises(Conflict):
        intake.import_file(batch.id, csv_rows(4), actor=donor, client_id="upload-1")
    assert count(db, Device) == 3


def test_windows_1252_and_comma_separated_utf8_with_bom_are_read(db, donor, batch):
    header = "Type;Marque;Modèle;Numéro de série\r\n"
    cp1252 = (header + "unité centrale;Dell;Optiplex é;SN-CP1252\r\n").encode("cp1252")
    bom = ("\ufeffType,Brand,Model,Serial number\r\nlaptop,HP,EliteBook,SN-BOM\r\n").encode("utf-8")

    assert intake.import_file(batch.id, cp1252, actor=donor).created == 1
    assert intake.import_file(batch.id, bom, actor=donor).created == 1
    models = dict(db.session.execute(select(Device.serial, Device.model)).all())
    assert models == {"SN-CP1252": "Optiplex é", "SN-BOM": "EliteBook"}


@pytest.mark.parametrize("data, code", [
    (b"", "empty_file"),
    (b"   \r\n", "empty_file"),
    ("Marque;Modèle\r\nDell;Latitude\r\n".encode(), "missing_columns"),
    ("Type;Numéro de série\r\n".encode(), "no_rows"),
    ("Type;Numéro de série\r\nportable;SN1\r\n".encode("utf-16-le") + b"\x00\x01\x02", "bad_encoding"),
    (bytes(range(0, 32)) * 20, "bad_encoding"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "unsupported_file"),
    (b"PK\x03\x04not really a zip", "malformed_xlsx"),
])
def test_malformed_files_are_refused_with_a_clear_reason_and_change_nothing(db, donor, batch, data, code):
    with pytest.raises(Invalid) as exc:
        intake.import_file(batch.id, data, actor=donor, filename="devices.csv")
    assert exc.value.code == code
    assert count(db, Device) == 0 and count(db, ImportFile) == 0


def test_missing_columns_are_named_in_french_and_english(db, donor, batch):
    with pytest.raises(Invalid) as exc:
        intake.import_file(batch.id, "Marque;Modèle\r\nDell;Latitude\r\n".encode(), actor=donor)
    assert "Type" in str(exc.value) and "Numéro de série" in str(exc.value) and "Serial number" in str(exc.value)


def test_a_file_over_the_size_limit_is_refused_naming_the_limit(app, db, donor, batch):
    data = csv_rows(1) + b"#" * (50 * 1024 * 1024)
    with pytest.raises(Invalid) as exc:
        intake.import_file(batch.id, data, actor=donor)
    assert exc.value.code == "too_large" and "20 MB" in str(exc.value)
    assert count(db, Device) == 0


def test_formulas_and_html_in_cells_are_stored_as_text(db, donor, batch):
    data = (FR_HEADER + "\r\n" + 'portable;"=HYPERLINK(""http://evil.example"";""x"")";<script>alert(1)</script>;'
            'SN-FORMULA;;;"@SUM(A1:A2)"\r\n').encode()
    result = intake.import_file(batch.id, data, actor=donor)
    assert result.created == 1
    device = db.session.scalar(select(Device))
    assert device.brand == '=HYPERLINK("http://evil.example";"x")'
    assert device.model == "<script>alert(1)</script>"
    assert device.notes == "@SUM(A1:A2)"


def test_xlsx_formulas_are_read_as_their_text_never_evaluated(db, donor, batch):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Type", "Marque", "Modèle", "Numéro de série", "IMEI", "Capacité du disque (Go)", "Type de disque"])
    ws.append(["tablette", "=1+1", "<b>Tab</b>", "SN-XLSX-1", imei_with_check("35209900176148"), 64, "eMMC"])
    ws.append(["téléphone", "Samsung", "A52", None, float(imei_with_check("35209900176149")), None, None])
    out = io.BytesIO()
    wb.save(out)

    result = intake.import_file(batch.id, out.getvalue(), actor=donor, filename="parc.xlsx")

    assert result.created == 2, [e.as_dict() for e in result.errors]
    tab = db.session.scalar(select(Device).where(Device.serial == "SN-XLSX-1"))
    assert tab.brand == "=1+1" and tab.model == "<b>Tab</b>" and tab.type.value == "tablet"
    assert tab.media[0].kind.value == "emmc" and tab.media[0].capacity_bytes == 64 * 10**9
    assert db.session.scalar(select(Device.imei).where(Device.serial.is_(None))) == imei_with_check("35209900176149")


def test_a_donor_cannot_import_into_another_donors_batch(db, users, batch):
    with pytest.raises(NotFound):
        intake.import_file(batch.id, csv_rows(1), actor=Actor.of(users["donor_b"]))


def test_a_collected_batch_takes_no_more_devices(db, users, donor, batch):
    intake.import_file(batch.id, csv_rows(2), actor=donor)
    intake.collect_batch(batch.id, actor=Actor.of(users["technician"]))
    with pytest.raises(Conflict):
        intake.import_file(batch.id, csv_rows(3, prefix="NEW"), actor=donor)


def test_each_imported_device_has_its_registration_event_with_its_row(db, donor, batch):
    intake.import_file(batch.id, csv_rows(3), actor=donor)
    device = db.session.scalar(select(Device).where(Device.serial == "PF00000002"))
    event = db.session.scalar(select(CustodyEvent).where(CustodyEvent.device_id == device.id))
    assert event.type == "device_registered" and event.state_after == "registered"
    assert (
        json.loads(event.details)["row"] == 4 and event.actor_name == "Donor"
    )  # the display name, no longer the e-mail
