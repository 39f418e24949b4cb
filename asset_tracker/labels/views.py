"""Label pages: print by tags, from a batch, a device, a filtered device list; blank tag ranges; templates."""
from __future__ import annotations

import re

from flask import Blueprint, current_app, render_template, request, url_for

from ..auth.access import access
from ..auth.session import actor
from ..devices import filters
from ..devices.schemas import DeviceListArgs
from ..devices.services import get_device
from ..errors import Invalid
from ..i18n import current_language
from ..intake.services import get_batch
from ..lifecycle import N_
from ..web.forms import keeps_form, refused_to
from ..web.lists import TOOL_ARGS
from . import services
from .api import BLANK_PRINTERS, ISSUERS, PRINTERS, default_template, file_response

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
    template = form.get("template") or default_template()
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
        "default_template": default_template(),
        "catalogue_errors": catalogue.errors,
    }


def _tags_from_request(values) -> list[str]:
    tags = []
    for value in values:
        tags += [t for t in TAG_SPLIT.split(value.upper()) if t]
    return tags


# ---------------------------------------------------------------- print by tags (and the device list selection)


@bp.route("")
@access(*PRINTERS)
def index():
    tags = _tags_from_request(request.args.getlist("tags"))
    return render_template("labels/index.html", **_choices(), form={"tags": "\n".join(tags)}, who=actor())


# A refused print comes back on its form with what was typed and the reason next to the field; an unknown tag
# typed in the list is a refusal of the form too (not_found).
@bp.route("/print", methods=["POST"])
@access(*PRINTERS)
@keeps_form("labels/index.html", lambda: {**_choices(), "who": actor()}, not_found=True)
def print_tags():
    tags = _tags_from_request([request.form.get("tags", "")] + request.form.getlist("tag"))
    job = services.print_labels(tags, actor=actor(), qr=bool(request.form.get("qr")),
                                language=current_language(), **_form_options(),
        **services.label_settings(current_app.config, line=True))
    return file_response(job)


# ---------------------------------------------------------------- one device


def _device_context(tag) -> dict:
    device = get_device(tag, actor=actor())
    return {**_choices(), "device": device, "history": services.print_history([device.tag]).get(device.tag)}


@bp.route("/devices/<tag>", methods=["GET", "POST"])
@access(*PRINTERS)
@keeps_form("labels/device.html", _device_context)
def print_device(tag):
    who = actor()
    device = get_device(tag, actor=who)
    if request.method == "POST":
        job = services.print_labels([device.id], actor=who, qr=bool(request.form.get("qr")),
                                    language=current_language(), **_form_options(),
        **services.label_settings(current_app.config, line=True))
        return file_response(job)
    return render_template("labels/device.html", form={}, **_device_context(tag))


# ---------------------------------------------------------------- a collection batch


def _batch_context(batch_id: int) -> dict:
    who = actor()
    batch = get_batch(batch_id, actor=who)
    return {**_choices(), "batch": batch, "count": services.batch_label_count(batch.id, actor=who)}


@bp.route("/batches/<int:batch_id>", methods=["GET", "POST"])
@access("donor", "technician", "admin")
@keeps_form("labels/batch.html", _batch_context)
def print_batch(batch_id: int):
    who = actor()
    batch = get_batch(batch_id, actor=who)
    if request.method == "POST":
        job = services.print_batch(batch.id, actor=who, qr=bool(request.form.get("qr")),
                                   language=current_language(), **_form_options(),
        **services.label_settings(current_app.config, line=True))
        return file_response(job)
    return render_template("labels/batch.html", form={}, **_batch_context(batch.id))


# ---------------------------------------------------------------- the device list's current filter


def _filtered_ids(who) -> tuple[list[int], filters.DeviceFilter]:
    # The device list's query string, its sort and export arguments left out.
    args = DeviceListArgs().load({k: (request.args.getlist(k) if k in LIST_ARGS else v)
                                  for k, v in request.args.items() if v != "" and k not in TOOL_ARGS})
    f = filters.DeviceFilter.from_args(args)
    return services.filtered_device_ids(f, actor=who, rules=current_app.config["REMINDER_RULES"]), f


def _selection_context(ids=None, f=None) -> dict:
    if ids is None:
        ids, f = _filtered_ids(actor())
    return {**_choices(), "count": len(ids), "filter": f,
            "query": request.query_string.decode("ascii", "replace")}


@bp.route("/selection", methods=["GET", "POST"])
@access(*PRINTERS)
@keeps_form("labels/selection.html", _selection_context, not_found=True)
def print_filtered():
    who = actor()
    ids, f = _filtered_ids(who)
    if request.method == "POST":
        job = services.print_labels(ids, actor=who, qr=bool(request.form.get("qr")),
                                    language=current_language(), context={"source": "device_list"},
                                    **_form_options(),
        **services.label_settings(current_app.config, line=True))
        return file_response(job)
    return render_template("labels/selection.html", form={}, **_selection_context(ids, f))


# ---------------------------------------------------------------- blank pre-printed tags


def _blank_context() -> dict:
    who = actor()
    donors = services.donor_choices(actor=who) if who.role in ISSUERS else []
    return {**_choices(), "issues": services.list_blank_issues(actor=who), "donors": donors, "who": who,
            "can_issue": who.role in ISSUERS, "can_print": who.role in BLANK_PRINTERS}


@bp.route("/blank")
@access(*BLANK_READERS)
def blank():
    return render_template("labels/blank.html", form={}, **_blank_context())


@bp.route("/blank", methods=["POST"])
@access(*ISSUERS)
@keeps_form("labels/blank.html", _blank_context, not_found=True)
def issue_blank():
    try:
        count = int(request.form.get("count") or 0)
        donor_id = int(request.form.get("donor_organisation_id") or 0)
    except ValueError:
        count, donor_id = 0, 0
    issue, job = services.issue_and_print_blank_tags(
        count, donor_organisation_id=donor_id, note=(request.form.get("note") or "").strip() or None,
        actor=actor(), **_form_options(), **services.label_settings(current_app.config, tags=True))
    return file_response(job, **{"X-Blank-Range": str(issue.id)})


@bp.route("/blank/<int:issue_id>", methods=["POST"])
@access(*BLANK_PRINTERS)
@refused_to(lambda issue_id: url_for("labels.blank"))
def print_blank(issue_id: int):
    job = services.print_blank_tags(issue_id, actor=actor(), **_form_options(),
                                    **services.label_settings(current_app.config))
    return file_response(job, **{"X-Blank-Range": str(issue_id)})
