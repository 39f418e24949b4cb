"""Home page: what this person has to do today."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user

from ..auth.access import AUTHENTICATED, PUBLIC, access
from ..auth.session import actor
from ..devices.services import state_counts

bp = Blueprint("web", __name__)


@bp.route("/")
@access(PUBLIC)
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for("web.home"))


@bp.route("/states.css")
@access(PUBLIC)
def states_css():
    """State colours come from lifecycle.py, the one place they are defined."""
    from flask import Response

    from .. import lifecycle

    css = "".join(f".state-{s.value}{{background:{bg};color:{fg};border-color:{fg}}}\n"
                  for s, (bg, fg) in lifecycle.COLOURS.items())
    return Response(css, mimetype="text/css", headers={"Cache-Control": "public, max-age=3600"})


@bp.route("/home")
@access(AUTHENTICATED)
def home():
    counts = state_counts(actor())
    return render_template("web/home.html", counts=counts)
