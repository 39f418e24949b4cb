"""Distribution contracts: schemas out, one input schema per action in."""
from __future__ import annotations

from marshmallow import Schema, fields, validate, validates_schema, ValidationError

from ..devices.models import DeviceType
from ..devices.schemas import OrgRefSchema
from ..lifecycle import Grade
from ..schemas import StrictSchema
from . import services
from .models import AccessoryKind

TYPES = [t.value for t in DeviceType]
GRADES = [g.value for g in Grade]
KINDS = [k.value for k in AccessoryKind]


def _reference(handover):
    """The reference, only for the partner that recorded it (never for auditors, admins or other partners)."""
    from ..auth.session import actor

    return services.visible_reference(handover, actor())


class ProgrammeSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    owner = fields.Nested(OrgRefSchema)
    target_count = fields.Integer()
    target_unit = fields.String()
    starts_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)
    beneficiary_categories = fields.List(fields.String())
    partners = fields.List(fields.Nested(OrgRefSchema))
    progress = fields.Function(lambda p: services.progress(p))


class ProgrammeIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default=None, validate=validate.Length(max=5000))
    owner_organisation_id = fields.Integer(required=True)
    target_count = fields.Integer(required=True, validate=validate.Range(min=0))
    target_unit = fields.String(load_default="device", validate=validate.OneOf(["device", "kit"]))
    starts_on = fields.Date(load_default=None)
    ends_on = fields.Date(load_default=None)
    beneficiary_categories = fields.List(fields.String(validate=validate.Length(min=1, max=40)), load_default=list)
    partner_ids = fields.List(fields.Integer(), load_default=list)


class PartnersIn(StrictSchema):
    partner_ids = fields.List(fields.Integer(), required=True)


class ReservationIn(StrictSchema):
    """One device by tag, or ``count`` devices of a type (and grades)."""

    programme_id = fields.Integer(required=True)
    partner_organisation_id = fields.Integer(load_default=None)
    device_tag = fields.String(load_default=None, validate=validate.Length(max=32))
    type = fields.String(load_default=None, validate=validate.OneOf(TYPES))
    grades = fields.List(fields.String(validate=validate.OneOf(GRADES)), load_default=list)
    count = fields.Integer(load_default=None, validate=validate.Range(min=1, max=1000))
    note = fields.String(load_default=None, validate=validate.Length(max=2000))

    @validates_schema
    def _one_way(self, data, **kwargs):
        if bool(data.get("device_tag")) == bool(data.get("count")):
            raise ValidationError("Give either device_tag, or count and type.", "device_tag")
        if data.get("count") and not data.get("type"):
            raise ValidationError("A bulk reservation needs a device type.", "type")


class ReservationSchema(Schema):
    id = fields.Integer()
    device_tag = fields.Function(lambda r: _tag(r.device_id))
    programme = fields.Nested(OrgRefSchema)
    partner = fields.Nested(OrgRefSchema)
    active = fields.Boolean()
    outcome = fields.String(allow_none=True)
    created_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)


def _tag(device_id):
    from ..devices.models import Device
    from ..extensions import db

    return db.session.get(Device, device_id).tag


class AccessoryIn(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    tag = fields.String(load_default=None, validate=validate.Length(max=32))
    serial = fields.String(load_default=None, validate=validate.Length(max=100))
    imei = fields.String(load_default=None, validate=validate.Length(max=20))
    iccid = fields.String(load_default=None, validate=validate.Length(max=24))
    description = fields.String(load_default=None, validate=validate.Length(max=200))


class AccessoryCreateIn(AccessoryIn):
    device_tag = fields.String(load_default=None, validate=validate.Length(max=32))


class AccessorySchema(Schema):
    id = fields.Integer()
    kind = fields.Function(lambda a: a.kind.value)
    tag = fields.String(allow_none=True)
    serial = fields.String(allow_none=True)
    imei = fields.String(allow_none=True)
    iccid = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    status = fields.Function(lambda a: a.status.value)


class HandoverIn(StrictSchema):
    device_tag = fields.String(required=True, validate=validate.Length(max=32))
    beneficiary_ref = fields.String(required=True, validate=validate.Length(max=64))
    beneficiary_category = fields.String(required=True, validate=validate.Length(max=40))
    handed_over_on = fields.Date(load_default=None)
    loan = fields.Boolean(load_default=False)
    expected_return_on = fields.Date(load_default=None)
    accessory_ids = fields.List(fields.Integer(), load_default=None)
    new_accessories = fields.List(fields.Nested(AccessoryIn), load_default=list)
    conditions = fields.String(load_default=None, validate=validate.Length(max=2000))
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class HandoverItemSchema(Schema):
    accessory = fields.Nested(AccessorySchema)
    returned = fields.Boolean(allow_none=True)


class HandoverSchema(Schema):
    id = fields.Integer()
    device_tag = fields.Function(lambda h: _tag(h.device_id))
    programme = fields.Nested(OrgRefSchema)
    partner = fields.Nested(OrgRefSchema)
    beneficiary_ref = fields.Function(_reference)
    reference_erased = fields.Function(lambda h: h.ref_erased_at is not None)
    beneficiary_category = fields.String()
    handed_over_on = fields.Date()
    loan = fields.Boolean()
    expected_return_on = fields.Date(allow_none=True)
    handed_over_by_name = fields.String()
    items = fields.List(fields.Nested(HandoverItemSchema))
    returned_at = fields.DateTime(allow_none=True)
    return_reason = fields.String(allow_none=True)
    return_condition = fields.String(allow_none=True)


class ReturnIn(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))
    condition = fields.String(load_default=None, validate=validate.Length(max=200))
    missing_accessory_ids = fields.List(fields.Integer(), load_default=list)
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class RecyclingIn(StrictSchema):
    device_tag = fields.String(required=True, validate=validate.Length(max=32))
    recycler_organisation_id = fields.Integer(required=True)
    disposal_reference = fields.String(required=True, validate=validate.Length(min=1, max=100))
    shipment_reference = fields.String(load_default=None, validate=validate.Length(max=100))
    parts_harvested = fields.List(fields.String(validate=validate.Length(max=100)), load_default=list)
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class RecyclingSchema(Schema):
    id = fields.Integer()
    device_tag = fields.Function(lambda r: _tag(r.device_id))
    recycler = fields.Nested(OrgRefSchema)
    disposal_reference = fields.String()
    shipment_reference = fields.String(allow_none=True)
    parts_harvested = fields.List(fields.String())
    created_at = fields.DateTime()
