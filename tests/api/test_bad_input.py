"""Every bad input is a 4xx in the error envelope: huge integers, deep JSON, empty bodies, wrong methods."""
import io
import logging
import pathlib
import re

import pytest

from asset_tracker.devices.models import Device
from tests.factories import make_device

HUGE = 2**70  # beyond any 64-bit column
SAMPLES = pathlib.Path(__file__).parent.parent / "fixtures" / "nwipe"


def assert_envelope(resp, status):
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert resp.is_json, resp.get_data(as_text=True)[:300]
    body = resp.json["error"]
    assert set(body) == {"code", "message", "details"}
    assert isinstance(body["code"], str) and body["message"] and isinstance(body["details"], dict)
    return body


@pytest.mark.parametrize("path", [f"/api/v1/batches/{HUGE}", f"/api/v1/batches/{HUGE}/devices"])
def test_a_path_id_beyond_64_bits_is_no_such_object(client, api_headers, path):
    assert_envelope(client.get(path, headers=api_headers("technician")), 404)


def test_a_huge_path_id_on_a_write_route_is_a_4xx(client, api_headers):
    resp = client.delete(f"/api/v1/devices/RB-000001-0/media/{HUGE}", headers=api_headers("technician"))
    assert 400 <= resp.status_code < 500
    assert_envelope(resp, resp.status_code)


@pytest.mark.parametrize("query", [f"page={HUGE}", f"per_page={HUGE}", f"batch={HUGE}", f"programme={-HUGE}"])
def test_a_query_integer_beyond_64_bits_is_refused_naming_the_parameter(client, api_headers, query):
    body = assert_envelope(client.get(f"/api/v1/devices?{query}", headers=api_headers("technician")), 422)
    assert query.split("=")[0] in body["details"]


def test_a_body_integer_beyond_64_bits_is_refused_and_writes_nothing(client, api_headers, db):
    resp = client.post("/api/v1/devices", headers=api_headers("donor"), json={
        "type": "laptop", "media": [{"kind": "ssd", "serial": "S1", "capacity_bytes": HUGE}]})
    body = assert_envelope(resp, 422)
    assert "media" in body["details"]
    resp = client.post("/api/v1/devices", headers=api_headers("donor"), json={"type": "laptop", "batch_id": HUGE})
    assert "batch_id" in assert_envelope(resp, 422)["details"]
    assert db.session.query(Device).count() == 0


def test_a_nonexistent_batch_id_is_a_4xx_not_a_database_error(client, api_headers, db):
    resp = client.post("/api/v1/devices", headers=api_headers("donor"), json={"type": "laptop", "batch_id": 987654})
    body = assert_envelope(resp, 404)  # an id outside the caller's reach answers as one that does not exist
    assert body["details"] == {"batch_id": ["unknown, or outside your scope"]}
    assert db.session.query(Device).count() == 0


def test_json_nested_a_thousand_deep_is_a_400(client, api_headers, db):
    deep = '{"type": "laptop", "specs": ' + "[" * 1000 + "]" * 1000 + "}"
    resp = client.post("/api/v1/devices", headers=api_headers("donor"), data=deep, content_type="application/json")
    body = assert_envelope(resp, 400)
    assert body["code"] == "too_deep"
    assert db.session.query(Device).count() == 0
    # Brackets inside strings are text, not nesting.
    resp = client.post("/api/v1/devices", headers=api_headers("donor"),
                       json={"type": "laptop", "model": "[" * 200})
    assert resp.status_code == 201, resp.json


def test_a_patch_without_any_field_is_refused(client, api_headers, orgs, users):
    device = make_device(orgs, users, "registered")
    for kwargs in ({}, {"json": {}}):
        resp = client.patch(f"/api/v1/devices/{device.tag}", headers=api_headers("donor"), **kwargs)
        assert_envelope(resp, 422)


def test_a_wrong_method_answers_405_with_allow(client, api_headers):
    resp = client.put("/api/v1/devices", headers=api_headers("technician"))
    body = assert_envelope(resp, 405)
    assert body["code"] == "method_not_allowed"
    assert {"GET", "POST"} <= {m.strip() for m in resp.headers["Allow"].split(",")}


def test_an_empty_assignments_field_means_no_choice(client, api_headers):
    log = "nwipe-zero-1disk.log"
    for path in ("/api/v1/wipe-imports/nwipe/preview", "/api/v1/wipe-imports/nwipe"):
        data = {"files": [(io.BytesIO((SAMPLES / log).read_bytes()), log)], "assignments": ""}
        resp = client.post(path, headers=api_headers("technician"), data=data)
        assert resp.status_code < 500, resp.get_data(as_text=True)[:300]
        if resp.status_code >= 400:
            assert_envelope(resp, resp.status_code)
    data = {"files": [(io.BytesIO((SAMPLES / log).read_bytes()), log)], "assignments": '{"k": 99999999999999999999999}'}
    body = assert_envelope(client.post("/api/v1/wipe-imports/nwipe/preview", headers=api_headers("technician"),
                                       data=data), 422)
    assert "assignments" in body["details"]


def test_an_unexpected_error_is_a_500_envelope_with_the_request_id_and_a_logged_trace(
        app, client, api_headers, login, monkeypatch, caplog):
    from asset_tracker.devices import services

    monkeypatch.setattr(app.logger, "disabled", False)  # the migrations' logging set-up turned it off in this process
    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "get_device", broken)
    with caplog.at_level(logging.ERROR):
        resp = client.get(
            "/api/v1/devices/RB-000001-0", headers={**api_headers("technician"), "X-Request-Id": "abc123"}
        )
    body = assert_envelope(resp, 500)
    assert body["code"] == "internal_error" and body["details"] == {"request_id": "abc123"}
    assert "abc123" in body["message"] and "disk on fire" not in body["message"]
    assert any("abc123" in r.getMessage() and r.exc_info for r in caplog.records)

    login("technician")
    page = client.get("/devices/RB-000001-0", headers={"Accept": "text/html"})
    assert page.status_code == 500
    assert page.mimetype == "text/html" and "<html" in page.get_data(as_text=True)


def test_the_openapi_error_schema_is_the_envelope(client):
    spec = client.get("/api/v1/openapi.json").json
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    body = spec["components"]["schemas"][error["properties"]["error"]["$ref"].rsplit("/", 1)[1]]
    assert set(body["properties"]) == {"code", "message", "details"}


# ---------------------------------------------------------------- pages: the same refusals as HTML pages


def test_pages_refuse_bad_input_with_an_html_page_of_the_same_status(client, login, orgs):
    from tests.conftest import csrf_token

    login("donor")
    missing = client.get(f"/batches/{HUGE}")
    assert missing.status_code == 404 and missing.mimetype == "text/html"

    token = csrf_token(client, "/batches/new")
    huge = client.post("/batches/new", data={"csrf_token": token, "name": "Dons de décembre",
                                             "count_laptop": str(HUGE)})
    assert huge.status_code == 422 and huge.mimetype == "text/html"
    # The refusal is shown next to the laptops' count field, in words (not as the API's field name).
    assert re.search(r'id="f-count_laptop-error"[^>]*>[^<]*\S', huge.get_data(as_text=True))

    wrong_method = client.put("/batches/new", data={"csrf_token": token})
    assert wrong_method.status_code == 405 and wrong_method.mimetype == "text/html"
    assert "POST" in wrong_method.headers["Allow"]
