"""The permission table: every route declares who may call it; undeclared routes are refused."""
from __future__ import annotations

from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user

ROLES = ("donor", "technician", "coordinator", "auditor", "admin")
PUBLIC = "public"
AUTHENTICATED = "authenticated"
WRITERS = ("donor", "technician", "coordinator", "admin")


def access(*roles: str):
    """Declare who may call a view: role names, ``PUBLIC`` or ``AUTHENTICATED``."""
    for role in roles:
        if role not in ROLES + (PUBLIC, AUTHENTICATED):
            raise ValueError(f"unknown role {role!r} in access rule")

    def decorate(view):
        view._access = frozenset(roles)
        return view

    return decorate


def rule_for(app: Flask, endpoint: str):
    view = app.view_functions.get(endpoint)
    if view is None:
        return None
    rule = getattr(view, "_access", None)
    if rule is None and hasattr(view, "view_class"):
        rule = getattr(view.view_class, "_access", None)
    return rule


# Endpoints served by Flask or extensions themselves.
BUILTIN_RULES = {
    "static": frozenset({PUBLIC}),
    "api-docs.openapi_json": frozenset({PUBLIC}),
    "api-docs.openapi_swagger_ui": frozenset({PUBLIC}),
    "api-docs.openapi_redoc": frozenset({PUBLIC}),
    "api-docs.openapi_rapidoc": frozenset({PUBLIC}),
    "api-docs.static": frozenset({PUBLIC}),
}


def register_access_control(app: Flask) -> None:
    @app.before_request
    def _enforce():
        endpoint = request.endpoint
        if endpoint is None:  # 404/405: let Flask answer
            return None
        rule = BUILTIN_RULES.get(endpoint) or rule_for(app, endpoint)
        if rule is None:
            app.logger.error("route %s has no access rule; refusing", endpoint)
            abort(403)
        if PUBLIC in rule:
            return None
        if not current_user.is_authenticated:
            if request.path.startswith("/api/"):
                abort(401)

            return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))
        if AUTHENTICATED in rule or current_user.role.value in rule:
            return None
        # Read-only roles get 403 for writes they can never do; objects stay hidden behind 404 in services.
        abort(403)
