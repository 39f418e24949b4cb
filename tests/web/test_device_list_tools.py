"""The device list's tools: whitelisted sorting, page size, exports of the current filter, bulk actions."""
from __future__ import annotations

import csv
import io
import json

from openpyxl import load_workbook
from sqlalchemy import select

from asset_tracker.custody.models import CustodyEvent
from asset_tracker.distribution.models import Recycling, Reservation
from asset_tracker.extensions import db
from asset_tracker.lifecycle import State
from tests import factories
from tests.conftest import csrf_token


def _tags_in(page: str) -> list[str]:
    import re

    return re.findall(r'class="tag">([A-Z0-9-]+)</a>', page)


def test_the_list_sorts_by_whitelisted_columns_and_ignores_unknown_ones(client, login, orgs, users):
    tags = [factories.make_device(orgs, users).tag for _ in range(3)]
    login("technician")
    assert _tags_in(client.get("/devices?sort=tag").get_data(as_text=True)) == sorted(tags)
    assert _tags_in(client.get("/devices?sort=tag&dir=desc").get_data(as_text=True)) == sorted(tags, reverse=True)
    resp = client.get("/devices?sort=password_hash")  # not a sort key: the default order (newest first)
    assert resp.status_code == 200 and _tags_in(resp.get_data(as_text=True)) == tags[::-1]


def test_page_size_and_pages(client, login, orgs, users):
    for _ in range(30):
        factories.make_device(orgs, users)
    login("technician")
    page = client.get("/devices?per_page=25&page=2&sort=tag").get_data(as_text=True)
    assert len(_tags_in(page)) == 5 and "Page 2 sur 2" in page
    assert '<option value="25" selected>' in page


def test_exports_hold_the_filtered_rows_of_the_callers_scope_formula_safe(client, login, orgs, users):
    mine = factories.make_device(orgs, users, state="received")
    mine.model = "=CMD()"  # a donor's spreadsheet typed into the model name
    db.session.commit()
    factories.make_device(orgs, users)  # registered: filtered out
    factories.make_device(orgs, users, state="received", donor="donor_b")  # another donor: out of scope
    login("donor")
    text = client.get("/devices?state=received&export=csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["tag"] for r in rows] == [mine.tag] and rows[0]["model"] == "'=CMD()"
    book = load_workbook(io.BytesIO(client.get("/devices?state=received&export=xlsx").data), read_only=True)
    values = list(book.active.values)
    assert len(values) == 2 and mine.tag in values[1]
    kinds = [json.loads(e.details)["kind"] for e in db.session.execute(
        select(CustodyEvent).where(CustodyEvent.type == "export")).scalars()]
    assert kinds == ["devices", "devices"]


def test_bulk_actions_are_offered_by_role(client, login, orgs, users):
    factories.make_device(orgs, users)
    login("auditor")
    page = client.get("/devices").get_data(as_text=True)
    assert 'name="tags"' not in page
    login("technician")
    page = client.get("/devices").get_data(as_text=True)
    assert 'name="tags"' in page and "Les réserver" in page and "Les déclarer pour le recyclage" in page


def test_chosen_devices_open_the_label_reserve_and_recycling_forms_filled_in(client, login, orgs, users):
    tags = [factories.make_device(orgs, users, State.READY).tag for _ in range(2)]
    login("technician")
    query = "&".join(f"tags={t}" for t in tags)
    for path in ("/labels", "/distribution/reserve", "/distribution/recycling"):
        page = client.get(f"{path}?{query}").get_data(as_text=True)
        assert "\n".join(tags) in page, path


def test_chosen_ready_devices_are_reserved_together_or_not_at_all(client, login, orgs, users):
    ready = [factories.make_device(orgs, users, State.READY) for _ in range(2)]
    received = factories.make_device(orgs, users, State.RECEIVED)
    login("coordinator")
    token = csrf_token(client, "/distribution/reserve")
    resp = client.post("/distribution/reserve", data={
        "csrf_token": token, "programme_id": orgs["programme"].id,
        "device_tag": "\n".join([ready[0].tag, ready[1].tag, received.tag])})
    # A coordinator sees stock only: a device still in the workshop is not one it can name (404, not 409),
    # and the form comes back with what was typed and the refused tag named.
    assert resp.status_code == 404
    page = resp.get_data(as_text=True)
    assert f"Aucun appareil {received.tag} que vous puissiez utiliser ici." in page
    assert "\n".join([ready[0].tag, ready[1].tag, received.tag]) in page
    assert db.session.execute(select(Reservation)).first() is None
    resp = client.post("/distribution/reserve", data={
        "csrf_token": token, "programme_id": orgs["programme"].id, "device_tag": f"{ready[0].tag}\n{ready[1].tag}"})
    assert resp.status_code == 302
    reserved = db.session.execute(select(Reservation)).unique().scalars().all()
    assert sorted(r.device_id for r in reserved) == sorted(d.id for d in ready)
    for d in ready:
        db.session.refresh(d)
        assert d.state == State.RESERVED


def test_chosen_devices_are_sent_to_recycling_in_one_shipment(client, login, orgs, users):
    devices = [factories.make_device(orgs, users, State.WIPED, verdict="recycle") for _ in range(2)]
    login("technician")
    token = csrf_token(client, "/distribution/recycling")
    resp = client.post("/distribution/recycling", data={
        "csrf_token": token, "device_tag": " ".join(d.tag for d in devices),
        "recycler_organisation_id": orgs["recycler"].id, "disposal_reference": "BSD-2026-118",
        "shipment_reference": "ENV-7"})
    assert resp.status_code == 302
    rows = db.session.execute(select(Recycling)).unique().scalars().all()
    assert sorted(r.device_id for r in rows) == sorted(d.id for d in devices)
    assert {r.shipment_reference for r in rows} == {"ENV-7"}
    events = db.session.execute(select(CustodyEvent).where(CustodyEvent.state_after == "recycled")).scalars().all()
    assert sorted(e.device_tag for e in events) == sorted(d.tag for d in devices)


def test_a_mistyped_tag_in_a_recycling_shipment_keeps_the_form_and_names_the_tag(client, login, orgs, users):
    device = factories.make_device(orgs, users, State.WIPED, verdict="recycle")
    login("technician")
    token = csrf_token(client, "/distribution/recycling")
    resp = client.post("/distribution/recycling", data={
        "csrf_token": token, "device_tag": f"{device.tag}\nRB-999999-9",
        "recycler_organisation_id": orgs["recycler"].id, "disposal_reference": "BSD-2026-119"})
    assert resp.status_code == 404
    page = resp.get_data(as_text=True)
    assert "Aucun appareil RB-999999-9 que vous puissiez utiliser ici." in page
    assert "Inconnu, ou hors de ce que vous pouvez utiliser." in page  # next to the tags field
    assert 'value="BSD-2026-119"' in page and f"{device.tag}\nRB-999999-9" in page
    assert db.session.execute(select(Recycling)).first() is None


def test_printing_the_labels_of_a_sorted_list_keeps_its_filter(client, login, orgs, users):
    factories.make_device(orgs, users, State.RECEIVED)
    factories.make_device(orgs, users)
    login("technician")
    page = client.get("/labels/selection?state=received&sort=tag&dir=desc")
    assert page.status_code == 200
    assert "1 appareil correspond" in page.get_data(as_text=True)
