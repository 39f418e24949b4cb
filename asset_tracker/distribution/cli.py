"""flask distribution purge-references: erase beneficiary references past their retention period."""
from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import with_appcontext

from ..core import Actor
from . import services


@click.group("distribution", help="Programmes, hand-overs and beneficiary references.")
def distribution():
    pass


@distribution.command("purge-references")
@click.option("--days", type=int, default=None, help="Retention after return, in days (default: configuration).")
@click.option("--at", "at", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Simulate this date (YYYY-MM-DD).")
@with_appcontext
def purge_references(days, at):
    """Erase the references of devices returned longer ago than the retention period."""
    now = at.replace(tzinfo=dt.UTC) if at else None
    erased = services.purge_references(actor=Actor.system("retention (command line)"), now=now,
                                       retention_days=current_app.config["BENEFICIARY_REF_RETENTION_DAYS"]
                                       if days is None else days)
    click.echo(f"{erased} beneficiary references erased")


COMMANDS = [distribution]
