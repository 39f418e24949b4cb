"""flask audit verify."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from . import services


@click.group("audit", help="Check the custody chain.")
def audit():
    pass


@audit.command("verify")
@with_appcontext
def verify():
    """Recompute the hash chain; exit 1 naming the first broken event."""
    result = services.verify_chain()
    if result.ok:
        click.echo(f"custody chain OK: {result.checked} events, head #{result.head_seq} {result.head_hash}")
        return
    click.echo(f"custody chain BROKEN after {result.checked} good events: {result.problem} "
               f"(seq {result.broken_seq}, id {result.broken_id})", err=True)
    sys.exit(1)


COMMANDS = [audit]
