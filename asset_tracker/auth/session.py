"""Who is calling: a session cookie (pages) or an `Authorization: Bearer` token (API).

A boundary module, like the routes: it reads the session settings (SESSION_*) from ``current_app.config``.
"""
from __future__ import annotations

import datetime as dt

from flask import Flask, abort, current_app, g, request, session
from flask_login import AnonymousUserMixin, current_user, login_user

from ..core import Actor
from ..db import utcnow
from ..extensions import db, login_manager
from .models import User
from .services import user_for_token

# Seconds between two refreshes of a session's "last seen" time (the cookie is not rewritten on every request).
SEEN_RESOLUTION = 60


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    # The cookie itself outlives the session by an hour: the server-side rule below (session_is_live) is the one
    # that decides, to the second, whatever the browser does with the cookie's expiry.
    app.permanent_session_lifetime = dt.timedelta(hours=app.config["SESSION_MAX_HOURS"] + 1)

    @login_manager.user_loader
    def _load(user_id: str):
        user = db.session.get(User, int(user_id))
        if user is None or not user.active or not session_is_live(user):
            return None
        return user

    @login_manager.request_loader
    def _from_token(request):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None

        user = user_for_token(header[len("Bearer "):].strip())
        if user is not None:
            g.token_auth = True
        return user

    authenticate_bearer(app)

    @login_manager.unauthorized_handler
    def _unauthorized():
        abort(401)


def authenticate_bearer(app: Flask) -> None:
    """A bearer token, when present, decides who calls — even if a session cookie is also sent."""
    @app.before_request
    def _bearer():
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return

        user = user_for_token(header[len("Bearer "):].strip())
        g._login_user = user if user is not None else AnonymousUserMixin()
        g.token_auth = user is not None


def start_session(user: User) -> None:
    """Sign ``user`` in on this browser, stamping the session with the user's generation and the time."""
    now = utcnow().timestamp()
    login_user(user)
    session.permanent = True  # the cookie lives SESSION_MAX_HOURS, not until the browser closes
    session["generation"] = user.session_generation or 0
    session["signed_in_at"] = session["seen_at"] = now


def session_is_live(user: User) -> bool:
    """A session cookie counts while its generation is the user's and it is neither idle nor too old."""
    if session.get("generation") != (user.session_generation or 0):
        return False  # signed out or password changed since (on any browser)
    now = utcnow().timestamp()
    signed_in, seen = session.get("signed_in_at"), session.get("seen_at")
    if not isinstance(signed_in, (int, float)) or not isinstance(seen, (int, float)):
        return False
    if now - signed_in > current_app.config["SESSION_MAX_HOURS"] * 3600 \
            or now - seen > current_app.config["SESSION_IDLE_MINUTES"] * 60:
        return False
    if now - seen >= SEEN_RESOLUTION:
        session["seen_at"] = now
    return True


def actor():
    """The current user as a custody Actor."""
    return Actor.of(current_user)
