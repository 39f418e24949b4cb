"""Device pages: the list with filters, the device page with its next steps and timeline."""
from __future__ import annotations

import json

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from .. import lifecycle
from ..audit.api import streamed
from ..audit.exports import devices_export
from ..auth.access import ROLES, WRITERS, access
from ..auth.session import actor
from ..core import Actor
from ..custody.services import device_events
from ..errors import DomainError
from ..extensions import db
from ..i18n import current_language
from ..organisations.models import Organisation, OrgKind
from ..web.lists import TOOL_ARGS, ListSpec, export_format, list_state, ordered, paginate
from . import filters, services
from .models import Device, DeviceType
from .schemas import DeviceListArgs, TransitionIn
from .services import scoped

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
    query = filters.apply(scoped(select(Device), who), f, rules=rules).options(selectinload(Device.media))
    if state.sort == "state":  # the state's own order of arrival: (state, state_since) is one index
        query = query.order_by(Device.state.desc() if state.desc else Device.state, Device.state_since, Device.id)
    else:
        query = ordered(DEVICE_LIST, query, state)
    items = paginate(query, state, count_query=filters.apply(scoped(select(Device.id), who), f, rules=rules))
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
    from ..distribution.models import Programme
    from ..intake.models import Batch

    orgs = db.session.execute(select(Organisation).order_by(Organisation.name)).scalars().all()
    batches = select(Batch).order_by(Batch.created_at.desc(), Batch.id.desc()).limit(200)
    if who.role == "donor":
        batches = batches.where(Batch.donor_organisation_id == who.organisation_id)
    return {
        "donors": [(o.id, o.name) for o in orgs if o.kind == OrgKind.DONOR] if who.role != "donor" else [],
        "custodians": [
            (o.id, o.name)
            for o in orgs
            if who.role != "donor" or o.kind != OrgKind.DONOR or o.id == who.organisation_id
        ],
        "batches": [(b.id, b.name) for b in db.session.execute(batches).unique().scalars()],
        "programmes": [
            (p.id, p.name) for p in db.session.execute(select(Programme).order_by(Programme.name)).scalars()
        ],
    }


@bp.route("/<tag>")
@access(*ROLES)
def show(tag):
    who = actor()
    device = services.get_device(tag, actor=who)
    steps = [s for s in lifecycle.next_states(device.state)
             if who.role == "admin" or who.role in lifecycle.ROLES_FOR.get(s, ())]
    events = device_events(device.id)
    links = _distribution_links(device, steps)
    # A distribution step with no page to take it (e.g. a return without its hand-over record) is not offered.
    steps = [s for s in steps if s in links or not services.is_distribution_step(device.state, s)]
    return render_template("devices/show.html", device=device, events=events, steps=steps,
                           inputs=lifecycle.INPUTS, lifecycle=lifecycle, org_names=_org_names(device, events),
                           choices=_step_choices(device, steps, who), wipes=_last_wipes(device),
                           details_of=_event_details, who=who, distribution=links)


def _distribution_links(device: Device, steps) -> dict:
    """Steps taken on the distribution pages (they keep the reservation, kit and hand-over records)."""
    from ..distribution.models import Handover

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
            handover = db.session.execute(select(Handover.id).where(
                Handover.device_id == device.id, Handover.returned_at.is_(None))).scalar()
            if handover is not None:
                links[s] = ("get", url_for("distribution.return_form", handover_id=handover))
        elif s == lifecycle.State.RECYCLED:
            links[s] = ("get", url_for("distribution.recycling", tag=device.tag))
    return links


def _org_names(device: Device, events) -> dict[int, str]:
    ids = {device.custodian_organisation_id, device.partner_organisation_id, device.recycler_organisation_id}
    for e in events:
        ids.update((e.custodian_before_id, e.custodian_after_id))
        details = _event_details(e)
        ids.update(details.get(k) for k in ("partner_organisation_id", "recycler_organisation_id",
                                            "custodian_organisation_id") if isinstance(details.get(k), int))
    ids.discard(None)
    if not ids:
        return {}
    return dict(db.session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))).all())


def _event_details(event) -> dict:
    try:
        return json.loads(event.details or "{}")
    except ValueError:
        return {}


def _step_choices(device: Device, steps, who: Actor) -> dict:
    """Options for the inputs the next steps ask for (programmes, partners, recyclers, workshops)."""
    from ..distribution.models import Programme

    needed = {name for s in steps for name in lifecycle.INPUTS.get(s, ())}
    out: dict = {}
    if {"programme_id", "partner_organisation_id", "recycler_organisation_id"} & needed or \
            {lifecycle.State.COLLECTED, lifecycle.State.RECEIVED} & set(steps):
        orgs = db.session.execute(select(Organisation).order_by(Organisation.name)).scalars().all()
        out["partners"] = [(o.id, o.name) for o in orgs if o.kind == OrgKind.PARTNER
                           and (who.role != "coordinator" or o.id == who.organisation_id)]
        out["recyclers"] = [(o.id, o.name) for o in orgs if o.kind == OrgKind.RECYCLER]
        out["workshops"] = [(o.id, o.name) for o in orgs if o.kind == OrgKind.WORKSHOP]
        who_org = next((o for o in orgs if o.id == who.organisation_id), None)
        # A workshop's own staff take the device themselves; others say which workshop does.
        out["ask_workshop"] = who_org is None or who_org.kind != OrgKind.WORKSHOP
    if "programme_id" in needed:
        programmes = db.session.execute(select(Programme).order_by(Programme.name)).scalars().all()
        out["programmes"] = [(p.id, p.name) for p in programmes]
        out["categories"] = sorted({c for p in programmes for c in (p.beneficiary_categories or [])})
    if "beneficiary_category" in needed:
        from ..distribution.models import Programme as P

        p = db.session.get(P, device.programme_id) if device.programme_id else None
        out["categories"] = list(p.beneficiary_categories or []) if p else []
    if lifecycle.State.WIPED in steps:
        facts = services.facts_for(device, {})
        out["wipe"] = {"media": facts.media_count, "cleared": facts.media_cleared, "no_media": facts.no_media_statement}
    return out


def _last_wipes(device: Device) -> dict:
    """The latest wipe record of each storage medium of the device."""
    from ..wiping.models import WipeRecord

    latest = (select(WipeRecord.medium_id, func.max(WipeRecord.id).label("id"))
              .where(WipeRecord.device_id == device.id).group_by(WipeRecord.medium_id).subquery())
    rows = db.session.execute(select(WipeRecord).join(latest, WipeRecord.id == latest.c.id)).scalars().all()
    return {w.medium_id: w for w in rows}


@bp.route("/<tag>/transitions", methods=["POST"])
@access(*WRITERS)
def transition(tag):
    form = {k: v.strip() for k, v in request.form.items() if k != "csrf_token" and v.strip() != ""}
    if "loan" in form:
        form["loan"] = form["loan"] in ("1", "on", "true", "loan")
    errors = TransitionIn().validate(form)
    if errors:
        flash(_("Please check: %(fields)s.", fields=", ".join(_field_label(k) for k in sorted(errors))), "error")
        return redirect(url_for("devices.show", tag=tag))
    data = TransitionIn().load(form)
    target = data.pop("target")
    note = data.pop("note")
    data.pop("client_time"), data.pop("station")
    try:
        device = services.transition(tag, target, actor=actor(), params=data, note=note)
    except DomainError as err:
        if err.status == 404:
            raise
        flash(err.translated(), "error")
        return redirect(url_for("devices.show", tag=tag))
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
