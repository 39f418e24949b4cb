"""Audit routes of the JSON API."""
from flask_smorest import Blueprint

from ..auth.access import access
from . import services

blp = Blueprint("api_audit", __name__, url_prefix="/api/v1/audit", description="Custody chain verification")
BLUEPRINTS = [blp]


@blp.route("/verify", methods=["GET"])
@access("auditor", "admin")
@blp.response(200)
def verify():
    """Recompute the whole hash chain; `first_broken` names the first edited, missing or misplaced event."""
    return services.verify_chain().as_dict()
