"""flask backup create DIR | restore DIR: consistent snapshots with a manifest, restored only into an empty database."""
from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version

import click
from flask.cli import with_appcontext

from ..audit.services import iter_checkpoint_lines
from ..custody.services import verify_chain
from ..extensions import db
from . import backup


@click.group("backup", help="Back up the database while the service runs; restore and verify a backup.")
def backup_group():
    pass


@backup_group.command("create")
@click.argument("directory", type=click.Path(file_okay=False))
@with_appcontext
def create(directory):
    """Write a consistent snapshot, the signed checkpoints and manifest.json (SHA-256 of every file) into DIRECTORY.

    Keys are not included: keep SECRET_KEY, BENEFICIARY_HMAC_KEY and the checkpoint signing key apart."""
    try:
        app_version = version("reboot-tracker")
    except PackageNotFoundError:
        app_version = None
    db.session.rollback()
    db.session.connection(execution_options={"sqlite_deferred": True})  # a read: never hold up the writers
    lines = list(iter_checkpoint_lines())
    db.session.rollback()
    try:
        manifest = backup.create(db.engine, directory, checkpoint_lines=lines, app_version=app_version)
    except backup.BackupError as err:
        click.echo(f"backup refused: {err}", err=True)
        sys.exit(1)
    head = manifest["chain_head"]
    click.echo(f"backup written to {directory}: {manifest['custody_events']} custody events, head #{head['seq']} "
               f"{head['hash']}, schema {manifest['schema_revision']}")


@backup_group.command("restore")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@with_appcontext
def restore(directory):
    """Restore DIRECTORY into the configured database, which must be empty; then verify the custody chain
    and check its head against the manifest (exit 1 naming what differs)."""
    try:
        manifest = backup.restore(db.engine, directory)
    except backup.BackupError as err:
        click.echo(f"restore refused: {err}", err=True)
        sys.exit(1)
    db.session.remove()
    db.engine.dispose()
    with db.engine.connect() as conn:
        result = verify_chain(conn.execution_options(sqlite_deferred=True))
    problems = backup.check_against_manifest(db.engine, manifest, result)
    if problems:
        for problem in problems:
            click.echo(f"restored, but {problem}", err=True)
        sys.exit(1)
    click.echo(f"restored {directory}: custody chain OK, {result.checked} events, head #{result.head_seq} "
               f"{result.head_hash} as in the manifest of {manifest['created_at']}")


COMMANDS = [backup_group]
