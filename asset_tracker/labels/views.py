"""Label pages: print by tags, from a batch, a device, a filtered device list; blank tag ranges; templates."""
from __future__ import annotations

import re

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from ..auth.access import access
from ..auth.session import actor
from ..devices import filters
from ..devices.models import Device
from ..devices.schemas import DeviceListArgs
from ..errors import DomainError, Invalid
from ..extensions import db
from ..i18n import current_language
from ..lifecycle import N_
from ..organisations.models import Organisation, OrgKind
from ..web.forms import render_refused
from ..web.lists import TOOL_ARGS
from . import services
from .api import BLANK_PRINTERS, ISSUERS, PRINTERS, file_response

bp = Blueprint("labels", __name__, url_prefix="/labels")
bp.record_once(lambda state: services.init_app(state.app))

NAV = [("labels.index", N_("Labels"), PRINTERS, 60, "workshop")]

BLANK_READERS = ("donor", "technician", "auditor", "admin")
TAG_SPLIT = re.compile(r"[\s,;]+")
LIST_ARGS = ("state", "type")


@bp.app_context_processor
def _panel_helpers():
    """What the device page's label panel (labels/_device_panel.html) needs."""

    def label_print_history(tag):
        return services.print_history([tag]).get(tag)

    return {"label_print_history": label_print_history, "label_choices": _choices}


# ---------------------------------------------------------------- form helpers


def _form_options() -> dict:
    """Template, format, start position and QR from a print form (start positions are shown from 1)."""
    form = request.form
    template = form.get("template") or services.default_template()
    try:
        position = int(form.get("start_position") or 1)
    except ValueError:
        raise Invalid("The start position must be a number.", details={"start_position": ["a number"]}) from None
    chosen = services.catalogue().templates.get(template)
    if chosen is not None and chosen.kind != "sheet":
        position = 1  # a roll or a Zebra label has no partly used sheet
    fmt = (form.get("format") or "auto").lower()
    if fmt == "auto":  # many labels: one PDF, or ZPL for a Zebra template
        fmt = "zpl" if chosen is not None and chosen.kind == "zpl" else "pdf"
    return {"template": template, "fmt": fmt, "start_position": position - 1}


def _choices() -> dict:
    lang = current_language()
    catalogue = services.catalogue()
    return {
        "templates": [(t, t.title.get(lang) or t.name) for t in catalogue.ordered()],
        "default_template": services.default_template(),
        "catalogue_errors": catalogue.errors,
    }


def _tags_from_request(values) -> list[str]:
    tags = []
    for value in values:
        tags += [t for t in TAG_SPLIT.split(value.upper()) if t]
    return tags


def _fail(err: DomainError, template: str, status: int | None = None, **context):
    """Show a refused print on its form, keeping what was typed with the reason next to the field
    (404 stays 404: ids cannot be probed)."""
    page, code = render_refused(template, err, {**_choices(), **context})
    return page, status or code


# ---------------------------------------------------------------- print by tags (and the device list selection)


@bp.route("")
@access(*PRINTERS)
def index():
    tags = _tags_from_request(request.args.getlist("tags"))
    return render_template("labels/index.html", **_choices(), form={"tags": "\n".join(tags)}, who=actor())


@bp.route("/print", methods=["POST"])
@access(*PRINTERS)
def print_tags():
    tags = _tags_from_request([request.form.get("tags", "")] + request.form.getlist("tag"))
    try:
        job = services.print_labels(tags, actor=actor(), qr=bool(request.form.get("qr")),
                                    language=current_language(), **_form_options())
    except DomainError as err:
        return _fail(err, "labels/index.html", who=actor())
    return file_response(job)


# ---------------------------------------------------------------- one device


@bp.route("/devices/<tag>", methods=["GET", "POST"])
@access(*PRINTERS)
def print_device(tag):
    from ..devices.services import get_device

    who = actor()
    device = get_device(tag, actor=who)
    history = services.print_history([device.tag]).get(device.tag)
    context = {"device": device, "history": history}
    if request.method == "POST":
        try:
            job = services.print_labels([device.id], actor=who, qr=bool(request.form.get("qr")),
                                        language=current_language(), **_form_options())
        except DomainError as err:
            if err.status == 404:
                raise
            return _fail(err, "labels/device.html", **context)
        return file_response(job)
    return render_template("labels/device.html", **_choices(), form={}, **context)


# ---------------------------------------------------------------- a collection batch


@bp.route("/batches/<int:batch_id>", methods=["GET", "POST"])
@access("donor", "technician", "admin")
def print_batch(batch_id: int):
    from ..intake.services import get_batch

    who = actor()
    batch = get_batch(batch_id, actor=who)
    count = len(services.matching_device_ids(select(Device.id).where(Device.batch_id == batch.id), actor=who))
    context = {"batch": batch, "count": count}
    if request.method == "POST":
        try:
            job = services.print_batch(batch.id, actor=who, qr=bool(request.form.get("qr")),
                                       language=current_language(), **_form_options())
        except DomainError as err:
            if err.status == 404:
                raise
            return _fail(err, "labels/batch.html", **context)
        return file_response(job)
    return render_template("labels/batch.html", **_choices(), form={}, **context)


# ---------------------------------------------------------------- the device list's current filter


def _filtered_ids(who) -> tuple[list[int], filters.DeviceFilter]:
    # The device list's query string, its sort and export arguments left out.
    args = DeviceListArgs().load({k: (request.args.getlist(k) if k in LIST_ARGS else v)
                                  for k, v in request.args.items() if v != "" and k not in TOOL_ARGS})
    f = filters.DeviceFilter.from_args(args)
    query = filters.apply(select(Device.id), f, rules=current_app.config["REMINDER_RULES"])
    return services.matching_device_ids(query, actor=who), f


@bp.route("/selection", methods=["GET", "POST"])
@access(*PRINTERS)
def print_filtered():
    who = actor()
    ids, f = _filtered_ids(who)
    context = {"count": len(ids), "filter": f, "query": request.query_string.decode("ascii", "replace")}
    if request.method == "POST":
        try:
            job = services.print_labels(ids, actor=who, qr=bool(request.form.get("qr")),
                                        language=current_language(), context={"source": "device_list"},
                                        **_form_options())
        except DomainError as err:
            return _fail(err, "labels/selection.html", **context)
        return file_response(job)
    return render_template("labels/selection.html", **_choices(), form={}, **context)


# ---------------------------------------------------------------- blank pre-printed tags


def _blank_context(who) -> dict:
    donors = []
    if who.role in ISSUERS:
        donors = [(o.id, o.name) for o in db.session.execute(
            select(Organisation).where(Organisation.kind == OrgKind.DONOR).order_by(Organisation.name)).scalars()]
    return {"issues": services.list_blank_issues(actor=who), "donors": donors, "who": who,
            "can_issue": who.role in ISSUERS, "can_print": who.role in BLANK_PRINTERS}


@bp.route("/blank")
@access(*BLANK_READERS)
def blank():
    who = actor()
    return render_template("labels/blank.html", **_choices(), form={}, **_blank_context(who))


@bp.route("/blank", methods=["POST"])
@access(*ISSUERS)
def issue_blank():
    who = actor()
    try:
        count = int(request.form.get("count") or 0)
        donor_id = int(request.form.get("donor_organisation_id") or 0)
    except ValueError:
        count, donor_id = 0, 0
    try:
        issue, job = services.issue_and_print_blank_tags(
            count, donor_organisation_id=donor_id, note=(request.form.get("note") or "").strip() or None,
            actor=who, **_form_options())
    except DomainError as err:
        return _fail(err, "labels/blank.html", **_blank_context(who))
    return file_response(job, **{"X-Blank-Range": str(issue.id)})


@bp.route("/blank/<int:issue_id>", methods=["POST"])
@access(*BLANK_PRINTERS)
def print_blank(issue_id: int):
    who = actor()
    try:
        job = services.print_blank_tags(issue_id, actor=who, **_form_options())
    except DomainError as err:
        if err.status == 404:
            raise
        flash(err.translated(), "error")
        return redirect(url_for("labels.blank"))
    return file_response(job, **{"X-Blank-Range": str(issue_id)})
