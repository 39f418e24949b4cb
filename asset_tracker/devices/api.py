"""Device routes of the JSON API: parse, one service call, dump."""
from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint

from ..auth.access import ROLES, access
from ..auth.session import actor
from ..custody.services import device_events
from ..errors import Invalid
from . import filters, services
from .schemas import (
    DeviceCreateIn,
    DeviceListArgs,
    DevicePageSchema,
    DeviceSchema,
    DeviceUpdateIn,
    EventSchema,
    TransitionIn,
)

blp = Blueprint("api_devices", __name__, url_prefix="/api/v1/devices", description="Devices and their lifecycle")
BLUEPRINTS = [blp]


@blp.route("", methods=["GET"])
@access(*ROLES)
@blp.arguments(DeviceListArgs, location="query", as_kwargs=True)
@blp.response(200, DevicePageSchema)
def list_devices(page, per_page, **args):
    """Devices in your scope, filtered and paginated."""
    items, total = filters.search(filters.DeviceFilter.from_args(args), actor=actor(),
                                  rules=current_app.config["REMINDER_RULES"], page=page, per_page=per_page)
    return {"items": items, "page": page, "per_page": per_page, "total": total}


@blp.route("", methods=["POST"])
@access("donor", "technician", "admin")
@blp.arguments(DeviceCreateIn)
@blp.response(201, DeviceSchema)
def create_device(data):
    """Register a device at its donor; the tag is allocated (or a pre-printed tag bound).

    A `batch_id` (or `donor_organisation_id`) that is unknown or outside your scope answers 404, the
    same for both, naming the field; the batch must be open and of the device's donor.
    """
    who = actor()
    donor_id = data.pop("donor_organisation_id")
    if who.role == "donor":
        if donor_id not in (None, who.organisation_id):
            raise Invalid("A donor registers devices for its own organisation only.",
                          details={"donor_organisation_id": ["server-owned for donors"]})
        donor_id = who.organisation_id
    elif donor_id is None:
        raise Invalid("Say which donor gives the device (donor_organisation_id).",
                      details={"donor_organisation_id": ["required"]})
    return services.register_device(
        actor=who, donor_organisation_id=donor_id, tag=data.pop("preprinted_tag"),
        tag_prefix=current_app.config["TAG_PREFIX"], tag_width=current_app.config["TAG_WIDTH"], **data)


@blp.route("/<tag>", methods=["GET"])
@access(*ROLES)
@blp.response(200, DeviceSchema)
def get_device(tag):
    """One device by its tag (404 outside your scope)."""
    return services.get_device(tag, actor=actor())


@blp.route("/<tag>", methods=["PATCH"])
@access("donor", "technician", "admin")
@blp.arguments(DeviceUpdateIn)
@blp.response(200, DeviceSchema)
def update_device(data, tag):
    """Change descriptive fields (type, brand, model, serial, IMEI, specs, notes, value)."""
    return services.update_device(tag, data, actor=actor())


@blp.route("/<tag>/transitions", methods=["POST"])
@access("donor", "technician", "coordinator", "admin")
@blp.arguments(TransitionIn)
@blp.response(200, DeviceSchema)
def transition(data, tag):
    """Move a device to its next state; refused with 409 and the reason when the lifecycle or a guard forbids it.

    Reservation, hand-over, return, cancellation and recycling answer 409 `use_distribution`: they are
    recorded through /api/v1/reservations, /api/v1/handovers and /api/v1/recyclings.
    """
    target = data.pop("target")
    note = data.pop("note")
    client_time = data.pop("client_time")
    station = data.pop("station")
    return services.transition(tag, target, actor=actor(), params=data, note=note,
                               client_time=client_time, station=station)


@blp.route("/<tag>/events", methods=["GET"])
@access(*ROLES)
@blp.response(200, EventSchema(many=True))
def events(tag):
    """The device's custody timeline, oldest first."""
    device = services.get_device(tag, actor=actor())
    return device_events(device.id)
