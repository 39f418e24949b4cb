"""Home page per role, state colours, and the template filters every page uses."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from flask_babel import format_date, format_datetime, format_decimal, format_timedelta, gettext, lazy_gettext
from flask_login import current_user

from .. import lifecycle
from ..auth.access import AUTHENTICATED, PUBLIC, access
from ..auth.session import actor
from ..db import utcnow
from ..i18n import current_language
from . import services

bp = Blueprint("web", __name__)

# Custody event types shown in timelines. A type missing here is shown as its humanised name
# ("label_printed" -> "Label printed"), which a capability may translate in its own catalog.
EVENT_LABELS = {
    "device_registered": lazy_gettext("Registered by the donor"),
    "device_updated": lazy_gettext("Details changed"),
    "state_changed": lazy_gettext("State changed"),
    "wipe_recorded": lazy_gettext("Wipe recorded"),
    "no_media_statement": lazy_gettext("No storage media stated"),
    "batch_created": lazy_gettext("Batch created"),
    "organisation_created": lazy_gettext("Organisation created"),
    "programme_created": lazy_gettext("Programme created"),
    "user_created": lazy_gettext("User created"),
    "token_created": lazy_gettext("API token created"),
    "token_revoked": lazy_gettext("API token revoked"),
}

ROLE_LABELS = {
    "donor": lazy_gettext("Donor"),
    "technician": lazy_gettext("Technician"),
    "coordinator": lazy_gettext("Coordinator"),
    "auditor": lazy_gettext("Auditor"),
    "admin": lazy_gettext("Administrator"),
}

# How a donor follows its devices (see services.PROGRESS_GROUPS).
GROUP_LABELS = {
    "at_donor": lazy_gettext("At the donor"),
    "on_the_way": lazy_gettext("On the way to the workshop"),
    "in_workshop": lazy_gettext("In the workshop"),
    "reused": lazy_gettext("Ready or given a second life"),
    "recycled": lazy_gettext("Recycled"),
    "lost": lazy_gettext("Lost"),
}

# Beneficiary categories are data (each programme lists its own); the usual ones are translated here.
CATEGORY_LABELS = {
    "pupil": lazy_gettext("Pupil"),
    "family": lazy_gettext("Family"),
    "young_solidarity_income": lazy_gettext("Young person on a solidarity income"),
    "scholarship_student": lazy_gettext("Scholarship student"),
}

VERDICT_LABELS = {
    "refurbish": lazy_gettext("Refurbish"),
    "parts": lazy_gettext("Keep for parts"),
    "recycle": lazy_gettext("Recycle"),
}


@bp.route("/")
@access(PUBLIC)
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for("web.home"))


@bp.route("/states.css")
@access(PUBLIC)
def states_css():
    """State colours come from lifecycle.py, the one place they are defined."""
    # .accent-<state> gives cards and bars the state's strong colour (the text colour of light badges).
    css = "".join(f".state-{s.value}{{background:{bg};color:{fg};border-color:{fg}}}\n"
                  f".accent-{s.value}{{--state-strong:{bg if fg.upper() == '#FFFFFF' else fg}}}\n"
                  for s, (bg, fg) in lifecycle.COLOURS.items())
    return Response(css, mimetype="text/css", headers={"Cache-Control": "public, max-age=3600"})


@bp.route("/home")
@access(AUTHENTICATED)
def home():
    who = actor()
    summary = services.home_summary(who, rules=current_app.config["REMINDER_RULES"])
    return render_template("web/home.html", summary=summary, role=who.role, lifecycle=lifecycle,
                           workshop_queue=services.WORKSHOP_QUEUE, progress_groups=services.PROGRESS_GROUPS,
                           group_labels=GROUP_LABELS, today=utcnow().date(),
                           forward_step={s: _forward_step(s) for s in services.WORKSHOP_QUEUE})


def _forward_step(state: lifecycle.State) -> lifecycle.State | None:
    """The usual next step (forward in the lifecycle, never "lost"), for hints on home cards."""
    order = list(lifecycle.State)
    options = [s for s in lifecycle.next_states(state) if s is not lifecycle.State.LOST]
    forward = [s for s in options if order.index(s) > order.index(state)]
    return (forward or options or [None])[0]


@bp.app_template_filter("format_number")
def _format_number(value):
    return format_decimal(value or 0)


@bp.app_template_filter("format_datetime")
def _format_datetime(value, style="medium"):
    return format_datetime(value, style) if value else "—"


@bp.app_template_filter("format_date")
def _format_date(value, style="medium"):
    return format_date(value, style) if value else "—"


@bp.app_template_filter("since")
def _since(value):
    """'3 days', 'il y a 3 jours' style durations from a UTC datetime until now."""
    if not value:
        return "—"
    return format_timedelta(value - utcnow(), granularity="minute", add_direction=True)


@bp.app_template_filter("event_label")
def _event_label(event_type: str) -> str:
    label = EVENT_LABELS.get(event_type)
    return str(label) if label else gettext(event_type.replace("_", " ").capitalize())


@bp.app_template_filter("role_label")
def _role_label(role) -> str:
    role = getattr(role, "value", role)
    return str(ROLE_LABELS.get(role, role))


@bp.app_template_filter("verdict_label")
def _verdict_label(verdict) -> str:
    verdict = getattr(verdict, "value", verdict)
    return str(VERDICT_LABELS.get(verdict, verdict or "—"))


@bp.app_template_filter("category_option")
def _category_option(category: str) -> tuple[str, str]:
    label = CATEGORY_LABELS.get(category)
    return category, (str(label) if label else category.replace("_", " ").capitalize())


@bp.app_template_filter("action_label")
def _action_label(state) -> str:
    labels = lifecycle.ACTION_LABELS.get(lifecycle.State(getattr(state, "value", state)), {})
    return labels.get(current_language(), labels.get("en", str(state)))


@bp.app_template_filter("bytes")
def _bytes(value):
    if not value:
        return "—"
    units = ["B", "KB", "MB", "GB", "TB"]
    size, i = float(value), 0
    while size >= 1000 and i < len(units) - 1:
        size, i = size / 1000, i + 1
    return f"{format_decimal(round(size, 1))} {units[i]}"


@bp.app_context_processor
def _helpers():
    return {"utc_tomorrow": (utcnow().date() + dt.timedelta(days=1)).isoformat()}


@bp.app_template_global("has_endpoint")
def has_endpoint(name: str) -> bool:
    return name in current_app.view_functions


@bp.app_template_global("url_with")
def url_with(**changes) -> str:
    """The current page's URL with some query arguments replaced (None removes one)."""
    args = request.args.to_dict(flat=False)
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    return url_for(request.endpoint, **(request.view_args or {}), **args)
