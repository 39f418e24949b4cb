"""Organisation contracts."""
from marshmallow import Schema, fields, validate

from ..lifecycle import N_
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


class OrganisationEditIn(StrictSchema):
    """The admin's edit form, generated from these fields: one line per editable column.

    ``metadata``: ``label`` (English msgid), optional ``widget`` ("textarea", "select", "email") and ``hint``.
    """

    name = fields.String(required=True, validate=validate.Length(min=2, max=200), metadata={"label": N_("Name")})
    kind = fields.String(required=True, validate=validate.OneOf(KINDS),
                         metadata={"label": N_("Kind"), "widget": "select"})
    contact_email = fields.Email(allow_none=True, validate=validate.Length(max=254),
                                 metadata={"label": N_("Contact e-mail"), "widget": "email"})
    address = fields.String(allow_none=True, validate=validate.Length(max=1000),
                            metadata={"label": N_("Contact address"), "widget": "textarea"})
    locale = fields.String(required=True, validate=validate.OneOf(["fr", "en"]),
                           metadata={"label": N_("Language of documents and e-mails"), "widget": "select"})
    beneficiary_ref_pattern = fields.String(allow_none=True, validate=validate.Length(max=200), metadata={
        "label": N_("Beneficiary reference pattern (partners)"), "hint": N_("A regular expression, e.g. ^MC-[0-9]{4}$")})
