"""Dashboard figures: set-based SQL over indexed columns, one query per table, never a loop over devices."""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import bindparam, case, exists, func, select, text

from ..audit.services import record_export
from ..db import UTCDateTime, utcnow
from ..devices.filters import overdue_clause
from ..devices.models import Device
from ..distribution.models import Handover, Programme
from ..distribution.services import targets_progress
from ..extensions import db
from ..lifecycle import State

# Lifecycle entries counted as throughput: what comes in, what leaves the workshop, what ends.
THROUGHPUT_STATES = (State.RECEIVED, State.WIPED, State.READY, State.HANDED_OVER, State.RECYCLED)
# States a device spends time in, in lifecycle order (terminal ones have no duration).
STEP_STATES = (State.REGISTERED, State.COLLECTED, State.RECEIVED, State.DIAGNOSED, State.WIPED, State.REFURBISHED,
               State.READY, State.RESERVED, State.HANDED_OVER, State.RETURNED, State.LOST)
REUSED_STATES = (State.HANDED_OVER, State.RETURNED)


@dataclass
class Dashboard:
    computed_at: dt.datetime
    head_seq: int
    states: list[tuple[str, int]]
    donors: list[dict]
    weeks: list[dict]
    steps: list[dict]
    overdue: list[dict]
    programmes: list[dict]
    impact: list[dict]
    totals: dict = field(default_factory=dict)
    seconds: float = 0.0


# ---------------------------------------------------------------- the tables


def devices_per_state(session) -> list[tuple[str, int]]:
    counts = {s.value if hasattr(s, "value") else s: n for s, n in session.execute(
        text("SELECT state, count(*) FROM devices GROUP BY state")).all()}
    return [(s.value, counts.get(s.value, 0)) for s in State]


def devices_per_donor(session) -> list[dict]:
    """Per donor: devices given, given a second life (handed over at least once), recycled, lost."""
    rows = session.execute(text("""
        SELECT o.name, d.n, d.reused, d.recycled, d.lost FROM (
            SELECT donor_organisation_id AS donor, count(*) AS n,
                   sum(CASE WHEN state IN ('handed_over', 'returned') THEN 1 ELSE 0 END) AS reused,
                   sum(CASE WHEN state = 'recycled' THEN 1 ELSE 0 END) AS recycled,
                   sum(CASE WHEN state = 'lost' THEN 1 ELSE 0 END) AS lost
            FROM devices GROUP BY donor_organisation_id) d
        JOIN organisations o ON o.id = d.donor ORDER BY d.n DESC, o.name""")).all()
    return [{"donor": name, "devices": n, "reused": reused or 0, "recycled": recycled or 0, "lost": lost or 0}
            for name, n, reused, recycled, lost in rows]


def weekly_throughput(session, weeks: int, now: dt.datetime) -> list[dict]:
    """Entries into the main steps per ISO week (Monday), the last ``weeks`` weeks, oldest first."""
    monday = (now - dt.timedelta(days=now.weekday())).date()
    first = monday - dt.timedelta(weeks=weeks - 1)
    since = dt.datetime.combine(first, dt.time(), dt.UTC)
    # Grouped by day in SQL (index on type, server_time), folded into weeks here: at most 7 x weeks x 5 rows.
    rows = session.execute(text("""
        SELECT date(server_time) AS day, state_after, count(*) FROM custody_events
        WHERE type = 'state_changed' AND server_time >= :since
          AND state_after IN ('received', 'wiped', 'ready', 'handed_over', 'recycled')
        GROUP BY date(server_time), state_after""").bindparams(bindparam("since", type_=UTCDateTime())),
        {"since": since}).all()
    out = {first + dt.timedelta(weeks=i): {s.value: 0 for s in THROUGHPUT_STATES} for i in range(weeks)}
    for day, state, n in rows:
        day = dt.date.fromisoformat(day) if isinstance(day, str) else day
        week = day - dt.timedelta(days=day.weekday())
        if week in out:
            out[week][state] += n
    return [{"week": week, **counts} for week, counts in out.items()]


STATE_EVENT = "type IN ('state_changed', 'device_registered') AND state_after IS NOT NULL AND device_id IS NOT NULL"


def _duration_sql(dialect: str, start: str, end: str) -> str:
    if dialect == "sqlite":
        return f"(julianday({end}) - julianday({start})) * 86400.0"
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


def refresh_stays(session=None, *, batch: int = 20000, max_batches: int | None = None) -> int:
    """Fold the custody events written since the watermark into ``report_stays``; returns the stays added.

    Each state event closes the stay opened by the device's previous state event (found through the index on
    device_id, seq). Work goes in batches of ``batch`` events, one short transaction each, so the workshop's
    writes never wait long behind it.
    """
    session = session or db.session
    dialect = session.get_bind().dialect.name
    added, done = 0, 0
    while max_batches is None or done < max_batches:
        head = session.execute(text("SELECT last_seq FROM custody_chain_head WHERE id = 1")).scalar() or 0
        mark = session.execute(text("UPDATE report_stay_watermark SET last_seq = last_seq WHERE id = 1 "
                                    "RETURNING last_seq")).scalar()
        if mark is None:
            session.execute(text("INSERT INTO report_stay_watermark (id, last_seq) VALUES (1, 0)"))
            mark = 0
        if mark >= head:
            session.commit()
            return added
        upto = min(head, mark + batch)
        result = session.execute(text(f"""
            INSERT INTO report_stays (ended_seq, device_id, state, seconds)
            SELECT e.seq, e.device_id, p.state_after, {_duration_sql(dialect, "p.server_time", "e.server_time")}
            FROM custody_events e
            JOIN custody_events p ON p.seq = (
                SELECT max(x.seq) FROM custody_events x
                WHERE x.device_id = e.device_id AND x.seq < e.seq
                  AND x.type IN ('state_changed', 'device_registered') AND x.state_after IS NOT NULL)
            WHERE e.seq > :mark AND e.seq <= :upto AND e.type = 'state_changed' AND e.device_id IS NOT NULL"""),
            {"mark": mark, "upto": upto})
        added += max(result.rowcount or 0, 0)
        session.execute(text("UPDATE report_stay_watermark SET last_seq = :upto WHERE id = 1"), {"upto": upto})
        session.commit()
        done += 1
    return added


def time_in_steps(session) -> list[dict]:
    """Median and 90th percentile of completed stays in each state (nearest rank), read from ``report_stays``.

    Counts come from one grouped query; each percentile is one ``ORDER BY seconds LIMIT 1 OFFSET k`` walk of
    the (state, seconds) index, so the cost does not depend on the size of the custody log.
    """
    counts = dict(session.execute(text("SELECT state, count(*) FROM report_stays GROUP BY state")).all())
    pick = text("SELECT seconds FROM report_stays WHERE state = :state ORDER BY seconds LIMIT 1 OFFSET :k")
    out = []
    for s in STEP_STATES:
        n = counts.get(s.value, 0)
        p50 = p90 = None
        if n:
            p50 = session.execute(pick, {"state": s.value, "k": (50 * n + 99) // 100 - 1}).scalar()
            p90 = session.execute(pick, {"state": s.value, "k": (90 * n + 99) // 100 - 1}).scalar()
        out.append({"state": s.value, "stays": n, "median_days": _days(p50), "p90_days": _days(p90)})
    return out


def time_in_steps_from_log(session) -> list[dict]:
    """The same figures computed from the whole custody log at once (window functions); the reference the
    incremental table is tested against, and what to run after rebuilding ``report_stays``."""
    dialect = session.get_bind().dialect.name
    rows = session.execute(text(f"""
        WITH moves AS (
            SELECT state_after AS state, server_time AS t,
                   LEAD(server_time) OVER (PARTITION BY device_id ORDER BY seq) AS t_next
            FROM custody_events WHERE {STATE_EVENT}
        ), stays AS (
            SELECT state, {_duration_sql(dialect, "t", "t_next")} AS s FROM moves WHERE t_next IS NOT NULL
        ), ranked AS (
            SELECT state, s, ROW_NUMBER() OVER (PARTITION BY state ORDER BY s) AS rn,
                   COUNT(*) OVER (PARTITION BY state) AS n
            FROM stays
        )
        SELECT state, max(n),
               max(CASE WHEN rn = (50 * n + 99) / 100 THEN s END),
               max(CASE WHEN rn = (90 * n + 99) / 100 THEN s END)
        FROM ranked GROUP BY state""")).all()
    found = {state: (n, p50, p90) for state, n, p50, p90 in rows}
    out = []
    for s in STEP_STATES:
        n, p50, p90 = found.get(s.value, (0, None, None))
        out.append({"state": s.value, "stays": n or 0, "median_days": _days(p50), "p90_days": _days(p90)})
    return out


def _days(seconds) -> float | None:
    return None if seconds is None else round(float(seconds) / 86400.0, 1)


def overdue_counts(session, rules: list[dict], now: dt.datetime) -> list[dict]:
    """Devices past each reminder rule's delay now, in one pass over the rules' states (index state, state_since)."""
    rules = [r for r in rules if not r.get("plan_end")]  # a warning before a data plan ends is not a late step
    if not rules:
        return []
    cols = [func.coalesce(func.sum(case((overdue_clause([r], now), 1), else_=0)), 0).label(r["id"]) for r in rules]
    states = {State(r["state"]) for r in rules}
    row = session.execute(select(*cols).select_from(Device).where(Device.state.in_(states))).one()
    return [{"rule": r["id"], "state": r["state"], "days": r["days"], "devices": int(row[i] or 0)}
            for i, r in enumerate(rules)]


def programme_progress(session) -> list[dict]:
    """One row per programme target: what is done against its count, and what is reserved for it now.

    The counting rules are the distribution capability's (`distribution.services.targets_progress`): beneficiaries
    served within the programme's period, a kit only when complete, returns not deducted. ``kit_name`` is set
    for a kit kind (a device type is labelled in the reader's language by the page).
    """
    programmes = session.execute(select(Programme).order_by(Programme.name)).unique().scalars().all()
    progress = targets_progress(programmes)
    out = []
    for p in programmes:
        kinds = {k.code: k.name for k in p.kit_kinds}
        for t in progress[p.id]:
            out.append({"programme": p.name, "unit": t["unit"], "kit_name": kinds.get(t["unit"]), "target": t["count"],
                        "handed_over": t["done"], "reserved": t["reserved"], "ends_on": p.ends_on,
                        "percent": t["percent"]})
    return out


def reuse_and_impact(session, config) -> list[dict]:
    """Per device type: reused (with a beneficiary now, or handed over before), recycled, and the estimated
    benefit of the reused."""
    reused = dict(session.execute(select(Device.type, func.count()).where(
        Device.state.in_(REUSED_STATES) | exists().where(Handover.device_id == Device.id)).group_by(Device.type)).all())
    recycled = dict(session.execute(select(Device.type, func.count()).where(Device.state == State.RECYCLED)
                                    .group_by(Device.type)).all())
    mass = config.get("REPORTS_DEVICE_MASS_KG", {})
    co2 = config.get("REPORTS_CO2E_KG_PER_YEAR", {})
    years = config.get("REPORTS_SECOND_LIFE_YEARS", 0)
    out = []
    for kind in sorted(set(reused) | set(recycled), key=lambda t: t.value):
        n = reused.get(kind, 0)
        per_year = co2.get(kind.value)
        out.append({"type": kind.value, "reused": n, "recycled": recycled.get(kind, 0),
                    "ewaste_kg": round(n * float(mass.get(kind.value) or 0), 1),
                    "co2e_kg": None if per_year is None else round(n * per_year * years, 1)})
    return out


# ---------------------------------------------------------------- the dashboard, cached while nothing changes

_cache: dict = {}
_lock = threading.Lock()


def dashboard(*, config: Mapping, fresh: bool = False) -> Dashboard:
    """Every table of the dashboard. Reused while the custody chain has not moved (every change writes an event)
    or for REPORTS_CACHE_SECONDS, whichever is longer; run on a deferred read connection.

    ``config``: the application's configuration (the REPORTS_* settings, the reminder rules, the database URI).
    """
    session = db.session
    head = session.execute(text("SELECT last_seq FROM custody_chain_head WHERE id = 1")).scalar() or 0
    now = utcnow()
    key = (config["SQLALCHEMY_DATABASE_URI"], now.date())
    ttl = config.get("REPORTS_CACHE_SECONDS", 0)
    with _lock:
        hit = _cache.get(key)
    if hit and not fresh and (hit.head_seq == head or (ttl and time.monotonic() - hit._made < ttl)):
        return hit
    started = time.perf_counter()
    session.commit()  # end a GET's read-only transaction: folding new events into report_stays writes
    # Catch up at most a few batches here; the scheduled job does the rest (a fresh database's whole log).
    refresh_stays(session, max_batches=int(config["REPORTS_REFRESH_BATCHES"]))
    states = devices_per_state(session)
    board = Dashboard(
        computed_at=now, head_seq=head, states=states, donors=devices_per_donor(session),
        weeks=weekly_throughput(session, int(config.get("REPORTS_WEEKS", 12)), now), steps=time_in_steps(session),
        overdue=overdue_counts(session, config.get("REPORTS_OVERDUE_RULES") or config["REMINDER_RULES"], now),
        programmes=programme_progress(session), impact=reuse_and_impact(session, config),
    )
    board.totals = {
        "devices": sum(n for _, n in states),
        "reused": sum(r["reused"] for r in board.impact),
        "recycled": sum(r["recycled"] for r in board.impact),
        "ewaste_kg": round(sum(r["ewaste_kg"] for r in board.impact), 1),
        "co2e_kg": round(sum(r["co2e_kg"] or 0 for r in board.impact), 1),
        "overdue": sum(r["devices"] for r in board.overdue),
    }
    board.seconds = time.perf_counter() - started
    board._made = time.monotonic()
    with _lock:
        _cache.clear()
        _cache[key] = board
    return board


# ---------------------------------------------------------------- the same tables as rows (CSV, API)

TABLES = ("states", "donors", "throughput", "steps", "overdue", "programmes", "impact")


def table(board: Dashboard, name: str) -> tuple[tuple[str, ...], list[tuple]]:
    if name == "states":
        return ("state", "devices"), list(board.states)
    if name == "donors":
        return ("donor", "devices", "reused", "recycled", "lost"), [
            (r["donor"], r["devices"], r["reused"], r["recycled"], r["lost"]) for r in board.donors]
    if name == "throughput":
        cols = ("week",) + tuple(s.value for s in THROUGHPUT_STATES)
        return cols, [tuple([w["week"].isoformat()] + [w[c] for c in cols[1:]]) for w in board.weeks]
    if name == "steps":
        return ("state", "stays", "median_days", "p90_days"), [
            (r["state"], r["stays"], r["median_days"], r["p90_days"]) for r in board.steps]
    if name == "overdue":
        return ("rule", "state", "days", "devices"), [(r["rule"], r["state"], r["days"], r["devices"])
                                                      for r in board.overdue]
    if name == "programmes":
        return ("programme", "unit", "target", "handed_over", "reserved", "percent"), [
            (r["programme"], r["unit"], r["target"], r["handed_over"], r["reserved"], r["percent"])
            for r in board.programmes]
    if name == "impact":
        return ("type", "reused", "recycled", "ewaste_kg_estimate", "co2e_kg_estimate"), [
            (r["type"], r["reused"], r["recycled"], r["ewaste_kg"], r["co2e_kg"]) for r in board.impact]
    raise KeyError(name)


def record_table_download(name: str, *, actor) -> None:
    """A dashboard table downloaded is an export event, written in a fresh transaction (a GET's is read-only)."""
    db.session.commit()
    record_export(f"dashboard_{name}", "csv", {}, actor=actor)
