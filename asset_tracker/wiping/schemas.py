"""Wiping contracts: records, media and imports out; one input schema per action."""
from __future__ import annotations

import json

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from ..schemas import MAX_INT, PatchSchema, StrictSchema
from .models import NistCategory, WipeResult
from .services import DESTRUCTION_METHODS

KINDS = ["hdd", "ssd", "nvme", "emmc", "other"]


class EvidenceRefSchema(Schema):
    sha256 = fields.String()
    filename = fields.String()
    size = fields.Integer()


class WipeRecordSchema(Schema):
    id = fields.Integer()
    medium_id = fields.Integer()
    result = fields.Function(lambda r: r.result.value)
    nist_category = fields.Function(lambda r: r.nist_category.value)
    method = fields.String()
    tool = fields.String(allow_none=True)
    tool_version = fields.String(allow_none=True)
    passes = fields.Integer(allow_none=True)
    pattern = fields.String(allow_none=True)
    verification = fields.String(allow_none=True)
    started_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    bytes_erased = fields.Integer(allow_none=True)
    operator_name = fields.String()
    operator_title = fields.String()
    operator_organisation = fields.Function(lambda r: r.operator_organisation.name if r.operator_organisation else None)
    unverified = fields.Boolean()
    override_reason = fields.String(allow_none=True)
    source = fields.String()
    evidence = fields.Nested(EvidenceRefSchema, allow_none=True)
    details = fields.Dict()
    recorded_at = fields.DateTime()


class MediumCreateIn(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    model = fields.String(load_default=None, validate=validate.Length(max=200))
    serial = fields.String(load_default=None, validate=validate.Length(max=100))
    capacity_bytes = fields.Integer(load_default=None, validate=validate.Range(min=0))


class MediumUpdateIn(PatchSchema):
    kind = fields.String(validate=validate.OneOf(KINDS))
    model = fields.String(allow_none=True, validate=validate.Length(max=200))
    serial = fields.String(allow_none=True, validate=validate.Length(max=100))
    capacity_bytes = fields.Integer(allow_none=True, validate=validate.Range(min=0))


class WipeRecordIn(StrictSchema):
    """A wipe typed in by the technician (nwipe and CSV results come through the imports)."""

    medium_id = fields.Integer(required=True)
    result = fields.String(required=True, validate=validate.OneOf([r.value for r in WipeResult]))
    nist_category = fields.String(required=True, validate=validate.OneOf(
        [c.value for c in NistCategory if c != NistCategory.DESTROY]))
    method = fields.String(required=True, validate=validate.Length(min=1, max=200))
    tool = fields.String(load_default=None, validate=validate.Length(max=100))
    tool_version = fields.String(load_default=None, validate=validate.Length(max=50))
    passes = fields.Integer(load_default=None, validate=validate.Range(min=0, max=100))
    pattern = fields.String(load_default=None, validate=validate.Length(max=100))
    verification = fields.String(load_default=None, validate=validate.Length(max=100))
    started_at = fields.AwareDateTime(load_default=None)
    ended_at = fields.AwareDateTime(required=True)

    @validates_schema
    def _passed_needs_verification(self, data, **kwargs):
        if data.get("result") == "passed" and not (data.get("verification") or "").strip():
            raise ValidationError("A passing wipe says how it was verified.", "verification")


class DestructionIn(StrictSchema):
    medium_id = fields.Integer(required=True)
    method = fields.String(required=True, validate=validate.OneOf(DESTRUCTION_METHODS))
    destroyed_at = fields.AwareDateTime(required=True)
    tool = fields.String(load_default=None, validate=validate.Length(max=100))
    reference = fields.String(load_default=None, validate=validate.Length(max=200))
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class NoMediaIn(StrictSchema):
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class VerificationIn(StrictSchema):
    confirmed = fields.Boolean(required=True)
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class NwipeImportForm(StrictSchema):
    """Form fields sent with the log files (multipart): the technician's choices per disk key."""

    assignments = fields.String(load_default="{}", metadata={
        "description": 'JSON object: disk key -> medium id, or "skip" (keys come from the preview)'})
    overrides = fields.String(load_default="{}", metadata={
        "description": "JSON object: disk key -> the technician's written reason to record a log whose serial or "
                       "size does not match the medium (printed on the certificate)"})
    timezone = fields.String(load_default=None, validate=validate.Length(max=64), metadata={
        "description": "Time zone of the wiping station's clock, e.g. Europe/Paris or UTC (default: "
                       "WIPE_LOG_TIMEZONE)"})

    @validates_schema
    def _json(self, data, **kwargs):
        for name in ("assignments", "overrides"):
            try:
                value = json.loads(data.get(name) or "{}")
            except (ValueError, RecursionError):
                raise ValidationError("Not JSON.", name) from None
            if not isinstance(value, dict):
                raise ValidationError("A JSON object is expected.", name)
        for key, chosen in json.loads(data.get("assignments") or "{}").items():
            if chosen in ("skip", "", None):
                continue
            if isinstance(chosen, bool) or not str(chosen).isdecimal() or not 0 < int(chosen) <= MAX_INT:
                raise ValidationError(f'{key}: a medium id or "skip" is expected.', "assignments")

    @post_load
    def _parsed(self, data, **kwargs):
        # An empty field means no choice yet, like a missing one.
        for name in ("assignments", "overrides"):
            data[name] = json.loads(data.get(name) or "{}")
        return data


class CandidateSchema(Schema):
    medium_id = fields.Integer(attribute="id")
    device_tag = fields.Function(lambda m: m.device.tag)
    kind = fields.Function(lambda m: m.kind.value)
    serial = fields.String(allow_none=True)
    capacity_bytes = fields.Integer(allow_none=True)


class DiskPlanSchema(Schema):
    key = fields.String()
    filename = fields.String()
    sha256 = fields.String()
    device_path = fields.Function(lambda d: d.disk.device)
    model = fields.Function(lambda d: d.disk.model)
    serial = fields.Function(lambda d: d.disk.serial)
    serial_readable = fields.Function(lambda d: d.disk.serial_readable)
    size_bytes = fields.Function(lambda d: d.disk.size_bytes)
    method = fields.Function(lambda d: d.disk.method)
    nist_category = fields.Function(lambda d: d.disk.nist_category)
    verification = fields.Function(lambda d: d.disk.verification)
    nwipe_status = fields.Function(lambda d: d.disk.raw_status)
    result = fields.String()
    concerns = fields.Function(lambda d: list(d.disk.concerns))
    medium_id = fields.Function(lambda d: d.medium.id if d.medium else None)
    device_tag = fields.Function(lambda d: d.device.tag if d.device else None)
    matched_by = fields.String(attribute="how", allow_none=True)
    problem = fields.String(allow_none=True)
    used_by = fields.String(allow_none=True, metadata={"description": "device whose medium this disk section cleared"})
    mismatches = fields.List(fields.String())
    override = fields.String(allow_none=True)
    identity_from_log = fields.Function(lambda d: sorted(d.adopt))
    started_at = fields.DateTime(allow_none=True)
    ended_at = fields.DateTime(allow_none=True)
    before_reception = fields.Boolean()
    skip = fields.Boolean()
    candidates = fields.List(fields.Nested(CandidateSchema))


class NwipePlanSchema(Schema):
    disks = fields.List(fields.Nested(DiskPlanSchema))
    ready = fields.Function(lambda p: not p.unresolved)


class ImportResultSchema(Schema):
    records = fields.List(fields.Nested(WipeRecordSchema))
    skipped_rows = fields.List(fields.Integer(), metadata={"description": "CSV rows already recorded, skipped"})


class VerificationSchema(Schema):
    id = fields.Integer()
    device_id = fields.Integer()
    status = fields.Function(lambda v: v.status.value)
    selected_at = fields.DateTime()
    score = fields.Float()
    share = fields.Float()
    wiped_by_name = fields.String()
    verified_by_name = fields.String(allow_none=True)
    verified_at = fields.DateTime(allow_none=True)
    note = fields.String(allow_none=True)


class WaitingSchema(Schema):
    tag = fields.Function(lambda w: w["device"].tag)
    state = fields.Function(lambda w: w["device"].state.value)
    state_since = fields.Function(lambda w: w["device"].state_since.isoformat())
    media = fields.Integer()
    cleared = fields.Integer()
