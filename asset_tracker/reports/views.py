"""The dashboard page: charts drawn on the server, the same figures as tables, each table as CSV."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from .. import lifecycle
from ..audit.exports import table_csv
from ..auth.access import access
from ..auth.session import actor
from ..devices.models import DEVICE_TYPE_LABELS, DeviceType
from ..errors import NotFound
from ..i18n import current_language, decimal, percent
from . import charts, services

bp = Blueprint("reports", __name__, url_prefix="/reports")
READERS = ("auditor", "admin")
NAV = [("reports.dashboard", lazy_gettext("Dashboard"), READERS, 75, "reports")]


def _number(value) -> str:
    return f"{value:,}".replace(",", "\u202f") if isinstance(value, int) else str(value)


def _unit(row: dict) -> str:
    """A target's unit in the reader's language: the kit kind's name, a device type's label, or "devices"."""
    if row["kit_name"]:
        return row["kit_name"]
    if row["unit"] == "device":
        return _("devices")
    try:
        return DEVICE_TYPE_LABELS[DeviceType(row["unit"])][current_language()]
    except ValueError:
        return row["unit"]


def _short(name: str, size: int = 34) -> str:
    """Chart labels stay on the chart; the table beside it gives the full name."""
    return name if len(name) <= size else name[: size - 1] + "…"


@bp.route("")
@access(*READERS)
def dashboard():
    board = services.dashboard(config=current_app.config)
    lang = current_language()
    state_items = [(lifecycle.label(s, lang), n, lifecycle.COLOURS[lifecycle.State(s)][0]) for s, n in board.states]
    donors = board.donors[:15]
    weeks = [w["week"].strftime("%d/%m") for w in board.weeks]
    step_rows = [(lifecycle.label(r["state"], lang), r["median_days"], r["p90_days"]) for r in board.steps
                 if r["stays"]]
    programme_rows = [(f"{_short(p['programme'], 30)} — {_unit(p)}", p["handed_over"], p["target"],
                       f"{_number(p['handed_over'])} / {_number(p['target'])}"
                       + (f" ({percent(p['percent'])})" if p["percent"] is not None else "")) for p in board.programmes]
    charts_ = {
        "states": charts.hbars(_("Devices per state"), _("Number of devices in each lifecycle state today."),
                               state_items),
        "donors": charts.hbars(_("Devices per donor"), _("Number of devices given by each donor organisation."),
                               [(_short(d["donor"]), d["devices"], "#DCEBFA") for d in donors], label_width=270),
        "throughput": charts.columns(
            _("Weekly throughput"), _("Devices received at the workshop and handed over to beneficiaries, per week."),
            weeks, [(_("Received"), [w["received"] for w in board.weeks]),
                    (_("Handed over"), [w["handed_over"] for w in board.weeks])]),
        "steps": charts.paired_hbars(
            _("Time spent in each step"), _("Median and 90th percentile of the days a device stays in each state."),
            step_rows, (_("Median"), _("90th percentile")), unit=_("d"), fmt=decimal),
        "programmes": charts.progress_bars(
            _("Programme progress"), _("Devices or kits handed over against each target of each programme."),
            programme_rows, width=760),
    }
    return render_template("reports/dashboard.html", board=board, charts=charts_, lifecycle=lifecycle, unit=_unit,
                           tables=services.TABLES)


@bp.route("/<name>.csv")
@access(*READERS)
def table_download(name):
    if name not in services.TABLES:
        raise NotFound("No table %(name)s.", name=name)
    board = services.dashboard(config=current_app.config)
    columns, rows = services.table(board, name)
    services.record_table_download(name, actor=actor())
    return Response(table_csv(columns, rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="dashboard-{name}.csv"',
                             "Cache-Control": "no-store"})
