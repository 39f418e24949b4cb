"""`flask reminders run --at DATE` is a simulation: it prints every mail a sweep would send and writes nothing."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sqlalchemy import MetaData, create_engine, func, select

from asset_tracker.config_loader import normalise_database_url
from asset_tracker.demo import load_demo
from asset_tracker.reminders.models import Reminder, ReminderMail

ROOT = Path(__file__).resolve().parents[2]


def table_fingerprints(url: str) -> dict[str, tuple[int, str]]:
    """Every table of the database: its row count and a SHA-256 of all its rows in primary-key order."""
    engine = create_engine(normalise_database_url(url))
    try:
        meta = MetaData()
        meta.reflect(engine)
        out = {}
        with engine.connect() as conn:
            for table in meta.sorted_tables:
                order = list(table.primary_key.columns) or list(table.columns)
                digest = hashlib.sha256()
                count = 0
                for row in conn.execute(select(table).order_by(*order)):
                    digest.update(repr(tuple(row)).encode())
                    count += 1
                out[table.name] = (count, digest.hexdigest())
        return out
    finally:
        engine.dispose()


def test_reminders_run_at_prints_the_mails_and_leaves_every_table_unchanged(app, db, runner, tmp_path):
    load_demo(40)
    db.session.remove()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=75)).date().isoformat()
    if url.startswith("sqlite:///"):
        # A copy of the demo database, simulated by the real command in its own process.
        db.engine.dispose()
        copy = tmp_path / "demo-copy.db"
        shutil.copy(url[len("sqlite:///"):], copy)
        url = f"sqlite:///{copy}"
        before = table_fingerprints(url)
        env = dict(os.environ, DATABASE_URL=url, ASSET_TRACKER_SCHEDULER_ENABLED="false")
        result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "reminders", "run", "--at", when],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        output = result.stdout
    else:
        before = table_fingerprints(url)
        result = runner.invoke(args=["reminders", "run", "--at", when])
        assert result.exit_code == 0, result.output
        output = result.output
    after = table_fingerprints(url)
    assert len(before) > 20 and before == after

    mails = [block for block in output.split("=" * 72) if "Subject:" in block]
    assert len(mails) >= 2, output[:3000]
    first = mails[0].strip().splitlines()
    assert first[0].startswith("To: ") and "@" in first[0] and first[1].startswith("Subject: [Reboot Tracker]")
    assert any(line.startswith("- RB-") for line in first)  # each overdue device, on its own line
    assert any(line.strip().startswith("http") and "/devices/RB-" in line for line in first)
    assert f"{len(mails)} mails would be sent; nothing was written" in output


def test_reminders_run_now_records_what_the_simulation_only_printed(app, db, runner):
    load_demo(40)
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=75)).date().isoformat()
    simulated = runner.invoke(args=["reminders", "run", "--at", when])
    assert simulated.exit_code == 0 and db.session.scalar(select(func.count()).select_from(Reminder)) == 0
    now = runner.invoke(args=["reminders", "run", "--now", "--no-mail"])
    assert now.exit_code == 0, now.output
    assert db.session.scalar(select(func.count()).select_from(Reminder)) > 0
    assert db.session.scalar(select(func.count()).select_from(ReminderMail)) == 0
