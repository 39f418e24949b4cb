"""Audit routes of the JSON API: streamed exports, checkpoints and the public key."""
from __future__ import annotations

from flask import Response, current_app, g, stream_with_context
from flask_smorest import Blueprint
from marshmallow import fields, pre_load, validate

from ..auth.access import ROLES, access
from ..auth.session import actor
from ..devices.filters import DeviceFilter
from ..devices.schemas import DeviceListArgs
from ..errors import NotFound
from ..extensions import db
from ..schemas import StrictSchema
from . import exports, services

blp = Blueprint("api_audit_exports", __name__, url_prefix="/api/v1/audit",
                description="Exports, signed checkpoints of the custody chain and their public key")
BLUEPRINTS = [blp]

MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class _DropEmpty:
    """Forms send empty fields for "all": they mean no filter, not an invalid value."""

    @pre_load
    def _drop_empty(self, data, **kwargs):
        out = {}
        for key in data:
            values = [v for v in (data.getlist(key) if hasattr(data, "getlist") else [data[key]]) if v != ""]
            if not values:
                continue
            field = self.fields.get(key)
            out[key] = values if isinstance(field, fields.List) else values[-1]
        return out


class EventExportArgs(_DropEmpty, StrictSchema):
    device = fields.String(load_default=None, validate=validate.Length(max=32))
    type = fields.String(load_default=None, validate=validate.Length(max=40))
    since = fields.Date(load_default=None)
    until = fields.Date(load_default=None)


class DeviceExportArgs(_DropEmpty, DeviceListArgs):
    pass


class BatchExportArgs(StrictSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(["open", "collected", "received", "closed"]))
    donor = fields.Integer(load_default=None)


def _key_path() -> str:
    return current_app.config["AUDIT_SIGNING_KEY_PATH"]


def _chunk() -> int:
    return int(current_app.config.get("EXPORT_CHUNK_ROWS", 5000))


def _format(fmt: str, allowed=("csv", "jsonl", "xlsx")) -> str:
    if fmt not in allowed:
        raise NotFound("No export format %(format)s (use %(allowed)s).", format=fmt, allowed=", ".join(allowed))
    return fmt


def streamed(export: exports.Export, fmt: str, filters: dict, filename: str | None = None) -> Response:
    """Record the export in the custody log (committed first), then stream it."""
    who = actor()
    # A GET runs in a deferred read-only transaction (SQLite); the export event is written in a fresh one.
    db.session.commit()
    services.record_export(export.name, fmt, filters, actor=who)
    if fmt == "csv":
        body = exports.stream_csv(export)
    elif fmt == "jsonl":
        body = exports.stream_jsonl(export)
    else:
        body = exports.stream_xlsx(export)
    name = filename or f"{export.name}.{fmt}"
    return Response(stream_with_context(_aborting(body, name)), mimetype=MIMETYPES[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store",
                             "X-Accel-Buffering": "no"})


def _aborting(body, name: str):
    """Pass the export through; a failure once bytes are sent is logged and raised on to the server, which then
    drops the connection without the chunked encoding's last chunk, so the client sees a cut transfer, not a
    complete-looking file (the status line has already said 200)."""
    sent = 0
    request_id = g.get("request_id", "")
    try:
        for block in body:
            sent += len(block)
            yield block
    except Exception:
        current_app.logger.exception("export %s failed after %s bytes (request %s): transfer aborted",
                                     name, sent, request_id)
        raise


def _dialect() -> str:
    return db.engine.dialect.name


@blp.route("/events.<fmt>", methods=["GET"])
@access(*ROLES)
@blp.arguments(EventExportArgs, location="query", as_kwargs=True)
@blp.doc(responses={"200": {"description": "Custody events in chain order, streamed"}})
def export_events(fmt, **args):
    """Custody events (every hashed field) as CSV or JSON Lines; auditors get all, others their scope."""
    _format(fmt, ("csv", "jsonl"))
    export = exports.events_export(actor=actor(), chunk=_chunk(), dialect=_dialect(), **args)
    return streamed(export, fmt, {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in args.items()})


@blp.route("/devices.<fmt>", methods=["GET"])
@access(*ROLES)
@blp.arguments(DeviceExportArgs, location="query", as_kwargs=True)
@blp.doc(responses={"200": {"description": "Devices with their current state, streamed"}})
def export_devices(fmt, page, per_page, **args):
    """Devices in your scope with their current state, filtered like the device list."""
    _format(fmt)
    f = DeviceFilter.from_args(args)
    export = exports.devices_export(f, actor=actor(), rules=current_app.config["REMINDER_RULES"], chunk=_chunk())
    return streamed(export, fmt, dict(f.__dict__))


@blp.route("/wipes.<fmt>", methods=["GET"])
@access(*ROLES)
@blp.arguments(DeviceExportArgs, location="query", as_kwargs=True)
@blp.doc(responses={"200": {"description": "Wipe records, streamed"}})
def export_wipes(fmt, page, per_page, **args):
    """Wipe records (medium, NIST category, tool, evidence file SHA-256) of the devices the filter selects."""
    _format(fmt)
    f = DeviceFilter.from_args(args)
    export = exports.wipes_export(f, actor=actor(), rules=current_app.config["REMINDER_RULES"], chunk=_chunk())
    return streamed(export, fmt, dict(f.__dict__))


@blp.route("/batches.<fmt>", methods=["GET"])
@access("donor", "technician", "auditor", "admin")
@blp.arguments(BatchExportArgs, location="query", as_kwargs=True)
@blp.doc(responses={"200": {"description": "Collection batches with their counts, streamed"}})
def export_batches(fmt, **args):
    """Collection batches in your scope with declared, logged and received counts."""
    _format(fmt)
    export = exports.batches_export(actor=actor(), chunk=_chunk(), **args)
    return streamed(export, fmt, args)


@blp.route("/checkpoints.jsonl", methods=["GET"])
@access("auditor", "admin")
@blp.doc(responses={"200": {"description": "Every signed checkpoint, oldest first (JSON Lines)"}})
def checkpoints_file():
    """The signed checkpoints: seq, head_hash, signed_at, key_id, signature (base64 Ed25519)."""
    return Response("".join(services.iter_checkpoint_lines()), mimetype=MIMETYPES["jsonl"],
                    headers={"Content-Disposition": 'attachment; filename="checkpoints.jsonl"',
                             "Cache-Control": "no-store"})


@blp.route("/public-key.pem", methods=["GET"])
@access("auditor", "admin")
@blp.doc(responses={"200": {"description": "The Ed25519 public key of the checkpoints (PEM)"}})
def public_key():
    """The public key that verifies the checkpoints (keep your own copy: it should never change silently)."""
    return Response(services.public_key_pem(key_path=_key_path()), mimetype="application/x-pem-file",
                    headers={"Content-Disposition": 'attachment; filename="reboot-tracker-checkpoints.pub.pem"'})


@blp.route("/checkpoints", methods=["POST"])
@access("admin")
@blp.response(201)
def sign_checkpoint():
    """Verify the chain and sign its head now (the scheduler also does it every night)."""
    return services.checkpoint_dict(services.sign_checkpoint(actor=actor(), key_path=_key_path()))


@blp.route("/checkpoints/verify", methods=["GET"])
@access("auditor", "admin")
@blp.response(200)
def verify_checkpoints():
    """Every stored checkpoint checked against the chain with the configured public key."""
    report = services.verify_stored_checkpoints(key_path=_key_path())
    if report is None:
        return {"ok": None, "message": "no checkpoint key is configured"}
    return report.as_dict()
