"""Batch routes of the JSON API: batches, imports, collection, reception, reconciliation, closing, slip."""
from __future__ import annotations

from flask import Response, current_app, request
from flask_babel import gettext
from flask_smorest import Blueprint

from ..auth.access import access
from ..auth.session import actor
from ..devices.schemas import DevicePageSchema
from ..errors import Invalid
from ..i18n import current_language
from ..schemas import PageArgs
from . import services
from .schemas import (
    BatchCreateIn,
    BatchListArgs,
    BatchSchema,
    BatchUpdateIn,
    CloseIn,
    CollectIn,
    ExplainIn,
    ExplanationSchema,
    ImportIn,
    ReceiveIn,
    ReceptionSchema,
    ReconciliationSchema,
)
from .slip import slip_pdf

blp = Blueprint("api_batches", __name__, url_prefix="/api/v1/batches",
                description="Collection batches: donor import, collection, reception, reconciliation, hand-over slip")
BLUEPRINTS = [blp]

READERS = ("donor", "technician", "auditor", "admin")
WORKSHOP = ("technician", "admin")


def with_progress(batches):
    counts = services.progress([b.id for b in batches])
    for b in batches:
        b.progress = counts.get(b.id, {})
    return batches


@blp.route("", methods=["GET"])
@access(*READERS)
@blp.arguments(BatchListArgs, location="query", as_kwargs=True)
@blp.response(200, BatchSchema(many=True))
def list_batches(status, donor):
    """Batches in your scope (a donor sees its own), newest first, with their devices per state."""
    return with_progress(services.list_batches(actor=actor(), status=status, donor=donor))


@blp.route("", methods=["POST"])
@access("donor", "technician", "admin")
@blp.arguments(BatchCreateIn)
@blp.response(201, BatchSchema)
def create_batch(data):
    """Open a collection batch (a donor's own organisation; technicians and admins name the donor)."""
    return services.create_batch(actor=actor(), **data)


@blp.route("/<int:batch_id>", methods=["GET"])
@access(*READERS)
@blp.response(200, BatchSchema)
def get_batch(batch_id):
    """One batch (404 outside your scope)."""
    return with_progress([services.get_batch(batch_id, actor=actor())])[0]


@blp.route("/<int:batch_id>", methods=["PATCH"])
@access("donor", "technician", "admin")
@blp.arguments(BatchUpdateIn)
@blp.response(200, BatchSchema)
def update_batch(data, batch_id):
    """Change the batch's name, pickup date, declared counts, contact, notes or per-unit value (until it is
    collected for a donor), or the donation slip's details: the donor's disposal decision (reference and date)
    and the signatories (name and title) of the donor and of the workshop, which stay editable until the slip
    is signed, also on a closed batch."""
    return services.update_batch(batch_id, data, actor=actor())


@blp.route("/<int:batch_id>/devices", methods=["GET"])
@access(*READERS)
@blp.arguments(PageArgs, location="query", as_kwargs=True)
@blp.response(200, DevicePageSchema)
def batch_devices(batch_id, page, per_page):
    """The devices logged in the batch, a page at a time (`page`, `per_page`; `total` counts them all)."""
    items, total = services.batch_devices(batch_id, actor=actor(), page=page, per_page=per_page)
    return {"items": items, "page": page, "per_page": per_page, "total": total}


@blp.route("/<int:batch_id>/imports", methods=["POST"])
@access("donor", "technician", "admin")
@blp.arguments(ImportIn, location="form")
@blp.response(201)
def import_devices(data, batch_id):
    """Import devices from a CSV or XLSX file (multipart field `file`).

    `mode=all` (default) imports nothing when a row is invalid; `mode=valid_only` imports the valid rows.
    Every error names its row and column. The same file uploaded again imports nothing; a retry with the
    same `client_id` returns the first answer.
    """
    upload = request.files.get("file")
    if upload is None:
        raise Invalid("Attach the file to import (multipart field \"file\").", details={"file": ["required"]})
    result = services.import_file(batch_id, upload.read(), actor=actor(), filename=upload.filename,
                                  mode=data["mode"], client_id=data["client_id"],
                                  **services.import_settings(current_app.config))
    body = result.as_dict(gettext)
    if result.status == "rejected":
        raise Invalid("%(count)s rows have errors: nothing was imported. Fix them and upload the file again, "
                      "or import only the valid rows.", count=result.invalid_rows, code="import_rejected",
                      details=body)
    return body, 201 if result.created else 200


@blp.route("/<int:batch_id>/collect", methods=["POST"])
@access(*WORKSHOP)
@blp.arguments(CollectIn)
@blp.response(200, BatchSchema)
def collect(data, batch_id):
    """The pickup: every registered device of the batch becomes `collected`, in the workshop's custody."""
    return services.collect_batch(batch_id, actor=actor(), **data)


@blp.route("/<int:batch_id>/receipts", methods=["POST"])
@access(*WORKSHOP)
@blp.arguments(ReceiveIn)
@blp.response(200, ReceptionSchema)
def receive(data, batch_id):
    """Scan a device in while receiving this batch (by tag, serial number or IMEI)."""
    code = data.pop("code")
    reception = services.receive_device(code, actor=actor(), batch_id=batch_id, **data)
    reception.message = gettext(reception.message) % reception.params
    return reception


@blp.route("/<int:batch_id>/reconciliation", methods=["GET"])
@access(*READERS)
@blp.response(200, ReconciliationSchema)
def reconciliation(batch_id):
    """Expected-not-received, received-not-expected, and counts by type: declared, logged, received."""
    return services.reconciliation(batch_id, actor=actor())


@blp.route("/<int:batch_id>/explanations", methods=["POST"])
@access(*WORKSHOP)
@blp.arguments(ExplainIn)
@blp.response(201, ExplanationSchema)
def explain(data, batch_id):
    """Explain one discrepancy: a note, or declaring a missing device lost."""
    return services.explain(batch_id, data["tag"], actor=actor(), note=data["note"],
                            declare_lost=data["declare_lost"])


@blp.route("/<int:batch_id>/close", methods=["POST"])
@access(*WORKSHOP)
@blp.arguments(CloseIn)
@blp.response(200, ReconciliationSchema)
def close(data, batch_id):
    """Close the batch; refused (409) while a discrepancy is unexplained."""
    return services.close_batch(batch_id, actor=actor(), note=data["note"])


@blp.route("/<int:batch_id>/slip.pdf", methods=["GET"])
@access(*READERS)
@blp.response(200, content_type="application/pdf")
def slip(batch_id):
    """The hand-over slip (PDF) listing what was really handed over."""
    rec = services.reconciliation(batch_id, actor=actor())
    return Response(slip_pdf(rec, current_language()), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="bordereau-lot-{rec.batch.id}.pdf"'})
