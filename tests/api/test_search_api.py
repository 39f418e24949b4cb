"""The search endpoint: scope, exact hits through a garbled or dash-less tag, and a clear 422 without a query."""
from asset_tracker.devices import keyboard
from tests.factories import make_device


def test_search_finds_a_device_by_its_garbled_tag_and_by_brand_and_model(client, orgs, users, api_headers):
    device = make_device(orgs, users, "received")
    resp = client.get("/api/v1/search", query_string={"q": keyboard.garble(device.tag)}, headers=api_headers())
    assert resp.status_code == 200
    assert resp.json["exact"] == device.tag and resp.json["read_as"] == device.tag
    dashless = client.get("/api/v1/search", query_string={"q": device.tag.replace("-", "")}, headers=api_headers())
    assert dashless.json["exact"] == device.tag
    words = f"{device.brand} {device.model}".split()
    listed = client.get("/api/v1/search", query_string={"q": " ".join(words)}, headers=api_headers())
    assert device.tag in [d["tag"] for d in listed.json["devices"]]


def test_search_answers_only_within_the_caller_scope(client, orgs, users, api_headers):
    device = make_device(orgs, users, "received")
    coordinator = client.get("/api/v1/search", query_string={"q": device.serial}, headers=api_headers("coordinator"))
    assert coordinator.status_code == 200
    assert coordinator.json["exact"] is None and coordinator.json["devices"] == []


def test_search_without_a_query_is_a_422_naming_the_field(client, users, api_headers):
    resp = client.get("/api/v1/search", headers=api_headers())
    assert resp.status_code == 422
    assert "q" in str(resp.json["error"]["details"])
