"""Label contracts: print jobs in, templates and blank tag ranges out."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..schemas import StrictSchema
from .services import FORMATS

TAG_FIELD = fields.String(validate=validate.Length(min=1, max=40))


class PrintOptions(StrictSchema):
    template = fields.String(load_default=None, validate=validate.Length(max=100))
    format = fields.String(load_default="pdf", validate=validate.OneOf(FORMATS))
    # Cell where printing starts on a partly used sheet, row by row from the top left (0 is the first).
    start_position = fields.Integer(load_default=0, validate=validate.Range(min=0, max=999))


class PrintIn(PrintOptions):
    """Labels of devices named by tag (or id); every one must be in your scope."""

    tags = fields.List(TAG_FIELD, load_default=list, validate=validate.Length(max=5000))
    device_ids = fields.List(fields.Integer(), load_default=list, validate=validate.Length(max=5000))
    qr = fields.Boolean(load_default=False)

    @validates_schema
    def _something(self, data, **kwargs):
        if not data.get("tags") and not data.get("device_ids"):
            raise ValidationError("Give at least one tag.", field_name="tags")


class BatchPrintIn(PrintOptions):
    qr = fields.Boolean(load_default=False)


class BlankIssueIn(PrintOptions):
    """Issue a range of blank pre-printed tags to a donor organisation and print it."""

    donor_organisation_id = fields.Integer(required=True)
    count = fields.Integer(required=True, validate=validate.Range(min=1, max=5000))
    note = fields.String(load_default=None, validate=validate.Length(max=500))


class BlankPrintIn(PrintOptions):
    """Print again the unbound tags of a blank range."""


class TemplateSchema(Schema):
    name = fields.String()
    title = fields.Dict(keys=fields.String(), values=fields.String())
    kind = fields.String()
    per_page = fields.Integer()
    label_mm = fields.Function(lambda t: {"width": t.label_width, "height": t.label_height})
    qr = fields.Function(lambda t: t.shows("qr"))
    formats = fields.Function(lambda t: list(("zpl",) if t.kind == "zpl" else ("pdf", "svg", "png")))


class TemplateErrorSchema(Schema):
    file = fields.String(attribute="source")
    problem = fields.String()


class CatalogueSchema(Schema):
    templates = fields.List(fields.Nested(TemplateSchema))
    default = fields.String(allow_none=True)
    # Files refused at start-up (shown to admins only).
    errors = fields.List(fields.Nested(TemplateErrorSchema))


class BlankIssueSchema(Schema):
    id = fields.Integer()
    donor_organisation_id = fields.Integer()
    donor = fields.Function(lambda i: i.donor.name)
    count = fields.Integer()
    first_tag = fields.String()
    last_tag = fields.String()
    note = fields.String(allow_none=True)
    issued_at = fields.DateTime()
    issued_by_name = fields.String()
    bound = fields.Integer()
