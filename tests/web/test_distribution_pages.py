"""Distribution pages: the coordinator's desk, forms and PDFs, and who sees a beneficiary reference."""
from __future__ import annotations

import pytest

from asset_tracker.core import Actor
from asset_tracker.distribution import services as dist
from asset_tracker.lifecycle import State
from tests import factories
from tests.conftest import csrf_token
from tests.factories import handing_over


def _handed_over(orgs, users, ref="MC-0042"):
    device = factories.make_device(orgs, users, State.READY)
    coord = Actor.of(users["coordinator_b"])
    dist.reserve_device(device.tag, actor=coord, programme_id=orgs["programme"].id)
    h = dist.record_handover(device.tag, actor=coord, beneficiary_ref=ref, beneficiary_category="pupil",
                             new_accessories=[{"kind": "charger"}], **handing_over())
    return device, h


def test_coordinator_reserves_in_bulk_and_hands_over_through_the_forms(client, orgs, users, login):
    devices = [factories.make_device(orgs, users, State.READY) for _ in range(3)]
    login("coordinator_b")
    token = csrf_token(client, "/distribution/reserve")
    resp = client.post("/distribution/reserve", data={"csrf_token": token, "programme_id": orgs["programme"].id,
                                                      "count": "2", "type": "laptop", "grades": ["B"]})
    assert resp.status_code == 302
    page = client.get("/distribution/").get_data(as_text=True)
    assert devices[0].tag in page and devices[1].tag in page and devices[2].tag not in page
    form = client.get(f"/distribution/handover/{devices[0].tag}").get_data(as_text=True)
    assert 'name="beneficiary_ref"' in form
    resp = client.post(f"/distribution/handover/{devices[0].tag}", data={
        "csrf_token": token, "beneficiary_ref": "MC-0001", "beneficiary_category": "pupil", "loan": "gift",
        "add_mobile_key": "1", "key_imei": "490154203237518", "key_iccid": "8933150319000123451",
        "add_charger": "1"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    detail = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "MC-0001" in detail and "490154203237518" in detail
    pdf = client.get(resp.headers["Location"] + "/receipt.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_a_name_typed_as_reference_is_refused_with_an_explanation(client, orgs, users, login):
    device = factories.make_device(orgs, users, State.READY)
    dist.reserve_device(device.tag, actor=Actor.of(users["coordinator_b"]), programme_id=orgs["programme"].id)
    login("coordinator_b")
    token = csrf_token(client, "/distribution/")
    resp = client.post(f"/distribution/handover/{device.tag}", data={
        "csrf_token": token, "beneficiary_ref": "Lina Benali", "beneficiary_category": "pupil", "loan": "gift"})
    assert resp.status_code == 422
    assert "name" in resp.get_data(as_text=True).lower() or "nom" in resp.get_data(as_text=True).lower()


@pytest.mark.parametrize("role, detail_status", [("coordinator", 404), ("auditor", 200), ("admin", 200)])
def test_only_the_recording_partner_sees_the_reference_on_pages_and_exports(client, orgs, users, login, role,
                                                                           detail_status):
    _, h = _handed_over(orgs, users, ref="MC-7777")
    login(role)
    for path, status in (("/distribution/", 200), ("/distribution/handovers.csv", 200),
                         (f"/distribution/handovers/{h.id}", detail_status)):
        resp = client.get(path)
        assert resp.status_code == status, (path, resp.status_code)
        assert "MC-7777" not in resp.get_data(as_text=True)
    if role == "coordinator":  # another partner: the hand-over does not exist for them
        assert client.get(f"/distribution/handovers/{h.id}").status_code == 404
        assert client.get(f"/distribution/handovers/{h.id}/receipt.pdf").status_code == 404


def test_the_recording_partner_sees_its_reference_in_the_export(client, orgs, users, login):
    _handed_over(orgs, users, ref="MC-7778")
    login("coordinator_b")
    assert "MC-7778" in client.get("/distribution/handovers.csv").get_data(as_text=True)


def test_a_donor_cannot_open_distribution_pages(client, orgs, users, login):
    _, h = _handed_over(orgs, users)
    login("donor")
    assert client.get(f"/distribution/handovers/{h.id}").status_code == 403  # no distribution page for donors
    assert client.get("/distribution/").status_code == 403


def test_programmes_page_shows_progress_to_the_owner(client, orgs, users, login):
    _handed_over(orgs, users)
    login("admin")
    page = client.get("/distribution/programmes").get_data(as_text=True)
    assert "Collégiens 2026" in page and "1000" in page.replace("\u202f", "").replace(" ", "")


def test_recycling_page_and_certificate(client, orgs, users, login):
    device = factories.make_device(orgs, users, State.WIPED, verdict="recycle")
    login("technician")
    token = csrf_token(client, "/distribution/recycling")
    resp = client.post("/distribution/recycling", data={
        "csrf_token": token, "device_tag": device.tag, "recycler_organisation_id": orgs["recycler"].id,
        "disposal_reference": "BSD-1", "shipment_reference": "ENV-1", "parts_harvested": "RAM, SSD"})
    assert resp.status_code == 302
    page = client.get("/distribution/recycling").get_data(as_text=True)
    assert device.tag in page and "BSD-1" in page
    pdf = client.get("/distribution/recycling/shipments/ENV-1/certificate.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
