"""The header search page: an exact tag, serial or IMEI opens the device; anything else lists what matches."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from ..auth.access import AUTHENTICATED, access
from ..auth.session import actor
from . import services

bp = Blueprint("search", __name__, url_prefix="/search")


@bp.route("")
@access(AUTHENTICATED)
def index():
    result = services.search(request.args.get("q", ""), actor=actor())
    if result.exact is not None and request.args.get("all") != "1":
        return redirect(url_for("devices.show", tag=result.exact.tag))
    return render_template("search/results.html", result=result)
