"""flask reminders run [--now | --at DATE], flask reminders scheduler, flask reminders rules."""
from __future__ import annotations

import datetime as dt
import logging
import signal

import click
from flask import current_app
from flask.cli import with_appcontext

from .mail import MailSettings
from .rules import current_rules
from .services import run_sweep, simulate


@click.group("reminders", help="Overdue reminders: run a sweep, run the scheduler, show the rules.")
def reminders():
    pass


def _parse_when(value: str) -> dt.datetime:
    """A date runs the sweep as if it were that day at the current time of day; a datetime is taken as is."""
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            now = dt.datetime.now(dt.UTC)
            return dt.datetime.combine(day, now.time(), dt.UTC)
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD) or a date and time (ISO 8601)") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@reminders.command("run")
@click.option("--now", "now_flag", is_flag=True, help="Sweep now: record reminders and send the mails (the default).")
@click.option("--at", "at", metavar="DATE",
              help="Simulate a sweep at this date (YYYY-MM-DD or ISO datetime): print every mail it would send, "
                   "write nothing.")
@click.option("--no-mail", is_flag=True, help="With --now: open, close and escalate reminders but send no mail.")
@with_appcontext
def run(now_flag: bool, at: str | None, no_mail: bool):
    """Run one sweep by hand, or simulate one at a date."""
    if now_flag and at:
        raise click.UsageError("give --now or --at, not both")
    if at:
        when = _parse_when(at)
        mails = simulate(when, settings=MailSettings.of(current_app.config))
        for m in mails:
            click.echo(f"To: {', '.join(m['recipients']) or '(no recipient: not sent)'}")
            click.echo(f"Subject: {m['subject']}")
            click.echo("")
            for line in m["text"].splitlines():
                click.echo(line)
            click.echo("=" * 72)
        click.echo(f"simulation at {when.isoformat()}: {len(mails)} mails would be sent; nothing was written")
        return
    counts = run_sweep(None, send=not no_mail, settings=MailSettings.of(current_app.config))
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


@reminders.command("scheduler")
@with_appcontext
def scheduler():
    """Run the scheduler in the foreground (production: its own process; a second one stands by)."""
    from .scheduler import build_scheduler  # here: APScheduler loads only for this command

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = current_app._get_current_object()
    sched = build_scheduler(app, blocking=True)

    def stop(signum, frame):
        sched.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo(f"reminder scheduler starting (sweep every {app.config['REMINDERS_SWEEP_MINUTES']} min)")
    try:
        sched.start()
    finally:
        sched.reboot_lock.release()
    click.echo("reminder scheduler stopped")


@reminders.command("rules")
@with_appcontext
def rules():
    """Print the rules in force."""
    for r in current_rules():
        escalate = (
            f"escalate at {r.escalate_days} d to {r.escalate_to}" if r.escalate_days is not None else "no escalation"
        )
        counted = ("after the expected return date" if r.loan else
                   "before the data plan of a key handed over with the kit ends" if r.plan_end else "in the state")
        click.echo(f"{r.id}: {r.state.value}, {r.days} d {counted}, {r.responsible} reminded, {escalate}")


COMMANDS = [reminders]
