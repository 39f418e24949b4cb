"""Shared schema pieces: strict base class, pagination arguments."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from werkzeug.routing import IntegerConverter

# Largest integer the databases store (64-bit signed): ids, page numbers, capacities and amounts stay within it.
MAX_INT = 2**63 - 1


def _bounded(field: fields.Field) -> None:
    """An integer field without a range of its own gets the database's, so a huge number is a 422, not a 500."""
    if isinstance(field, fields.List):
        _bounded(field.inner)
    elif isinstance(field, fields.Mapping) and field.value_field is not None:
        _bounded(field.value_field)
    elif isinstance(field, fields.Integer) and not any(isinstance(v, validate.Range) and v.max is not None
                                                       for v in field.validators):
        field.validators.append(validate.Range(min=-MAX_INT, max=MAX_INT))


class StrictSchema(Schema):
    """Input schemas refuse unknown and server-owned fields (422) instead of ignoring them."""

    class Meta:
        unknown = RAISE

    def on_bind_field(self, field_name, field_obj):
        _bounded(field_obj)


class PatchSchema(StrictSchema):
    """A partial update: a body that changes nothing is refused (422), not answered 200."""

    @validates_schema
    def _not_empty(self, data, **kwargs):
        if not data:
            raise ValidationError("Send at least one field to change.", "_schema")


class BoundedIntConverter(IntegerConverter):
    """``<int:id>`` in a path matches 0..MAX_INT only: a larger number is no such object (404), not a 500."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_INT, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class PageArgs(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"description": "Stable machine-readable reason, e.g. not_found"})
    message = fields.String(required=True, metadata={"description": "Human-readable, in the caller's language"})
    details = fields.Dict(required=True, metadata={"description": "Per-field problems or context; may be empty"})


class ErrorSchema(Schema):
    """The one error envelope every error response carries: {"error": {"code", "message", "details"}}."""

    error = fields.Nested(ErrorBodySchema, required=True)
