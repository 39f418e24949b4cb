"""Device contracts: DeviceSchema out, one input schema per action."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..devices.models import DeviceType
from ..lifecycle import Grade, State, Verdict
from ..schemas import PageArgs, PatchSchema, StrictSchema

TYPES = [t.value for t in DeviceType]
STATES = [s.value for s in State]


class OrgRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class MediumSchema(Schema):
    id = fields.Integer()
    kind = fields.Function(lambda m: m.kind.value)
    model = fields.String(allow_none=True)
    serial = fields.String(allow_none=True)
    capacity_bytes = fields.Integer(allow_none=True)


class DeviceSchema(Schema):
    tag = fields.String()
    type = fields.Function(lambda d: d.type.value)
    brand = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    serial = fields.String(allow_none=True)
    imei = fields.String(allow_none=True)
    specs = fields.Dict()
    notes = fields.String(allow_none=True)
    unit_value_cents = fields.Integer(allow_none=True)
    donor_inventory_number = fields.String(allow_none=True)
    state = fields.Function(lambda d: d.state.value)
    state_since = fields.DateTime()
    verdict = fields.Function(lambda d: d.verdict.value if d.verdict else None)
    grade = fields.Function(lambda d: d.grade.value if d.grade else None)
    donor = fields.Nested(OrgRefSchema)
    custodian = fields.Nested(OrgRefSchema, allow_none=True)
    batch_id = fields.Integer(allow_none=True)
    programme_id = fields.Integer(allow_none=True)
    partner_organisation_id = fields.Integer(allow_none=True)
    loan = fields.Boolean()
    expected_return_on = fields.Date(allow_none=True)
    media = fields.List(fields.Nested(MediumSchema))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class MediumIn(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(["hdd", "ssd", "nvme", "emmc", "other"]))
    model = fields.String(load_default=None, validate=validate.Length(max=200))
    serial = fields.String(load_default=None, validate=validate.Length(max=100))
    capacity_bytes = fields.Integer(load_default=None, validate=validate.Range(min=0))


class DeviceCreateIn(StrictSchema):
    type = fields.String(required=True, validate=validate.OneOf(TYPES))
    brand = fields.String(load_default=None, validate=validate.Length(max=100))
    model = fields.String(load_default=None, validate=validate.Length(max=200))
    serial = fields.String(load_default=None, validate=validate.Length(max=100))
    imei = fields.String(load_default=None, validate=validate.Length(max=20))
    specs = fields.Dict(load_default=dict)
    notes = fields.String(load_default=None, validate=validate.Length(max=5000))
    unit_value_cents = fields.Integer(load_default=None, validate=validate.Range(min=0))
    # The donor's own inventory number, printed on the donation slip.
    donor_inventory_number = fields.String(load_default=None, validate=validate.Length(max=100))
    batch_id = fields.Integer(load_default=None)
    # Set by technicians and admins; a donor's devices always belong to the donor's organisation.
    donor_organisation_id = fields.Integer(load_default=None)
    # A blank pre-printed tag to bind to this device (see labels).
    preprinted_tag = fields.String(load_default=None, validate=validate.Length(max=32))
    media = fields.List(fields.Nested(MediumIn), load_default=list)


class DeviceUpdateIn(PatchSchema):
    type = fields.String(validate=validate.OneOf(TYPES))
    brand = fields.String(allow_none=True, validate=validate.Length(max=100))
    model = fields.String(allow_none=True, validate=validate.Length(max=200))
    serial = fields.String(allow_none=True, validate=validate.Length(max=100))
    imei = fields.String(allow_none=True, validate=validate.Length(max=20))
    specs = fields.Dict()
    notes = fields.String(allow_none=True, validate=validate.Length(max=5000))
    unit_value_cents = fields.Integer(allow_none=True, validate=validate.Range(min=0))
    donor_inventory_number = fields.String(allow_none=True, validate=validate.Length(max=100))


class TransitionIn(StrictSchema):
    target = fields.String(required=True, validate=validate.OneOf(STATES))
    note = fields.String(load_default=None, validate=validate.Length(max=2000))
    verdict = fields.String(load_default=None, validate=validate.OneOf([v.value for v in Verdict]))
    grade = fields.String(load_default=None, validate=validate.OneOf([g.value for g in Grade]))
    reason = fields.String(load_default=None, validate=validate.Length(max=2000))
    programme_id = fields.Integer(load_default=None)
    partner_organisation_id = fields.Integer(load_default=None)
    beneficiary_ref = fields.String(load_default=None, validate=validate.Length(max=64))
    beneficiary_category = fields.String(load_default=None, validate=validate.Length(max=64))
    loan = fields.Boolean(load_default=False)
    expected_return_on = fields.Date(load_default=None)
    recycler_organisation_id = fields.Integer(load_default=None)
    disposal_reference = fields.String(load_default=None, validate=validate.Length(max=200))
    custodian_organisation_id = fields.Integer(load_default=None)
    client_time = fields.AwareDateTime(load_default=None)
    station = fields.String(load_default=None, validate=validate.Length(max=100))


class DeviceListArgs(PageArgs):
    state = fields.List(fields.String(validate=validate.OneOf(STATES)), load_default=list)
    type = fields.List(fields.String(validate=validate.OneOf(TYPES)), load_default=list)
    donor = fields.Integer(load_default=None)
    batch = fields.Integer(load_default=None)
    programme = fields.Integer(load_default=None)
    custodian = fields.Integer(load_default=None)
    overdue = fields.Boolean(load_default=False)
    q = fields.String(load_default=None, validate=validate.Length(max=100))


class DevicePageSchema(Schema):
    items = fields.List(fields.Nested(DeviceSchema))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


class EventSchema(Schema):
    seq = fields.Integer()
    type = fields.String()
    device_tag = fields.String(allow_none=True)
    actor_name = fields.String()
    actor_organisation_name = fields.String(allow_none=True)
    state_before = fields.String(allow_none=True)
    state_after = fields.String(allow_none=True)
    custodian_before_id = fields.Integer(allow_none=True)
    custodian_after_id = fields.Integer(allow_none=True)
    server_time = fields.DateTime()
    client_time = fields.DateTime(allow_none=True)
    station = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    details = fields.Function(lambda e: __import__("json").loads(e.details or "{}"))
    request_id = fields.String(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()
