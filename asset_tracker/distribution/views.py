"""Distribution pages: the coordinator's desk, reservations, the hand-over form, returns, programmes, recycling."""
from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..audit.exports import table_csv
from ..auth.access import access
from ..auth.session import actor
from ..db import utcnow
from ..devices import services as devices
from ..devices.models import DEVICE_TYPE_LABELS, Device, DeviceType
from ..errors import Conflict
from ..i18n import current_language
from ..organisations import services as organisations
from ..organisations.models import OrgKind
from ..web.forms import keeps_form
from ..web.lists import ListSpec, list_page
from . import pdf, services
from .models import (
    ACCESSORY_LABELS,
    ACCESSORY_STATUS_LABELS,
    AccessoryKind,
    AccessoryStatus,
    Handover,
    Reservation,
)
from .schemas import (
    AccessoryCreateIn,
    AccessoryListArgs,
    HandoverIn,
    KitIn,
    ProgrammeIn,
    RecyclingIn,
    ReservationIn,
    ReturnIn,
    kit_kinds_from_text,
    targets_from_text,
)

bp = Blueprint("distribution", __name__, url_prefix="/distribution")
NAV = [
    ("distribution.index", "Distribution", ("coordinator", "technician", "admin", "auditor"), 40, "distribution"),
    ("distribution.programmes", "Programmes", ("coordinator", "technician", "admin", "auditor"), 45, "distribution"),
    ("distribution.stock", "Stock to reserve", ("coordinator", "technician", "admin", "auditor"), 42, "distribution"),
    ("distribution.accessories", "4G keys and accessories", ("technician", "admin", "auditor"), 43, "distribution"),
    ("distribution.recycling", "Recycling", ("technician", "admin"), 60, "workshop"),
]
STAFF = ("coordinator", "technician", "admin", "auditor")
LOANS_DUE_WINDOW_DAYS = 14


@bp.app_template_global("device_handovers")
def _device_handovers(device_id: int) -> list:
    """The hand-over records of a device the caller may open (device page links)."""
    return services.handovers_of_device(device_id, actor=actor())


@bp.app_template_filter("accessory_label")
def _accessory_label(kind) -> str:
    return ACCESSORY_LABELS[AccessoryKind(getattr(kind, "value", kind))][current_language()]


@bp.app_template_filter("accessory_status_label")
def _accessory_status_label(status) -> str:
    return ACCESSORY_STATUS_LABELS[AccessoryStatus(getattr(status, "value", status))][current_language()]


def _form(*lists: str) -> dict:
    """Non-empty form fields (CSRF token removed); ``lists`` name fields that may repeat."""
    out = {}
    for key in request.form:
        if key == "csrf_token":
            continue
        if key in lists:
            out[key] = [v for v in request.form.getlist(key) if v != ""]
        elif request.form[key].strip() != "":
            out[key] = request.form[key].strip()
    return out


# ---------------------------------------------------------------- the coordinator's desk


# The distribution desk shows one list at a time (a tab each), sorted, paged and exportable.
RESERVED_LIST = ListSpec(
    name="reservations", default_sort="reserved",
    sorts={"reserved": Reservation.id, "tag": Device.tag, "programme": Reservation.programme_id,
           "partner": Reservation.partner_organisation_id},
    columns=("reservation_id", "device_tag", "type", "brand", "model", "grade", "programme", "partner", "reserved_at"),
)
HANDOVER_COLUMNS = ("handover_id", "device_tag", "programme", "partner", "beneficiary_ref", "category",
                    "handed_over_on", "loan", "expected_return_on", "returned_at", "return_reason", "kit")
HANDOVER_SORTS = {"handed": Handover.id, "tag": Device.tag, "date": Handover.handed_over_on,
                  "due": Handover.expected_return_on, "returned": Handover.returned_at}
HANDOVER_LISTS = {
    "handed": ListSpec(name="handovers", sorts=HANDOVER_SORTS, default_sort="handed", default_desc=True,
                       columns=HANDOVER_COLUMNS),
    "loans": ListSpec(name="loans-due", sorts=HANDOVER_SORTS, default_sort="due", columns=HANDOVER_COLUMNS),
    "returns": ListSpec(name="returns", sorts=HANDOVER_SORTS, default_sort="returned", default_desc=True,
                        columns=HANDOVER_COLUMNS),
}
VIEWS = ("reserved", "loans", "handed", "returns")


def _handover_rows(who):
    def rows(items):
        tags = services.devices_by_id(h.device_id for h in items)
        return [(h.id, tags[h.device_id].tag, h.programme.name, h.partner.name, services.visible_reference(h, who),
                 h.beneficiary_category, h.handed_over_on, "loan" if h.loan else "gift", h.expected_return_on,
                 h.returned_at, h.return_reason, "; ".join(i.accessory.kind.value for i in h.items)) for h in items]

    return rows


def _reservation_rows(items):
    found = services.devices_by_id(r.device_id for r in items)
    return [(r.id, found[r.device_id].tag, found[r.device_id].type, found[r.device_id].brand,
             found[r.device_id].model, found[r.device_id].grade, r.programme.name, r.partner.name, r.created_at)
            for r in items]


@bp.route("/")
@access(*STAFF)
def index():
    who = actor()
    today = utcnow().date()
    view = request.args.get("view") if request.args.get("view") in VIEWS else "reserved"
    due_by = today + dt.timedelta(days=LOANS_DUE_WINDOW_DAYS)
    queries = {
        "reserved": services.reservations_query(actor=who).join(Device, Device.id == Reservation.device_id),
        "loans": services.handovers_query(actor=who, loans_due_by=due_by),
        "handed": services.handovers_query(actor=who, open_only=True),
        "returns": services.handovers_query(actor=who, returned_only=True),
    }
    for key in ("loans", "handed", "returns"):
        queries[key] = queries[key].join(Device, Device.id == Handover.device_id)
    counts = {key: services.count_rows(q) for key, q in queries.items()}
    if view == "reserved":
        page = list_page(RESERVED_LIST, queries[view], export_rows=_reservation_rows)
    else:
        page = list_page(HANDOVER_LISTS[view], queries[view], export_rows=_handover_rows(who))
    if not isinstance(page, dict):
        return page  # an export of the current tab
    items = page["items"]
    device_map = services.devices_by_id(i.device_id for i in items)
    return render_template("distribution/index.html", who=who, view=view, counts=counts, items=items,
                           list=page["list"], devices=device_map, today=today,
                           reference=lambda h: services.visible_reference(h, who))


@bp.route("/handovers.csv")
@access("coordinator", "admin", "auditor")
def export_handovers():
    """Hand-overs as CSV; the reference column is filled only for the partner that recorded it."""
    who = actor()
    handovers = services.list_handovers(actor=who, limit=100000)
    ids = {h.device_id for h in handovers}
    tags = {i: d.tag for i, d in services.devices_by_id(ids).items()}
    columns = ["handover_id", "device_tag", "programme", "partner", "beneficiary_ref", "category",
               "handed_over_on", "loan", "expected_return_on", "returned_at", "return_reason", "kit"]
    rows = [(h.id, tags[h.device_id], h.programme.name, h.partner.name, services.visible_reference(h, who),
             h.beneficiary_category, h.handed_over_on, "loan" if h.loan else "gift", h.expected_return_on,
             h.returned_at, h.return_reason, "; ".join(i.accessory.kind.value for i in h.items))
            for h in handovers]
    return Response(table_csv(columns, rows), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="remises.csv"', "Cache-Control": "no-store"})


# ---------------------------------------------------------------- reservations


def _reserve_context() -> dict:
    who = actor()
    return dict(who=who, programmes=services.list_programmes(actor=who), partners=_partner_options(who),
                stock=services.available_stock(),
                type_options=[(t.value, DEVICE_TYPE_LABELS[t][current_language()]) for t in DeviceType])


@bp.route("/reserve", methods=["GET"])
@access("coordinator", "technician", "admin")
def reserve_form():
    return render_template("distribution/reserve.html", form={}, **_reserve_context())


TAG_SPLIT = re.compile(r"[\s,;]+")


def _tags_field(form: dict) -> list[str]:
    """The device_tag field may hold several tags (the device list's selection): the first is validated
    with the schema, all of them by the service."""
    tags = [t for t in TAG_SPLIT.split(form.get("device_tag", "").upper()) if t]
    if tags:
        form["device_tag"] = tags[0]
    return tags


@bp.route("/reserve", methods=["POST"])
@access("coordinator", "technician", "admin")
@keeps_form("distribution/reserve.html", _reserve_context, not_found=True)
def reserve():
    form = _form("grades")
    tags = _tags_field(form)
    data = ReservationIn().load(form)
    who = actor()
    if len(tags) > 1:
        reservations = services.reserve_devices(tags, actor=who, programme_id=data["programme_id"],
                                                partner_organisation_id=data["partner_organisation_id"],
                                                note=data["note"])
    elif data["device_tag"]:
        reservations = [services.reserve_device(data["device_tag"], actor=who, programme_id=data["programme_id"],
                                                partner_organisation_id=data["partner_organisation_id"],
                                                note=data["note"], kit_kind=data["kit_kind"])]
    else:
        reservations = services.reserve_bulk(actor=who, programme_id=data["programme_id"], count=data["count"],
                                             type=data["type"], grades=data["grades"], kit_kind=data["kit_kind"],
                                             partner_organisation_id=data["partner_organisation_id"],
                                             note=data["note"])
    flash(_("%(count)s devices reserved for %(partner)s.", count=len(reservations),
            partner=reservations[0].partner.name), "success")
    return redirect(url_for("distribution.index"))


@bp.route("/stock")
@access("coordinator", "technician", "admin", "auditor")
def stock():
    """Counts of ready devices and complete kits the caller's programmes may draw on, with a reservation form."""
    who = actor()
    return render_template(
        "distribution/stock.html",
        who=who,
        stock=services.coordinator_stock(actor=who),
        programmes=[
            p
            for p in services.list_programmes(actor=who)
            if who.role != "coordinator" or who.organisation_id in {o.id for o in p.partners}
        ],
        partners=_partner_options(who),
        type_options=[(t.value, DEVICE_TYPE_LABELS[t][current_language()]) for t in DeviceType],
    )


@bp.route("/accessories")
@access("technician", "admin", "auditor", "coordinator")
def accessories():
    """4G keys, SIM cards and other accessories by status: their numbers, operator, plan end and kit."""
    who = actor()
    args = AccessoryListArgs().load({k: v for k, v in request.args.items() if v != "" and k != "lang"})
    items = services.list_accessories(actor=who, **args)
    return render_template("distribution/accessories.html", who=who, items=items, filter=args,
                           tags=services.devices_by_id(a.device_id for a in items if a.device_id),
                           status_options=[(s.value, _accessory_status_label(s)) for s in AccessoryStatus],
                           kind_options=[(k.value, _accessory_label(k)) for k in AccessoryKind],
                           can_write=who.role in ("technician", "admin"))


@bp.route("/accessories", methods=["POST"])
@access("technician", "admin")
def add_accessory():
    data = AccessoryCreateIn().load(_form())
    accessory = services.add_accessory(actor=actor(), **data)
    flash(_("Accessory #%(id)s recorded.", id=accessory.id), "success")
    return redirect(url_for("distribution.accessories"))


@bp.route("/accessories/<int:accessory_id>/kit", methods=["POST"])
@access("technician", "admin")
def put_in_kit(accessory_id):
    data = KitIn().load(_form())
    accessory = services.put_in_kit(accessory_id, data["device_tag"], actor=actor(), note=data["note"])
    flash(_("Accessory #%(id)s is now in the kit of %(tag)s.", id=accessory.id, tag=data["device_tag"].upper()),
          "success")
    return redirect(url_for("distribution.accessories"))


@bp.route("/reservations/<tag>/cancel", methods=["POST"])
@access("coordinator", "technician", "admin")
def cancel(tag):
    device = services.cancel_reservation(tag, actor=actor())
    flash(_("The reservation of %(tag)s is cancelled: it is back in stock.", tag=device.tag), "success")
    return redirect(url_for("distribution.index"))


def _partner_options(who) -> list[tuple[int, str]]:
    if who.role == "coordinator":
        return []
    return [(o.id, o.name) for o in organisations.ordered(actor=who, kind=OrgKind.PARTNER)]


# ---------------------------------------------------------------- hand-over


def _handover_context(tag: str) -> dict:
    device = devices.get_device(tag, actor=actor())
    reservation = services.active_reservation(device)
    if reservation is None:
        raise Conflict("Device %(tag)s has no active reservation.", tag=device.tag, code="not_reserved")
    partner = organisations.find(reservation.partner_organisation_id, actor=actor())
    return dict(device=device, reservation=reservation, partner=partner, kit=services.kit_of(device),
                categories=reservation.programme.beneficiary_categories, today=utcnow().date(), kinds=AccessoryKind)


@bp.route("/handover/<tag>", methods=["GET"])
@access("coordinator", "admin")
def handover_form(tag):
    device = devices.get_device(tag, actor=actor())
    if services.active_reservation(device) is None:
        flash(_("Device %(tag)s has no active reservation.", tag=device.tag), "error")
        return redirect(url_for("distribution.index"))
    return render_template("distribution/handover.html", form={}, **_handover_context(tag))


@bp.route("/handover/<tag>", methods=["POST"])
@access("coordinator", "admin")
@keeps_form("distribution/handover.html", _handover_context,
            aliases={"new_accessories.0.imei": "key_imei", "new_accessories.0.iccid": "key_iccid",
                     "imei": "key_imei", "iccid": "key_iccid"})
def handover(tag):
    form = _form("accessory_ids")
    new = []
    if form.pop("add_mobile_key", None) or form.get("key_imei") or form.get("key_iccid"):
        new.append({k: v for k, v in {"kind": "mobile_key", "imei": form.pop("key_imei", None),
                                      "iccid": form.pop("key_iccid", None),
                                      "tag": form.pop("key_tag", None)}.items() if v})
    for kind in ("charger", "bag", "mouse", "headset"):
        if form.pop(f"add_{kind}", None):
            new.append({"kind": kind})
    for key in ("key_imei", "key_iccid", "key_tag"):
        form.pop(key, None)
    form["loan"] = form.get("loan") == "loan"
    if not form["loan"]:
        form.pop("expected_return_on", None)
    form["accessory_ids"] = [int(i) for i in form.get("accessory_ids", []) if str(i).isdigit()]
    form["new_accessories"] = new
    form["confirm_second_device"] = form.get("confirm_second_device") == "1"
    data = HandoverIn().load(dict(form, device_tag=tag))
    who = actor()
    settings = services.handover_settings(current_app.config)
    if not data["confirm_second_device"] and services.second_device_to_confirm(
            tag, data["beneficiary_ref"], actor=who, hmac_key=settings["hmac_key"]):
        # The programme warns: ask, keeping every field of the form for the confirmed resubmission.
        return render_template("distribution/handover_confirm.html", tag=tag,
                               fields=[(k, v) for k in request.form for v in request.form.getlist(k)
                                       if k not in ("csrf_token", "confirm_second_device")]), 409
    h = services.record_handover(data.pop("device_tag"), actor=who, **data, **settings)
    flash(_("Device handed over. Print the receipt for signature."), "success")
    return redirect(url_for("distribution.handover_detail", handover_id=h.id))


@bp.route("/handovers/<int:handover_id>")
@access("coordinator", "admin", "auditor")
def handover_detail(handover_id):
    who = actor()
    h = services.get_handover(handover_id, actor=who)
    device = services.handover_device(h, actor=who)
    return render_template("distribution/handover_detail.html", h=h, device=device, who=who,
                           reference=services.visible_reference(h, who),
                           can_act=who.role == "coordinator" and who.organisation_id == h.partner_organisation_id)


@bp.route("/handovers/<int:handover_id>/receipt.pdf")
@access("coordinator")
def receipt(handover_id):
    who = actor()
    h = services.get_handover(handover_id, actor=who)
    data = pdf.handover_receipt(h, services.handover_device(h, actor=who), services.visible_reference(h, who))
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="recepisse-remise-{h.id}.pdf"', "Cache-Control": "no-store"})


@bp.route("/handovers/<int:handover_id>/erase", methods=["POST"])
@access("coordinator")
def erase(handover_id):
    services.erase_reference(handover_id, actor=actor())
    flash(_("The beneficiary reference is erased. The device's history is kept without it."), "success")
    return redirect(url_for("distribution.handover_detail", handover_id=handover_id))


# ---------------------------------------------------------------- returns


def _return_context(handover_id: int) -> dict:
    who = actor()
    h = services.get_handover(handover_id, actor=who)
    return {"h": h, "device": services.handover_device(h, actor=who)}


@bp.route("/handovers/<int:handover_id>/return", methods=["GET"])
@access("coordinator", "admin")
def return_form(handover_id):
    return render_template("distribution/return.html", form={}, **_return_context(handover_id))


@bp.route("/handovers/<int:handover_id>/return", methods=["POST"])
@access("coordinator", "admin")
@keeps_form("distribution/return.html", _return_context)
def record_return(handover_id):
    form = _form("missing_accessory_ids")
    form["missing_accessory_ids"] = [int(i) for i in form.get("missing_accessory_ids", []) if str(i).isdigit()]
    data = ReturnIn().load(form)
    h = services.record_return(handover_id, actor=actor(), **data)
    flash(_("Return recorded. Send the device back to the workshop, where it will be wiped again."), "success")
    return redirect(url_for("distribution.handover_detail", handover_id=h.id))


# ---------------------------------------------------------------- programmes


def _programmes_context() -> dict:
    who = actor()
    items = services.list_programmes(actor=who)
    return dict(programmes=items, progress={p.id: services.progress(p) for p in items}, who=who,
                owners=_orgs(), partners=_partner_options(who) or _partner_options_all())


@bp.route("/programmes")
@access(*STAFF)
def programmes():
    return render_template("distribution/programmes.html", form={}, **_programmes_context())


@bp.route("/programmes", methods=["POST"])
@access("admin")
@keeps_form("distribution/programmes.html", _programmes_context)
def create_programme():
    form = _form("partner_ids", "beneficiary_categories")
    if isinstance(form.get("beneficiary_categories"), list) and len(form["beneficiary_categories"]) == 1:
        form["beneficiary_categories"] = [c.strip() for c in form["beneficiary_categories"][0].split(",")]
    form["targets"] = targets_from_text(form.get("targets", ""))
    form["kit_kinds"] = kit_kinds_from_text(form.get("kit_kinds", ""))
    data = ProgrammeIn().load(form)
    p = services.create_programme(actor=actor(), **data)
    flash(_("Programme %(name)s created.", name=p.name), "success")
    return redirect(url_for("distribution.programmes"))


def _orgs():
    return [(o.id, o.name) for o in organisations.ordered(actor=actor())]


def _partner_options_all():
    return [(o.id, o.name) for o in organisations.ordered(actor=actor(), kind=OrgKind.PARTNER)]


# ---------------------------------------------------------------- end of life


def _recycling_context() -> dict:
    who = actor()
    recent = services.recent_recyclings(actor=who, limit=100)
    recyclers = [(o.id, o.name) for o in organisations.ordered(actor=who, kind=OrgKind.RECYCLER)]
    return dict(recent=recent, recyclers=recyclers, devices=services.devices_by_id(r.device_id for r in recent))


@bp.route("/recycling")
@access("technician", "admin")
def recycling():
    return render_template("distribution/recycling.html", form={}, **_recycling_context())


@bp.route("/recycling", methods=["POST"])
@access("technician", "admin")
@keeps_form("distribution/recycling.html", _recycling_context, not_found=True)
def recycle():
    form = _form()
    if form.get("parts_harvested"):
        form["parts_harvested"] = [p.strip() for p in form["parts_harvested"].split(",") if p.strip()]
    tags = _tags_field(form)
    data = RecyclingIn().load(form)
    if len(tags) > 1:
        data.pop("device_tag")
        done = services.record_recycling_many(tags, actor=actor(), **data)
        flash(_("%(count)s devices are recorded as sent to %(recycler)s.", count=len(done),
                recycler=done[0].recycler.name), "success")
        return redirect(url_for("distribution.recycling"))
    r = services.record_recycling(data.pop("device_tag"), actor=actor(), **data)
    flash(_("%(tag)s is recorded as sent to %(recycler)s.", tag=tags[0] if tags else "", recycler=r.recycler.name),
          "success")
    return redirect(url_for("distribution.recycling"))


@bp.route("/recycling/<int:recycling_id>/certificate.pdf")
@access("technician", "admin", "auditor", "donor")
def recycling_certificate(recycling_id):
    rows = services.recyclings_for(actor=actor(), recycling_id=recycling_id)
    return _certificate(rows, f"recyclage-{recycling_id}")


@bp.route("/recycling/shipments/<shipment>/certificate.pdf")
@access("technician", "admin", "auditor")
def shipment_certificate(shipment):
    rows = services.recyclings_for(actor=actor(), shipment=shipment)
    return _certificate(rows, "envoi-" + "".join(c for c in shipment if c.isalnum() or c in "-_"))


def _certificate(rows, name):
    data = pdf.recycling_certificate(rows, services.devices_by_id(r.device_id for r in rows), name)
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})
