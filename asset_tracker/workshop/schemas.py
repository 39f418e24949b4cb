"""Scanning-station contracts: ScanIn and UndoIn in, ScanResultSchema out (translated when dumped)."""
from __future__ import annotations

from flask_babel import gettext
from marshmallow import Schema, fields, validate

from .. import lifecycle
from ..i18n import current_language
from ..lifecycle import Grade, Verdict
from ..schemas import StrictSchema
from .services import ACTION_NAMES

SCAN_ID = validate.And(validate.Length(min=8, max=100), validate.Regexp(r"^[A-Za-z0-9._:\-]+$",
                                                                         error="letters, digits and . _ : - only"))


class ScanIn(StrictSchema):
    """One scan. The action's value (verdict, grade, programme and partner, recycler) comes with every scan."""

    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={
            "description": "What the scanner typed: an asset tag, a serial number or an IMEI "
            "(a tag garbled by a US scanner on an AZERTY keyboard is recovered)."
        },
    )
    action = fields.String(
        required=True,
        validate=validate.OneOf(ACTION_NAMES),
        metadata={
            "description": "Station action: receive, diagnose, wipe, refurbish, ready, reserve, "
            "recycle or lookup (the target state names are accepted too)."
        },
    )
    scan_id = fields.String(
        required=True,
        validate=SCAN_ID,
        metadata={
            "description": "Client-made id: a retry with the same id returns the first answer "
            "and changes nothing; another payload under it is refused (409)."
        },
    )
    scanned_at = fields.AwareDateTime(load_default=None,
                                      metadata={"description": "Scanner-side time (ISO 8601 with offset)."})
    station = fields.String(load_default=None, validate=validate.Length(max=100),
                            metadata={"description": "Station name, kept in the custody event."})
    verdict = fields.String(load_default=None, validate=validate.OneOf([v.value for v in Verdict]),
                            metadata={"description": "diagnose: refurbish, parts or recycle."})
    grade = fields.String(load_default=None, validate=validate.OneOf([g.value for g in Grade]),
                          metadata={"description": "ready: A, B or C."})
    programme_id = fields.Integer(load_default=None, metadata={"description": "reserve: the programme."})
    partner_organisation_id = fields.Integer(load_default=None, metadata={"description": "reserve: the partner."})
    recycler_organisation_id = fields.Integer(load_default=None, metadata={"description": "recycle: the recycler."})
    disposal_reference = fields.String(load_default=None, validate=validate.Length(max=200))
    batch_id = fields.Integer(load_default=None, metadata={"description": "receive: the batch being received."})
    note = fields.String(load_default=None, validate=validate.Length(max=2000))


class UndoIn(StrictSchema):
    station = fields.String(load_default=None, validate=validate.Length(max=100))
    undone_at = fields.AwareDateTime(load_default=None)


STATE_PARAMS = ("state", "before", "after", "source", "target", "allowed")


def _lang() -> str:
    return current_language()


def translate(message_id: str | None, params: dict | None = None) -> str | None:
    """An English msgid in the reader's language, states shown by their labels."""
    if not message_id:
        return None
    params = dict(params or {})
    for key in STATE_PARAMS:
        value = params.get(key)
        parts = [p.strip() for p in value.split(",")] if isinstance(value, str) else []
        if parts and all(p in lifecycle.State._value2member_map_ for p in parts):
            # "lost, returned" (the allowed next steps) is shown as the states' labels too.
            labels = [lifecycle.label(p, _lang()) for p in parts]
            params[key] = labels[0] if len(labels) == 1 else ", ".join(label.lower() for label in labels)
    text = gettext(message_id)
    try:
        return text % params if params else text
    except (KeyError, TypeError, ValueError):
        return message_id % params if params else message_id


class ReadingSchema(Schema):
    typed = fields.String(metadata={"description": "What the scanner typed."})
    read = fields.String(allow_none=True, metadata={"description": "The tag it designates."})
    how = fields.String(allow_none=True, metadata={"description": "tag, serial, imei or azerty (recovered)."})


class ScanDeviceSchema(Schema):
    tag = fields.String()
    type = fields.String()
    brand = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    serial = fields.String(allow_none=True)
    imei = fields.String(allow_none=True)
    state = fields.String()
    state_label = fields.Function(lambda d: lifecycle.label(d["state"], _lang()))
    verdict = fields.String(allow_none=True)
    grade = fields.String(allow_none=True)
    donor = fields.String(allow_none=True)
    batch_id = fields.Integer(allow_none=True)


class UndoStatusSchema(Schema):
    possible = fields.Boolean()
    reason = fields.Function(lambda u: translate(u.get("reason_id"), u.get("params")))


class ScanResultSchema(Schema):
    """What happened to a scan, or why not, in the reader's language, with a stable machine code."""

    scan_id = fields.String()
    action = fields.String()
    outcome = fields.String(metadata={"description": "applied, looked_up, unchanged, undone or refused."})
    code = fields.String(metadata={"description": "Stable machine code: applied, looked_up, undone, or the refusal's "
                                                  "code (transition_not_allowed, wipe_evidence_missing, "
                                                  "concurrent_change, tag_check_failed, unknown_code...)."})
    message = fields.Function(lambda r: translate(r.get("message_id"), r.get("message_params")))
    next_step = fields.Function(lambda r: translate(r.get("next_step_id")))
    recovered = fields.Function(lambda r: translate(r.get("recovered_id"), r.get("message_params")),
                                metadata={"description": "Set when the code was recovered from a layout mix-up."})
    problems = fields.Dict(metadata={"description": "For a refusal: the fields or facts at fault."})
    input = fields.String()
    reading = fields.Nested(ReadingSchema, allow_none=True)
    device = fields.Nested(ScanDeviceSchema, allow_none=True)
    state_before = fields.String(allow_none=True)
    state_after = fields.String(allow_none=True)
    undo = fields.Nested(UndoStatusSchema)
    station = fields.String(allow_none=True)
    client_time = fields.String(allow_none=True)
    server_time = fields.String()
    replayed = fields.Boolean(metadata={"description": "True when this is the stored answer of an earlier request."})


class ScanRefusalSchema(Schema):
    error = fields.Dict(metadata={"description": "{code, message, details}: details is the ScanResult."})
