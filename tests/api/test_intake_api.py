"""Batch API: scope (404 outside it), read-only auditors, imports over HTTP, size limit, reconciliation."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from asset_tracker.core import Actor
from asset_tracker.devices.models import Device
from asset_tracker.intake import services as intake
from tests.intake_helpers import csv_rows


@pytest.fixture
def batch(users):
    return intake.create_batch(actor=Actor.of(users["donor"]), name="CAF — avril", declared_counts={"laptop": 2})


def upload(client, headers, batch_id, data, name="parc.csv", **form):
    return client.post(f"/api/v1/batches/{batch_id}/imports", headers=headers,
                       data={"file": (io.BytesIO(data), name), **form}, content_type="multipart/form-data")


def test_a_donor_sees_only_its_own_batches_others_answer_404(client, api_headers, batch):
    mine = client.get("/api/v1/batches", headers=api_headers("donor")).get_json()
    theirs = client.get("/api/v1/batches", headers=api_headers("donor_b")).get_json()
    assert [b["id"] for b in mine] == [batch.id] and theirs == []
    for path in ("", "/reconciliation", "/devices", "/slip.pdf"):
        resp = client.get(f"/api/v1/batches/{batch.id}{path}", headers=api_headers("donor_b"))
        assert resp.status_code == 404, path
        assert resp.get_json()["error"]["code"] == "not_found"
    assert upload(client, api_headers("donor_b"), batch.id, csv_rows(1)).status_code == 404


def test_auditors_read_every_batch_but_cannot_write(client, api_headers, batch):
    h = api_headers("auditor")
    assert client.get(f"/api/v1/batches/{batch.id}/reconciliation", headers=h).status_code == 200
    assert client.post("/api/v1/batches", headers=h, json={"name": "x", "donor_organisation_id": 1}).status_code == 403
    assert upload(client, h, batch.id, csv_rows(1)).status_code == 403
    assert client.post(f"/api/v1/batches/{batch.id}/close", headers=h, json={}).status_code == 403


def test_coordinators_have_no_batches(client, api_headers, batch):
    assert client.get("/api/v1/batches", headers=api_headers("coordinator")).status_code == 403


def test_server_owned_fields_are_refused(client, api_headers, orgs):
    resp = client.post("/api/v1/batches", headers=api_headers("donor"),
                       json={"name": "x", "status": "closed", "id": 5})
    assert resp.status_code == 422 and set(resp.get_json()["error"]["details"]) == {"status", "id"}


def test_a_donor_opens_a_batch_for_its_own_organisation(client, api_headers, orgs):
    resp = client.post("/api/v1/batches", headers=api_headers("donor"),
                       json={"name": "Collecte de mai", "declared_counts": {"laptop": 10, "phone": 2}})
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["donor"]["id"] == orgs["donor"].id and body["status"] == "open"
    assert body["declared_counts"] == {"laptop": 10, "phone": 2}


def test_import_over_http_answers_counts_and_errors(client, api_headers, batch, db):
    bad = upload(client, {**api_headers("donor"), "Accept-Language": "en"}, batch.id,
                 csv_rows(3, bad={1: {"imei": "12"}}))
    assert bad.status_code == 422
    err = bad.get_json()["error"]
    assert err["code"] == "import_rejected"
    assert err["details"]["errors"] == [{"row": 3, "column": "IMEI", "letter": "E", "field": "imei", "value": "12",
                                         "code": "bad_imei", "message": 'An IMEI has exactly 15 digits (found "12").'}]
    assert db.session.scalar(select(func.count()).select_from(Device)) == 0

    ok = upload(client, api_headers("donor"), batch.id, csv_rows(3), client_id="bench-1")
    assert ok.status_code == 201 and ok.get_json()["created"] == 3
    again = upload(client, api_headers("donor"), batch.id, csv_rows(3), client_id="bench-1")
    assert again.get_json()["created"] == 3 and again.get_json()["replayed"] is True
    same_file = upload(client, api_headers("donor"), batch.id, csv_rows(3))
    assert same_file.status_code == 200 and same_file.get_json()["status"] == "already_imported"
    assert db.session.scalar(select(func.count()).select_from(Device)) == 3


def test_valid_only_mode_imports_the_valid_rows(client, api_headers, batch):
    resp = upload(client, api_headers("donor"), batch.id, csv_rows(4, bad={0: {"type": "toaster"}}), mode="valid_only")
    body = resp.get_json()
    assert resp.status_code == 201 and body["created"] == 3 and body["invalid_rows"] == 1
    assert body["errors"][0]["row"] == 2 and body["errors"][0]["column"] == "Type"


def test_a_50_mb_file_is_refused_with_a_message_naming_the_limit(client, api_headers, batch, db):
    resp = upload(client, {**api_headers("donor"), "Accept-Language": "en"}, batch.id, b"x" * (50 * 1024 * 1024))
    assert resp.status_code == 413
    err = resp.get_json()["error"]
    assert err["code"] == "too_large" and "20 MB" in err["message"]
    assert db.session.scalar(select(func.count()).select_from(Device)) == 0


def test_the_size_limit_message_is_french_by_default(client, api_headers, batch):
    resp = upload(client, api_headers("donor"), batch.id, b"x" * (50 * 1024 * 1024))
    assert resp.status_code == 413 and "20 Mo" in resp.get_json()["error"]["message"]


def test_missing_file_and_empty_file_are_clear_errors(client, api_headers, batch):
    resp = client.post(f"/api/v1/batches/{batch.id}/imports", headers=api_headers("donor"), data={},
                       content_type="multipart/form-data")
    assert resp.status_code == 422 and "file" in resp.get_json()["error"]["details"]
    empty = upload(client, api_headers("donor"), batch.id, b"")
    assert empty.status_code == 422 and empty.get_json()["error"]["code"] == "empty_file"


def test_reception_and_reconciliation_over_http(client, api_headers, users, batch, orgs):
    intake.import_file(batch.id, csv_rows(2), actor=Actor.of(users["donor"]))
    h = api_headers("technician")
    assert client.post(f"/api/v1/batches/{batch.id}/collect", headers=h, json={}).status_code == 200
    scan = client.post(f"/api/v1/batches/{batch.id}/receipts", headers=h, json={"code": "PF00000000"})
    assert scan.status_code == 200 and scan.get_json()["expected"] is True
    rec = client.get(f"/api/v1/batches/{batch.id}/reconciliation", headers=h).get_json()
    assert rec["received"] == 1 and [m["device"]["serial"] for m in rec["missing"]] == ["PF00000001"]
    closing = client.post(f"/api/v1/batches/{batch.id}/close", headers=h, json={})
    assert closing.status_code == 409 and closing.get_json()["error"]["code"] == "unexplained_discrepancies"
    tag = rec["missing"][0]["device"]["tag"]
    assert client.post(f"/api/v1/batches/{batch.id}/explanations", headers=h,
                       json={"tag": tag, "note": "stayed at the CAF", "declare_lost": False}).status_code == 201
    closed = client.post(f"/api/v1/batches/{batch.id}/close", headers=h, json={"note": "one laptop kept by the donor"})
    assert closed.status_code == 200 and closed.get_json()["batch"]["status"] == "closed"
    slip = client.get(f"/api/v1/batches/{batch.id}/slip.pdf", headers=api_headers("donor"))
    assert slip.status_code == 200 and slip.data.startswith(b"%PDF")
