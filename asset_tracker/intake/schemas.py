"""Intake contracts: BatchSchema and ReconciliationSchema out, one input schema per action."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..devices.schemas import TYPES, OrgRefSchema
from ..schemas import PatchSchema, StrictSchema
from .models import BatchStatus
from .services import MODES

STATUSES = [s.value for s in BatchStatus]


class BatchSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    status = fields.Function(lambda b: b.status.value)
    donor = fields.Nested(OrgRefSchema)
    workshop = fields.Nested(OrgRefSchema, allow_none=True)
    pickup_date = fields.Date(allow_none=True)
    declared_counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    contact_name = fields.String(allow_none=True)
    contact_email = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    unit_value_cents = fields.Integer(allow_none=True)
    closing_note = fields.String(allow_none=True)
    disposal_decision_ref = fields.String(allow_none=True)
    disposal_decision_date = fields.Date(allow_none=True)
    donor_signatory_name = fields.String(allow_none=True)
    donor_signatory_title = fields.String(allow_none=True)
    workshop_signatory_name = fields.String(allow_none=True)
    workshop_signatory_title = fields.String(allow_none=True)
    created_at = fields.DateTime()
    collected_at = fields.DateTime(allow_none=True)
    received_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    # Devices per state, when the caller attached them (lists and the batch page).
    progress = fields.Function(lambda b: getattr(b, "progress", None))


def _counts():
    return fields.Dict(keys=fields.String(validate=validate.OneOf(TYPES)),
                       values=fields.Integer(validate=validate.Range(min=0, max=1_000_000)), load_default=dict)


class _SlipIn(StrictSchema):
    """The donor's disposal decision and the signatories of the donation slip (both parties)."""

    disposal_decision_ref = fields.String(allow_none=True, validate=validate.Length(max=200))
    disposal_decision_date = fields.Date(allow_none=True)
    donor_signatory_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    donor_signatory_title = fields.String(allow_none=True, validate=validate.Length(max=200))
    workshop_signatory_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    workshop_signatory_title = fields.String(allow_none=True, validate=validate.Length(max=200))


class SlipDetailsIn(_SlipIn):
    pass


class BatchCreateIn(_SlipIn):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    # Set by technicians and admins; a donor's batches always belong to the donor's organisation.
    donor_organisation_id = fields.Integer(load_default=None)
    workshop_organisation_id = fields.Integer(load_default=None)
    pickup_date = fields.Date(load_default=None)
    declared_counts = _counts()
    contact_name = fields.String(load_default=None, validate=validate.Length(max=200))
    contact_email = fields.Email(load_default=None, validate=validate.Length(max=254))
    notes = fields.String(load_default=None, validate=validate.Length(max=5000))
    unit_value_cents = fields.Integer(load_default=None, validate=validate.Range(min=0))


class BatchUpdateIn(_SlipIn, PatchSchema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    pickup_date = fields.Date(allow_none=True)
    declared_counts = fields.Dict(keys=fields.String(validate=validate.OneOf(TYPES)),
                                  values=fields.Integer(validate=validate.Range(min=0, max=1_000_000)))
    contact_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    contact_email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    notes = fields.String(allow_none=True, validate=validate.Length(max=5000))
    unit_value_cents = fields.Integer(allow_none=True, validate=validate.Range(min=0))


class BatchListArgs(StrictSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    donor = fields.Integer(load_default=None)


class ImportIn(StrictSchema):
    mode = fields.String(load_default="all", validate=validate.OneOf(MODES))
    client_id = fields.String(load_default=None, validate=validate.Length(min=1, max=100))


class CollectIn(StrictSchema):
    workshop_organisation_id = fields.Integer(load_default=None)
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class ReceiveIn(StrictSchema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=100))
    station = fields.String(load_default=None, validate=validate.Length(max=100))
    client_time = fields.AwareDateTime(load_default=None)
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class ExplainIn(StrictSchema):
    tag = fields.String(required=True, validate=validate.Length(min=1, max=32))
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    declare_lost = fields.Boolean(load_default=False)


class CloseIn(StrictSchema):
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class DeviceRefSchema(Schema):
    tag = fields.String()
    type = fields.Function(lambda d: d.type.value)
    brand = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    serial = fields.String(allow_none=True)
    imei = fields.String(allow_none=True)
    state = fields.Function(lambda d: d.state.value)
    batch_id = fields.Integer(allow_none=True)


class LineSchema(Schema):
    device = fields.Nested(DeviceRefSchema)
    kind = fields.String()
    explained = fields.Boolean()
    note = fields.Function(lambda line: line.explanation.note if line.explanation else None)
    declared_lost = fields.Function(lambda line: bool(line.explanation and line.explanation.declared_lost))


class ReconciliationSchema(Schema):
    batch = fields.Nested(BatchSchema)
    expected = fields.Function(lambda r: len(r.expected))
    received = fields.Function(lambda r: len(r.received))
    missing = fields.List(fields.Nested(LineSchema))
    unexpected = fields.List(fields.Nested(LineSchema))
    counts = fields.Dict()
    counts_differ = fields.Boolean()
    can_close = fields.Boolean()


class ReceptionSchema(Schema):
    device = fields.Nested(DeviceRefSchema)
    batch_id = fields.Function(lambda r: r.batch.id if r.batch else None)
    expected = fields.Boolean()
    already = fields.Boolean()
    message = fields.String()


class ExplanationSchema(Schema):
    batch_id = fields.Integer()
    kind = fields.Function(lambda e: e.kind.value)
    declared_lost = fields.Boolean()
    note = fields.String()
    actor_name = fields.String()
    created_at = fields.DateTime()
