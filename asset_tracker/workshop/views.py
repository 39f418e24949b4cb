"""The scanning-station page: a plain form without JavaScript, a fast page calling the API with it."""
from __future__ import annotations

import time
import uuid

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ..auth.access import access
from ..auth.session import actor
from ..lifecycle import N_
from . import services
from .schemas import ScanIn, ScanResultSchema, UndoIn

bp = Blueprint("workshop", __name__, url_prefix="/workshop")
NAV = [("workshop.station", N_("Scanning station"), ("technician", "admin"), 20, "workshop")]
STATION_ROLES = ("technician", "admin")
SETTINGS = ("action", "station") + services.VALUE_FIELDS
KEEP_SCANS = 25  # scan ids kept in the session for the running list
DUPLICATE_WINDOW = 2.0  # seconds: the same code scanned again this soon is a double read


@bp.route("/station")
@access(*STATION_ROLES)
def station():
    settings = session.get("station_settings") or {"action": "receive"}
    ids = session.get("station_scans") or []
    history = [ScanResultSchema().dump(body) for body in services.recent_answers(ids, actor=actor())]
    last = history[0] if history and session.get("station_show_last") else None
    session.pop("station_show_last", None)
    return render_template(
        "workshop/station.html", settings=settings, history=history, last=last, scan_id=uuid.uuid4().hex,
        actions=services.ACTIONS, choices=services.station_choices(), ignored=session.pop("station_ignored", None),
        texts=_js_texts())


@bp.route("/station", methods=["POST"])
@access(*STATION_ROLES)
def scan():
    """The no-JavaScript path: one scan, then back to the page (POST, redirect, GET)."""
    form = {k: v for k, v in request.form.items() if k in ("code", "scan_id", "scanned_at") + SETTINGS and v != ""}
    settings = {k: form[k] for k in SETTINGS if k in form}
    session["station_settings"] = settings
    code = form.get("code", "").strip()
    last = session.get("station_last_code")
    if code and last and last[0] == code and time.time() - last[1] < DUPLICATE_WINDOW:
        session["station_ignored"] = code
        return redirect(url_for("workshop.station"))
    session["station_last_code"] = (code, time.time())
    data = ScanIn().load({k: v for k, v in form.items() if k in ScanIn().fields})
    answer = services.handle_scan(data.pop("code"), data.pop("action"), actor=actor(), **data)
    _remember_scan(answer.body["scan_id"])
    return redirect(url_for("workshop.station"))


@bp.route("/station/undo", methods=["POST"])
@access(*STATION_ROLES)
def undo():
    scan_id = request.form.get("scan_id", "")
    data = UndoIn().load({k: v for k, v in request.form.items() if k == "station" and v})
    services.undo_scan(scan_id, actor=actor(), **data)
    _remember_scan("undo:" + scan_id)
    return redirect(url_for("workshop.station"))


def _remember_scan(key: str) -> None:
    ids = [key] + [i for i in session.get("station_scans", []) if i != key]
    session["station_scans"] = ids[:KEEP_SCANS]
    session["station_show_last"] = True


def _js_texts() -> dict:
    """Words the station's script shows by itself (the server's answers come translated)."""
    return {
        "pending": _("Saved on this computer: it will be sent when the connection returns."),
        "offline": _("Connection lost: scans are kept on this computer and sent in order when it returns."),
        "queued": _("waiting to be sent"),
        "sending": _("Sending…"),
        "back_online": _("Connection back: every waiting scan was sent."),
        "duplicate": _("Same code read twice: the second read was ignored."),
        "undo": _("Undo"),
        "undone": _("undone"),
        "nothing": _("Scan a code first."),
        "camera_error": _("The camera cannot be used here."),
        "camera_stop": _("Stop the camera"),
        "camera_start": _("Use the camera"),
        "error": _("The server did not answer as expected. The scan is kept and will be sent again."),
        "refused": _("Refused"),
        "applied": _("Done"),
        "looked_up": _("Looked up"),
        "unchanged": _("No change"),
        "actions": {name: _(a.label) for name, a in services.ACTIONS.items()},
    }
