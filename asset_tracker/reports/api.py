"""Dashboard figures as JSON."""
from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint

from ..auth.access import access
from . import services

blp = Blueprint("api_reports", __name__, url_prefix="/api/v1/reports", description="Programme dashboard figures")
BLUEPRINTS = [blp]


@blp.route("/dashboard", methods=["GET"])
@access("auditor", "admin")
@blp.response(200)
def dashboard():
    """Every table of the dashboard: rows keyed by column name."""
    board = services.dashboard(config=current_app.config)
    out = {"computed_at": board.computed_at.isoformat(), "head_seq": board.head_seq, "totals": board.totals}
    for name in services.TABLES:
        columns, rows = services.table(board, name)
        out[name] = [dict(zip(columns, (v.isoformat() if hasattr(v, "isoformat") else v for v in row), strict=False))
                     for row in rows]
    return out
