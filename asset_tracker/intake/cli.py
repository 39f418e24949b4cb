"""flask import batch FILE --batch ID: bulk import of devices into a collection batch."""
from __future__ import annotations

import os
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from ..auth.models import User
from ..core import Actor
from ..errors import DomainError
from ..extensions import db
from . import services


@click.group("import", help="Import data from files.")
def import_group():
    pass


@import_group.command("batch")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--batch", "batch_id", required=True, type=int, help="Id of the collection batch.")
@click.option("--mode", type=click.Choice(services.MODES), default="all", show_default=True,
              help="all: nothing is imported if a row is invalid; valid_only: import the valid rows.")
@click.option("--user", "email", default=None, help="Import as this user (default: the command line itself).")
@with_appcontext
def import_batch(file, batch_id, mode, email):
    """Import the devices of a CSV or XLSX FILE into batch ID; exit 1 listing every bad row."""
    actor = Actor.system("flask import batch")
    if email:
        user = db.session.execute(select(User).where(User.email == email.strip().lower())).unique().scalar_one_or_none()
        if user is None:
            raise click.ClickException(f"no user {email}")
        actor = Actor.of(user)
    with open(file, "rb") as f:
        data = f.read()
    try:
        result = services.import_file(batch_id, data, actor=actor, filename=os.path.basename(file), mode=mode,
                                      **services.import_settings(current_app.config))
    except DomainError as err:
        db.session.rollback()
        click.echo(f"error: {err}", err=True)
        for key, value in (err.details or {}).items():
            click.echo(f"  {key}: {value}", err=True)
        sys.exit(1)
    for e in result.errors:
        click.echo(f"row {e.row}, column {e.column or e.field}{f' ({e.letter})' if e.letter else ''}: {e.text()}",
                   err=True)
    if result.status == "already_imported":
        prev = result.previous
        click.echo(f"this file was already imported on {prev['created_at']} into batch {prev['batch_id']}: "
                   "nothing imported")
        return
    if result.status == "rejected":
        click.echo(f"{result.invalid_rows} of {result.rows} rows have errors: nothing imported", err=True)
        sys.exit(1)
    click.echo(f"{result.created} devices imported into batch {batch_id}"
               + (f" ({result.first_tag} … {result.last_tag})" if result.created else "")
               + (f", {result.skipped} already in the batch" if result.skipped else "")
               + (f", {result.invalid_rows} invalid rows left out" if result.invalid_rows else ""))


COMMANDS = [import_group]
