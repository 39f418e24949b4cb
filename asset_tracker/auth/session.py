"""Who is calling: a session cookie (pages) or an `Authorization: Bearer` token (API)."""
from __future__ import annotations

from flask import Flask, g

from ..extensions import db, login_manager
from .models import User


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def _load(user_id: str):
        user = db.session.get(User, int(user_id))
        return user if user and user.active else None

    @login_manager.request_loader
    def _from_token(request):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        from .services import user_for_token

        user = user_for_token(header[len("Bearer "):].strip())
        if user is not None:
            g.token_auth = True
        return user

    authenticate_bearer(app)

    @login_manager.unauthorized_handler
    def _unauthorized():
        from flask import abort

        abort(401)


def authenticate_bearer(app: Flask) -> None:
    """A bearer token, when present, decides who calls — even if a session cookie is also sent."""
    from flask import request
    from flask_login import AnonymousUserMixin

    @app.before_request
    def _bearer():
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return
        from .services import user_for_token

        user = user_for_token(header[len("Bearer "):].strip())
        g._login_user = user if user is not None else AnonymousUserMixin()
        g.token_auth = user is not None


def actor():
    """The current user as a custody Actor."""
    from flask_login import current_user

    from ..custody.services import Actor

    return Actor.of(current_user)
