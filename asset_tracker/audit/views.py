"""The auditor's pages: device search and full timeline, batch reconciliations, open custody, chain and exports."""
from __future__ import annotations

import json

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from .. import lifecycle
from ..auth.access import access
from ..auth.session import actor
from ..custody.services import device_events, verify_chain
from ..devices.models import Device, DeviceType
from ..devices.services import get_device
from ..distribution import services as distribution
from ..intake import services as intake
from ..intake.views import batch_list
from ..organisations import services as organisations
from ..web.lists import ListSpec, list_page
from . import services

bp = Blueprint("audit", __name__, url_prefix="/audit")
READERS = ("auditor", "admin")
NAV = [("audit.index", lazy_gettext("Audit"), READERS, 70, "reports")]

WATCH_LABELS = {
    "in_transit": lazy_gettext("In transit too long"),
    "lost": lazy_gettext("Lost"),
    "no_batch": lazy_gettext("Received without a batch"),
    "no_evidence": lazy_gettext("Wiped without an evidence file"),
}
# Keys of event details an auditor never sees the value of (the keyed hash of a beneficiary reference).
HIDDEN_DETAILS = ("beneficiary_ref_hmac", "beneficiary_ref")


@bp.route("")
@access(*READERS)
def index():
    q = (request.args.get("q") or "").strip()[:100]
    found = services.find_devices(q) if q else []
    if q and len(found) == 1:
        return redirect(url_for("audit.device", tag=found[0].tag))
    counts = services.watch_counts(current_app.config["REMINDER_RULES"])
    return render_template("audit/index.html", q=q, found=found, counts=counts, watch_labels=WATCH_LABELS)


@bp.route("/devices/<tag>")
@access(*READERS)
def device(tag):
    who = actor()
    d = get_device(tag, actor=who)
    events = device_events(d.id)
    handovers = list(reversed(distribution.handovers_of_device(d.id, actor=who)))  # oldest first
    orgs = organisations.names({i for e in events for i in (e.custodian_before_id, e.custodian_after_id)}, actor=who)
    return render_template("audit/device.html", device=d, events=events, handovers=handovers, orgs=orgs,
                           details_of=_details, lifecycle=lifecycle)


def _details(event) -> list[tuple[str, str]]:
    """An event's details as (key, value) pairs; a beneficiary reference's keyed hash is named, never shown."""
    try:
        data = json.loads(event.details or "{}")
    except ValueError:
        return [("details", event.details)]
    out = []
    for key in sorted(data):
        value = data[key]
        if key in HIDDEN_DETAILS:
            value = _("hidden (beneficiary reference)")
        elif isinstance(value, (dict, list)):
            value = json.dumps(value, ensure_ascii=False, sort_keys=True)
        out.append((key, "—" if value is None else value))
    return out


WATCH_LIST = ListSpec(
    name="watch", default_sort="since",
    sorts={"since": Device.state_since, "tag": Device.tag, "type": Device.type, "state": Device.state},
    columns=("tag", "type", "state", "state_since", "donor", "custodian", "batch_id"),
)


@bp.route("/watch/<kind>")
@access(*READERS)
def watch(kind):
    query = services.watch_query(kind, rules=current_app.config["REMINDER_RULES"])
    page = list_page(WATCH_LIST, query, export_row=lambda d: (
        d.tag, d.type, d.state, d.state_since, d.donor.name, d.custodian.name if d.custodian else None, d.batch_id))
    if not isinstance(page, dict):
        return page
    return render_template("audit/watch.html", kind=kind, label=WATCH_LABELS[kind], devices=page["items"],
                           total=page["list"].total, list=page["list"], kinds=services.WATCH_KINDS,
                           watch_labels=WATCH_LABELS)


@bp.route("/batches")
@access(*READERS)
def batches():
    context = batch_list(actor())
    if not isinstance(context, dict):
        return context
    return render_template("audit/batches.html", progress=intake.progress([b.id for b in context["batches"]]),
                           **context)


@bp.route("/batches/<int:batch_id>")
@access(*READERS)
def batch(batch_id):
    rec = intake.reconciliation(batch_id, actor=actor())
    return render_template("audit/batch.html", rec=rec, types=DeviceType)


@bp.route("/chain")
@access(*READERS)
def chain():
    result = verify_chain()
    key_path = current_app.config["AUDIT_SIGNING_KEY_PATH"]
    report = services.verify_stored_checkpoints(key_path=key_path)
    checkpoints = services.list_checkpoints(limit=30)
    try:
        key_id = services.keys.key_id(services.public_key(key_path=key_path))
    except Exception:  # noqa: BLE001 - no key configured yet: the page says so
        key_id = None
    return render_template("audit/chain.html", result=result, report=report, checkpoints=checkpoints,
                           key_id=key_id, who=actor())


@bp.route("/checkpoints", methods=["POST"])
@access("admin")
def sign_checkpoint():
    cp = services.sign_checkpoint(actor=actor(), key_path=current_app.config["AUDIT_SIGNING_KEY_PATH"])
    flash(_("Checkpoint #%(seq)s signed.", seq=cp.seq), "success")
    return redirect(url_for("audit.chain"))


@bp.route("/exports")
@access(*READERS)
def exports_page():
    who = actor()
    orgs = organisations.ordered(actor=who)
    programmes = distribution.programme_choices(actor=who)
    return render_template("audit/exports.html", states=list(lifecycle.State), types=list(DeviceType),
                           donors=[o for o in orgs if o.kind.value == "donor"], programmes=programmes)
