"""An import killed in the middle (SIGKILL of the server) leaves no partial rows and a chain that verifies."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from asset_tracker.core import Actor
from asset_tracker.custody.services import verify_chain
from asset_tracker.devices.models import Device, StorageMedium
from asset_tracker.intake import services as intake
from tests.factories import token_for
from tests.intake_helpers import csv_rows

ROOT = Path(__file__).resolve().parents[2]
ROWS = 5_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(app, port: int, barrier: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "ASSET_TRACKER_ENV": "testing",
           "ASSET_TRACKER_MAX_CONTENT_LENGTH": str(50 * 1024 * 1024)}
    if barrier is not None:
        env["ASSET_TRACKER_IMPORT_BARRIER_FILE"] = repr(str(barrier))
    proc = subprocess.Popen([sys.executable, "-m", "asset_tracker.serve", "--env", "testing", "--port", str(port),
                             "--threads", "2"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError("the server did not start")


def _multipart(data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"devices.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_an_import_killed_mid_way_writes_nothing_and_the_chain_verifies(app, db, orgs, users, tmp_path):
    batch_id = intake.create_batch(actor=Actor.of(users["donor"]), name="Collecte de mars").id
    token = token_for(users["donor"])
    events_before = verify_chain().checked
    db.session.remove()
    db.engine.dispose()  # this process keeps no connection that could hold SQLite's write lock
    body, content_type = _multipart(csv_rows(ROWS, prefix="KL"))
    port = _free_port()
    barrier = tmp_path / "rows-written"
    server = _serve(app, port, barrier)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", f"/api/v1/batches/{batch_id}/imports", body=body,
                     headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
        deadline = time.monotonic() + 60
        while not barrier.exists() and time.monotonic() < deadline:  # every row written, not yet committed
            time.sleep(0.05)
        assert barrier.exists(), "the import never reached its commit"
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        try:
            status = conn.getresponse().status
        except (http.client.HTTPException, OSError):
            status = None
        assert status is None, "the import finished before the kill: make ROWS larger"
    finally:
        if server.poll() is None:
            server.kill()
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Device)) == 0
    assert db.session.scalar(select(func.count()).select_from(StorageMedium)) == 0
    result = verify_chain()
    assert result.ok and result.checked == events_before
    db.session.commit()  # this test's own reads must not hold SQLite's write lock while the server writes

    # the same file, imported again after the crash, goes in whole
    server = _serve(app, port)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", f"/api/v1/batches/{batch_id}/imports", body=body,
                     headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
        assert conn.getresponse().status == 201
    finally:
        server.kill()
        server.wait(10)
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Device)) == ROWS
    assert verify_chain().ok
