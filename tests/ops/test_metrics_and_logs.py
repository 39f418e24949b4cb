"""GET /metrics for the scraper's token or an admin; JSON log lines with the request id; start-up warnings."""
from __future__ import annotations

import io
import json
import logging
import os
import re

import pytest

from asset_tracker import create_app
from asset_tracker.lifecycle import State
from asset_tracker.ops import startup
from asset_tracker.ops.logs import JsonFormatter, RequestContextFilter
from tests import factories

TOKEN = "scrape-" + "x" * 32


def _value(text: str, name: str, **labels) -> float | None:
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$", line)
        if not match or match[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match[2] or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match[3])
    return None


@pytest.fixture
def scrape(app, client):
    app.config["METRICS_TOKEN"] = TOKEN
    yield lambda: client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    app.config["METRICS_TOKEN"] = None


def test_metrics_are_hidden_from_everyone_but_the_scraper_and_admins(app, client, login, scrape, api_headers):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 404
    assert client.get("/metrics", headers=api_headers("technician")).status_code == 404
    assert client.get("/metrics", headers=api_headers("auditor")).status_code == 404
    resp = scrape()
    assert resp.status_code == 200 and resp.content_type.startswith("text/plain")
    login("admin")
    assert client.get("/metrics").status_code == 200


def test_metrics_count_requests_by_route_scans_events_and_checkpoint_age(app, db, client, orgs, users, api_headers,
                                                                          scrape, runner, signing_key):
    device = factories.make_device(orgs, users, State.COLLECTED)
    before = scrape().get_data(as_text=True)
    healthz_before = _value(before, "reboot_http_requests_total", endpoint="healthz", method="GET",
                            status="200") or 0
    applied_before = _value(before, "reboot_scans_total", outcome="applied") or 0
    refused_before = _value(before, "reboot_scans_total", outcome="refused") or 0
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    headers = api_headers("technician")
    ok = client.post("/api/v1/scans", json={"code": device.tag, "action": "receive", "scan_id": "metrics-scan-1"},
                     headers=headers)
    assert ok.status_code == 200, ok.get_data(as_text=True)
    refused = client.post("/api/v1/scans", json={"code": "SN-NOT-IN-STOCK", "action": "receive",
                                                 "scan_id": "metrics-scan-2"}, headers=headers)
    assert refused.status_code == 404
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0

    text = scrape().get_data(as_text=True)
    endpoint = "healthz"
    assert (_value(text, "reboot_http_requests_total", endpoint=endpoint, method="GET", status="200") or 0) \
        - healthz_before == 3
    assert _value(text, "reboot_http_request_duration_seconds_count", endpoint=endpoint, method="GET") >= 3
    assert "/api/v1/scans" not in text  # routes by name, never raw paths (no tag in a label)
    assert device.tag not in text
    assert _value(text, "reboot_scans_total", outcome="applied") - applied_before == 1
    assert _value(text, "reboot_scans_total", outcome="refused") - refused_before == 1
    assert _value(text, "reboot_custody_events_total", type="device_registered") == 1
    assert _value(text, "reboot_custody_events_total", type="state_changed") == 2  # collected, then received
    assert _value(text, "reboot_custody_events_total", type="audit_checkpoint_signed") == 1
    assert _value(text, "reboot_custody_chain_head_seq") >= 3
    age = _value(text, "reboot_audit_last_checkpoint_age_seconds")
    assert age is not None and 0 <= age < 60


def test_a_scheduled_job_reports_its_last_duration_and_result(app, scrape):
    from asset_tracker.reminders.scheduler import _in_app

    def broken():
        raise RuntimeError("SMTP down")

    _in_app(app, lambda: None, "reminders.sweep")()
    _in_app(app, broken, "test.broken")()
    text = scrape().get_data(as_text=True)
    assert _value(text, "reboot_job_last_success", job="reminders.sweep") == 1
    assert _value(text, "reboot_job_last_duration_seconds", job="reminders.sweep") >= 0
    assert _value(text, "reboot_job_last_success", job="test.broken") == 0


def test_json_log_lines_carry_the_request_id_and_client(app):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    access = logging.getLogger("asset_tracker.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        resp = app.test_client().get("/healthz", headers={"X-Request-Id": "req-42"})
    finally:
        access.removeHandler(handler)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert resp.headers["X-Request-Id"] == "req-42"
    assert line["request_id"] == "req-42" and line["status"] == 200 and line["path"] == "/healthz"
    assert line["level"] == "INFO" and line["logger"] == "asset_tracker.access" and line["time"].endswith("+00:00")


def test_log_format_json_installs_the_json_handler(app):
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    try:
        create_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], LOG_FORMAT="json")
        assert any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
        with pytest.raises(RuntimeError, match="LOG_FORMAT"):
            create_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], LOG_FORMAT="xml")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_workers_are_read_from_gunicorn_and_web_concurrency():
    assert startup.configured_workers({}, ["gunicorn", "--workers", "4", "wsgi:app"]) == 4
    assert startup.configured_workers({}, ["/srv/.venv/bin/gunicorn", "-w3", "wsgi:app"]) == 3
    assert startup.configured_workers({"GUNICORN_CMD_ARGS": "--workers=2 --threads 4"}, ["gunicorn"]) == 2
    assert startup.configured_workers({"WEB_CONCURRENCY": "5"}, ["waitress"]) == 5
    assert startup.configured_workers({}, ["flask"]) == 1


def test_production_with_several_workers_says_it_needs_redis(app, monkeypatch, caplog):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    app.config["ENV_NAME"] = "production"
    try:
        with caplog.at_level(logging.ERROR, logger="asset_tracker.ops.startup"):
            messages = startup.check_shared_state(app)
        assert any("RATELIMIT_STORAGE_URI" in m and "3 web workers" in m for m in messages)
        assert any("PROMETHEUS_MULTIPROC_DIR" in m for m in messages)
        assert any("redis://" in r.getMessage() for r in caplog.records)
        app.config["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:6379/0"
        assert not any("RATELIMIT" in m for m in startup.check_shared_state(app))
    finally:
        app.config["ENV_NAME"] = "testing"
        app.config["RATELIMIT_STORAGE_URI"] = "memory://"


def test_several_processes_add_up_in_multiprocess_mode(app, tmp_path):
    """As under gunicorn: two workers count requests in PROMETHEUS_MULTIPROC_DIR; a third answers the scrape."""
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
               ASSET_TRACKER_METRICS_TOKEN=TOKEN)
    (tmp_path / "metrics").mkdir()
    worker = (
        "import sys\n"
        "from asset_tracker import create_app\n"
        "app = create_app('testing', SQLALCHEMY_DATABASE_URI=sys.argv[1])\n"
        "c = app.test_client()\n"
        "if sys.argv[2] == 'serve':\n"
        "    for _ in range(3):\n"
        "        assert c.get('/healthz').status_code == 200\n"
        "else:\n"
        "    r = c.get('/metrics', headers={'Authorization': 'Bearer " + TOKEN + "'})\n"
        "    assert r.status_code == 200, r.status_code\n"
        "    print(r.get_data(as_text=True))\n")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", worker, url, "serve"], cwd=root, env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
    scraped = subprocess.run([sys.executable, "-c", worker, url, "scrape"], cwd=root, env=env, capture_output=True,
                             text=True, timeout=120)
    assert scraped.returncode == 0, scraped.stderr[-2000:]
    assert _value(scraped.stdout, "reboot_http_requests_total", endpoint="healthz", method="GET",
                  status="200") == 6


def test_imports_are_counted_by_kind_and_outcome(app, client, users, api_headers, scrape):
    import io as _io

    from asset_tracker.core import Actor
    from asset_tracker.intake import services as intake
    from tests.intake_helpers import csv_rows

    batch = intake.create_batch(actor=Actor.of(users["donor"]), name="CAF — mai", declared_counts={"laptop": 2})
    before = scrape().get_data(as_text=True)

    def upload(data):
        return client.post(f"/api/v1/batches/{batch.id}/imports", headers=api_headers("donor"),
                           data={"file": (_io.BytesIO(data), "parc.csv")}, content_type="multipart/form-data")

    assert upload(csv_rows(2)).status_code < 400
    assert upload(b"not;a;device;list\r\n").status_code >= 400
    text = scrape().get_data(as_text=True)
    for outcome in ("accepted", "refused"):
        grown = (_value(text, "reboot_imports_total", kind="devices", outcome=outcome) or 0) \
            - (_value(before, "reboot_imports_total", kind="devices", outcome=outcome) or 0)
        assert grown == 1, outcome
