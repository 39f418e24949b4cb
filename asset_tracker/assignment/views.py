"""Distribution pages: the coordinator's desk, reservations, the hand-over form, returns, programmes, recycling."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..auth.access import access
from ..auth.session import actor
from ..db import utcnow
from ..devices import services as devices
from ..devices.models import DEVICE_TYPE_LABELS, Device, DeviceType
from ..i18n import current_language
from ..extensions import db
from ..organisations.models import OrgKind, Organisation
from ..audit.exports import table_csv
from . import pdf, services
from .models import ACCESSORY_LABELS, AccessoryKind, Recycling
from .schemas import HandoverIn, ProgrammeIn, RecyclingIn, ReservationIn, ReturnIn

bp = Blueprint("assignment", __name__, url_prefix="/distribution")
NAV = [
    ("assignment.index", "Distribution", ("coordinator", "technician", "admin", "auditor"), 40, "distribution"),
    ("assignment.programmes", "Programmes", ("coordinator", "technician", "admin", "auditor"), 45, "distribution"),
    ("assignment.recycling", "Recycling", ("technician", "admin"), 60, "workshop"),
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


@bp.route("/")
@access(*STAFF)
def index():
    who = actor()
    today = utcnow().date()
    reservations = services.reservations_of(actor=who)
    open_handovers = services.list_handovers(actor=who, open_only=True)
    loans_due = services.list_handovers(actor=who, loans_due_by=today + dt.timedelta(days=LOANS_DUE_WINDOW_DAYS))
    returns = services.list_handovers(actor=who, returned_only=True, limit=50)
    device_map = services.devices_by_id([r.device_id for r in reservations]
                                        + [h.device_id for h in open_handovers + returns])
    return render_template("assignment/index.html", who=who, reservations=reservations, handovers=open_handovers,
                           loans_due=loans_due, returns=returns, devices=device_map, today=today,
                           reference=lambda h: services.visible_reference(h, who))


@bp.route("/handovers.csv")
@access("coordinator", "admin", "auditor")
def export_handovers():
    """Hand-overs as CSV; the reference column is filled only for the partner that recorded it."""
    who = actor()
    handovers = services.list_handovers(actor=who, limit=100000)
    ids = {h.device_id for h in handovers}
    tags = dict(db.session.execute(select(Device.id, Device.tag).where(Device.id.in_(ids))).all()) if ids else {}
    columns = ["handover_id", "device_tag", "programme", "partner", "beneficiary_ref", "category",
               "handed_over_on", "loan", "expected_return_on", "returned_at", "return_reason", "kit"]
    rows = [(h.id, tags[h.device_id], h.programme.name, h.partner.name, services.visible_reference(h, who),
             h.beneficiary_category, h.handed_over_on, "loan" if h.loan else "gift", h.expected_return_on,
             h.returned_at, h.return_reason, "; ".join(i.accessory.kind.value for i in h.items))
            for h in handovers]
    return Response(table_csv(columns, rows), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="remises.csv"', "Cache-Control": "no-store"})


# ---------------------------------------------------------------- reservations


@bp.route("/reserve", methods=["GET"])
@access("coordinator", "technician", "admin")
def reserve_form():
    who = actor()
    return render_template("assignment/reserve.html", who=who, programmes=services.list_programmes(actor=who),
                           partners=_partner_options(who), stock=services.available_stock(),
                           type_options=[(t.value, DEVICE_TYPE_LABELS[t][current_language()]) for t in DeviceType])


@bp.route("/reserve", methods=["POST"])
@access("coordinator", "technician", "admin")
def reserve():
    data = ReservationIn().load(_form("grades"))
    who = actor()
    if data["device_tag"]:
        reservations = [services.reserve_device(data["device_tag"], actor=who, programme_id=data["programme_id"],
                                                partner_organisation_id=data["partner_organisation_id"],
                                                note=data["note"])]
    else:
        reservations = services.reserve_bulk(actor=who, programme_id=data["programme_id"], count=data["count"],
                                             type=data["type"], grades=data["grades"],
                                             partner_organisation_id=data["partner_organisation_id"],
                                             note=data["note"])
    flash(_("%(count)s devices reserved for %(partner)s.", count=len(reservations),
            partner=reservations[0].partner.name), "success")
    return redirect(url_for("assignment.index"))


@bp.route("/reservations/<tag>/cancel", methods=["POST"])
@access("coordinator", "technician", "admin")
def cancel(tag):
    device = services.cancel_reservation(tag, actor=actor())
    flash(_("The reservation of %(tag)s is cancelled: it is back in stock.", tag=device.tag), "success")
    return redirect(url_for("assignment.index"))


def _partner_options(who) -> list[tuple[int, str]]:
    if who.role == "coordinator":
        return []
    orgs = db.session.execute(select(Organisation).where(Organisation.kind == OrgKind.PARTNER)
                              .order_by(Organisation.name)).scalars().all()
    return [(o.id, o.name) for o in orgs]


# ---------------------------------------------------------------- hand-over


@bp.route("/handover/<tag>", methods=["GET"])
@access("coordinator", "admin")
def handover_form(tag):
    who = actor()
    device = devices.get_device(tag, actor=who)
    reservation = services.active_reservation(device)
    if reservation is None:
        flash(_("Device %(tag)s has no active reservation.", tag=device.tag), "error")
        return redirect(url_for("assignment.index"))
    partner = db.session.get(Organisation, reservation.partner_organisation_id)
    return render_template("assignment/handover.html", device=device, reservation=reservation, partner=partner,
                           kit=services.kit_of(device), categories=reservation.programme.beneficiary_categories,
                           today=utcnow().date(), kinds=AccessoryKind)


@bp.route("/handover/<tag>", methods=["POST"])
@access("coordinator", "admin")
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
    data = HandoverIn().load(dict(form, device_tag=tag))
    h = services.record_handover(data.pop("device_tag"), actor=actor(), **data)
    flash(_("Device handed over. Print the receipt for signature."), "success")
    return redirect(url_for("assignment.handover_detail", handover_id=h.id))


@bp.route("/handovers/<int:handover_id>")
@access("coordinator", "admin", "auditor")
def handover_detail(handover_id):
    who = actor()
    h = services.get_handover(handover_id, actor=who)
    device = db.session.get(Device, h.device_id)
    return render_template("assignment/handover_detail.html", h=h, device=device, who=who,
                           reference=services.visible_reference(h, who),
                           can_act=who.role == "coordinator" and who.organisation_id == h.partner_organisation_id)


@bp.route("/handovers/<int:handover_id>/receipt.pdf")
@access("coordinator")
def receipt(handover_id):
    who = actor()
    h = services.get_handover(handover_id, actor=who)
    data = pdf.handover_receipt(h, db.session.get(Device, h.device_id), services.visible_reference(h, who))
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="recepisse-remise-{h.id}.pdf"', "Cache-Control": "no-store"})


@bp.route("/handovers/<int:handover_id>/erase", methods=["POST"])
@access("coordinator")
def erase(handover_id):
    services.erase_reference(handover_id, actor=actor())
    flash(_("The beneficiary reference is erased. The device's history is kept without it."), "success")
    return redirect(url_for("assignment.handover_detail", handover_id=handover_id))


# ---------------------------------------------------------------- returns


@bp.route("/handovers/<int:handover_id>/return", methods=["GET"])
@access("coordinator", "admin")
def return_form(handover_id):
    who = actor()
    h = services.get_handover(handover_id, actor=who)
    return render_template("assignment/return.html", h=h, device=db.session.get(Device, h.device_id))


@bp.route("/handovers/<int:handover_id>/return", methods=["POST"])
@access("coordinator", "admin")
def record_return(handover_id):
    form = _form("missing_accessory_ids")
    form["missing_accessory_ids"] = [int(i) for i in form.get("missing_accessory_ids", []) if str(i).isdigit()]
    data = ReturnIn().load(form)
    h = services.record_return(handover_id, actor=actor(), **data)
    flash(_("Return recorded. Send the device back to the workshop, where it will be wiped again."), "success")
    return redirect(url_for("assignment.handover_detail", handover_id=h.id))


# ---------------------------------------------------------------- programmes


@bp.route("/programmes")
@access(*STAFF)
def programmes():
    who = actor()
    items = services.list_programmes(actor=who)
    return render_template("assignment/programmes.html", programmes=items,
                           progress={p.id: services.progress(p) for p in items}, who=who,
                           owners=_orgs(), partners=_partner_options(who) or _partner_options_all())


@bp.route("/programmes", methods=["POST"])
@access("admin")
def create_programme():
    form = _form("partner_ids", "beneficiary_categories")
    if isinstance(form.get("beneficiary_categories"), list) and len(form["beneficiary_categories"]) == 1:
        form["beneficiary_categories"] = [c.strip() for c in form["beneficiary_categories"][0].split(",")]
    data = ProgrammeIn().load(form)
    p = services.create_programme(actor=actor(), **data)
    flash(_("Programme %(name)s created.", name=p.name), "success")
    return redirect(url_for("assignment.programmes"))


def _orgs():
    return [(o.id, o.name) for o in db.session.execute(select(Organisation).order_by(Organisation.name)).scalars()]


def _partner_options_all():
    return [(o.id, o.name) for o in db.session.execute(select(Organisation).where(
        Organisation.kind == OrgKind.PARTNER).order_by(Organisation.name)).scalars()]


# ---------------------------------------------------------------- end of life


@bp.route("/recycling")
@access("technician", "admin")
def recycling():
    recent = db.session.execute(select(Recycling).order_by(Recycling.created_at.desc(), Recycling.id.desc())
                                .limit(100)).unique().scalars().all()
    recyclers = [(o.id, o.name) for o in db.session.execute(select(Organisation).where(
        Organisation.kind == OrgKind.RECYCLER).order_by(Organisation.name)).scalars()]
    return render_template("assignment/recycling.html", recent=recent, recyclers=recyclers,
                           devices=services.devices_by_id(r.device_id for r in recent))


@bp.route("/recycling", methods=["POST"])
@access("technician", "admin")
def recycle():
    form = _form()
    if form.get("parts_harvested"):
        form["parts_harvested"] = [p.strip() for p in form["parts_harvested"].split(",") if p.strip()]
    data = RecyclingIn().load(form)
    r = services.record_recycling(data.pop("device_tag"), actor=actor(), **data)
    flash(_("%(tag)s is recorded as sent to %(recycler)s.", tag=request.form.get("device_tag", "").upper(),
            recycler=r.recycler.name), "success")
    return redirect(url_for("assignment.recycling"))


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
