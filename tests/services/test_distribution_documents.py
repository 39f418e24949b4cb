"""The beneficiary hand-over receipt and the recycling certificate: parties identified, people named by name and
title (never an e-mail address), the reference and "page n/N" on every page, the signatures never alone."""
from __future__ import annotations

import shutil

import pytest

from asset_tracker.core import Actor
from asset_tracker.devices.models import Device
from asset_tracker.distribution import pdf
from asset_tracker.distribution import services as dist
from asset_tracker.distribution.models import Handover
from asset_tracker.lifecycle import State
from asset_tracker.organisations import services as organisations
from tests.factories import make_device
from tests.services.test_donation_slip import pdf_pages

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is needed")


@pytest.fixture
def identified(orgs, users):
    admin = Actor.of(users["admin"])
    organisations.update_organisation(orgs["partner"].id, {
        "legal_name": "Association Emmaüs Connect", "address": "8 rue Saint-Polycarpe\n69001 Lyon",
        "siret": "00089012300011", "legal_nature": "association"}, actor=admin)
    organisations.update_organisation(orgs["workshop"].id, {
        "legal_name": "Weeefund — atelier de reconditionnement", "siret": "00078901200010"}, actor=admin)
    organisations.update_organisation(orgs["recycler"].id, {
        "legal_name": "Recyclage DEEE Rhône SAS", "address": "45 chemin des Recycleurs\n69200 Vénissieux",
        "siret": "00013579200018", "legal_nature": "company"}, actor=admin)
    users["coordinator"].name, users["coordinator"].job_title = "Corinne Durand", "Coordinatrice d'antenne"
    users["technician"].name, users["technician"].job_title = "Théo Martin", "Responsable d'atelier"
    from asset_tracker.extensions import db
    db.session.commit()
    return orgs


def test_the_hand_over_receipt_identifies_the_partner_and_names_the_person(db, users, identified):
    device = make_device(identified, users, State.HANDED_OVER)
    handover = db.session.query(Handover).filter_by(device_id=device.id).one()
    for lang, texts in (("fr", ("Récépissé de remise", f"Remise n° {handover.id} — {device.tag}",
                                "Date et signature", "Pour le partenaire")),
                        ("en", ("hand-over receipt", f"Hand-over no. {handover.id} — {device.tag}",
                                "Date and signature", "For the partner"))):
        pages = pdf_pages(pdf.handover_receipt(handover, device, "MC-0042", lang))
        text = "\n".join(pages)
        for expected in texts + ("Association Emmaüs Connect", "8 rue Saint-Polycarpe", "000 890 123 00011",
                                 "Corinne Durand, Coordinatrice d'antenne", "MC-0042", device.tag):
            assert expected in text, (lang, expected)
        assert "coord@example.org" not in text  # a name, never the e-mail address
        for n, page in enumerate(pages, 1):
            assert texts[1] in page and f"page {n}/{len(pages)}" in page
        assert texts[3] in pages[-1] and "MC-0042" in pages[-1]  # the signatures with the kit's last rows
        assert "Chargeur" in pages[-1] or "Charger" in pages[-1] or device.tag in pages[-1]


def test_a_multi_page_recycling_certificate(db, users, identified):
    tech = Actor.of(users["technician"])
    devices = [make_device(identified, users, State.WIPED, verdict="recycle", serial=f"RCY-{i:04d}")
               for i in range(45)]
    for d in devices:
        dist.record_recycling(d.tag, actor=tech, recycler_organisation_id=identified["recycler"].id,
                              disposal_reference="BSD-2026-0420", shipment_reference="ENV-7")
    rows = dist.recyclings_for(actor=tech, shipment="ENV-7")
    by_id = {d.id: db.session.get(Device, d.id) for d in devices}
    pages = pdf_pages(pdf.recycling_certificate(rows, by_id, "envoi-ENV-7", "fr"))
    assert len(pages) >= 2
    for n, page in enumerate(pages, 1):
        assert "Recyclage envoi-ENV-7" in page and f"page {n}/{len(pages)}" in page
    first, last = pages[0], pages[-1]
    for expected in ("Recyclage DEEE Rhône SAS", "45 chemin des Recycleurs", "000 135 792 00018", "Entreprise",
                     "Weeefund — atelier de reconditionnement", "000 789 012 00010",
                     "Théo Martin, Responsable d'atelier", "BSD-2026-0420"):
        assert expected in first, expected
    assert "tech@example.org" not in "\n".join(pages)
    # The signatures travel with the last devices and the count.
    assert "Pour le recycleur" in last and "RCY-0044" in last and "45 équipement(s)" in last
    for page in pages[:-1]:
        assert "Pour le recycleur" not in page
    english = pdf_pages(pdf.recycling_certificate(rows, by_id, "envoi-ENV-7", "en"))
    assert "Certificate of hand-over for recycling" in english[0] and "For the recycler" in english[-1]
