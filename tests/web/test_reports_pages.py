"""The dashboard: figures computed in SQL from the devices and the custody events, drawn, tabled and exported."""
import csv
import datetime as dt
import io
import json

from flask import current_app

from asset_tracker.core import Actor
from asset_tracker.custody.models import CustodyEvent
from asset_tracker.devices import services as devices
from asset_tracker.extensions import db as _db
from asset_tracker.organisations.models import Organisation, OrgKind
from asset_tracker.reports import services
from tests.factories import make_device

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)  # a Monday


def _stays_in_registered(orgs, users, frozen_clock, days):
    tech = Actor.of(users["technician"])
    made = []
    for _ in days:
        frozen_clock(T0)
        made.append(make_device(orgs, users, "registered"))
    for device, d in zip(made, days, strict=False):
        frozen_clock(T0 + dt.timedelta(days=d))
        devices.transition(device, "collected", actor=tech)
    return made


def test_time_in_step_median_and_90th_percentile(db, orgs, users, frozen_clock):
    _stays_in_registered(orgs, users, frozen_clock, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    steps = {r["state"]: r for r in services.dashboard(fresh=True, config=current_app.config).steps}
    assert steps["registered"] == {"state": "registered", "stays": 10, "median_days": 5.0, "p90_days": 9.0}
    assert steps["collected"]["stays"] == 0 and steps["collected"]["median_days"] is None  # stays still open


def test_weekly_throughput_counts_entries_per_week(db, orgs, users, frozen_clock):
    _stays_in_registered(orgs, users, frozen_clock, [1, 8, 9])
    tech = Actor.of(users["technician"])
    frozen_clock(T0 + dt.timedelta(days=9, hours=2))
    for device in _db.session.execute(_db.select(__import__("asset_tracker.devices.models", fromlist=["Device"])
                                                 .Device)).unique().scalars():
        devices.transition(device, "received", actor=tech)
    weeks = {w["week"]: w for w in services.dashboard(fresh=True, config=current_app.config).weeks}
    assert weeks[dt.date(2026, 3, 9)]["received"] == 3
    assert sum(w["received"] for w in weeks.values()) == 3


def test_programme_progress_and_reuse(db, orgs, users):
    make_device(orgs, users, "handed_over")
    make_device(orgs, users, "reserved")
    make_device(orgs, users, "recycled", type="desktop")
    board = services.dashboard(fresh=True, config=current_app.config)
    programme = next(p for p in board.programmes if p["programme"] == orgs["programme"].name)
    assert (programme["handed_over"], programme["reserved"], programme["target"]) == (1, 1, 1000)
    assert programme["percent"] == 0.1
    impact = {r["type"]: r for r in board.impact}
    assert impact["laptop"]["reused"] == 1 and impact["laptop"]["ewaste_kg"] == 2.0
    assert impact["laptop"]["co2e_kg"] == 27.0 * 3  # ADEME figure per year x assumed years of second life
    assert impact["desktop"] == {"type": "desktop", "reused": 0, "recycled": 1, "ewaste_kg": 0.0, "co2e_kg": None}


def test_overdue_counts_follow_the_reminder_rules(db, orgs, users, frozen_clock):
    now = dt.datetime.now(dt.UTC)
    frozen_clock(now - dt.timedelta(days=30))
    make_device(orgs, users, "registered")
    frozen_clock(now)
    make_device(orgs, users, "registered")
    overdue = {r["rule"]: r["devices"] for r in services.dashboard(fresh=True, config=current_app.config).overdue}
    assert overdue["registered_not_collected"] == 1 and overdue["collected_not_received"] == 0


def test_dashboard_page_draws_accessible_charts_and_tables(client, login, orgs, users):
    make_device(orgs, users, "handed_over")
    make_device(orgs, users, "received")
    login("auditor")
    page = client.get("/reports").get_data(as_text=True)
    assert page.count("<svg") == 5 and page.count("<title id=") == 5 and page.count("<desc id=") == 5
    assert 'role="img"' in page and "url(#chart" in page  # the second series is hatched, not only coloured
    assert orgs["programme"].name in page and "(0,1\u202f%)" in page  # 1 handed over of 1,000, in French figures
    for name in services.TABLES:
        assert f"/reports/{name}.csv" in page


def test_dashboard_csv_is_formula_safe_and_recorded(client, login, orgs, users, db):
    evil = Organisation(name="=HYPERLINK(\"http://x\")", kind=OrgKind.DONOR)
    db.session.add(evil)
    db.session.commit()
    orgs["evil"] = evil
    from tests.factories import make_user

    users["evil"] = make_user("donor", evil)
    make_device(orgs, users, "registered", donor="evil")
    login("auditor")
    resp = client.get("/reports/donors.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert rows == [{"donor": "'=HYPERLINK(\"http://x\")", "devices": "1", "reused": "0", "recycled": "0",
                     "lost": "0"}]
    last = db.session.execute(db.select(CustodyEvent).order_by(CustodyEvent.seq.desc()).limit(1)).scalar_one()
    assert last.type == "export" and json.loads(last.details)["kind"] == "dashboard_donors"
    assert client.get("/reports/nothing.csv").status_code == 404


def test_dashboard_api_for_auditors_only(client, orgs, users, api_headers):
    make_device(orgs, users, "ready")
    body = client.get("/api/v1/reports/dashboard", headers=api_headers("auditor")).json
    assert {"state": "ready", "devices": 1} in body["states"]
    assert body["totals"]["devices"] == 1
    assert client.get("/api/v1/reports/dashboard", headers=api_headers("donor")).status_code == 403


def test_figures_are_reused_until_the_chain_moves(app, db, orgs, users):
    make_device(orgs, users, "registered")
    first = services.dashboard(config=current_app.config)
    assert services.dashboard(config=current_app.config) is first
    make_device(orgs, users, "registered")  # every change writes a custody event: the head moves
    second = services.dashboard(config=current_app.config)
    assert second is not first and second.totals["devices"] == 2


def test_incremental_stays_agree_with_the_whole_log_computed_at_once(db, orgs, users, frozen_clock):
    for i, state in enumerate(["wiped", "ready", "received", "handed_over", "returned", "recycled", "lost"]):
        frozen_clock(T0 + dt.timedelta(hours=7 * i))
        make_device(orgs, users, state)
    services.refresh_stays(db.session, batch=3, max_batches=2)  # part of the log now, the rest later
    make_device(orgs, users, "diagnosed")
    services.refresh_stays(db.session, batch=3)
    assert services.time_in_steps(db.session) == services.time_in_steps_from_log(db.session)
    assert services.refresh_stays(db.session) == 0  # nothing counted twice
