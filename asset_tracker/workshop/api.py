"""Scanning-station routes of the JSON API: POST /api/v1/scans and the undo of a scan."""
from __future__ import annotations

from flask import jsonify
from flask_smorest import Blueprint

from ..auth.access import access
from ..auth.session import actor
from ..i18n import current_language
from . import services
from .schemas import ScanIn, ScanRefusalSchema, ScanResultSchema, UndoIn

blp = Blueprint("api_workshop", __name__, url_prefix="/api/v1/scans",
                description="The scanning station: one scanned code, one station action")
BLUEPRINTS = [blp]
STATION_ROLES = ("technician", "admin")
RESULT = ScanResultSchema()  # one instance: building nested schemas per request costs more than the dump


def respond(answer: services.ScanAnswer):
    """200 with the ScanResult, or the error envelope whose details are the ScanResult."""
    result = RESULT.dump(answer.body)
    if answer.ok:
        resp = jsonify(result)
    else:
        resp = jsonify({"error": {"code": result["code"], "message": result["message"], "details": result}})
    resp.status_code = answer.status
    return resp


@blp.route("", methods=["POST"])
@access(*STATION_ROLES)
@blp.arguments(ScanIn)
@blp.response(200, ScanResultSchema)
@blp.alt_response(404, schema=ScanRefusalSchema, description="Unknown code, or a device outside your scope.")
@blp.alt_response(409, schema=ScanRefusalSchema, description="Refused by the lifecycle or a guard, a concurrent "
                  "scan of the same device won, or the scan id was already used for another payload.")
@blp.alt_response(422, schema=ScanRefusalSchema, description="Invalid input: wrong check character, missing value "
                  "for the action, unknown or server-owned field.")
def scan(data):
    """Apply a station action to the scanned device and say what happened, or why not.

    Body: `{"code", "action", "scan_id", "scanned_at", "station"}` plus the action's value
    (`verdict` for diagnose, `grade` for ready, `programme_id` and `partner_organisation_id` for reserve,
    `recycler_organisation_id` for recycle). A retried `scan_id` returns the first answer, refusal included.
    """
    code, action = data.pop("code"), data.pop("action")
    current_language()  # settle the reader's language before the scan commits (it reads the user)
    return respond(services.handle_scan(code, action, actor=actor(), **data))


@blp.route("/<scan_id>/undo", methods=["POST"])
@access(*STATION_ROLES)
@blp.arguments(UndoIn)
@blp.response(200, ScanResultSchema)
@blp.alt_response(404, schema=ScanRefusalSchema, description="No such scan of yours.")
@blp.alt_response(409, schema=ScanRefusalSchema, description="The lifecycle does not allow going back, or the device "
                  "has moved on since.")
def undo(data, scan_id):
    """Undo an applied scan by moving the device back where the lifecycle allows it (a new custody event)."""
    return respond(services.undo_scan(scan_id, actor=actor(), **data))
