"""The application factory: a short table of contents of register_* calls."""
from __future__ import annotations

import os
import uuid

from flask import Flask, g, request

from . import models  # noqa: F401  (every capability's models, for Alembic and relationships)
from .api import init_api
from .auth.access import register_access_control
from .auth.session import init_login
from .capabilities import modules
from .cli import register_commands
from .config_loader import load_config
from .db import configure_sqlite
from .errors import register_error_handlers
from .extensions import csrf, db, limiter, migrate
from .i18n import init_i18n
from .ops.logs import configure_logging
from .ops.metrics import init_metrics
from .ops.startup import apply_proxy_fix, check_shared_state
from .reminders.rules import check_config
from .schemas import BoundedIntConverter
from .web.forms import init_forms, init_page_errors
from .web.nav import add_nav, init_nav


def create_app(env: str | None = None, **overrides) -> Flask:
    env = env or os.environ.get("ASSET_TRACKER_ENV") or "development"
    app = Flask("asset_tracker", instance_relative_config=False)  # the package's name: logger, import_name
    load_config(app, env, overrides)
    register_operations(app)  # trusted proxies, logs, metrics: before every other request hook
    register_extensions(app)
    register_request_hooks(app)  # first: GET requests must open their read-only transaction early
    register_i18n(app)
    register_auth(app)
    register_forms(app)
    register_blueprints(app)
    register_capability_hooks(app)
    register_errors(app)  # after the API, whose own handlers it replaces
    register_cli(app)
    register_scheduler(app)
    return app


def register_operations(app: Flask) -> None:
    apply_proxy_fix(app)
    configure_logging(app)
    init_metrics(app)
    check_shared_state(app)


def register_extensions(app: Flask) -> None:
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:///:memory:"):
        os.makedirs(os.path.dirname(os.path.abspath(uri[len("sqlite:///"):])), exist_ok=True)
    configure_sqlite(app.config["SQLITE_BUSY_TIMEOUT_MS"])
    db.init_app(app)
    migrate.init_app(app, db, directory=migrations_directory(), render_as_batch=True, compare_type=True)
    limiter.init_app(app)


def migrations_directory() -> str:
    """The checkout's migrations/, or the copy an installed package carries (setup.py bundles it)."""
    package = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(package)
    if os.path.isfile(os.path.join(root, "pyproject.toml")):
        return os.path.join(root, "migrations")
    return os.path.join(package, "_data", "migrations")


def register_i18n(app: Flask) -> None:
    init_i18n(app)


def register_auth(app: Flask) -> None:
    init_login(app)
    register_access_control(app)
    csrf.init_app(app)  # after the access check: a caller without the right role gets 403, not a CSRF error


def register_errors(app: Flask) -> None:
    register_error_handlers(app)


def register_forms(app: Flask) -> None:
    init_forms(app)


def register_blueprints(app: Flask) -> None:
    """Every capability's `views.bp` (and its `NAV` menu entries) and `api.BLUEPRINTS`."""
    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    init_api(app)
    init_nav(app)
    for module in modules("views"):
        init_page_errors(module.bp)  # a refused form comes back with what was typed (web/forms.py)
        app.register_blueprint(module.bp)
        for entry in getattr(module, "NAV", ()):
            add_nav(app, *entry)


def register_capability_hooks(app: Flask) -> None:
    """Every capability's `hooks.register(app)`: what it adds to a device's registration and steps
    (`asset_tracker/devices/extension_points.py`)."""
    for module in modules("hooks"):
        module.register(app)


def register_cli(app: Flask) -> None:
    register_commands(app)


def register_request_hooks(app: Flask) -> None:
    @app.before_request
    def _request_id():
        # A request never inherits who called before it (g outlives a request inside an app context).
        # Nor its CSRF token or language (tests run many requests inside one application context).
        for key in ("_login_user", "token_auth", app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), "_flask_babel"):
            g.pop(key, None)
        g.request_id = (request.headers.get("X-Request-Id") or uuid.uuid4().hex)[:64]
        if request.method in ("GET", "HEAD"):
            # Reads never take SQLite's write lock (see db._sqlite_begin_immediate).
            if not db.session().in_transaction():  # the Session itself: scoped_session has no in_transaction
                db.session.connection(execution_options={"sqlite_deferred": True})

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Request-Id", g.get("request_id", ""))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; connect-src 'self'; media-src 'self' data:; frame-ancestors 'none'",
        )
        return response


def register_scheduler(app: Flask) -> None:
    check_config(app)  # a bad reminder rule stops the start, naming the rule
    if app.config.get("SCHEDULER_ENABLED"):
        try:
            from .reminders.scheduler import start_in_process  # here: APScheduler loads only when enabled
        except ImportError:
            return
        start_in_process(app)
