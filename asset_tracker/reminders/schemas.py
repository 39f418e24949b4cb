"""Reminder contracts: the overdue list's filter arguments and the acknowledgement form."""
from __future__ import annotations

from marshmallow import fields, validate

from ..schemas import PageArgs, StrictSchema


class OverdueListArgs(PageArgs):
    rule = fields.String(load_default=None, validate=validate.Length(max=64))
    organisation = fields.Integer(load_default=None, validate=validate.Range(min=1))
    min_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=10000))
    acknowledged = fields.String(load_default=None, validate=validate.OneOf(["yes", "no"]))


class AcknowledgeIn(StrictSchema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=1000))
