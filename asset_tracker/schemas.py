"""Shared schema pieces: strict base class, pagination arguments."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class StrictSchema(Schema):
    """Input schemas refuse unknown and server-owned fields (422) instead of ignoring them."""

    class Meta:
        unknown = RAISE


class PageArgs(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class ErrorSchema(Schema):
    error = fields.Dict()
