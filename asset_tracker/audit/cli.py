"""flask audit verify | verify-certificate | keygen | checkpoint.

The custody chain, its signed checkpoints, sealed certificates.
"""

from __future__ import annotations

import os
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from ..core import Actor
from ..custody import services as custody
from ..errors import DomainError
from . import keys, services
from . import verify_certificate as checker


def _key_path() -> str:
    return current_app.config["AUDIT_SIGNING_KEY_PATH"]


@click.group("audit", help="Check the custody chain; sign and verify its checkpoints.")
def audit():
    pass


@audit.command("verify")
@click.option("--checkpoints", "checkpoints_file", type=click.File("r", encoding="utf-8"), default=None,
              help="JSON Lines of signed checkpoints (as downloaded): prove nothing was rewritten or cut since.")
@click.option("--public-key", "public_key_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="PEM public key of the checkpoints (default: the configured key's public half).")
@with_appcontext
def verify(checkpoints_file, public_key_file):
    """Recompute the hash chain; exit 1 naming the first broken event or checkpoint."""
    if checkpoints_file is None:
        result = custody.verify_chain()
        if result.ok:
            click.echo(f"custody chain OK: {result.checked} events, head #{result.head_seq} {result.head_hash}")
            return
        click.echo(f"custody chain BROKEN after {result.checked} good events: {result.problem} "
                   f"(seq {result.broken_seq}, id {result.broken_id})", err=True)
        sys.exit(1)
    pub = keys.load_public(public_key_file) if public_key_file else services.public_key(key_path=_key_path())
    report = services.verify_checkpoints(services.parse_checkpoints(checkpoints_file), pub)
    chain = report.chain
    if chain.ok:
        click.echo(f"custody chain OK: {chain.checked} events, head #{chain.head_seq} {chain.head_hash}")
    else:
        click.echo(f"custody chain BROKEN after {chain.checked} good events: {chain.problem} "
                   f"(seq {chain.broken_seq}, id {chain.broken_id})", err=True)
    for check in report.checks:
        cp = check.checkpoint
        if check.ok:
            click.echo(f"checkpoint #{cp['seq']} of {cp['signed_at']} OK")
        else:
            click.echo(f"checkpoint #{cp['seq']} of {cp['signed_at']} FAILED: {check.problem}", err=True)
    if not report.checks:
        click.echo("no checkpoint in the file", err=True)
    if report.ok and report.checks:
        click.echo(f"{len(report.checks)} checkpoints verified with key {keys.key_id(pub)}")
        return
    sys.exit(1)


@audit.command("verify-certificate")
@click.argument("certificate", type=click.Path(exists=True, dir_okay=False))
@click.option("--public-key", "public_key_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="PEM public key (default: the configured key's public half).")
@with_appcontext
def verify_certificate(certificate, public_key_file):
    """Check a certificate of sanitisation's seal and that its printed text was not edited; exit 1 if not."""
    if public_key_file:
        pem = open(public_key_file, "rb").read()
    else:
        pem = keys.public_pem(services.public_key(key_path=_key_path()))
    with open(certificate, "rb") as f:
        ok, lines = checker.verify(f.read(), pem)
    for line in lines:
        click.echo(line, err=not ok and line.startswith("FAILED"))
    sys.exit(0 if ok else 1)


@audit.command("keygen")
@click.option("--path", default=None, help="Where to write the private key (default: AUDIT_SIGNING_KEY_PATH).")
@click.option(
    "--force", is_flag=True, help="Replace an existing key (earlier checkpoints then need the old public key)."
)
@with_appcontext
def keygen(path, force):
    """Create the Ed25519 checkpoint key pair (PEM; the private key file is readable by its owner only)."""
    path = path or _key_path()
    try:
        private, public = keys.generate(path, overwrite=force)
    except FileExistsError:
        click.echo(f"{path} already exists; keep it (use --force to replace it).", err=True)
        sys.exit(1)
    pub = keys.load_public(public)
    click.echo(f"private key: {private} (mode {oct(os.stat(private).st_mode & 0o777)})")
    click.echo(f"public key:  {public}")
    click.echo(f"key id:      {keys.key_id(pub)}")


@audit.command("checkpoint")
@with_appcontext
def checkpoint():
    """Verify the chain and sign its head now (the scheduler does it every night)."""
    try:
        cp = services.sign_checkpoint(actor=Actor.system("flask audit checkpoint"), key_path=_key_path())
    except DomainError as err:
        click.echo(str(err), err=True)
        sys.exit(1)
    click.echo(f"checkpoint #{cp.seq} {cp.head_hash} signed at {services.checkpoint_dict(cp)['signed_at']} "
               f"with key {cp.key_id}")


COMMANDS = [audit]
