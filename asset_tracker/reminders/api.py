"""Reminder routes of the JSON API: overdue reminders in the caller's scope, and acknowledging one."""
from __future__ import annotations

from flask_smorest import Blueprint

from ..auth.access import ROLES, WRITERS, access
from ..auth.session import actor
from . import services
from .rules import rule_by_id
from .schemas import AcknowledgeIn, OverdueListArgs, ReminderPageSchema, ReminderSchema

blp = Blueprint("api_reminders", __name__, url_prefix="/api/v1/reminders",
                description="Overdue reminders in your scope, and their acknowledgement")
BLUEPRINTS = [blp]


@blp.route("", methods=["GET"])
@access(*ROLES)
@blp.arguments(OverdueListArgs, location="query")
@blp.response(200, ReminderPageSchema)
def list_reminders(args):
    """Open reminders of the devices you may see, oldest stay first (filters: rule, organisation, min_days,
    acknowledged=yes|no)."""
    f = services.ReminderFilter(rule=args.get("rule"), organisation=args.get("organisation"),
                                min_days=args.get("min_days"), acknowledged=args.get("acknowledged"))
    rows, total = services.overdue_list(f, actor=actor(), page=args["page"], per_page=args["per_page"])
    return {"items": rows, "page": args["page"], "per_page": args["per_page"], "total": total}


@blp.route("/<int:reminder_id>/acknowledge", methods=["POST"])
@access(*WRITERS)
@blp.arguments(AcknowledgeIn)
@blp.response(200, ReminderSchema)
def acknowledge(data, reminder_id):
    """Say what is being done about an overdue device (the note goes to its custody log); 404 outside your
    scope, 409 when already acknowledged."""
    reminder = services.acknowledge(reminder_id, data["note"], actor=actor())
    rule = rule_by_id(reminder.rule_id)
    return {"reminder": reminder, "rule": rule,
            "days_overdue": rule.days_overdue(services.utcnow(), reminder.stay_started_at,
                                              reminder.device.expected_return_on) if rule else None}
