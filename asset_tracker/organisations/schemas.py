"""Organisation contracts."""
from marshmallow import Schema, fields, validate

from ..lifecycle import N_
from ..schemas import StrictSchema
from .models import LegalNature, OrgKind

KINDS = [k.value for k in OrgKind]
LEGAL_NATURES = [n.value for n in LegalNature]


class OrganisationSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.Function(lambda o: o.kind.value)
    contact_email = fields.String(allow_none=True)
    locale = fields.String()


class OrganisationDetailSchema(OrganisationSchema):
    """What admins see: the organisation with its legal identity (printed on slips, receipts, certificates)."""

    address = fields.String(allow_none=True)
    beneficiary_ref_pattern = fields.String(allow_none=True)
    legal_name = fields.String(allow_none=True)
    siret = fields.String(allow_none=True)
    legal_nature = fields.Function(lambda o: o.legal_nature.value if o.legal_nature else None)
    donation_legal_basis = fields.String(allow_none=True)
    donation_legal_basis_ref = fields.String(allow_none=True)
    created_at = fields.DateTime()


class _LegalIdentityIn(StrictSchema):
    address = fields.String(allow_none=True, validate=validate.Length(max=1000))
    legal_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    # 14 digits once spaces are removed, with a valid Luhn key: checked in the service, which names the field.
    siret = fields.String(allow_none=True, validate=validate.Length(max=40))
    legal_nature = fields.String(allow_none=True, validate=validate.OneOf(LEGAL_NATURES))
    # Donors only: the legal basis printed on their donation slips (nothing is printed when empty).
    donation_legal_basis = fields.String(allow_none=True, validate=validate.Length(max=2000))
    donation_legal_basis_ref = fields.String(allow_none=True, validate=validate.Length(max=200))


class OrganisationCreateIn(_LegalIdentityIn):
    name = fields.String(required=True, validate=validate.Length(min=2, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    contact_email = fields.Email(load_default=None)
    locale = fields.String(load_default="fr", validate=validate.OneOf(["fr", "en"]))
    beneficiary_ref_pattern = fields.String(load_default=None, validate=validate.Length(max=200))


class OrganisationUpdateIn(_LegalIdentityIn):
    name = fields.String(validate=validate.Length(min=2, max=200))
    contact_email = fields.Email(allow_none=True)
    locale = fields.String(validate=validate.OneOf(["fr", "en"]))
    beneficiary_ref_pattern = fields.String(allow_none=True, validate=validate.Length(max=200))


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
    beneficiary_ref_pattern = fields.String(
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={
            "label": N_("Beneficiary reference pattern (partners)"),
            "hint": N_("A regular expression, e.g. ^MC-[0-9]{4}$"),
        },
    )
    legal_name = fields.String(allow_none=True, validate=validate.Length(max=200), metadata={"label": N_("Legal name")})
    siret = fields.String(allow_none=True, validate=validate.Length(max=40), metadata={
        "label": N_("SIRET"), "hint": N_("14 digits; checked with its key")})
    legal_nature = fields.String(allow_none=True, validate=validate.OneOf(LEGAL_NATURES), metadata={
        "label": N_("Legal nature"), "widget": "select"})
    donation_legal_basis = fields.String(allow_none=True, validate=validate.Length(max=2000), metadata={
        "label": N_("Legal basis of donations (donors)"), "widget": "textarea",
        "hint": N_("Printed on this donor's donation slips; leave empty to print none.")})
    donation_legal_basis_ref = fields.String(allow_none=True, validate=validate.Length(max=200), metadata={
        "label": N_("Reference of the legal basis")})
