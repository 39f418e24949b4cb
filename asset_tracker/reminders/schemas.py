"""Reminder contracts: the overdue list's filter arguments, the acknowledgement, the API's reminder rows."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..schemas import PageArgs, StrictSchema


class OverdueListArgs(PageArgs):
    rule = fields.String(load_default=None, validate=validate.Length(max=64))
    organisation = fields.Integer(load_default=None, validate=validate.Range(min=1))
    min_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=10000))
    acknowledged = fields.String(load_default=None, validate=validate.OneOf(["yes", "no"]))


class AcknowledgeIn(StrictSchema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ReminderSchema(Schema):
    id = fields.Function(lambda row: row["reminder"].id)
    device_tag = fields.Function(lambda row: row["reminder"].device.tag)
    state = fields.Function(lambda row: row["reminder"].state.value)
    rule = fields.Function(lambda row: row["reminder"].rule_id)
    rule_label = fields.Function(lambda row: row["rule"].label if row["rule"] else None)
    days_overdue = fields.Integer(allow_none=True)
    stay_started_at = fields.Function(lambda row: row["reminder"].stay_started_at.isoformat())
    responsible_organisation_id = fields.Function(lambda row: row["reminder"].responsible_organisation_id)
    escalated = fields.Function(lambda row: row["reminder"].escalation_due_at is not None)
    acknowledged_at = fields.Function(lambda row: row["reminder"].acknowledged_at.isoformat()
                                      if row["reminder"].acknowledged_at else None)
    acknowledgement_note = fields.Function(lambda row: row["reminder"].acknowledgement_note)


class ReminderPageSchema(Schema):
    items = fields.List(fields.Nested(ReminderSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
