"""Domain errors and the one JSON error envelope {"error": {"code", "message", "details"}}."""
from __future__ import annotations

import re

from flask import Flask, g, jsonify, make_response, render_template, request
from flask_babel import force_locale, gettext
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import BadRequestKeyError, HTTPException

from .extensions import db, login_manager
from .i18n import current_language
from .lifecycle import LABELS, State
from .phrases import Phrase


class DomainError(Exception):
    """A refusal a user can understand. ``message`` is an English msgid translated on display."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, details: dict | None = None, code: str | None = None, **params):
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params
        self.details = details or {}
        if code:
            self.code = code

    # Parameters holding lifecycle states are shown with their label in the reader's language.
    STATE_PARAMS = ("state", "source", "target", "allowed")

    def translated(self) -> str:
        text = gettext(self.message) if self.message else ""
        return text % self._display_params() if self.params else text

    def _display_params(self) -> dict:
        lang = current_language()
        shown = {k: v.translated() if isinstance(v, Phrase) else v for k, v in self.params.items()}
        for key in self.STATE_PARAMS:
            value = shown.get(key)
            if isinstance(value, str):
                parts = [p.strip() for p in value.split(",")]
                if all(p in State._value2member_map_ for p in parts):
                    shown[key] = ", ".join(LABELS[State(p)].get(lang, p).lower() for p in parts)
        return shown


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class Invalid(DomainError):
    status, code = 422, "invalid"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


def envelope(status: int, code: str, message: str, details=None):
    resp = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    resp.status_code = status
    return resp


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes["text/html"]


_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "too_many_requests",
    500: "internal_error", 503: "busy",
}


def register_error_handlers(app: Flask) -> None:
    @app.before_request
    def _json_depth():
        # Python's JSON parser recurses: a body nested ~1,000 deep would end in RecursionError (a 500).
        if request.is_json and request.content_length:
            limit = app.config["JSON_MAX_DEPTH"]
            if json_depth(request.get_data(cache=True), stop_above=limit) > limit:
                raise DomainError("The JSON body is nested deeper than %(n)s levels.", n=limit, code="too_deep",
                                  details={"json": [f"deeper than {limit} levels"]})

    app.register_error_handler(DomainError, refusal_response)
    app.register_error_handler(ValidationError, refusal_response)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        code = err.code or 500
        # webargs/flask-smorest put marshmallow messages in err.data
        data = getattr(err, "data", None) or {}
        details = data.get("messages") or data.get("errors") or {}
        if code == 422 and details:
            # flask-smorest nests by location ("json", "query"); flatten one level for readers
            if (
                isinstance(details, dict)
                and len(details) == 1
                and next(iter(details)) in ("json", "query", "form", "files")
            ):
                details = next(iter(details.values()))
            message = gettext("Invalid input: %(fields)s", fields=", ".join(sorted(map(str, details))))
        elif code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH") or 0
            message = gettext("The upload is too large (limit %(mb)s MB).", mb=limit // (1024 * 1024))
        elif isinstance(err, BadRequestKeyError) and err.args:
            # request.form["x"] on a form sent without that field
            message = gettext("A required field is missing: %(field)s.", field=err.args[0])
            details = {str(err.args[0]): [gettext("Missing data for required field.")]}
        else:
            message = _http_message(code, err)
        if wants_json():
            resp = envelope(code, _HTTP_CODES.get(code, "error"), message, details)
        else:
            resp = _page(code, message, details)
        if code == 405:  # the methods the route does allow (RFC 9110)
            resp = app.make_response(resp)
            for name, value in err.get_headers():
                if name.lower() == "allow":
                    resp.headers["Allow"] = value
        return resp

    @app.errorhandler(OverflowError)
    def _overflow(err: OverflowError):
        _rollback()  # first: the reader's language is looked up on the user, through the session
        # A number too large for the database that no schema caught (a plain form or query value).
        return _refusal(400, "bad_request", gettext("A number is out of range (at most %(max)s).", max=2**63 - 1))

    @app.errorhandler(RecursionError)
    def _recursion(err: RecursionError):
        _rollback()  # first: the reader's language is looked up on the user, through the session
        return _refusal(400, "too_deep", gettext("The request is nested too deeply."))

    @app.errorhandler(IntegrityError)
    def _integrity(err: IntegrityError):
        _rollback()  # first: the reader's language is looked up on the user, through the session
        # The services check what users can get wrong; this is the database's own last word (a race, a foreign id
        # that vanished): a 4xx naming the kind of conflict, never a 500.
        app.logger.warning("integrity error on %s %s: %s", request.method, request.path, err.orig)
        if _is_foreign_key(err):
            return _refusal(422, "unknown_reference",
                            gettext("This refers to something that does not exist or is not visible to you."))
        return _refusal(409, "conflict", gettext("This conflicts with existing data (a duplicate or a concurrent "
                                                 "change). Nothing was changed."))

    @app.errorhandler(OperationalError)
    def _operational(err: OperationalError):
        if not is_lock_timeout(err):
            return _unexpected(err)

        _rollback()
        app.logger.warning("write lock not obtained on %s %s: %s", request.method, request.path, err.orig)
        # The answer must not touch the database again: the caller is shown as anonymous (loading them is
        # what may have failed) and the language comes from the request, not from their profile.
        g._login_user = login_manager.anonymous_user()
        language = request.accept_languages.best_match(app.config["LANGUAGES"]) or app.config["LANGUAGES"][0]
        with force_locale(language):
            message = gettext("The service is busy with other changes. Nothing was changed; try again in a moment.")
            response = make_response(_refusal(503, "busy", message))
        response.headers["Retry-After"] = str(app.config.get("BUSY_RETRY_AFTER_SECONDS", 2))
        return response

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        _rollback()  # first: the reader's language is looked up on the user, through the session
        request_id = g.get("request_id", "")
        app.logger.exception("unhandled error on %s %s (request %s)", request.method, request.path, request_id)
        message = gettext("Something went wrong on our side. Nothing was changed; please try again. "
                          "Quote request %(id)s if you report it.", id=request_id)
        return _refusal(500, "internal_error", message, {"request_id": request_id})


def refusal_response(err: DomainError | ValidationError):
    """The answer to a refusal no page declared a form for: the JSON envelope, or the error page."""
    if isinstance(err, DomainError):
        status, code, message, details = err.status, err.code, err.translated(), err.details
    else:
        details = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
        status, code = 422, "invalid"
        message = gettext("Invalid input: %(fields)s", fields=", ".join(sorted(map(str, details))))
    if wants_json():
        return envelope(status, code, message, details)
    return _page(status, message, details)


def _rollback() -> None:
    db.session.rollback()


def _refusal(status: int, code: str, message: str, details=None):
    if wants_json():
        return envelope(status, code, message, details)
    return _page(status, message, details)


def _is_foreign_key(err: IntegrityError) -> bool:
    sqlstate = getattr(err.orig, "sqlstate", None)  # psycopg
    return sqlstate == "23503" or "FOREIGN KEY" in str(err.orig).upper()


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))


def json_depth(body: bytes, stop_above: int | None = None) -> int:
    """Deepest nesting of arrays and objects in a JSON text, without parsing it (strings are skipped).

    With ``stop_above``, counting stops as soon as the depth passes it.
    """
    brackets = _JSON_STRING.sub(b"", body).translate(None, delete=_NOT_BRACKETS)
    if stop_above is not None and len(brackets) <= stop_above:
        return len(brackets)  # cannot be deeper than it has brackets
    depth = deepest = 0
    for ch in brackets:
        if ch in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    return deepest
        else:
            depth -= 1
    return deepest


def is_lock_timeout(err: OperationalError) -> bool:
    """SQLite's "database is locked" after its busy timeout, or PostgreSQL's lock_timeout (55P03)."""
    orig = getattr(err, "orig", None)
    return ("database is locked" in str(orig) or "database table is locked" in str(orig)
            or getattr(orig, "sqlstate", None) == "55P03")


def _http_message(code: int, err: HTTPException) -> str:
    messages = {
        400: gettext("The request is malformed."),
        401: gettext("Please sign in."),
        403: gettext("You are not allowed to do this."),
        404: gettext("This page or object does not exist, or is not visible to you."),
        405: gettext("This method is not allowed here."),
        409: gettext("This conflicts with the current state."),
        429: gettext("Too many attempts. Please wait a minute and try again."),
    }
    if code == 400 and err.description and "CSRF" in err.description:
        return gettext("Your form has expired or was sent from elsewhere. Please reload the page and try again.")
    return messages.get(code, gettext("Something went wrong on our side. Nothing was changed; please try again."))


def _page(status: int, message: str, details=None):
    db.session.rollback()
    try:
        return render_template("error.html", status=status, message=message, details=details or {}), status
    except Exception:  # templates missing during early start-up
        return f"{status}: {message}", status
