"""The header search as JSON: devices and batches in the caller's scope."""
from __future__ import annotations

from flask_smorest import Blueprint

from ..auth.access import AUTHENTICATED, access
from ..auth.session import actor
from . import services
from .schemas import SearchArgs, SearchResultSchema

blp = Blueprint("api_search", __name__, url_prefix="/api/v1", description="Search devices and batches")
BLUEPRINTS = [blp]


@blp.route("/search", methods=["GET"])
@access(AUTHENTICATED)
@blp.arguments(SearchArgs, location="query", as_kwargs=True)
@blp.response(200, SearchResultSchema)
def search(q):
    """Devices by tag, serial, IMEI, brand and model, and batches by name, in the caller's scope."""
    return services.search(q, actor=actor())
