"""The scheduler: one active process runs every capability's jobs; any other one stands by.

Which process is active is decided by a lock the operating system or the database releases when the
process dies: a PostgreSQL session advisory lock, or an exclusive lock on a file next to the SQLite
database. A standby process retries every REMINDERS_LOCK_RETRY_SECONDS, so it takes over when the
active one stops. APScheduler keeps its jobs in memory (it cannot share a job store between
processes); the job list is rebuilt at start from `asset_tracker/<capability>/jobs.py` files.
"""
from __future__ import annotations

import atexit
import datetime as dt
import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable

import click
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from ..capabilities import modules
from ..extensions import db
from ..ops.metrics import observe_job
from .mail import MailSettings
from .services import run_sweep

log = logging.getLogger(__name__)
LOCK_NAME = "reboot-tracker:scheduler"
# pg_try_advisory_lock takes a signed 64-bit key: a stable one derived from the lock name.
PG_LOCK_KEY = int.from_bytes(hashlib.sha256(LOCK_NAME.encode()).digest()[:8], "big", signed=True)

_in_process: dict[int, object] = {}
_in_process_guard = threading.Lock()


class SchedulerLock:
    """Held by the one active scheduler for as long as its process lives."""

    def __init__(self, app: Flask):
        self.app = app
        self._conn = None
        self._file = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    def acquire(self) -> bool:
        if self.held:
            return self.still_held()

        with self.app.app_context():
            engine = db.engine
            if engine.dialect.name == "postgresql":
                conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                if conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({PG_LOCK_KEY})").scalar():
                    self._conn = conn
                    return True
                conn.close()
                return False
            return self._acquire_file(engine.url.database)

    def _acquire_file(self, database: str | None) -> bool:
        if not database or database == ":memory:":
            path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"reboot-tracker-scheduler-{os.getpid()}.lock")
        else:
            path = os.path.abspath(database) + ".scheduler.lock"
        handle = open(path, "a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True

    def still_held(self) -> bool:
        """False when the database connection that held the lock is gone (the lock went with it)."""
        if self._file is not None:
            return True
        if self._conn is None:
            return False
        try:
            self._conn.exec_driver_sql("SELECT 1").scalar()
            return True
        except Exception:  # noqa: BLE001  (connection lost: the database released the lock)
            self.release()
            return False

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.exec_driver_sql(f"SELECT pg_advisory_unlock({PG_LOCK_KEY})")
                self._conn.close()
            except Exception:  # noqa: BLE001
                pass
            self._conn = None
        if self._file is not None:
            self._file.close()  # closing the file drops the flock
            self._file = None


def job_list(app: Flask) -> list[tuple[str, Callable, dict]]:
    """The sweep plus every capability's `jobs.JOBS` entries: (job_id, callable, trigger_kwargs)."""
    def sweep():
        return run_sweep(settings=MailSettings.of(app.config))  # read at each run, like the jobs' own settings

    jobs = [("reminders.sweep", sweep, {"trigger": "interval",
                                            "minutes": float(app.config["REMINDERS_SWEEP_MINUTES"])})]
    for module in modules("jobs"):
        jobs.extend(getattr(module, "JOBS", ()))
    return jobs


def _in_app(app: Flask, func: Callable, job_id: str) -> Callable:
    def run():
        with app.app_context():
            started, ok = time.perf_counter(), False
            try:
                func()
                ok = True
            except Exception:  # noqa: BLE001  (one failed run must not stop the scheduler)
                log.exception("scheduled job %s failed", job_id)
                db.session.rollback()
            finally:
                observe_job(job_id, started, ok)
                db.session.remove()

    return run


def build_scheduler(app: Flask, *, blocking: bool = False):
    """An APScheduler 3 scheduler whose only standing job is the leadership check."""
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(timezone=dt.UTC,
                    job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
    lock = SchedulerLock(app)
    scheduler.reboot_lock = lock
    state = {"active": False}
    retry = max(float(app.config["REMINDERS_LOCK_RETRY_SECONDS"]), 0.2)

    def lead():
        if state["active"]:
            if lock.still_held():
                return
            log.warning("scheduler lost its lock; standing by")
            for job in scheduler.get_jobs():
                if job.id != "scheduler.lead":
                    job.remove()
            state["active"] = False
        if not lock.acquire():
            if not state.get("announced"):
                log.info("scheduler standing by: another process (pid %s) runs the jobs", os.getpid())
                state["announced"] = True
            return
        state["active"] = True
        now = dt.datetime.now(dt.UTC)
        for job_id, func, trigger in job_list(app):
            scheduler.add_job(_in_app(app, func, job_id), id=job_id, name=job_id, replace_existing=True,
                              next_run_time=now, **trigger)
        log.info("scheduler active (pid %s): jobs %s", os.getpid(),
                 ", ".join(j.id for j in scheduler.get_jobs() if j.id != "scheduler.lead"))

    scheduler.add_job(lead, "interval", seconds=retry, id="scheduler.lead", name="scheduler.lead",
                      next_run_time=dt.datetime.now(dt.UTC))
    return scheduler


def _started_by_flask_cli() -> bool:
    return os.environ.get("FLASK_RUN_FROM_CLI") == "true"


def _should_start(app: Flask) -> bool:
    if app.testing:
        return False
    if _started_by_flask_cli():
        ctx = click.get_current_context(silent=True)
        if ctx is None or ctx.info_name != "run":
            return False  # `flask db upgrade`, `flask reminders scheduler`…: no in-process scheduler
        if os.environ.get("WERKZEUG_RUN_MAIN") != "true" and ctx.params.get("reload", app.debug):
            return False  # the reloader's watcher process; its child starts the scheduler
    return True


def start_in_process(app: Flask):
    """Start the scheduler in this server process (make run), at most once per process."""
    if not _should_start(app):
        return None
    with _in_process_guard:
        existing = _in_process.get(os.getpid())
        if existing is not None:
            return existing
        scheduler = build_scheduler(app, blocking=False)
        scheduler.start()
        _in_process[os.getpid()] = scheduler

    def stop():
        try:
            scheduler.shutdown(wait=False)
        finally:
            scheduler.reboot_lock.release()

    atexit.register(stop)
    log.info("reminder scheduler started in process %s", os.getpid())
    return scheduler
