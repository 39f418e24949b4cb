"""What create_app sets up for operations: the trusted proxies, the limiter's storage check, logs and metrics."""
from __future__ import annotations

import logging
import os
import shlex
import sys

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)


def apply_proxy_fix(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, take the client address, scheme and host from X-Forwarded-*."""
    raw = app.config.get("TRUSTED_PROXIES", 0)
    try:
        count = int(raw)
    except (TypeError, ValueError):
        count = -1
    if count < 0 or isinstance(raw, bool):
        raise RuntimeError(f"TRUSTED_PROXIES must be the number of reverse proxies in front (0 or more), not {raw!r}")
    app.config["TRUSTED_PROXIES"] = count
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)


def configured_workers(environ=None, argv=None) -> int:
    """How many web worker processes this deployment says it runs (WEB_CONCURRENCY or gunicorn's --workers)."""
    environ = os.environ if environ is None else environ
    argv = sys.argv if argv is None else argv
    workers = 1
    if environ.get("WEB_CONCURRENCY", "").strip().isdigit():
        workers = int(environ["WEB_CONCURRENCY"])
    args = list(argv[1:]) if argv and "gunicorn" in os.path.basename(argv[0]) else []
    args += shlex.split(environ.get("GUNICORN_CMD_ARGS", ""))
    for i, arg in enumerate(args):
        value = None
        if arg in ("-w", "--workers") and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith("--workers="):
            value = arg.split("=", 1)[1]
        elif arg.startswith("-w") and arg[2:].isdigit():
            value = arg[2:]
        if value and value.isdigit():
            workers = int(value)
    return workers


def check_shared_state(app: Flask) -> list[str]:
    """Say at start-up, loudly, what a production with several workers lacks; returns the messages logged."""
    if app.config.get("ENV_NAME") != "production":
        return []
    workers = configured_workers()
    if workers <= 1:
        return []
    messages = []
    if str(app.config.get("RATELIMIT_STORAGE_URI", "memory://")).startswith("memory://"):
        messages.append(
            f"{workers} web workers but the login rate limit is counted per process (RATELIMIT_STORAGE_URI is "
            "memory://): set ASSET_TRACKER_RATELIMIT_STORAGE_URI=redis://127.0.0.1:6379/0 so every worker shares "
            "one count")
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        messages.append(
            f"{workers} web workers but PROMETHEUS_MULTIPROC_DIR is not set: /metrics would show only the worker "
            "that answers the scrape (see docs/deploy.md, Metrics)")
    for message in messages:
        log.error("start-up check: %s", message)
    return messages
