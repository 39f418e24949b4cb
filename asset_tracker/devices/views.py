"""Device pages: the list with filters, the device page with its next steps and timeline."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import lifecycle
from ..auth.access import ROLES, WRITERS, access
from ..auth.session import actor
from ..custody.services import device_events
from ..errors import DomainError
from . import filters, services
from .schemas import DeviceListArgs, TransitionIn

bp = Blueprint("devices", __name__, url_prefix="/devices")


@bp.route("")
@access(*ROLES)
def index():
    args = DeviceListArgs().load({k: (request.args.getlist(k) if k in ("state", "type") else v)
                                  for k, v in request.args.items() if v != ""})
    f = filters.DeviceFilter.from_args(args)
    items, total = filters.search(f, actor=actor(), rules=current_app.config["REMINDER_RULES"],
                                  page=args["page"], per_page=args["per_page"])
    return render_template("devices/list.html", devices=items, total=total, page=args["page"],
                           per_page=args["per_page"], filter=f, states=list(lifecycle.State))


@bp.route("/<tag>")
@access(*ROLES)
def show(tag):
    who = actor()
    device = services.get_device(tag, actor=who)
    steps = [s for s in lifecycle.next_states(device.state)
             if who.role == "admin" or who.role in lifecycle.ROLES_FOR.get(s, ())]
    return render_template("devices/show.html", device=device, events=device_events(device.id), steps=steps,
                           inputs=lifecycle.INPUTS, lifecycle=lifecycle)


@bp.route("/<tag>/transitions", methods=["POST"])
@access(*WRITERS)
def transition(tag):
    form = {k: v for k, v in request.form.items() if k != "csrf_token" and v != ""}
    if "loan" in form:
        form["loan"] = form["loan"] in ("1", "on", "true", "loan")
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
    flash(_("%(tag)s is now %(state)s.", tag=device.tag, state=lifecycle.label(device.state, _lang())), "success")
    return redirect(url_for("devices.show", tag=device.tag))


def _lang():
    from ..i18n import current_language

    return current_language()
