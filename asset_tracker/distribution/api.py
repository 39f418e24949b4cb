"""Distribution routes of the JSON API: programmes, reservations, accessories, hand-overs, returns, recycling."""
from __future__ import annotations

from flask import Response, current_app
from flask_smorest import Blueprint

from ..auth.access import ROLES, access
from ..auth.session import actor
from ..custody.services import accessory_events
from ..devices.models import Device
from ..extensions import db
from . import pdf, services
from .schemas import (
    AccessoryCreateIn,
    AccessoryEventSchema,
    AccessoryListArgs,
    AccessorySchema,
    HandoverIn,
    HandoverSchema,
    KitIn,
    LostIn,
    NoteIn,
    PartnersIn,
    ProgrammeIn,
    ProgrammeSchema,
    RecyclingIn,
    RecyclingSchema,
    ReservationIn,
    ReservationSchema,
    ReturnIn,
    StockSchema,
    TargetsIn,
)

programmes = Blueprint("api_programmes", __name__, url_prefix="/api/v1/programmes",
                       description="Programmes, their partners and progress")
distribution = Blueprint("api_distribution", __name__, url_prefix="/api/v1",
                         description="Reservations, kits, hand-over to beneficiaries, returns and recycling")
BLUEPRINTS = [programmes, distribution]


@programmes.route("", methods=["GET"])
@access("admin", "auditor", "technician", "coordinator")
@programmes.response(200, ProgrammeSchema(many=True))
def list_programmes():
    """Programmes you may see, with their progress against the target."""
    return services.list_programmes(actor=actor())


@programmes.route("", methods=["POST"])
@access("admin")
@programmes.arguments(ProgrammeIn)
@programmes.response(201, ProgrammeSchema)
def create_programme(data):
    """Create a programme with its target and allowed partners."""
    return services.create_programme(actor=actor(), **data)


@programmes.route("/<int:programme_id>", methods=["GET"])
@access("admin", "auditor", "technician", "coordinator")
@programmes.response(200, ProgrammeSchema)
def get_programme(programme_id):
    """One programme (404 outside your scope)."""
    return services.get_programme(programme_id, actor=actor())


@programmes.route("/<int:programme_id>/targets", methods=["PUT"])
@access("admin")
@programmes.arguments(TargetsIn)
@programmes.response(200, ProgrammeSchema)
def set_targets(data, programme_id):
    """Replace the targets (a device type or a kit kind, and a count each); optionally the kit kinds and the
    second-device policy. A kit kind already used cannot be removed (409)."""
    return services.set_targets(programme_id, actor=actor(), **data)


@programmes.route("/<int:programme_id>/partners", methods=["PUT"])
@access("admin")
@programmes.arguments(PartnersIn)
@programmes.response(200, ProgrammeSchema)
def set_partners(data, programme_id):
    """Replace the partners allowed to distribute for the programme."""
    return services.set_programme_partners(programme_id, data["partner_ids"], actor=actor())


@distribution.route("/reservations", methods=["GET"])
@access("admin", "auditor", "technician", "coordinator")
@distribution.response(200, ReservationSchema(many=True))
def list_reservations():
    """Active reservations (a coordinator sees its organisation's)."""
    return services.reservations_of(actor=actor())


@distribution.route("/reservations", methods=["POST"])
@access("admin", "technician", "coordinator")
@distribution.arguments(ReservationIn)
@distribution.response(201, ReservationSchema(many=True))
def reserve(data):
    """Reserve one ready device by tag, or `count` ready devices of a type and grades (all or none)."""
    who = actor()
    if data["device_tag"]:
        return [services.reserve_device(data["device_tag"], actor=who, programme_id=data["programme_id"],
                                        partner_organisation_id=data["partner_organisation_id"], note=data["note"],
                                        kit_kind=data["kit_kind"])]
    return services.reserve_bulk(actor=who, programme_id=data["programme_id"], count=data["count"],
                                 type=data["type"], grades=data["grades"], kit_kind=data["kit_kind"],
                                 partner_organisation_id=data["partner_organisation_id"], note=data["note"])


@distribution.route("/stock", methods=["GET"])
@access("admin", "auditor", "technician", "coordinator")
@distribution.response(200, StockSchema)
def stock():
    """Counts of ready devices by type and grade, and of complete kits by programme, kit kind, type and grade.

    A coordinator sees the programmes its organisation is a partner of; counts only (no device, no reservation,
    no other organisation). Reserve from it with `POST /reservations` (`count`, `type`, `grades`, `kit_kind`)."""
    return services.coordinator_stock(actor=actor())


@distribution.route("/reservations/<tag>/cancel", methods=["POST"])
@access("admin", "technician", "coordinator")
@distribution.response(200)
def cancel(tag):
    """Cancel a device's active reservation: it goes back to ready stock."""
    device = services.cancel_reservation(tag, actor=actor())
    return {"device_tag": device.tag, "state": device.state.value}


@distribution.route("/accessories", methods=["POST"])
@access("admin", "technician", "coordinator")
@distribution.arguments(AccessoryCreateIn)
@distribution.response(201, AccessorySchema)
def add_accessory(data):
    """Track an accessory (4G key with IMEI and ICCID, operator and plan end date; SIM card; charger…): into
    stock, or into a device's kit when `device_tag` is given. An IMEI or ICCID already recorded is a 409 naming
    the existing key; a bad IMEI check digit or ICCID is a 422."""
    return services.add_accessory(actor=actor(), **data)


@distribution.route("/accessories", methods=["GET"])
@access("admin", "auditor", "technician", "coordinator")
@distribution.arguments(AccessoryListArgs, location="query")
@distribution.response(200, AccessorySchema(many=True))
def list_accessories(args):
    """Accessories in your scope, by status (in_stock, in_kit, with_beneficiary, returned, lost) and kind."""
    return services.list_accessories(actor=actor(), **args)


@distribution.route("/accessories/<int:accessory_id>", methods=["GET"])
@access("admin", "auditor", "technician", "coordinator")
@distribution.response(200, AccessorySchema)
def get_accessory(accessory_id):
    """One accessory (404 outside your scope)."""
    return services.get_accessory(accessory_id, actor=actor())


@distribution.route("/accessories/<int:accessory_id>/events", methods=["GET"])
@access("admin", "auditor", "technician", "coordinator")
@distribution.response(200, AccessoryEventSchema(many=True))
def get_accessory_events(accessory_id):
    """The accessory's custody events, oldest first (each a link of the hash chain)."""
    return accessory_events(services.get_accessory(accessory_id, actor=actor()).id)


@distribution.route("/accessories/<int:accessory_id>/kit", methods=["POST"])
@access("admin", "technician")
@distribution.arguments(KitIn)
@distribution.response(200, AccessorySchema)
def put_in_kit(data, accessory_id):
    """Put an accessory in stock or returned into a device's kit (one of each kind per kit)."""
    return services.put_in_kit(accessory_id, data["device_tag"], actor=actor(), note=data["note"])


@distribution.route("/accessories/<int:accessory_id>/take-out", methods=["POST"])
@access("admin", "technician")
@distribution.arguments(NoteIn)
@distribution.response(200, AccessorySchema)
def take_out_of_kit(data, accessory_id):
    """Take an accessory out of a kit (before the hand-over) back into stock."""
    return services.take_out_of_kit(accessory_id, actor=actor(), note=data["note"])


@distribution.route("/accessories/<int:accessory_id>/lost", methods=["POST"])
@access("admin", "technician", "coordinator")
@distribution.arguments(LostIn)
@distribution.response(200, AccessorySchema)
def declare_lost(data, accessory_id):
    """Declare an accessory lost, with a note."""
    return services.declare_accessory_lost(accessory_id, actor=actor(), note=data["note"])


@distribution.route("/handovers", methods=["GET"])
@access("admin", "auditor", "coordinator")
@distribution.response(200, HandoverSchema(many=True))
def list_handovers():
    """Hand-overs in your scope; the beneficiary reference is shown only to the partner that recorded it."""
    return services.list_handovers(actor=actor())


@distribution.route("/handovers", methods=["POST"])
@access("admin", "coordinator")
@distribution.arguments(HandoverIn)
@distribution.response(201, HandoverSchema)
def handover(data):
    """Hand a reserved device and its kit to a beneficiary known by a pseudonymous reference."""
    return services.record_handover(data.pop("device_tag"), actor=actor(), **data,
                                    **services.handover_settings(current_app.config))


@distribution.route("/handovers/<int:handover_id>", methods=["GET"])
@access("admin", "auditor", "coordinator")
@distribution.response(200, HandoverSchema)
def get_handover(handover_id):
    """One hand-over (404 outside your scope)."""
    return services.get_handover(handover_id, actor=actor())


@distribution.route("/handovers/<int:handover_id>/receipt.pdf", methods=["GET"])
@access("coordinator")
def receipt(handover_id):
    """The hand-over receipt (PDF, in the caller's language) for the partner to print and sign: the partner
    identified (legal name, address, SIRET), the person who handed over by name and title, page n/N."""
    who = actor()
    handover = services.get_handover(handover_id, actor=who)
    return _pdf(pdf.handover_receipt(handover, db.session.get(Device, handover.device_id),
                                     services.visible_reference(handover, who)), f"remise-{handover.id}.pdf")


@distribution.route("/handovers/<int:handover_id>/return", methods=["POST"])
@access("admin", "coordinator")
@distribution.arguments(ReturnIn)
@distribution.response(200, HandoverSchema)
def record_return(data, handover_id):
    """The beneficiary gave the device back: reason, condition, missing accessories."""
    return services.record_return(handover_id, actor=actor(), **data)


@distribution.route("/handovers/<int:handover_id>/erase-reference", methods=["POST"])
@access("coordinator")
@distribution.response(200, HandoverSchema)
def erase_reference(handover_id):
    """Erase the beneficiary reference on request; the custody chain keeps verifying."""
    return services.erase_reference(handover_id, actor=actor())


@distribution.route("/recyclings", methods=["POST"])
@access("admin", "technician")
@distribution.arguments(RecyclingIn)
@distribution.response(201, RecyclingSchema)
def recycle(data):
    """Send a device to a named recycler with its disposal reference and the parts harvested."""
    return services.record_recycling(data.pop("device_tag"), actor=actor(), **data)


@distribution.route("/recyclings/<int:recycling_id>/certificate.pdf", methods=["GET"])
@access(*ROLES)
def recycling_certificate(recycling_id):
    """Recycling certificate of one device (PDF)."""
    rows = services.recyclings_for(actor=actor(), recycling_id=recycling_id)
    return _certificate(rows, f"recyclage-{recycling_id}")


@distribution.route("/recyclings/shipments/<shipment>/certificate.pdf", methods=["GET"])
@access(*ROLES)
def shipment_certificate(shipment):
    """Recycling certificate of a whole shipment (PDF)."""
    rows = services.recyclings_for(actor=actor(), shipment=shipment)
    return _certificate(rows, f"envoi-{shipment}")


def _certificate(rows, name):
    by_id = services.devices_by_id(r.device_id for r in rows)
    return _pdf(pdf.recycling_certificate(rows, by_id, name), f"{name}.pdf")


def _pdf(data: bytes, filename: str) -> Response:
    safe = "".join(c for c in filename if c.isalnum() or c in "-_.") or "document.pdf"
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"', "Cache-Control": "no-store"})
