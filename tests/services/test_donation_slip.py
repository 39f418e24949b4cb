"""The donation slip a public accountant signs: both parties identified, the disposal decision, every device with
the donor's inventory number, counts by type, the value only when given, the donor's own legal basis, and on
every page the batch reference and "page n/N", with the signature block never alone on the last page.

Read with poppler's pdftotext (as an accountant's tools would), page by page."""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest
from sqlalchemy import select

from asset_tracker.core import Actor
from asset_tracker.devices.models import Device
from asset_tracker.errors import Conflict, Invalid, NotFound
from asset_tracker.intake import services as intake
from asset_tracker.intake.slip import slip_pdf
from asset_tracker.organisations import services as organisations

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is needed")

HEADER = ("Type;Marque;Modèle;Numéro de série;N° d'inventaire du donateur;Valeur unitaire (€);Type de disque;"
          "Capacité du disque (Go)")
BASIS = ("Cession gratuite de matériels informatiques réformés en vue de leur réemploi.", "CG3P, art. L3212-2, 2°")


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page, as pdftotext lays it out (pages are separated by form feeds)."""
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True).stdout
    pages = out.decode("utf-8").split("\f")
    # Whitespace flattened: a cell that wraps on two lines still reads as one phrase.
    return [" ".join(p.split()) for p in pages if p.strip()]


def spreadsheet(n: int, *, prefix: str, values: bool = True) -> bytes:
    kinds = ["portable", "unité centrale", "tablette"]
    lines = [HEADER]
    for i in range(n):
        lines.append(";".join([kinds[i % 3], "Lenovo", "ThinkPad T480", f"{prefix}{i:06d}", f"INV-{i:05d}",
                               "45,50" if values else "", "SSD", "256"]))
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


@pytest.fixture
def admin(users):
    return Actor.of(users["admin"])


@pytest.fixture
def identified(orgs, admin):
    """The donor (with a configured legal basis) and the workshop, legally identified."""
    organisations.update_organisation(orgs["donor"].id, {
        "legal_name": "Caisse d'allocations familiales du Rhône", "address": "67 boulevard Vivier-Merle\n69003 Lyon",
        "siret": "000 456 789 00015", "legal_nature": "public_establishment",
        "donation_legal_basis": BASIS[0], "donation_legal_basis_ref": BASIS[1]}, actor=admin)
    organisations.update_organisation(orgs["workshop"].id, {
        "legal_name": "Weeefund — atelier de reconditionnement", "address": "12 rue de l'Atelier\n69100 Villeurbanne",
        "siret": "00078901200010", "legal_nature": "association"}, actor=admin)
    return orgs


def closed_batch(users, *, n: int, prefix: str, values: bool = True, donor: str = "donor", foreign=None):
    who, tech = Actor.of(users[donor]), Actor.of(users["technician"])
    batch = intake.create_batch(actor=who, name=f"Collecte {prefix}", declared_counts={})
    result = intake.import_file(batch.id, spreadsheet(n, prefix=prefix, values=values), actor=who)
    assert result.status == "imported" and result.created == n
    intake.update_batch(batch.id, {
        "disposal_decision_ref": "Décision du directeur n° 2026-114", "disposal_decision_date": dt.date(2026, 3, 2),
        "donor_signatory_name": "Sophie Garnier", "donor_signatory_title": "Responsable logistique"}, actor=who)
    intake.update_batch(batch.id, {"workshop_signatory_name": "Théo Martin",
                                   "workshop_signatory_title": "Responsable d'atelier"}, actor=tech)
    intake.collect_batch(batch.id, actor=tech)
    from asset_tracker.extensions import db
    for d in db.session.scalars(select(Device).where(Device.batch_id == batch.id).order_by(Device.id)):
        intake.receive_device(d.tag, actor=tech, batch_id=batch.id)
    if foreign is not None:
        intake.receive_device(foreign.tag, actor=tech, batch_id=batch.id)
        intake.explain(batch.id, foreign.tag, actor=tech, note="Loaded on the wrong van")
    return intake.close_batch(batch.id, actor=tech)


def test_a_multi_page_slip_carries_reference_and_page_numbers_on_every_page_and_signs_with_the_last_rows(
        db, users, identified):
    rec = closed_batch(users, n=70, prefix="MP")
    pages = pdf_pages(slip_pdf(rec, "fr"))
    total = len(pages)
    assert total >= 3
    reference = f"Lot n° {rec.batch.id} — Collecte MP"
    for n, page in enumerate(pages, 1):
        assert reference in page, f"page {n} lacks the batch reference"
        assert f"page {n}/{total}" in page, f"page {n} lacks 'page {n}/{total}'"

    first, last = pages[0], pages[-1]
    # Both parties identified: legal name, address, SIRET, legal nature, signatory and title.
    for text in ("Caisse d'allocations familiales du Rhône", "67 boulevard Vivier-Merle", "000 456 789 00015",
                 "Établissement public", "Sophie Garnier", "Responsable logistique",
                 "Weeefund — atelier de reconditionnement", "12 rue de l'Atelier", "000 789 012 00010",
                 "Association", "Théo Martin", "Responsable d'atelier"):
        assert text in first, text
    assert "Décision du directeur n° 2026-114 du 02/03/2026" in first
    assert "Fondement juridique" in first and BASIS[1] in first
    # Every device, with the donor's inventory number.
    everything = "\n".join(pages)
    for i in range(70):
        assert f"MP{i:06d}" in everything and f"INV-{i:05d}" in everything
    # The last page: the signature block together with the last rows and the totals.
    assert "Date, signature et cachet" in last and "Pour le donateur" in last and "Pour l'atelier" in last
    assert "MP000069" in last and "INV-00069" in last
    assert "Appareils remis : 70." in last
    assert "Valeur totale : 3 185,00 €" in last
    # Counts by type: 24 laptops, 23 desktops, 23 tablets.
    assert "Type Nombre Portable 24 Unité centrale 23 Tablette 23 Total 70" in last.split("Appareils remis : 70.")[1]
    for page in pages[:-1]:
        assert "Date, signature et cachet" not in page


def test_the_slip_in_english(db, users, identified):
    rec = closed_batch(users, n=40, prefix="EN")
    pages = pdf_pages(slip_pdf(rec, "en"))
    for n, page in enumerate(pages, 1):
        assert f"Batch no. {rec.batch.id} — Collecte EN" in page and f"page {n}/{len(pages)}" in page
    assert "Equipment donation slip" in pages[0] and "Legal basis" in pages[0]
    assert "Decision du directeur" not in pages[0] and "of 2026-03-02" in pages[0]
    assert "Date, signature and stamp" in pages[-1] and "Devices handed over: 40." in pages[-1]


def test_no_value_line_without_values_and_no_legal_basis_for_a_donor_without_one(db, users, identified, orgs):
    rec = closed_batch(users, n=5, prefix="NV", values=False, donor="donor_b")
    text = "\n".join(pdf_pages(slip_pdf(rec, "fr")))
    assert "Appareils remis : 5." in text
    assert "Valeur totale" not in text and "Valeur unitaire" not in text and "0,00" not in text
    assert "Fondement juridique" not in text and "L3212" not in text  # donor_b has no legal basis configured
    english = "\n".join(pdf_pages(slip_pdf(rec, "en")))
    assert "Total value" not in english and "Legal basis" not in english


def test_a_foreign_device_is_never_counted_as_the_batchs(db, users, orgs, identified):
    from tests.factories import make_device

    stray = make_device(orgs, users, donor="donor_b", serial="STRAY-777")
    rec = closed_batch(users, n=4, prefix="FD", foreign=stray)
    assert len(rec.received) == 4 and len(rec.expected) == 4
    assert sum(c["received"] for c in rec.counts.values()) == 4
    assert [line.device.tag for line in rec.unexpected] == [stray.tag]
    text = "\n".join(pdf_pages(slip_pdf(rec, "fr")))
    assert "Appareils remis : 4." in text
    table = text.split("Appareils remis : 4.")[0]
    assert stray.tag not in table and "STRAY-777" not in table
    assert stray.tag in text.split("ne font pas partie de cette cession")[1]


def test_slip_details_are_for_the_batchs_donor_and_workshop_and_stay_editable_after_closing(db, users, orgs):
    from asset_tracker.organisations.models import Organisation, OrgKind
    from tests.factories import make_user

    batch = intake.create_batch(actor=Actor.of(users["donor"]), name="Collecte")
    with pytest.raises(NotFound):
        intake.update_batch(batch.id, {"donor_signatory_name": "Intrus"}, actor=Actor.of(users["donor_b"]))
    intake.update_batch(batch.id, {"donor_signatory_name": "  Sophie Garnier "}, actor=Actor.of(users["donor"]))
    assert batch.donor_signatory_name == "Sophie Garnier"

    rec = closed_batch(users, n=2, prefix="ED")
    donor = Actor.of(users["donor"])
    intake.update_batch(rec.batch.id, {"donor_signatory_title": "Directrice adjointe"}, actor=donor)
    assert rec.batch.donor_signatory_title == "Directrice adjointe"
    with pytest.raises(Conflict):  # the rest of a closed batch is frozen
        intake.update_batch(rec.batch.id, {"name": "Autre nom"}, actor=donor)
    other = Organisation(name="Autre atelier", kind=OrgKind.WORKSHOP)
    db.session.add(other)
    db.session.commit()
    stranger = Actor.of(make_user("technician", other))
    with pytest.raises(NotFound):  # a technician of another workshop does not sign for this one
        intake.update_batch(rec.batch.id, {"workshop_signatory_name": "Intrus"}, actor=stranger)
    assert rec.batch.workshop_signatory_name == "Théo Martin"


def test_a_siret_is_14_digits_with_its_luhn_key_and_la_postes_exception(db, orgs, admin):
    donor = orgs["donor"]
    with pytest.raises(Invalid) as short:
        organisations.update_organisation(donor.id, {"siret": "1234"}, actor=admin)
    assert short.value.details == {"siret": ['A SIRET has exactly 14 digits (found "1234").']}
    with pytest.raises(Invalid) as key:
        organisations.update_organisation(donor.id, {"siret": "000 456 789 00016"}, actor=admin)
    assert key.value.code == "bad_siret" and "siret" in key.value.details
    assert donor.siret is None  # nothing written
    # La Poste (SIREN 356 000 000): the digit sum is a multiple of 5, the Luhn key does not apply.
    la_poste = "35600000049008"
    assert not organisations.luhn_ok(la_poste) and sum(map(int, la_poste)) % 5 == 0
    organisations.update_organisation(donor.id, {"siret": la_poste}, actor=admin)
    assert donor.siret == la_poste


def test_whatever_the_number_of_devices_the_signatures_never_open_a_page_alone(db, users, identified):
    """Slips of 1 to 73 devices: every page has its reference and number; the signature block is on the last
    page only, with the last devices and the count."""
    from asset_tracker.intake.services import Reconciliation

    rec = closed_batch(users, n=75, prefix="SZ")
    pages_seen = set()
    for n in range(1, 76, 3):  # every third size: the block that moves to a new page spans more rows
        part = Reconciliation(rec.batch, rec.expected[:n], rec.received[:n], [], [], {})
        pages = pdf_pages(slip_pdf(part, "fr"))
        pages_seen.add(len(pages))
        for i, page in enumerate(pages, 1):
            assert f"Lot n° {rec.batch.id}" in page and f"page {i}/{len(pages)}" in page, (n, i)
        last_tag = part.received[-1].tag
        assert "Date, signature et cachet" in pages[-1] and last_tag in pages[-1], n
        assert f"Appareils remis : {n}." in pages[-1], n
        assert not any("Date, signature et cachet" in p for p in pages[:-1]), n
    assert len(pages_seen) >= 3  # the sizes cross two page boundaries


def test_names_in_any_european_script_print_as_written(db, users, identified):
    """The PDF base-14 fonts know only Windows-1252: a Polish or Vietnamese name came out as "?"."""
    rec = closed_batch(users, n=2, prefix="UN")
    names = ("Łukasz Wiśniewski", "Nguyễn Thị Hương", "Ștefan Dumitrescu")
    intake.update_batch(rec.batch.id, {"donor_signatory_name": names[0], "donor_signatory_title": names[1]},
                        actor=Actor.of(users["donor"]))
    intake.update_batch(rec.batch.id, {"workshop_signatory_name": names[2]}, actor=Actor.of(users["technician"]))
    text = " ".join(pdf_pages(slip_pdf(intake.reconciliation(rec.batch.id, actor=Actor.of(users["donor"])), "fr")))
    for name in names:
        assert name in text
    assert "?" not in text
