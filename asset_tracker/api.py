"""The JSON API under /api/v1: registration of every capability's blueprint, health check, CSRF rule."""
from __future__ import annotations

from flask import Flask, g, jsonify, request
from sqlalchemy import text

from .auth.access import PUBLIC, access
from .capabilities import modules
from .extensions import api, csrf, db


def init_api(app: Flask) -> None:
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", "docs")
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", "/static/vendor/swagger-ui/")
    api.init_app(app, spec_kwargs={
        "info": {"description": "Reboot Tracker: devices, custody chain, scans. "
                                "Authenticate with `Authorization: Bearer <token>` (`flask tokens create EMAIL`)."},
    })
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})

    for module in modules("api"):
        for blp in module.BLUEPRINTS:
            csrf.exempt(blp)
            api.register_blueprint(blp)

    @app.before_request
    def _api_csrf():
        # A request authenticated by the session cookie must carry the CSRF token, whatever other headers it has;
        # only a valid bearer token (which then decides who calls, see auth.session) makes the cookie irrelevant.
        if request.path.startswith("/api/") and request.method not in ("GET", "HEAD", "OPTIONS") \
                and not g.get("token_auth"):
            csrf.protect()

    @app.route("/healthz")
    @access(PUBLIC)
    def healthz():
        db.session.execute(text("SELECT 1"))
        return jsonify({"status": "ok"})
