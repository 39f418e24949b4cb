"""Two scheduler processes against the same database: one runs the jobs, the other stands by; nothing goes twice.

Real subprocesses (`flask --app wsgi reminders scheduler` and `reminders run --now`) run against the test
database (PostgreSQL with TEST_DATABASE_URL: an advisory lock; SQLite: a lock file) and send to a local
SMTP server in this process.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import threading
import time

import pytest

from asset_tracker.extensions import db
from asset_tracker.lifecycle import State
from asset_tracker.reminders.scheduler import SchedulerLock, _should_start, start_in_process
from tests import factories
from tests.reminders_support import smtp  # noqa: F401  (fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TAG_RE = re.compile(r"RB-\d{6}-[0-9A-Z]")


class Process:
    """A child process whose output is collected as it comes."""

    def __init__(self, args, env):
        self.proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._reader.join(5)


def _env(app, smtp_port: int) -> dict:
    env = dict(os.environ)
    env.update({
        "ASSET_TRACKER_ENV": "testing",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "ASSET_TRACKER_MAIL_SERVER": "127.0.0.1",
        "ASSET_TRACKER_MAIL_PORT": str(smtp_port),
        "ASSET_TRACKER_REMINDERS_LOCK_RETRY_SECONDS": "0.5",
        "ASSET_TRACKER_REMINDERS_SWEEP_MINUTES": "0.02",  # a sweep every 1.2 s: many chances to send twice
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _wait_for(predicate, timeout: float = 45.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def overdue_for_real(orgs, users, frozen_clock):
    """Tags of devices overdue by the wall clock (the subprocesses do not share the frozen clock)."""
    frozen_clock(dt.datetime.now(dt.UTC) - dt.timedelta(days=30))
    made = [factories.make_device(orgs, users, s).tag for s in (State.REGISTERED, State.COLLECTED, State.RECEIVED)]
    frozen_clock(None)
    db.session.commit()
    db.session.remove()
    return made


def _expected(inbox, tags):
    workshop = [m for m in inbox.messages if m["To"] == "workshop@example.org"]
    owner = [m for m in inbox.messages if m["To"] == "owner@example.org"]
    return workshop, owner


def test_two_schedulers_started_together_send_each_reminder_once(app, smtp, overdue_for_real):
    env = _env(app, smtp.port)
    first, second = Process(["reminders", "scheduler"], env), Process(["reminders", "scheduler"], env)
    try:
        assert _wait_for(lambda: len(smtp.messages) >= 2), first.output + second.output
        time.sleep(4)  # three more sweep periods: a duplicate would have arrived by now
        workshop, owner = _expected(smtp, overdue_for_real)
        assert len(smtp.messages) == 2
        assert set(TAG_RE.findall(workshop[0].get_body(("plain",)).get_content())) == set(overdue_for_real)
        assert set(TAG_RE.findall(owner[0].get_body(("plain",)).get_content())) == {
            overdue_for_real[1], overdue_for_real[2]}
        outputs = [first.output, second.output]
        assert sorted("scheduler active" in o for o in outputs) == [False, True], outputs
        assert sorted("standing by" in o for o in outputs) == [False, True], outputs

        # The active one stops: the one standing by takes over, and still sends nothing twice.
        active, standby = (first, second) if "scheduler active" in first.output else (second, first)
        active.stop()
        assert _wait_for(lambda: "scheduler active" in standby.output, 20), standby.output
        time.sleep(2.5)
        assert len(smtp.messages) == 2
    finally:
        first.stop()
        second.stop()


def test_two_sweeps_run_by_hand_at_the_same_moment_send_each_reminder_once(app, smtp, overdue_for_real):
    env = _env(app, smtp.port)
    runs = [Process(["reminders", "run", "--now"], env) for _ in range(2)]
    try:
        for run in runs:
            run.proc.wait(60)
        for run in runs:
            run._reader.join(5)
        outputs = [r.output for r in runs]
        assert all(r.proc.returncode == 0 for r in runs), outputs
        counts = [dict(re.findall(r"(\w+)=([\d.]+)", o.strip().splitlines()[-1])) for o in outputs]
        assert sum(int(c["created"]) for c in counts) == 3
        assert sum(int(c["mails_sent"]) for c in counts) == 2
        assert len(smtp.messages) == 2
    finally:
        for run in runs:
            run.stop()


def test_a_second_lock_in_the_same_database_is_refused_until_the_first_is_released(app):
    first, second = SchedulerLock(app), SchedulerLock(app)
    try:
        assert first.acquire() is True
        assert second.acquire() is False
        first.release()
        assert second.acquire() is True
    finally:
        first.release()
        second.release()


def test_tests_and_command_line_tools_never_start_the_in_process_scheduler(app, monkeypatch):
    assert start_in_process(app) is None  # TESTING
    monkeypatch.setattr(app, "testing", False)
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")  # e.g. `flask db upgrade`, `flask reminders scheduler`
    assert _should_start(app) is False
    monkeypatch.delenv("FLASK_RUN_FROM_CLI")
    assert _should_start(app) is True  # `python -m asset_tracker.serve` (make run)
