"""Distribution contracts: schemas out, one input schema per action in."""
from __future__ import annotations

import json

from flask_babel import gettext
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..auth.session import actor
from ..devices.models import Device, DeviceType
from ..devices.schemas import OrgRefSchema
from ..extensions import db
from ..lifecycle import Grade
from ..schemas import StrictSchema
from . import services
from .models import AccessoryKind, AccessoryStatus

TYPES = [t.value for t in DeviceType]
GRADES = [g.value for g in Grade]
KINDS = [k.value for k in AccessoryKind]
STATUSES = [s.value for s in AccessoryStatus]


def _reference(handover):
    """The reference, only for the partner that recorded it (never for auditors, admins or other partners)."""
    return services.visible_reference(handover, actor())


class TargetSchema(Schema):
    unit = fields.String(metadata={"description": "a device type (laptop…), `device` (any type) or a kit kind code"})
    label = fields.String()
    count = fields.Integer()
    done = fields.Integer(metadata={"description": "beneficiaries served in the programme's period (returns "
                                                   "not deducted; a kit only when complete)"})
    reserved = fields.Integer()
    percent = fields.Float(allow_none=True)


class KitKindSchema(Schema):
    code = fields.String()
    name = fields.String()
    device_types = fields.List(fields.String())
    accessory_kinds = fields.List(fields.String())


class ProgrammeSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    owner = fields.Nested(OrgRefSchema)
    targets = fields.Method("_targets", metadata={"description": "[{unit, count, done, …}] in the programme's order"})
    kit_kinds = fields.List(fields.Nested(KitKindSchema))
    beneficiary_policy = fields.String(metadata={"description": "second device for a beneficiary: allow, warn, refuse"})
    starts_on = fields.Date(allow_none=True)
    ends_on = fields.Date(allow_none=True)
    beneficiary_categories = fields.List(fields.String())
    partners = fields.List(fields.Nested(OrgRefSchema))
    progress = fields.Function(lambda p: services.progress(p))

    def _targets(self, programme):
        return TargetSchema(many=True).dump(services.targets_progress([programme])[programme.id])


class TargetIn(StrictSchema):
    unit = fields.String(required=True, validate=validate.Length(min=1, max=40))
    count = fields.Integer(required=True, validate=validate.Range(min=0, max=10_000_000))


class KitKindIn(StrictSchema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,39}$"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    device_types = fields.List(fields.String(validate=validate.OneOf(TYPES)), load_default=list)
    accessory_kinds = fields.List(fields.String(validate=validate.OneOf(KINDS)), load_default=list)


POLICIES = ["allow", "warn", "refuse"]


class TargetsIn(StrictSchema):
    targets = fields.List(fields.Nested(TargetIn), required=True)
    kit_kinds = fields.List(fields.Nested(KitKindIn), load_default=None)
    beneficiary_policy = fields.String(load_default=None, validate=validate.OneOf(POLICIES))


class ProgrammeIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default=None, validate=validate.Length(max=5000))
    owner_organisation_id = fields.Integer(required=True)
    targets = fields.List(fields.Nested(TargetIn), load_default=list)
    kit_kinds = fields.List(fields.Nested(KitKindIn), load_default=list)
    beneficiary_policy = fields.String(load_default="warn", validate=validate.OneOf(POLICIES))
    starts_on = fields.Date(load_default=None)
    ends_on = fields.Date(load_default=None)
    beneficiary_categories = fields.List(fields.String(validate=validate.Length(min=1, max=40)), load_default=list)
    partner_ids = fields.List(fields.Integer(), load_default=list)


def targets_from_text(text: str) -> list[dict]:
    """ "laptop=1000, family_kit=2000" -> [{"unit": "laptop", "count": 1000}, …] (the programme form)."""
    out = []
    for part in (text or "").replace(";", ",").split(","):
        if not part.strip():
            continue
        unit, sep, count = part.partition("=")
        if not sep or not count.strip().isdigit():
            raise ValidationError({"targets": [gettext("%(part)s: write unit=count, e.g. laptop=1000",
                                                       part=part.strip())]})
        out.append({"unit": unit.strip(), "count": int(count.strip())})
    return out


def kit_kinds_from_text(text: str) -> list[dict]:
    """ "family_kit: Family kit = laptop|desktop + mobile_key + charger; …" -> kit kind dicts (the programme form)."""
    out = []
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        head, sep, body = part.partition("=")
        code, _, name = head.partition(":")
        items = [i.strip() for i in body.split("+") if i.strip()]
        if not sep or not items:
            raise ValidationError({"kit_kinds": [gettext("%(part)s: write code: name = device types + accessories",
                                                         part=part.strip())]})
        first = items[0].split("|")
        device_types = (
            [t.strip() for t in first if t.strip() in TYPES] if all(t.strip() in TYPES for t in first) else []
        )
        out.append({"code": code.strip(), "name": name.strip() or code.strip(), "device_types": device_types,
                    "accessory_kinds": items[1:] if device_types else items})
    return out


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
    kit_kind = fields.String(load_default=None, validate=validate.Length(max=40),
                             metadata={"description": "reserve complete kits of this kind of the programme"})
    note = fields.String(load_default=None, validate=validate.Length(max=2000))

    @validates_schema
    def _one_way(self, data, **kwargs):
        if bool(data.get("device_tag")) == bool(data.get("count")):
            raise ValidationError("Give either device_tag, or count and type.", "device_tag")
        if data.get("count") and not (data.get("type") or data.get("kit_kind")):
            raise ValidationError("A bulk reservation needs a device type or a kit kind.", "type")


class ReservationSchema(Schema):
    id = fields.Integer()
    device_tag = fields.Function(lambda r: _tag(r.device_id))
    programme = fields.Nested(OrgRefSchema)
    partner = fields.Nested(OrgRefSchema)
    kit_kind_id = fields.Integer(allow_none=True)
    active = fields.Boolean()
    outcome = fields.String(allow_none=True)
    created_at = fields.DateTime()
    ended_at = fields.DateTime(allow_none=True)


def _tag(device_id):
    return db.session.get(Device, device_id).tag


class AccessoryIn(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    tag = fields.String(load_default=None, validate=validate.Length(max=32))
    serial = fields.String(load_default=None, validate=validate.Length(max=100))
    imei = fields.String(load_default=None, validate=validate.Length(max=20))
    iccid = fields.String(load_default=None, validate=validate.Length(max=24))
    description = fields.String(load_default=None, validate=validate.Length(max=200))
    operator = fields.String(load_default=None, validate=validate.Length(max=100))
    plan_ends_on = fields.Date(load_default=None)


class AccessoryCreateIn(AccessoryIn):
    device_tag = fields.String(load_default=None, validate=validate.Length(max=32))


class AccessoryListArgs(StrictSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))


class KitIn(StrictSchema):
    device_tag = fields.String(required=True, validate=validate.Length(min=1, max=32))
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class NoteIn(StrictSchema):
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class LostIn(StrictSchema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class AccessorySchema(Schema):
    id = fields.Integer()
    kind = fields.Function(lambda a: a.kind.value)
    tag = fields.String(allow_none=True)
    serial = fields.String(allow_none=True)
    imei = fields.String(allow_none=True)
    iccid = fields.String(allow_none=True)
    operator = fields.String(allow_none=True)
    plan_ends_on = fields.Date(allow_none=True)
    description = fields.String(allow_none=True)
    status = fields.Function(lambda a: a.status.value, metadata={"description": ", ".join(STATUSES)})
    device_tag = fields.Function(lambda a: _tag(a.device_id) if a.device_id else None)


class AccessoryEventSchema(Schema):
    seq = fields.Integer()
    type = fields.String()
    device_tag = fields.String(allow_none=True)
    actor_name = fields.String()
    actor_organisation_name = fields.String(allow_none=True)
    server_time = fields.DateTime()
    note = fields.String(allow_none=True)
    details = fields.Function(lambda e: json.loads(e.details or "{}"))
    hash = fields.String()


class StockRowSchema(Schema):
    type = fields.String()
    grade = fields.String(allow_none=True)
    count = fields.Integer()


class KitStockRowSchema(StockRowSchema):
    programme_id = fields.Integer()
    programme = fields.String()
    kit_kind = fields.String()
    name = fields.String()


class StockSchema(Schema):
    programmes = fields.List(fields.Nested(OrgRefSchema))
    devices = fields.List(fields.Nested(StockRowSchema))
    kits = fields.List(fields.Nested(KitStockRowSchema))


class HandoverIn(StrictSchema):
    device_tag = fields.String(required=True, validate=validate.Length(max=32))
    beneficiary_ref = fields.String(required=True, validate=validate.Length(max=64))
    beneficiary_category = fields.String(required=True, validate=validate.Length(max=40))
    handed_over_on = fields.Date(load_default=None)
    loan = fields.Boolean(load_default=False)
    expected_return_on = fields.Date(load_default=None)
    accessory_ids = fields.List(fields.Integer(), load_default=None)
    new_accessories = fields.List(fields.Nested(AccessoryIn), load_default=list)
    kit_kind = fields.String(load_default=None, validate=validate.Length(max=40),
                             metadata={"description": "hand over as a kit of this kind (default: the reservation's)"})
    confirm_second_device = fields.Boolean(load_default=False, metadata={
        "description": "the programme warns when the beneficiary already holds a device: confirm to go on"})
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
    kit_kind = fields.Function(lambda h: h.kit_kind.code if h.kit_kind else None)
    missing_parts = fields.List(fields.String())
    kit_complete = fields.Boolean(allow_none=True)
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
