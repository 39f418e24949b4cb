"""Forms that keep what was typed: a refused POST shows its page again with every value and a message per field.

A page view declares the form it re-renders and simply raises::

    @bp.route("/new", methods=["GET", "POST"])
    @access("donor")
    @keeps_form("intake/new.html", _new_context)
    def new(): ...

Every page blueprint has one handler of marshmallow's ``ValidationError`` and of ``DomainError``
(``handle_refusal``, registered by ``create_app``). On a POST refused for its input (any refusal but
401/403/404) it rolls the transaction back and renders the declared template again with ``form`` (the
submitted values), ``form_errors`` (field -> translated messages) and the context the declaration gives
for the view's arguments, with the refusal's status (422, 409...). A view with no form of its own declares
``refused_to(url)`` (the reason flashed on the page the button was on) or ``on_refusal(render)``; any other
refusal gets the error page, as on every route.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request
from flask_babel import gettext
from marshmallow import ValidationError

from ..errors import DomainError, refusal_response
from ..extensions import db
from ..lifecycle import N_
from ..phrases import Phrase

# marshmallow's built-in messages, by exact text or pattern, as translatable sentences with the reason.
_EXACT = {
    "Missing data for required field.": N_("This field is required."),
    "Field may not be null.": N_("This field is required."),
    "Not a valid integer.": N_("A whole number is expected, e.g. 12."),
    "Not a valid number.": N_("A number is expected, e.g. 12.5."),
    "Not a valid date.": N_("A date is expected, e.g. 2026-03-31."),
    "Not a valid datetime.": N_("A date and time are expected."),
    "Not a valid email address.": N_("An e-mail address is expected, e.g. name@example.org."),
    "Not a valid string.": N_("Text is expected."),
    "Not a valid boolean.": N_("Yes or no is expected."),
    "Unknown field.": N_("This field is not accepted here."),
    # Short reasons the services give in their error details.
    "required": N_("This field is required."),
    "unknown": N_("Unknown value."),
    "unknown, or outside your scope": N_("Unknown, or outside what you may use."),
    "invalid": N_("Invalid value."),
    "too short": N_("Too short."),
    "wrong kind for this role": N_("This organisation's kind does not fit the role."),
    "not a partner organisation": N_("Not a partner organisation."),
    "not a donor organisation": N_("Not a donor organisation."),
}
_PATTERNS = (
    (re.compile(r"^Longer than maximum length (?P<n>\d+)\.$"), N_("At most %(n)s characters.")),
    (re.compile(r"^Shorter than minimum length (?P<n>\d+)\.$"), N_("At least %(n)s characters.")),
    (re.compile(r"^Length must be between (?P<a>\d+) and (?P<b>\d+)\.$"), N_("Between %(a)s and %(b)s characters.")),
    (re.compile(r"^Must be greater than or equal to (?P<n>-?[\d.]+)\.$"), N_("At least %(n)s.")),
    (re.compile(r"^Must be less than or equal to (?P<n>-?[\d.]+)\.$"), N_("At most %(n)s.")),
    (re.compile(r"^Must be greater than or equal to (?P<a>-?[\d.]+) and less than or equal to (?P<b>-?[\d.]+)\.$"),
     N_("Between %(a)s and %(b)s.")),
    (re.compile(r"^Must be one of: .*\.$"), N_("Choose one of the offered values.")),
)
NEVER_KEPT = {"password", "password_confirm", "csrf_token"}  # never sent back into a page


def translate_message(text) -> str:
    text = str(text)
    if text in _EXACT:
        return gettext(_EXACT[text])
    for pattern, msgid in _PATTERNS:
        match = pattern.match(text)
        if match:
            return gettext(msgid, **match.groupdict())
    return gettext(text)


def field_errors(err: Exception) -> dict[str, list[str]]:
    """Field name -> translated messages. Nested fields are named with dots ("media.0.serial")."""
    if isinstance(err, ValidationError):
        raw = err.messages if isinstance(err.messages, dict) else {"_form": err.messages}
    elif isinstance(err, DomainError):
        raw = dict(err.details) if isinstance(err.details, dict) else {}
    else:
        raw = {}
    out: dict[str, list[str]] = {}

    def walk(prefix: str, value):
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, (list, tuple)):
            for inner in value:
                walk(prefix, inner)
        elif value is not None:
            shown = value.translated() if isinstance(value, Phrase) else translate_message(value)
            out.setdefault(prefix or "_form", []).append(shown)

    walk("", raw)
    return out


# Messages that name a field by its key: on a page the message stands next to the field instead.
_NAMING_FIELDS = {"Invalid input: %(fields)s", "%(field)s names nothing you can use here."}


def summary(err: Exception, errors: dict) -> str:
    if isinstance(err, DomainError) and err.message not in _NAMING_FIELDS:
        return err.translated()
    return gettext("Please correct the highlighted fields: nothing was saved.") if errors else \
        gettext("Nothing was saved.")


def kept_values():
    """The submitted values, passwords left out."""
    values = request.form.copy()
    for name in NEVER_KEPT:
        values.pop(name, None)
    return values


def render_refused(template: str, err: Exception, context: dict, *, aliases: dict | None = None):
    """The form page again: values kept, messages next to their fields, the refusal's status."""
    db.session.rollback()
    errors = field_errors(err)
    for source, target in (aliases or {}).items():
        if source in errors:
            errors.setdefault(target, []).extend(errors.pop(source))
    flash(summary(err, errors), "error")
    status = err.status if isinstance(err, DomainError) else 422
    return render_template(template, form=kept_values(), form_errors=errors, **context), status


@dataclass(frozen=True)
class Refusal:
    """What a page view declares for a refused POST (read by the blueprint's error handler)."""

    template: str | None = None  # the form page rendered again with what was typed
    context: Callable | None = None  # view arguments -> the rest of that page's variables
    aliases: dict | None = None  # error key -> the form field that shows it
    redirect: Callable | None = None  # view arguments -> the page the form was on (flash, then redirect)
    render: Callable | None = None  # (error, **view arguments) -> the answer, for pages of their own kind
    catches: tuple = (ValidationError, DomainError)
    not_found: bool = False  # a 404 is a refusal of the form too (a typed tag), not the not-found page


def _declare(refusal: Refusal):
    def decorate(view):
        view.refusal = refusal
        return view

    return decorate


def keeps_form(template: str, context=None, *, aliases: dict | None = None, not_found: bool = False):
    """Declare the form page a refused POST of this view shows again, with what was typed.

    ``context(**view_args)`` gives the rest of the page's variables; ``aliases`` maps an error key to the
    form field that shows it (e.g. ``{"unit_value_cents": "unit_value"}``). The view itself just raises.
    """
    return _declare(Refusal(template=template, context=context, aliases=aliases, not_found=not_found))


def refused_to(url, *, catches: tuple = (DomainError,)):
    """Declare the page a refused POST goes back to (``url(**view_args)``), the reason flashed there."""
    return _declare(Refusal(redirect=url, catches=catches))


def on_refusal(render, *, catches: tuple = (ValidationError, DomainError), not_found: bool = False):
    """Declare how a refused POST of this view is answered: ``render(error, **view_args)``."""
    return _declare(Refusal(render=render, catches=catches, not_found=not_found))


def _takes(refusal: Refusal | None, err: Exception) -> bool:
    if refusal is None or request.method != "POST" or not isinstance(err, refusal.catches):
        return False
    if isinstance(err, DomainError) and err.status in (401, 403, 404):
        return err.status == 404 and refusal.not_found
    return True


def handle_refusal(err: Exception):
    """A page blueprint's handler of ``ValidationError`` and ``DomainError``: the declared answer to a refused
    POST, or what every other route answers (the error page; 401, 403 and 404 always)."""
    view = current_app.view_functions.get(request.endpoint or "")
    refusal = getattr(view, "refusal", None)
    if not _takes(refusal, err):
        return refusal_response(err)
    db.session.rollback()
    kwargs = request.view_args or {}
    try:
        if refusal.render is not None:
            return refusal.render(err, **kwargs)
        if refusal.redirect is not None:
            flash(err.translated() if isinstance(err, DomainError) else summary(err, field_errors(err)), "error")
            return redirect(refusal.redirect(**kwargs))
        extra = refusal.context(**kwargs) if refusal.context else {}
    except (ValidationError, DomainError) as inner:  # the page itself is gone (e.g. its object): its own answer
        return refusal_response(inner)
    return render_refused(refusal.template, err, extra, aliases=refusal.aliases)


def init_page_errors(bp: Blueprint) -> None:
    """Register the refusal handler on a page blueprint (once: blueprints outlive the applications of tests)."""
    if bp.error_handler_spec.get(None, {}).get(None, {}).get(DomainError) is not handle_refusal:
        bp.register_error_handler(ValidationError, handle_refusal)
        bp.register_error_handler(DomainError, handle_refusal)


def posted(endpoint: str):
    """The values sent to ``endpoint`` if this request is that refused POST (pages with several forms)."""
    if request.method == "POST" and request.endpoint == endpoint:
        return kept_values()
    return {}


def init_forms(app: Flask) -> None:
    @app.context_processor
    def _form_defaults():
        return {"form_errors": {}, "posted": posted}
