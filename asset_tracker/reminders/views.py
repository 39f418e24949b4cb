"""Reminder pages: the overdue list with its filters, acknowledgement, the rules in force."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth.access import ROLES, WRITERS, access
from ..auth.session import actor
from ..devices.models import Device
from ..lifecycle import N_
from ..organisations import services as org_services
from ..web.lists import TOOL_ARGS, ListSpec, list_page
from . import services
from .models import Reminder
from .rules import PARTY_LABELS, current_rules
from .schemas import AcknowledgeIn, OverdueListArgs

bp = Blueprint("reminders", __name__, url_prefix="/reminders")

NAV = [
    ("reminders.index", N_("Overdue"), ROLES, 30, "distribution"),
    ("reminders.rules", N_("Reminder rules"), ("admin", "auditor"), 90, "admin"),
]


@bp.app_context_processor
def _overdue_counts():
    """`reminder_counts()` for the home page include (counts in the signed-in user's scope)."""

    def reminder_counts():
        if not current_user.is_authenticated:
            return None
        return services.overdue_counts(actor())

    return {"reminder_counts": reminder_counts}


OVERDUE_LIST = ListSpec(
    name="overdue", default_sort="since",
    # (closed_at, rule_id, stay_started_at) is indexed; the query already joins the device (scope), so tags sort.
    sorts={"since": Reminder.stay_started_at, "rule": Reminder.rule_id, "tag": Device.tag},
    columns=("tag", "state", "reminder", "days_overdue", "responsible", "acknowledged_at", "acknowledgement_note"),
)


def _export_rows(items):
    return [(row["reminder"].device.tag, row["reminder"].state, row["rule"].label if row["rule"] else
             row["reminder"].rule_id, row["days_overdue"],
             row["reminder"].responsible.name if row["reminder"].responsible else None,
             row["reminder"].acknowledged_at, row["reminder"].acknowledgement_note)
            for row in services.overdue_rows(items)]


@bp.route("")
@access(*ROLES)
def index():
    who = actor()
    # `lang` is the site-wide language switch, not a filter.
    args = OverdueListArgs().load({k: v for k, v in request.args.items()
                                   if v != "" and k != "lang" and k not in TOOL_ARGS})
    f = services.ReminderFilter(rule=args.get("rule"), organisation=args.get("organisation"),
                                min_days=args.get("min_days"), acknowledged=args.get("acknowledged"))
    query = services.overdue_query(f, actor=who)  # joined with the device (scope and tag sort)
    page = list_page(OVERDUE_LIST, query, export_rows=_export_rows)
    if not isinstance(page, dict):
        return page
    organisations = org_services.ordered(actor=who) \
        if current_user.role.value in ("admin", "auditor", "technician") else []
    rows = services.overdue_rows(page["items"])
    # The acknowledge form only where the service would take the answer (a workshop sees devices no workshop
    # has taken yet, but answers only for its own or as the reminder's responsible or escalation organisation).
    writer = current_user.role.value in WRITERS
    for row in rows:
        row["may_acknowledge"] = writer and services.may_acknowledge(row["reminder"], who)
    return render_template("reminders/index.html", rows=rows, total=page["list"].total,
                           list=page["list"], filter=f, rules=current_rules(), organisations=organisations)


@bp.route("/<int:reminder_id>/acknowledge", methods=["POST"])
@access(*WRITERS)
def acknowledge(reminder_id: int):
    data = AcknowledgeIn().load({k: v for k, v in request.form.items() if k not in ("csrf_token", "next")})
    reminder = services.acknowledge(reminder_id, data["note"], actor=actor())
    flash(_("Reminder for %(tag)s acknowledged.", tag=reminder.device.tag), "success")
    target = request.form.get("next") or ""
    if not target.startswith("/reminders") or target.startswith("//"):
        target = url_for("reminders.index")
    return redirect(target)


@bp.route("/rules")
@access("admin", "auditor")
def rules():
    return render_template("reminders/rules.html", rules=current_rules(), parties=PARTY_LABELS,
                           mails=services.recent_mails(),
                           sweep_minutes=current_app.config["REMINDERS_SWEEP_MINUTES"])
