"""Wiping routes of the JSON API: media, wipe records, imports, the second check, certificates."""
from __future__ import annotations

from flask import Response, current_app, request
from flask_smorest import Blueprint

from ..audit import keys
from ..auth.access import access
from ..auth.session import actor
from ..devices.schemas import MediumSchema
from ..devices.services import get_device
from ..errors import Invalid
from ..i18n import current_language
from . import services
from .certificates import batch_certificate_pdf, device_certificate_pdf
from .schemas import (
    DestructionIn,
    ImportResultSchema,
    MediumCreateIn,
    MediumUpdateIn,
    NoMediaIn,
    NwipeImportForm,
    NwipePlanSchema,
    VerificationIn,
    VerificationSchema,
    WaitingSchema,
    WipeRecordIn,
    WipeRecordSchema,
)

blp = Blueprint("api_wiping", __name__, url_prefix="/api/v1", description="Data wiping evidence and certificates")
BLUEPRINTS = [blp]

WORKSHOP = ("technician", "admin")
READERS = ("technician", "admin", "auditor")
CERTIFICATE_READERS = ("donor", "technician", "admin", "auditor")
MEDIA_WRITERS = ("donor", "technician", "admin")


def _timezone() -> str:
    return current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Paris")


def _signing_key():
    """The audit checkpoint key seals certificates; without one configured they are issued unsealed."""
    try:
        return keys.load_private(current_app.config.get("AUDIT_SIGNING_KEY_PATH"))
    except keys.KeyMissing:
        return None


def _log_timezone(form: dict | None = None) -> str:
    chosen = (form or {}).get("timezone") or request.form.get("timezone")
    return services.log_zone(chosen or current_app.config.get("WIPE_LOG_TIMEZONE", "Europe/Paris")).key


def _uploads(name: str = "files") -> list[tuple[str, bytes]]:
    return [(f.filename or "upload", f.read()) for f in request.files.getlist(name) if f]


def _pdf(data: bytes, filename: str) -> Response:
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# ---------------------------------------------------------------- media


@blp.route("/devices/<tag>/media", methods=["GET"])
@access(*CERTIFICATE_READERS, "coordinator")
@blp.response(200, MediumSchema(many=True))
def list_media(tag):
    """The device's storage media."""
    return get_device(tag, actor=actor()).media


@blp.route("/devices/<tag>/media", methods=["POST"])
@access(*MEDIA_WRITERS)
@blp.arguments(MediumCreateIn)
@blp.response(201, MediumSchema)
def add_medium(data, tag):
    """Describe one more storage medium (until the device is wiped)."""
    return services.add_medium(tag, actor=actor(), **data)


@blp.route("/devices/<tag>/media/<int:medium_id>", methods=["PATCH"])
@access(*MEDIA_WRITERS)
@blp.arguments(MediumUpdateIn)
@blp.response(200, MediumSchema)
def update_medium(data, tag, medium_id):
    """Correct a storage medium's kind, model, serial or capacity (until the device is wiped)."""
    return services.update_medium(tag, medium_id, data, actor=actor())


@blp.route("/devices/<tag>/media/<int:medium_id>", methods=["DELETE"])
@access(*MEDIA_WRITERS)
@blp.response(204)
def remove_medium(tag, medium_id):
    """Remove a medium recorded by mistake (never one with wipe records)."""
    services.remove_medium(tag, medium_id, actor=actor())


# ---------------------------------------------------------------- records


@blp.route("/devices/<tag>/wipe-records", methods=["GET"])
@access(*CERTIFICATE_READERS)
@blp.response(200, WipeRecordSchema(many=True))
def list_records(tag):
    """Every wipe and destruction record of the device, oldest first."""
    return services.wipe_records(get_device(tag, actor=actor()))


@blp.route("/devices/<tag>/wipe-records", methods=["POST"])
@access(*WORKSHOP)
@blp.arguments(WipeRecordIn)
@blp.response(201, WipeRecordSchema)
def add_record(data, tag):
    """Record a wipe typed in by the technician."""
    medium_id = data.pop("medium_id")
    return services.record_manual_wipe(tag, medium_id, actor=actor(), **data)


@blp.route("/devices/<tag>/destructions", methods=["POST"])
@access(*WORKSHOP)
@blp.arguments(DestructionIn)
@blp.response(201, WipeRecordSchema)
def add_destruction(data, tag):
    """Record the physical destruction of a medium (NIST "Destroy")."""
    medium_id = data.pop("medium_id")
    return services.record_destruction(tag, medium_id, actor=actor(), **data)


@blp.route("/devices/<tag>/no-media-statement", methods=["POST"])
@access(*WORKSHOP)
@blp.arguments(NoMediaIn)
@blp.response(201, WaitingSchema)
def no_media(data, tag):
    """State that the device holds no storage medium (checked physically)."""
    device = services.state_no_media(get_device(tag, actor=actor(), for_update=True), actor=actor(), note=data["note"])
    return {"device": device, "media": 0, "cleared": 0}


@blp.route("/wiping/waiting", methods=["GET"])
@access(*READERS)
@blp.response(200, WaitingSchema(many=True))
def waiting():
    """Devices in the workshop still waiting for their wipe, oldest first."""
    return services.waiting_for_wipe(actor=actor())


# ---------------------------------------------------------------- imports


@blp.route("/wipe-imports/nwipe/preview", methods=["POST"])
@access(*WORKSHOP)
@blp.arguments(NwipeImportForm, location="form")
@blp.response(200, NwipePlanSchema)
def preview_nwipe(form):
    """Parse nwipe logs (multipart field `files`, several allowed) and show how each disk would be matched.

    Nothing is written. A log that cannot be read is refused with the line where reading stopped.
    """
    return services.plan_nwipe_import(_uploads(), actor=actor(), assignments=form["assignments"],
                                      overrides=form["overrides"], timezone=_log_timezone(form))


@blp.route("/wipe-imports/nwipe", methods=["POST"])
@access(*WORKSHOP)
@blp.arguments(NwipeImportForm, location="form")
@blp.response(201, ImportResultSchema)
def import_nwipe(form):
    """Record every disk of the logs, all or nothing; 422 lists the disks that still need a medium."""
    records = services.import_nwipe(_uploads(), actor=actor(), assignments=form["assignments"],
                                    overrides=form["overrides"], timezone=_log_timezone(form))
    return {"records": records}


@blp.route("/wipe-imports/csv", methods=["POST"])
@access(*WORKSHOP)
@blp.response(201, ImportResultSchema)
def import_csv():
    """Wipe results of another tool as CSV (multipart field `file`, optional `timezone`); every error is listed
    by row and column. Rows already recorded are skipped (listed in `skipped_rows`): a file imported twice
    records nothing the second time."""
    uploads = _uploads("file")
    if not uploads:
        raise Invalid("Choose a CSV file.", details={"file": ["required"]})
    filename, data = uploads[0]
    done = services.import_wipe_csv(data, filename, actor=actor(), timezone=_log_timezone())
    return {"records": done, "skipped_rows": done.skipped}


# ---------------------------------------------------------------- second-person check


@blp.route("/wipe-verifications", methods=["GET"])
@access(*READERS)
@blp.response(200, VerificationSchema(many=True))
def pending_checks():
    """Wiped devices picked for a second technician's check, still pending."""
    return [check for check, _device in services.pending_verifications(actor=actor())]


@blp.route("/devices/<tag>/wipe-verification", methods=["POST"])
@access(*WORKSHOP)
@blp.arguments(VerificationIn)
@blp.response(200, VerificationSchema)
def verify(data, tag):
    """Confirm or refuse a picked device's wipe; refused (409) for whoever wiped it."""
    return services.verify_wipe(tag, actor=actor(), confirmed=data["confirmed"], note=data["note"])


# ---------------------------------------------------------------- certificates and evidence


@blp.route("/devices/<tag>/wipe-certificate.pdf", methods=["GET"])
@access(*CERTIFICATE_READERS)
@blp.response(200, content_type="application/pdf")
def device_certificate(tag):
    """The device's certificate of sanitisation (PDF); another donor's device is 404."""
    ev = services.certificate_for_device(tag, actor=actor())
    # Who sanitised comes from the wipe records, never from whoever holds the device now.
    data = device_certificate_pdf(ev, chain_head=services.chain_head(), lang=current_language(),
                                  timezone=_timezone(), config=current_app.config, signing_key=_signing_key())
    return _pdf(data, f"certificat-effacement-{ev.device.tag}.pdf")


@blp.route("/batches/<int:batch_id>/wipe-certificate.pdf", methods=["GET"])
@access(*CERTIFICATE_READERS)
@blp.response(200, content_type="application/pdf")
def batch_certificate(batch_id):
    """The batch's certificate of sanitisation (PDF): every device with its outcome, and what is pending."""
    batch, evidence = services.certificate_for_batch(batch_id, actor=actor())
    data = batch_certificate_pdf(batch, evidence, chain_head=services.chain_head(), lang=current_language(),
                                 timezone=_timezone(), config=current_app.config, signing_key=_signing_key())
    return _pdf(data, f"certificat-effacement-lot-{batch.id}.pdf")


@blp.route("/evidence/<sha256>", methods=["GET"])
@access(*CERTIFICATE_READERS)
@blp.response(200, content_type="application/octet-stream")
def evidence(sha256):
    """The raw evidence file as uploaded (its SHA-256 is its name)."""
    ev = services.get_evidence(sha256, actor=actor())
    return Response(ev.content, mimetype=ev.content_type,
                    headers={"Content-Disposition": f'attachment; filename="{ev.sha256[:16]}-evidence.txt"'})
