"""Organisation contracts."""
from marshmallow import Schema, fields, validate

from ..schemas import StrictSchema
from .models import OrgKind

KINDS = [k.value for k in OrgKind]


class OrganisationSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.Function(lambda o: o.kind.value)
    contact_email = fields.String(allow_none=True)
    locale = fields.String()


class OrganisationCreateIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    contact_email = fields.Email(load_default=None)
    locale = fields.String(load_default="fr", validate=validate.OneOf(["fr", "en"]))
    address = fields.String(load_default=None, validate=validate.Length(max=1000))
    beneficiary_ref_pattern = fields.String(load_default=None, validate=validate.Length(max=200))
