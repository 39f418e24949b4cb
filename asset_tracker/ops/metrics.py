"""Prometheus metrics: requests and latency by endpoint, scans, imports, custody events, checkpoint age, jobs.

Counters kept in memory are per process; with several gunicorn workers set PROMETHEUS_MULTIPROC_DIR (an empty
folder shared by the workers and the scheduler, emptied at each start) and prometheus_client's multiprocess mode
adds them up. Custody events and the checkpoint age are read from the database at each scrape, so every process
reports the same truth.
"""
from __future__ import annotations

import datetime as dt
import os
import threading
import time

from flask import Flask, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import text

from ..extensions import db

disable_created_metrics()  # no *_created series: half the lines, nothing an alert uses

REQUESTS = Counter("reboot_http_requests", "HTTP requests answered, by endpoint (route name), method and status.",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("reboot_http_request_duration_seconds", "Time to answer a request, by endpoint and method.",
                    ["endpoint", "method"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0))
SCANS = Counter("reboot_scans", "Station scans answered (retries of the same scan id excluded), by outcome.",
                ["outcome"])
IMPORTS = Counter("reboot_imports", "Imports posted (device lists, wipe reports), by kind and outcome.",
                  ["kind", "outcome"])
JOB_DURATION = Gauge("reboot_job_last_duration_seconds", "Duration of the last run of a scheduled job.", ["job"],
                     multiprocess_mode="mostrecent")
JOB_SUCCESS = Gauge("reboot_job_last_success", "1 when the last run of a scheduled job succeeded, 0 when it failed.",
                    ["job"], multiprocess_mode="mostrecent")
JOB_FINISHED = Gauge("reboot_job_last_run_timestamp_seconds", "When the last run of a scheduled job ended (Unix time).",
                     ["job"], multiprocess_mode="max")

# Import endpoints: (endpoint, kind). A 2xx/3xx answer is "accepted", anything else "refused".
IMPORT_ENDPOINTS = {
    "api_batches.import_devices": "devices", "intake.import_file": "devices",
    "api_wiping.import_nwipe": "wipe_nwipe", "api_wiping.import_csv": "wipe_csv",
    "wiping.commit_logs": "wipe_nwipe", "wiping.import_csv": "wipe_csv",
}


def record_scan(status: int) -> None:
    """Called by the scanning service once per answered scan (not for replays)."""
    SCANS.labels(outcome="applied" if status < 400 else "refused").inc()


def observe_job(job_id: str, started: float, ok: bool) -> None:
    JOB_DURATION.labels(job=job_id).set(time.perf_counter() - started)
    JOB_SUCCESS.labels(job=job_id).set(1 if ok else 0)
    JOB_FINISHED.labels(job=job_id).set(time.time())


class DatabaseCollector:
    """Custody events by type (read incrementally: the log is append-only) and the last signed checkpoint."""

    def __init__(self, engine):
        self.engine = engine
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._seq = 0
        self._hash = None

    def collect(self):
        with self._lock, self.engine.connect().execution_options(sqlite_deferred=True) as conn:
            head = conn.execute(text("SELECT last_seq FROM custody_chain_head WHERE id = 1")).scalar() or 0
            if self._seq and conn.execute(text("SELECT hash FROM custody_events WHERE seq = :seq"),
                                          {"seq": self._seq}).scalar() != self._hash:
                self._counts, self._seq = {}, 0  # another chain behind the same URL (a restore, a test reset)
            rows = conn.execute(text("SELECT type, count(*), max(seq) FROM custody_events WHERE seq > :seq "
                                     "GROUP BY type"), {"seq": self._seq}).all()
            for type_, count, top in rows:
                self._counts[type_] = self._counts.get(type_, 0) + count
                self._seq = max(self._seq, top)
            if rows:
                self._hash = conn.execute(text("SELECT hash FROM custody_events WHERE seq = :seq"),
                                          {"seq": self._seq}).scalar()
            signed = conn.execute(text("SELECT max(signed_at) FROM audit_checkpoints")).scalar()
        events = CounterMetricFamily("reboot_custody_events", "Custody events in the chain, by type.",
                                     labels=["type"])
        for type_, count in sorted(self._counts.items()):
            events.add_metric([type_], count)
        yield events
        chain = GaugeMetricFamily("reboot_custody_chain_head_seq", "Sequence number of the chain's last event.")
        chain.add_metric([], head)
        yield chain
        if signed is not None:
            if isinstance(signed, str):
                signed = dt.datetime.fromisoformat(signed)
            if signed.tzinfo is None:
                signed = signed.replace(tzinfo=dt.UTC)
            age = GaugeMetricFamily("reboot_audit_last_checkpoint_age_seconds",
                                    "Seconds since the last signed custody checkpoint (alert above a day).")
            age.add_metric([], max(0.0, (dt.datetime.now(dt.UTC) - signed).total_seconds()))
            yield age


class _ProcessCollector:
    """This process's own counters (the default registry), when not in multiprocess mode."""

    def collect(self):
        yield from REGISTRY.collect()


def render(app: Flask) -> tuple[bytes, str]:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessCollector())
    collectors = app.extensions.setdefault("reboot_metrics", {})
    key = str(db.engine.url)
    if key not in collectors:
        collectors[key] = DatabaseCollector(db.engine)
    registry.register(collectors[key])
    return generate_latest(registry), CONTENT_TYPE_LATEST


def init_metrics(app: Flask) -> None:
    @app.before_request
    def _metrics_start():
        g._metrics_started = time.perf_counter()

    @app.after_request
    def _metrics_observe(response):
        endpoint = request.endpoint or "unmatched"
        started = g.get("_metrics_started")
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        if started is not None:
            LATENCY.labels(endpoint, request.method).observe(time.perf_counter() - started)
        kind = IMPORT_ENDPOINTS.get(endpoint)
        if kind and request.method == "POST":
            IMPORTS.labels(kind, "accepted" if response.status_code < 400 else "refused").inc()
        return response
