"""Batch pages: donors' batches and their progress, entry form, import with its error table, reception,
reconciliation, closing and the hand-over slip."""
from __future__ import annotations

import math

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from .. import lifecycle
from ..audit.api import streamed
from ..audit.exports import batches_export
from ..auth.access import access
from ..auth.session import actor
from ..devices.models import DEVICE_TYPE_LABELS, DeviceType
from ..devices.schemas import DeviceCreateIn
from ..errors import DomainError, Invalid, NotFound, refusal_response
from ..i18n import current_language
from ..lifecycle import N_
from ..organisations import services as organisations
from ..organisations.models import OrgKind
from ..web.forms import field_errors, keeps_form, kept_values, on_refusal, refused_to
from ..web.lists import ListSpec, export_format, list_page
from . import importing, services
from .models import Batch
from .schemas import BatchCreateIn, CloseIn, ExplainIn, ReceiveIn, SlipDetailsIn
from .slip import slip_pdf

bp = Blueprint("intake", __name__, url_prefix="/batches")
NAV = [("intake.index", "Batches", ("donor", "technician", "auditor", "admin"), 21, "workshop")]

READERS = ("donor", "technician", "auditor", "admin")
WORKSHOP = ("technician", "admin")


# Lifecycle states grouped for the batch progress bars (the groups' colours are in app.css).
GROUPS = (
    ("at_donor", "At the donor", ("registered",)),
    ("on_the_way", "On the way", ("collected",)),
    ("in_workshop", "In the workshop", ("received", "diagnosed", "wiped", "refurbished", "ready", "reserved")),
    ("reused", "With a beneficiary", ("handed_over", "returned")),
    ("recycled", "Recycled", ("recycled",)),
    ("lost", "Lost", ("lost",)),
)


@bp.app_template_global("batch_progress")
def batch_progress(counts: dict) -> list[tuple[str, str, int, float]]:
    """(group, label, count, percent) of a batch's devices, for its progress bar."""
    total = sum(counts.values()) or 1
    out = []
    for key, label, states in GROUPS:
        n = sum(counts.get(s, 0) for s in states)
        if n:
            out.append((key, _(label), n, round(100 * n / total, 1)))
    return out


STATUS_LABELS = {"open": "Open", "collected": "Collected", "received": "Received", "closed": "Closed"}


@bp.app_template_global("batch_in_scope")
def _batch_in_scope(batch_id: int | None):
    """The batch a device came in, when the caller may open its page; None otherwise (device page link)."""
    if batch_id is None or actor().role not in READERS:
        return None
    try:
        return services.get_batch(batch_id, actor=actor())
    except NotFound:
        return None


@bp.app_template_filter("batch_status")
def batch_status(value: str) -> str:
    return _(STATUS_LABELS.get(value, value))


@bp.app_template_filter("type_option")
def type_option(device_type: DeviceType) -> tuple[str, str]:
    return device_type.value, DEVICE_TYPE_LABELS[device_type][current_language()[:2]] \
        if current_language()[:2] in ("fr", "en") else device_type.value


def _form(*skip) -> dict:
    return {k: v for k, v in request.form.items() if k not in ("csrf_token",) + skip and v.strip() != ""}


BATCH_LIST = ListSpec(
    name="batches", default_sort="created", default_desc=True,
    sorts={"created": Batch.id, "name": Batch.name, "status": Batch.status, "pickup": Batch.pickup_date,
           "donor": Batch.donor_organisation_id},
)


def batch_list(who) -> dict | Response:
    """The batch list with the toolkit (also the auditor's reconciliation list): a page, or the export of the
    current filter through the audit batch export (declared, logged and received counts)."""
    status = request.args.get("status") if request.args.get("status") in STATUS_LABELS else None
    fmt = export_format()
    if fmt:
        chunk = int(current_app.config.get("EXPORT_CHUNK_ROWS", 5000))
        return streamed(batches_export(actor=who, chunk=chunk, status=status), fmt, {"status": status})
    page = list_page(BATCH_LIST, services.batches_query(actor=who, status=status))
    return {"batches": page["items"], "list": page["list"], "status": status,
            "statuses": [(k, _(v)) for k, v in STATUS_LABELS.items()]}


@bp.route("")
@access(*READERS)
def index():
    context = batch_list(actor())
    if not isinstance(context, dict):
        return context
    counts = services.progress([b.id for b in context["batches"]])
    return render_template("intake/index.html", counts=counts, states=list(lifecycle.State), **context)


def _new_context() -> dict:
    who = actor()
    donors = [] if who.role == "donor" else [(o.id, o.name) for o in organisations.ordered(actor=who,
                                                                                           kind=OrgKind.DONOR)]
    return {"donors": donors, "types": list(DeviceType)}


@bp.route("/new", methods=["GET", "POST"])
@access("donor", "technician", "admin")
@keeps_form("intake/new.html", _new_context, aliases={
    "unit_value_cents": "unit_value",
    # A declared count is refused under declared_counts.<type> (its value): shown next to that type's field.
    **{f"declared_counts.{t.value}{part}": f"count_{t.value}" for t in DeviceType for part in ("", ".value")}})
def new():
    who = actor()
    if request.method == "POST":
        form = _form(*[f"count_{t.value}" for t in DeviceType])
        counts = _declared_counts()
        if "unit_value" in form:
            form["unit_value_cents"] = _cents(form.pop("unit_value"))
        data = BatchCreateIn().load({**form, "declared_counts": counts})
        batch = services.create_batch(actor=who, **data)
        flash(_("Batch %(name)s opened.", name=batch.name), "success")
        return redirect(url_for("intake.show", batch_id=batch.id))
    return render_template("intake/new.html", form={}, **_new_context())


def _declared_counts() -> dict[str, int]:
    counts, errors = {}, {}
    for t in DeviceType:
        text = request.form.get(f"count_{t.value}", "").strip()
        if not text:
            continue
        if not text.isdigit():
            errors[f"count_{t.value}"] = [N_("A whole number is expected, e.g. 12.")]
        else:
            counts[t.value] = int(text)
    if errors:
        raise Invalid("Invalid input: %(fields)s", fields=", ".join(errors), details=errors)
    return counts


AMOUNT_EXPECTED = N_("Expected an amount in euros, e.g. 120.50.")
CAPACITY_EXPECTED = N_("Expected a number of GB, e.g. 256.")


def _capacity_bytes(text: str) -> int:
    try:
        value = float(text.replace(" ", "").replace(",", "."))
        if not math.isfinite(value) or value < 0:
            raise ValueError(text)
    except ValueError:
        raise Invalid("A disk capacity is a number of GB, such as 256 (found \"%(value)s\").", value=text,
                      details={"disk_capacity_gb": [CAPACITY_EXPECTED]}) from None
    return int(value * 10**9)


def _cents(text: str) -> int:
    try:
        value = float(text.replace(" ", "").replace("€", "").replace(",", "."))
        if not math.isfinite(value):
            raise ValueError(text)
    except ValueError:
        raise Invalid("A value is an amount in euros, such as 45 or 45,50 (found \"%(value)s\").", value=text,
                      details={"unit_value": [AMOUNT_EXPECTED]}) from None
    if value < 0:
        raise Invalid("A value is an amount in euros, such as 45 or 45,50 (found \"%(value)s\").", value=text,
                      details={"unit_value": [AMOUNT_EXPECTED]})
    return round(value * 100)


@bp.route("/<int:batch_id>")
@access(*READERS)
def show(batch_id):
    return _show(batch_id)


def _show(batch_id, slip_form=None, slip_errors=None, import_form=None, import_errors=None, missing_columns=None):
    rec = services.reconciliation(batch_id, actor=actor())
    counts = services.progress([rec.batch.id]).get(rec.batch.id, {})
    batch = rec.batch
    slip_form = slip_form or {k: getattr(batch, k) for k in services.SLIP_FIELDS}
    return render_template("intake/show.html", batch=batch, rec=rec, counts=counts, devices=rec.expected[:500],
                           states=list(lifecycle.State), modes=services.MODES, slip_form=slip_form,
                           slip_errors=slip_errors or {}, import_form_values=import_form or {},
                           import_errors=import_errors or {}, import_missing_columns=missing_columns)


def _slip_refused(err, batch_id):
    """The batch page again, the slip's details as typed with the reasons next to their fields."""
    if isinstance(err, ValidationError):
        flash(_("Invalid input: %(fields)s", fields=", ".join(sorted(err.messages))), "error")
        return _show(batch_id, slip_form=request.form, slip_errors=err.messages), 422
    flash(err.translated(), "error")
    return _show(batch_id, slip_form=request.form, slip_errors=err.details), err.status


@bp.route("/<int:batch_id>/slip-details", methods=["POST"])
@access("donor", "technician", "admin")
@on_refusal(_slip_refused)
def slip_details(batch_id):
    """The donation slip's details: the donor's disposal decision and who signs for each party."""
    batch = services.get_batch(batch_id, actor=actor())
    form = {k: request.form.get(k, "").strip() or None for k in services.SLIP_FIELDS}
    data = SlipDetailsIn().load(form)
    services.update_batch(batch.id, data, actor=actor())
    flash(_("The donation slip's details are saved."), "success")
    return redirect(url_for("intake.show", batch_id=batch.id) + "#slip-title")


def _device_new_context(batch_id: int) -> dict:
    return {"batch": services.get_batch(batch_id, actor=actor()), "types": list(DeviceType)}


@bp.route("/<int:batch_id>/devices/new", methods=["GET", "POST"])
@access("donor", "technician", "admin")
@keeps_form("intake/device_new.html", _device_new_context,
            aliases={"unit_value_cents": "unit_value", "media.0.serial": "disk_serial", "media.0.kind": "disk_kind",
                     "media.0.capacity_bytes": "disk_capacity_gb", "tag": "preprinted_tag"})
def device_new(batch_id):
    batch = services.get_batch(batch_id, actor=actor())
    if request.method == "POST":
        form = _form("disk_kind", "disk_serial", "disk_capacity_gb", "unit_value", "another")
        media = []
        if request.form.get("disk_kind"):
            cap = request.form.get("disk_capacity_gb", "").strip()
            media.append({"kind": request.form["disk_kind"], "serial": request.form.get("disk_serial") or None,
                          "capacity_bytes": _capacity_bytes(cap) if cap else None})
        if request.form.get("unit_value", "").strip():
            form["unit_value_cents"] = _cents(request.form["unit_value"])
        data = DeviceCreateIn().load({**form, "media": media})
        for server_side in ("donor_organisation_id", "batch_id", "specs"):
            data.pop(server_side, None)
        tag = data.pop("preprinted_tag")
        device = services.add_device(batch.id, actor=actor(), tag=tag, **data,
                                      **services.registration_settings(current_app.config))
        flash(_("%(tag)s registered: write it on the device or stick its label.", tag=device.tag), "success")
        return redirect(url_for("intake.device_new", batch_id=batch.id) if request.form.get("another")
                        else url_for("intake.show", batch_id=batch.id))
    return render_template("intake/device_new.html", batch=batch, types=list(DeviceType), form={})


CHOOSE_FILE = N_("Choose the file to import.")


def _import_refused(err: DomainError, batch_id):
    """A refused import: the batch page again, the mode kept, the reason next to the file field (a browser
    never refills a file input: the page says to choose it again)."""
    details = err.details if isinstance(err.details, dict) else {}
    errors = {"mode": [_("Choose one of the offered values.")]} if "mode" in details else {}
    if "file" in details or not errors:  # what is wrong with the file (empty, unreadable, columns missing...)
        errors["file"] = field_errors(err).get("file") or [err.translated()]
    flash(_("Nothing was imported.") + " " + err.translated(), "error")
    return _show(batch_id, import_form=kept_values() or {"mode": "all"}, import_errors=errors,
                 missing_columns=details.get("missing_columns")), err.status


@bp.route("/<int:batch_id>/import", methods=["POST"])
@access("donor", "technician", "admin")
@on_refusal(_import_refused, catches=(DomainError,))
def import_file(batch_id):
    batch = services.get_batch(batch_id, actor=actor())
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise Invalid(CHOOSE_FILE, details={"file": [CHOOSE_FILE]})
    mode = request.form.get("mode", "all")
    result = services.import_file(batch.id, upload.read(), actor=actor(), filename=upload.filename, mode=mode,
                                  **services.import_settings(current_app.config))
    status = 422 if result.status == "rejected" else 200
    return render_template("intake/import_result.html", batch=batch, result=result, problem=None,
                           filename=upload.filename, translate=_, form=kept_values()), status


@bp.route("/template.<fmt>")
@access(*READERS)
def template(fmt):
    lang = request.args.get("lang") or current_language()
    lang = lang if lang in ("fr", "en") else "fr"
    name = "modele-appareils" if lang == "fr" else "devices-template"
    if fmt == "csv":
        return Response(importing.template_csv(lang), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    if fmt == "xlsx":
        return Response(importing.template_xlsx(lang),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    abort(404)


@bp.route("/<int:batch_id>/collect", methods=["POST"])
@access(*WORKSHOP)
@refused_to(lambda batch_id: url_for("intake.show", batch_id=batch_id))
def collect(batch_id):
    batch = services.collect_batch(batch_id, actor=actor(), note=request.form.get("note") or None)
    flash(_("Batch %(name)s collected: its devices are in transit to the workshop.", name=batch.name), "success")
    return redirect(url_for("intake.show", batch_id=batch_id))


def _receive_page(batch_id, outcome=None, problem=None):
    rec = services.reconciliation(batch_id, actor=actor())
    return render_template("intake/receive.html", batch=rec.batch, rec=rec, outcome=outcome, problem=problem,
                           translate=_)


def _scan_refused(err: DomainError, batch_id):
    """A refused reception scan is the reception page's own outcome (an unknown code too); the batch gone is
    the not-found page."""
    if err.status == 404 and "batch" in err.message:
        return refusal_response(err)
    return _receive_page(batch_id, problem=err.translated())


@bp.route("/<int:batch_id>/receive", methods=["GET", "POST"])
@access(*WORKSHOP)
@on_refusal(_scan_refused, catches=(DomainError,), not_found=True)
def receive(batch_id):
    batch = services.get_batch(batch_id, actor=actor())
    outcome = None
    if request.method == "POST":
        data = ReceiveIn().load(_form())
        outcome = services.receive_device(data.pop("code"), actor=actor(), batch_id=batch.id, **data)
    return _receive_page(batch.id, outcome=outcome)


@bp.route("/<int:batch_id>/reconciliation")
@access(*READERS)
def reconciliation(batch_id):
    rec = services.reconciliation(batch_id, actor=actor())
    return render_template("intake/reconciliation.html", batch=rec.batch, rec=rec, type_labels=DEVICE_TYPE_LABELS)


@bp.route("/<int:batch_id>/explain", methods=["POST"])
@access(*WORKSHOP)
@refused_to(lambda batch_id: url_for("intake.reconciliation", batch_id=batch_id))
def explain(batch_id):
    form = _form()
    form["declare_lost"] = form.get("declare_lost") in ("1", "on", "true")
    data = ExplainIn().load(form)
    services.explain(batch_id, data["tag"], actor=actor(), note=data["note"], declare_lost=data["declare_lost"])
    flash(_("Discrepancy of %(tag)s explained.", tag=data["tag"]), "success")
    return redirect(url_for("intake.reconciliation", batch_id=batch_id))


@bp.route("/<int:batch_id>/close", methods=["POST"])
@access(*WORKSHOP)
@refused_to(lambda batch_id: url_for("intake.reconciliation", batch_id=batch_id))
def close(batch_id):
    data = CloseIn().load(_form())
    rec = services.close_batch(batch_id, actor=actor(), note=data["note"])
    flash(_("Batch %(name)s closed. Print the hand-over slip for both signatures.", name=rec.batch.name), "success")
    return redirect(url_for("intake.reconciliation", batch_id=batch_id))


@bp.route("/<int:batch_id>/slip.pdf")
@access(*READERS)
def slip(batch_id):
    rec = services.reconciliation(batch_id, actor=actor())
    return Response(slip_pdf(rec, current_language()), mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="bordereau-lot-{rec.batch.id}.pdf"'})
