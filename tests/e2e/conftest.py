"""Browser fixtures: the app served by waitress on 127.0.0.1, headless Chromium (Debian's), axe checks.

Data made by a test through the services is visible to the server once committed (services end
with a commit). On SQLite the test thread's own transactions start deferred while a live server
runs, so its reads never hold the write lock the server needs; ``settle()`` ends what it left open.

    def test_something(orgs, users, live_server, page):
        device = make_device(orgs, users, state="received")
        tag = device.tag
        login_as(page, live_server, users["technician"])
        page.goto(f"{live_server}/devices/{tag}")
        axe_check(page)
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest
from sqlalchemy import event

from asset_tracker.extensions import db as _db
from asset_tracker.extensions import limiter

from ..factories import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE_JS = os.path.join(os.path.dirname(__file__), "vendor", "axe.min.js")
SCREENSHOTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "docs", "screenshots")
FAILING_IMPACTS = {"serious", "critical"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def _server(app):
    """One waitress server for the whole run, serving the test app (and so the test database)."""
    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=_free_port(), threads=4, ident="reboot-tracker-e2e",
                           clear_untrusted_proxy_headers=True)
    thread = threading.Thread(target=server.run, name="e2e-waitress", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.effective_port}"
    _wait_until_up(url)
    yield url
    server.close()
    thread.join(timeout=5)


def _wait_until_up(url: str, timeout: float = 10.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2).read()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def live_server(_server, db, app):
    """The base URL of the running server. Login counters are reset so browser tests never hit 429."""
    limiter.reset()
    engine = _db.engine
    test_thread = threading.current_thread()

    def _deferred_in_test_thread(conn):
        # The test thread's reads (lazy loads, refreshes) must not take SQLite's write lock
        # while the server handles the browser's forms; its service calls still write normally.
        if threading.current_thread() is test_thread:
            conn.execution_options(sqlite_deferred=True)

    is_sqlite = engine.dialect.name == "sqlite"
    if is_sqlite:
        event.listen(engine, "engine_connect", _deferred_in_test_thread)
    yield _server
    settle()
    if is_sqlite:
        event.remove(engine, "engine_connect", _deferred_in_test_thread)
    # Between tests the database is replaced under the engine: no pooled connection may survive it,
    # so wait for the server to finish what the closed page left in flight before closing them all.
    _wait_for_connections_back(engine)
    engine.dispose()


def _wait_for_connections_back(engine, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while engine.pool.checkedout() > 0 and time.monotonic() < deadline:
        time.sleep(0.02)


def settle() -> None:
    """Commit what the test thread has open, so the server is never waiting on its locks."""
    _db.session.commit()


@pytest.fixture(scope="session")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris",
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.js_errors = errors  # pages must run without script errors or CSP violations
    yield pg
    context.close()


def login_as(page, live_server: str, user, *, next_path: str | None = None, password: str = PASSWORD) -> None:
    """Sign ``user`` (a User or an e-mail) in through the login form and wait for the next page."""
    email = user if isinstance(user, str) else user.email
    settle()
    page.goto(f"{live_server}/login" + (f"?next={next_path}" if next_path else ""))
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("form.login-form button[type=submit], main form button[type=submit]")
    page.wait_for_load_state("load")
    assert "/login" not in page.url, f"login of {email} failed: {page.url}"


def axe_check(page, *, context: str | None = None) -> list[dict]:
    """Run axe-core on the current page; fail on serious or critical violations. Returns all violations."""
    with open(AXE_JS, encoding="utf-8") as f:
        source = f.read()
    # evaluate() is not subject to the page's Content-Security-Policy, a <script> tag would be.
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(source + "\n;void 0")
    result = page.evaluate("async (ctx) => await window.axe.run(ctx || document, {resultTypes: ['violations']})",
                           context)
    violations = result["violations"]
    bad = [v for v in violations if v.get("impact") in FAILING_IMPACTS]
    if bad:
        report = [{"id": v["id"], "impact": v["impact"], "help": v["help"],
                   "nodes": [n["target"] for n in v["nodes"][:5]]} for v in bad]
        pytest.fail(f"accessibility violations on {page.url}:\n" + json.dumps(report, indent=2, ensure_ascii=False))
    return violations


def screenshot(page, name: str, *, full_page: bool = True, folder: str = SCREENSHOTS) -> bytes:
    """Take a screenshot; write it to <folder>/<name>.png only when SCREENSHOTS=1 (`make screenshots`).

    A test run leaves the tree as it found it: the documentation images are refreshed on request.
    """
    image = page.screenshot(full_page=full_page)
    if os.environ.get("SCREENSHOTS") == "1":
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{name}.png"), "wb") as out:
            out.write(image)
    return image
