"""Behind a trusted proxy the login limit counts each client, and Redis shares the count between processes."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid

import pytest
import redis

from asset_tracker import create_app
from asset_tracker.extensions import limiter
from tests.conftest import csrf_token

REDIS_URL = "redis://127.0.0.1:6379/0"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def redis_prefix():
    """A key prefix of this test's own in the real Redis (the CI starts one at 127.0.0.1:6379)."""
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    prefix = f"reboot-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def proxied_app(app, redis_prefix):
    """factory(trusted_proxies) → an app on the test database, its login limit (10/min) counted in Redis."""
    saved = (limiter._storage, limiter._limiter, limiter._key_prefix)
    made = []

    def make(trusted_proxies=1, prefix=redis_prefix):
        limiter._key_prefix = ""  # the prefix comes from each app's configuration
        made.append(create_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
                          TRUSTED_PROXIES=trusted_proxies, RATELIMIT_STORAGE_URI=REDIS_URL,
                          RATELIMIT_KEY_PREFIX=prefix, LOGIN_RATE_LIMIT="10 per minute"))
        return made[-1]

    yield make
    limiter._storage, limiter._limiter, limiter._key_prefix = saved
    from asset_tracker.extensions import db

    for other in made:  # no pooled connection outlives the test (the next test resets the database file)
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def _fail_login(client, forwarded_for: str | None):
    """A wrong password from the client at ``forwarded_for``, through the proxy at 127.0.0.1."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    if not hasattr(client, "_csrf"):
        client._csrf = csrf_token(client)
    return client.post("/login", data={"email": "nobody@example.org", "password": "wrong", "csrf_token": client._csrf},
                       headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})


def test_ten_clients_behind_the_proxy_each_failing_once_are_not_limited(proxied_app):
    client = proxied_app(trusted_proxies=1).test_client()
    codes = [_fail_login(client, f"198.51.100.{i}").status_code for i in range(1, 13)]
    assert codes == [401] * 12


def test_without_trusting_the_proxy_everyone_shares_the_proxys_count(proxied_app):
    client = proxied_app(trusted_proxies=0).test_client()
    codes = [_fail_login(client, f"198.51.100.{i}").status_code for i in range(1, 13)]
    assert codes == [401] * 10 + [429, 429]


def test_one_client_failing_again_and_again_is_limited_and_others_are_not(proxied_app):
    client = proxied_app(trusted_proxies=1).test_client()
    codes = [_fail_login(client, "203.0.113.7").status_code for _ in range(12)]
    assert codes == [401] * 10 + [429, 429]
    assert _fail_login(client, "203.0.113.8").status_code == 401
    # A spoofed X-Forwarded-For put in front by the client does not escape: the proxy appends the real address.
    assert _fail_login(client, "10.9.9.9, 203.0.113.7").status_code == 429


def test_two_processes_share_the_count_through_redis(app, proxied_app, redis_prefix):
    script = (
        "import json, re, sys\n"
        "from asset_tracker import create_app\n"
        "app = create_app('testing', SQLALCHEMY_DATABASE_URI=sys.argv[1], TRUSTED_PROXIES=1,\n"
        "                 RATELIMIT_STORAGE_URI=sys.argv[2], RATELIMIT_KEY_PREFIX=sys.argv[3],\n"
        "                 LOGIN_RATE_LIMIT='10 per minute')\n"
        "c = app.test_client()\n"
        "token = re.search(r'name=\"csrf-token\" content=\"([^\"]+)\"', c.get('/login').get_data(as_text=True))[1]\n"
        "print(json.dumps([c.post('/login', data={'email': 'x@example.org', 'password': 'no', 'csrf_token': token},\n"
        "       headers={'X-Forwarded-For': '203.0.113.9'}, environ_base={'REMOTE_ADDR': '127.0.0.1'}).status_code\n"
        "       for _ in range(6)]))\n")
    other = subprocess.run([sys.executable, "-c", script, app.config["SQLALCHEMY_DATABASE_URI"], REDIS_URL,
                            redis_prefix], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert other.returncode == 0, other.stderr[-2000:]
    assert json.loads(other.stdout.strip().splitlines()[-1]) == [401] * 6

    client = proxied_app(trusted_proxies=1).test_client()
    codes = [_fail_login(client, "203.0.113.9").status_code for _ in range(5)]
    assert codes == [401] * 4 + [429]


def test_logs_see_the_real_client(proxied_app, caplog):
    client = proxied_app(trusted_proxies=1).test_client()
    with caplog.at_level(logging.INFO, logger="asset_tracker.access"):
        resp = _fail_login(client, "198.51.100.77")
    line = [r for r in caplog.records if r.name == "asset_tracker.access"][-1]
    assert line.remote_addr == "198.51.100.77"
    assert line.request_id == resp.headers["X-Request-Id"]
    assert line.status == 401 and line.endpoint == "auth.login"


def test_a_bad_trusted_proxies_value_stops_the_start(app):
    with pytest.raises(RuntimeError, match="TRUSTED_PROXIES"):
        create_app("testing", SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], TRUSTED_PROXIES="two")
