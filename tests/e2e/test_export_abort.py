"""An export that fails mid-stream is seen as an error by a plain HTTP client of the real server (waitress)."""
import http.client
import json
import urllib.request
from urllib.parse import urlparse

import pytest
from sqlalchemy.exc import OperationalError

from asset_tracker.audit import exports
from tests.factories import make_device, token_for

from .conftest import settle

pytestmark = pytest.mark.e2e


@pytest.fixture
def failing_after_first_page(monkeypatch, app):
    """Exports read two rows per page, and the database goes away after the first page."""
    monkeypatch.setitem(app.config, "EXPORT_CHUNK_ROWS", 2)

    def cut(pages):
        def cut_pages(conn, *args):
            for n, rows in enumerate(pages(conn, *args)):
                if n == 1:
                    raise OperationalError("SELECT …", {}, Exception("server closed the connection unexpectedly"))
                yield rows

        return cut_pages

    real_events, real_devices = exports.events_export, exports.devices_export

    def events_export(**kwargs):
        export = real_events(**kwargs)
        export.pages = cut(export.pages)
        export.json_pages = export.json_pages and cut(export.json_pages)
        return export

    def devices_export(*args, **kwargs):
        export = real_devices(*args, **kwargs)
        export.pages = cut(export.pages)
        return export

    monkeypatch.setattr(exports, "events_export", events_export)
    monkeypatch.setattr(exports, "devices_export", devices_export)


def _get(live_server, path, token):
    url = urlparse(live_server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    return conn, conn.getresponse()


def _data(orgs, users):
    for _ in range(3):
        make_device(orgs, users, "received")
    token = token_for(users["auditor"])
    settle()
    return token


def test_a_complete_export_ends_with_its_trailer(live_server, orgs, users):
    token = _data(orgs, users)
    conn, resp = _get(live_server, "/api/v1/audit/events.jsonl", token)
    body = resp.read().decode()
    conn.close()
    assert resp.status == 200
    lines = [json.loads(line) for line in body.splitlines()]
    assert lines[-1] == {"trailer": {"export": "events", "rows": len(lines) - 1, "complete": True}}


@pytest.mark.parametrize("path", ["/api/v1/audit/events.jsonl", "/api/v1/audit/events.csv",
                                  "/api/v1/audit/devices.jsonl", "/api/v1/audit/devices.csv"])
def test_an_export_cut_by_a_failure_is_an_error_for_the_http_client(live_server, orgs, users,
                                                                     failing_after_first_page, path):
    token = _data(orgs, users)
    conn, resp = _get(live_server, path, token)
    assert resp.status == 200  # the status line left before the failure
    assert resp.getheader("Transfer-Encoding") == "chunked"
    with pytest.raises(http.client.IncompleteRead) as cut:
        resp.read()
    conn.close()
    received = cut.value.partial.decode()
    assert received  # the first page did arrive...
    assert '"trailer"' not in received  # ...but never the trailer

    # urllib, what most scripts use, fails the same way.
    req = urllib.request.Request(live_server + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as answer:
        with pytest.raises(http.client.IncompleteRead):
            answer.read()
