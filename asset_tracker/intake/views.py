"""Batch pages: donors' batches and their progress, entry form, import with its error table, reception,
reconciliation, closing and the hand-over slip."""
from __future__ import annotations

import math

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import lifecycle
from ..auth.access import access
from ..auth.session import actor
from ..devices.models import DEVICE_TYPE_LABELS, DeviceType
from ..devices.schemas import DeviceCreateIn
from ..errors import DomainError, Invalid, NotFound
from ..extensions import db
from ..i18n import current_language
from ..organisations.models import OrgKind, Organisation
from . import importing, services
from .schemas import BatchCreateIn, CloseIn, ExplainIn, ReceiveIn
from .slip import slip_pdf

bp = Blueprint("intake", __name__, url_prefix="/batches")
NAV = [("intake.index", "Batches", ("donor", "technician", "auditor", "admin"), 20)]

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


def _flash_error(err: DomainError) -> None:
    if err.status == 404:
        raise err
    flash(err.translated(), "error")


@bp.route("")
@access(*READERS)
def index():
    batches = services.list_batches(actor=actor(), status=request.args.get("status") or None)
    counts = services.progress([b.id for b in batches])
    return render_template("intake/index.html", batches=batches, counts=counts, states=list(lifecycle.State))


@bp.route("/new", methods=["GET", "POST"])
@access("donor", "technician", "admin")
def new():
    who = actor()
    donors = [] if who.role == "donor" else [(o.id, o.name) for o in db.session.scalars(
        select(Organisation).where(Organisation.kind == OrgKind.DONOR).order_by(Organisation.name))]
    if request.method == "POST":
        form = _form(*[f"count_{t.value}" for t in DeviceType])
        counts = {t.value: int(request.form[f"count_{t.value}"]) for t in DeviceType
                  if request.form.get(f"count_{t.value}", "").strip().isdigit()}
        if "unit_value" in form:
            form["unit_value_cents"] = _cents(form.pop("unit_value"))
        data = BatchCreateIn().load({**form, "declared_counts": counts})
        batch = services.create_batch(actor=who, **data)
        flash(_("Batch %(name)s opened.", name=batch.name), "success")
        return redirect(url_for("intake.show", batch_id=batch.id))
    return render_template("intake/new.html", donors=donors, types=list(DeviceType))


def _capacity_bytes(text: str) -> int:
    try:
        value = float(text.replace(" ", "").replace(",", "."))
        if not math.isfinite(value) or value < 0:
            raise ValueError(text)
    except ValueError:
        raise Invalid("A disk capacity is a number of GB, such as 256 (found \"%(value)s\").", value=text,
                      details={"disk_capacity_gb": ["number of GB"]}) from None
    return int(value * 10**9)


def _cents(text: str) -> int:
    try:
        value = float(text.replace(" ", "").replace("€", "").replace(",", "."))
        if not math.isfinite(value):
            raise ValueError(text)
    except ValueError:
        raise Invalid("A value is an amount in euros, such as 45 or 45,50 (found \"%(value)s\").", value=text,
                      details={"unit_value": ["amount in euros"]}) from None
    if value < 0:
        raise Invalid("A value is an amount in euros, such as 45 or 45,50 (found \"%(value)s\").", value=text,
                      details={"unit_value": ["amount in euros"]})
    return round(value * 100)


@bp.route("/<int:batch_id>")
@access(*READERS)
def show(batch_id):
    rec = services.reconciliation(batch_id, actor=actor())
    counts = services.progress([rec.batch.id]).get(rec.batch.id, {})
    return render_template("intake/show.html", batch=rec.batch, rec=rec, counts=counts, devices=rec.expected[:500],
                           states=list(lifecycle.State), modes=services.MODES)


@bp.route("/<int:batch_id>/devices/new", methods=["GET", "POST"])
@access("donor", "technician", "admin")
def device_new(batch_id):
    batch = services.get_batch(batch_id, actor=actor())
    if request.method == "POST":
        form = _form("disk_kind", "disk_serial", "disk_capacity_gb", "unit_value")
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
        try:
            device = services.add_device(batch.id, actor=actor(), tag=tag, **data)
        except DomainError as err:
            _flash_error(err)
            return render_template("intake/device_new.html", batch=batch, types=list(DeviceType),
                                   form=request.form), err.status
        flash(_("%(tag)s registered: write it on the device or stick its label.", tag=device.tag), "success")
        return redirect(url_for("intake.device_new", batch_id=batch.id) if request.form.get("another")
                        else url_for("intake.show", batch_id=batch.id))
    return render_template("intake/device_new.html", batch=batch, types=list(DeviceType), form={})


@bp.route("/<int:batch_id>/import", methods=["POST"])
@access("donor", "technician", "admin")
def import_file(batch_id):
    batch = services.get_batch(batch_id, actor=actor())
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose the file to import."), "error")
        return redirect(url_for("intake.show", batch_id=batch.id))
    mode = request.form.get("mode", "all")
    try:
        result = services.import_file(batch.id, upload.read(), actor=actor(), filename=upload.filename, mode=mode)
    except DomainError as err:
        _flash_error(err)
        return render_template("intake/import_result.html", batch=batch, result=None, problem=err,
                               filename=upload.filename), err.status
    status = 422 if result.status == "rejected" else 200
    return render_template("intake/import_result.html", batch=batch, result=result, problem=None,
                           filename=upload.filename, translate=_), status


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
def collect(batch_id):
    try:
        batch = services.collect_batch(batch_id, actor=actor(), note=request.form.get("note") or None)
    except DomainError as err:
        _flash_error(err)
    else:
        flash(_("Batch %(name)s collected: its devices are in transit to the workshop.", name=batch.name), "success")
    return redirect(url_for("intake.show", batch_id=batch_id))


@bp.route("/<int:batch_id>/receive", methods=["GET", "POST"])
@access(*WORKSHOP)
def receive(batch_id):
    batch = services.get_batch(batch_id, actor=actor())
    outcome, problem = None, None
    if request.method == "POST":
        data = ReceiveIn().load(_form())
        try:
            outcome = services.receive_device(data.pop("code"), actor=actor(), batch_id=batch.id, **data)
        except DomainError as err:
            if err.status == 404 and "batch" in err.message:
                raise
            problem = err.translated()
    rec = services.reconciliation(batch.id, actor=actor())
    return render_template("intake/receive.html", batch=rec.batch, rec=rec, outcome=outcome, problem=problem,
                           translate=_)


@bp.route("/<int:batch_id>/reconciliation")
@access(*READERS)
def reconciliation(batch_id):
    rec = services.reconciliation(batch_id, actor=actor())
    return render_template("intake/reconciliation.html", batch=rec.batch, rec=rec, type_labels=DEVICE_TYPE_LABELS)


@bp.route("/<int:batch_id>/explain", methods=["POST"])
@access(*WORKSHOP)
def explain(batch_id):
    form = _form()
    form["declare_lost"] = form.get("declare_lost") in ("1", "on", "true")
    data = ExplainIn().load(form)
    try:
        services.explain(batch_id, data["tag"], actor=actor(), note=data["note"], declare_lost=data["declare_lost"])
    except DomainError as err:
        _flash_error(err)
    else:
        flash(_("Discrepancy of %(tag)s explained.", tag=data["tag"]), "success")
    return redirect(url_for("intake.reconciliation", batch_id=batch_id))


@bp.route("/<int:batch_id>/close", methods=["POST"])
@access(*WORKSHOP)
def close(batch_id):
    data = CloseIn().load(_form())
    try:
        rec = services.close_batch(batch_id, actor=actor(), note=data["note"])
    except DomainError as err:
        _flash_error(err)
        return redirect(url_for("intake.reconciliation", batch_id=batch_id))
    flash(_("Batch %(name)s closed. Print the hand-over slip for both signatures.", name=rec.batch.name), "success")
    return redirect(url_for("intake.reconciliation", batch_id=batch_id))


@bp.route("/<int:batch_id>/slip.pdf")
@access(*READERS)
def slip(batch_id):
    rec = services.reconciliation(batch_id, actor=actor())
    return Response(slip_pdf(rec, current_language()), mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="bordereau-lot-{rec.batch.id}.pdf"'})
