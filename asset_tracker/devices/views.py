"""Device pages: the list with filters, the device page with its next steps and timeline."""
from __future__ import annotations

import json

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError

from .. import lifecycle
from ..audit.api import streamed
from ..audit.exports import devices_export
from ..auth.access import ROLES, WRITERS, access
from ..auth.session import actor
from ..core import Actor
from ..custody.services import device_events
from ..distribution import services as distribution
from ..i18n import current_language
from ..intake import services as intake
from ..organisations import services as organisations
from ..organisations.models import OrgKind
from ..web.forms import field_errors, kept_values, on_refusal
from ..web.lists import TOOL_ARGS, ListSpec, export_format, list_state, ordered, paginate
from ..wiping import services as wiping
from . import filters, services
from .models import Device, DeviceType
from .schemas import DeviceListArgs, TransitionIn

bp = Blueprint("devices", __name__, url_prefix="/devices")

LIST_ARGS = ("state", "type")  # query arguments that may repeat


DEVICE_LIST = ListSpec(
    name="devices",
    # Every sort key is indexed: tag (unique), type, serial, state (with state_since), state_since, id.
    sorts={"tag": Device.tag, "type": Device.type, "serial": Device.serial, "state": Device.state,
           "since": Device.state_since, "registered": Device.id},
    default_sort="registered", default_desc=True,
)


@bp.route("")
@access(*ROLES)
def index():
    who = actor()
    rules = current_app.config["REMINDER_RULES"]
    args = DeviceListArgs().load({k: (request.args.getlist(k) if k in LIST_ARGS else v)
                                  for k, v in request.args.items() if v != "" and k not in TOOL_ARGS})
    f = filters.DeviceFilter.from_args(args)
    fmt = export_format()
    if fmt:
        # The whole current filter, with the audit export's columns, formula-guarded writers and custody record.
        chunk = int(current_app.config.get("EXPORT_CHUNK_ROWS", 5000))
        return streamed(devices_export(f, actor=who, rules=rules, chunk=chunk), fmt, dict(f.__dict__))
    state = list_state(DEVICE_LIST)
    query, count_query = filters.list_queries(f, actor=who, rules=rules)
    if state.sort == "state":  # the state's own order of arrival: (state, state_since) is one index
        query = query.order_by(Device.state.desc() if state.desc else Device.state, Device.state_since, Device.id)
    else:
        query = ordered(DEVICE_LIST, query, state)
    items = paginate(query, state, count_query=count_query)
    return render_template("devices/list.html", devices=items, total=state.total, list=state, filter=f,
                           states=list(lifecycle.State), types=list(DeviceType), options=_filter_options(who),
                           bulk=_bulk_actions(who))


def _bulk_actions(who: Actor) -> dict:
    """What the caller may do with the devices chosen on the list (each page checks again)."""
    return {"labels": who.role in ("donor", "technician", "coordinator", "admin"),
            "reserve": who.role in ("coordinator", "technician", "admin"),
            "recycle": who.role in ("technician", "admin")}


def _filter_options(who: Actor) -> dict:
    """Choices of the list's filters, limited to what the caller may know about."""
    orgs = organisations.ordered(actor=who)
    return {
        "donors": [(o.id, o.name) for o in orgs if o.kind == OrgKind.DONOR] if who.role != "donor" else [],
        "custodians": [
            (o.id, o.name)
            for o in orgs
            if who.role != "donor" or o.kind != OrgKind.DONOR or o.id == who.organisation_id
        ],
        "batches": [(b.id, b.name) for b in intake.recent_batches(actor=who)],
        "programmes": [(p.id, p.name) for p in distribution.programme_choices(actor=who)],
    }


# A refused step goes back to the device page, as a step always did; that page view shows the step's form
# again with what was typed and the reasons next to its fields (kept in the session for that one view).
REFUSED_STEP = "refused_step"
KEPT_TEXT = 2500  # characters of typed text a refused step keeps in the session cookie (one long note at most)


@bp.route("/<tag>")
@access(*ROLES)
def show(tag):
    refused = session.pop(REFUSED_STEP, None)
    refused = refused if isinstance(refused, dict) and refused.get("tag") == tag else {}
    values = refused.get("values") or {}
    return render_template("devices/show.html", **_show_context(tag), form=values,
                           form_errors=refused.get("errors") or {}, refused_target=values.get("target"))


def _show_context(tag) -> dict:
    who = actor()
    device = services.get_device(tag, actor=who)
    steps = [s for s in lifecycle.next_states(device.state)
             if who.role == "admin" or who.role in lifecycle.ROLES_FOR.get(s, ())]
    events = device_events(device.id)
    links = _distribution_links(device, steps, who)
    # A distribution step with no page to take it (e.g. a return without its hand-over record) is not offered.
    steps = [s for s in steps if s in links or not services.is_distribution_step(device.state, s)]
    return {"device": device, "events": events, "steps": steps, "inputs": lifecycle.INPUTS, "lifecycle": lifecycle,
            "org_names": _org_names(device, events, who), "choices": _step_choices(device, steps, who),
            "wipes": wiping.latest_wipes(device.id, actor=who), "details_of": _event_details, "who": who,
            "distribution": links}


def _distribution_links(device: Device, steps, who: Actor) -> dict:
    """Steps taken on the distribution pages (they keep the reservation, kit and hand-over records)."""
    links = {}
    for s in steps:
        if not services.is_distribution_step(device.state, s):
            continue
        if s == lifecycle.State.RESERVED:
            links[s] = ("get", url_for("distribution.reserve_form", tag=device.tag))
        elif s == lifecycle.State.READY:  # cancelling a reservation
            links[s] = ("post", url_for("distribution.cancel", tag=device.tag))
        elif s == lifecycle.State.HANDED_OVER:
            links[s] = ("get", url_for("distribution.handover_form", tag=device.tag))
        elif s == lifecycle.State.RETURNED:
            handover = distribution.open_handover_id(device.id, actor=who)
            if handover is not None:
                links[s] = ("get", url_for("distribution.return_form", handover_id=handover))
        elif s == lifecycle.State.RECYCLED:
            links[s] = ("get", url_for("distribution.recycling", tag=device.tag))
    return links


def _org_names(device: Device, events, who: Actor) -> dict[int, str]:
    ids = {device.custodian_organisation_id, device.partner_organisation_id, device.recycler_organisation_id}
    for e in events:
        ids.update((e.custodian_before_id, e.custodian_after_id))
        details = _event_details(e)
        ids.update(details.get(k) for k in ("partner_organisation_id", "recycler_organisation_id",
                                            "custodian_organisation_id") if isinstance(details.get(k), int))
    return organisations.names(ids, actor=who)


def _event_details(event) -> dict:
    try:
        return json.loads(event.details or "{}")
    except ValueError:
        return {}


def _step_choices(device: Device, steps, who: Actor) -> dict:
    """Options for the inputs the next steps ask for (programmes, partners, recyclers, workshops)."""
    needed = {name for s in steps for name in lifecycle.INPUTS.get(s, ())}
    out: dict = {}
    if {"programme_id", "partner_organisation_id", "recycler_organisation_id"} & needed or \
            {lifecycle.State.COLLECTED, lifecycle.State.RECEIVED} & set(steps):
        orgs = organisations.ordered(actor=who)
        out["partners"] = [(o.id, o.name) for o in orgs if o.kind == OrgKind.PARTNER
                           and (who.role != "coordinator" or o.id == who.organisation_id)]
        out["recyclers"] = [(o.id, o.name) for o in orgs if o.kind == OrgKind.RECYCLER]
        out["workshops"] = [(o.id, o.name) for o in orgs if o.kind == OrgKind.WORKSHOP]
        who_org = next((o for o in orgs if o.id == who.organisation_id), None)
        # A workshop's own staff take the device themselves; others say which workshop does.
        out["ask_workshop"] = who_org is None or who_org.kind != OrgKind.WORKSHOP
    if "programme_id" in needed:
        programmes = distribution.programme_choices(actor=who)
        out["programmes"] = [(p.id, p.name) for p in programmes]
        out["categories"] = sorted({c for p in programmes for c in (p.beneficiary_categories or [])})
    if "beneficiary_category" in needed:
        out["categories"] = distribution.programme_categories(device.programme_id, actor=who)
    if lifecycle.State.WIPED in steps:
        facts = services.facts_for(device, {})
        out["wipe"] = {"media": facts.media_count, "cleared": facts.media_cleared, "no_media": facts.no_media_statement}
    return out


# The step's field a lifecycle refusal is about (its reason is shown next to that field).
REFUSAL_FIELDS = {
    "verdict_required": "verdict", "verdict_not_refurbish": "verdict", "verdict_not_recycle": "verdict",
    "grade_required": "grade", "recycler_required": "recycler_organisation_id",
    "beneficiary_required": "beneficiary_ref", "return_date_required": "expected_return_on",
    "return_date_past": "expected_return_on", "reason_required": "reason",
}


def _step_errors(err) -> dict[str, list[str]]:
    if isinstance(err, ValidationError):
        return field_errors(err)
    field = REFUSAL_FIELDS.get(err.code)
    if field:
        return {field: [err.translated()]}
    step_fields = set(TransitionIn().fields) - {"target", "client_time", "station"}
    errors = {k: [err.translated()] for k in field_errors(err) if k in step_fields}  # the sentence, translated
    return errors or {"_form": [err.translated()]}


def _step_refused(err, tag):
    """Back to the device page with the reason flashed, the step's typed values and its messages kept for it."""
    errors = _step_errors(err)
    if isinstance(err, ValidationError):
        flash(_("Please check: %(fields)s.", fields=", ".join(_field_label(k) for k in sorted(errors))), "error")
    else:
        flash(err.translated(), "error")
    values = {k: v for k, v in kept_values().items() if v.strip()}
    if sum(len(v) for v in values.values()) > KEPT_TEXT:  # the session is a cookie: keep it small
        values = {k: v for k, v in values.items() if len(v) <= 200}
    session[REFUSED_STEP] = {"tag": tag, "values": values, "errors": errors}
    return redirect(url_for("devices.show", tag=tag))


@bp.route("/<tag>/transitions", methods=["POST"])
@access(*WRITERS)
@on_refusal(_step_refused)
def transition(tag):
    form = {k: v.strip() for k, v in request.form.items() if k != "csrf_token" and v.strip() != ""}
    if "loan" in form:
        form["loan"] = form["loan"] in ("1", "on", "true", "loan")
    data = TransitionIn().load(form)
    target = data.pop("target")
    note = data.pop("note")
    data.pop("client_time"), data.pop("station")
    device = services.transition(tag, target, actor=actor(), params=data, note=note)
    flash(_("%(tag)s is now %(state)s.", tag=device.tag, state=lifecycle.label(device.state, current_language())),
          "success")
    return redirect(url_for("devices.show", tag=device.tag))


def _field_label(name: str) -> str:
    labels = {
        "verdict": _("Verdict"), "grade": _("Grade"), "reason": _("Reason"), "note": _("Note"),
        "programme_id": _("Programme"), "partner_organisation_id": _("Partner"),
        "beneficiary_ref": _("Beneficiary reference"), "beneficiary_category": _("Beneficiary category"),
        "expected_return_on": _("Expected return date"), "recycler_organisation_id": _("Recycler"),
        "disposal_reference": _("Disposal reference"), "custodian_organisation_id": _("Workshop"),
        "target": _("Next step"), "loan": _("Loan"),
    }
    return labels.get(name, name)
