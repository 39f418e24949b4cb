"""GET /metrics: Prometheus text format, for the configured bearer token (METRICS_TOKEN) or an admin; else 404."""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, current_app, request
from flask_login import current_user

from ..auth.access import PUBLIC, access
from . import metrics

bp = Blueprint("ops", __name__)


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(
            header[len("Bearer "):].strip().encode(), str(token).encode()):
        return True
    return bool(current_user.is_authenticated and getattr(current_user.role, "value", None) == "admin")


@bp.route("/metrics")
@access(PUBLIC)  # checked below: the scraper's token or an admin; anyone else is told the page does not exist
def metrics_page():
    if not _allowed():
        abort(404)
    body, content_type = metrics.render(current_app)
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})
