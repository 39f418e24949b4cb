"""flask users create / flask tokens create|revoke."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from ..core import Actor
from ..errors import DomainError
from ..organisations.services import by_name
from . import services
from .services import PasswordPolicy


@click.group("users", help="Manage users.")
def users():
    pass


@users.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["donor", "technician", "coordinator", "auditor", "admin"]))
@click.option("--organisation", "organisation", required=True, help="Organisation name, exactly.")
@click.option("--password", default=None, help="At least 10 characters; asked for when omitted.")
@click.option("--name", default="", help="Display name.")
@with_appcontext
def create_user(email, role, organisation, password, name):
    org = by_name(organisation)
    if org is None:
        raise click.ClickException(f"no organisation named {organisation!r}")
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = services.create_user(email, role=role, organisation_id=org.id, password=password, name=name,
                                    actor=Actor.system("cli"), policy=PasswordPolicy.of(current_app.config))
    except DomainError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"created {user.email} ({role}, {org.name})")


@click.group("tokens", help="Manage API tokens.")
def tokens():
    pass


@tokens.command("create")
@click.argument("email")
@click.option("--name", default="cli", help="What the token is for.")
@with_appcontext
def create_token(email, name):
    """Print a new token for EMAIL alone on the last line (shown once)."""
    try:
        user = services.find_user(email)
    except DomainError as err:
        raise click.ClickException(str(err)) from None
    token, secret = services.create_token(user, actor=Actor.system("cli"), name=name,
                                           days=current_app.config["TOKEN_LIFETIME_DAYS"])
    click.echo(f"token {token.id} for {user.email} (store it now; it is not shown again):")
    click.echo(secret)


@tokens.command("list")
@click.option("--email", default=None, help="Only this user's tokens.")
@with_appcontext
def list_tokens(email):
    """Every token (never its secret) with its expiry and last use."""
    try:
        user_id = services.find_user(email).id if email else None
    except DomainError as err:
        raise click.ClickException(str(err)) from None
    for t in services.list_tokens(actor=Actor.system("cli"), user_id=user_id):
        status = "revoked" if t.revoked_at else "active"
        used = t.last_used_at.isoformat(timespec="minutes") if t.last_used_at else "never used"
        click.echo(f"{t.id}\t{t.user.email}\t{t.name}\t{t.prefix}…\t{status}\texpires {t.expires_at.date()}\t{used}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def revoke_token(token_id):
    try:
        services.revoke_token(token_id, actor=Actor.system("cli"))
    except DomainError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"token {token_id} revoked")


COMMANDS = [users, tokens]
