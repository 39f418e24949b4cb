"""User and token verbs: create users, check passwords, issue and revoke API tokens."""
from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..custody import services as custody
from ..custody.services import Actor
from ..db import utcnow
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..organisations.models import OrgKind, Organisation
from .models import ApiToken, Role, User

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Which organisation kinds each role may belong to.
ROLE_ORG_KINDS = {
    Role.DONOR: {OrgKind.DONOR},
    Role.TECHNICIAN: {OrgKind.WORKSHOP},
    Role.COORDINATOR: {OrgKind.PARTNER},
    Role.AUDITOR: {OrgKind.PROGRAMME_OWNER, OrgKind.DONOR},
    Role.ADMIN: {OrgKind.PROGRAMME_OWNER},
}
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    from flask import current_app

    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def create_user(email: str, *, role: str, organisation_id: int, actor: Actor, password: str | None = None,
                name: str = "", locale: str | None = None) -> User:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email):
        raise Invalid("%(email)s is not an e-mail address.", email=email, details={"email": ["invalid"]})
    try:
        role_enum = Role(role)
    except ValueError:
        raise Invalid("Unknown role %(role)s.", role=role, details={"role": ["unknown"]}) from None
    org = db.session.get(Organisation, organisation_id)
    if org is None:
        raise Invalid("Unknown organisation.", details={"organisation_id": ["unknown"]})
    if org.kind not in ROLE_ORG_KINDS[role_enum]:
        raise Invalid("A %(role)s cannot belong to a %(kind)s organisation.", role=role, kind=org.kind.value,
                      details={"organisation_id": ["wrong kind for this role"]})
    if password is not None and len(password) < MIN_PASSWORD:
        raise Invalid("A password needs at least %(n)s characters.", n=MIN_PASSWORD, details={"password": ["too short"]})
    if db.session.execute(select(User.id).where(func.lower(User.email) == email)).first():
        raise Conflict("A user with e-mail %(email)s already exists.", email=email, code="duplicate_email")
    user = User(email=email, role=role_enum, organisation_id=org.id, name=name, locale=locale,
                password_hash=hash_password(password) if password else None)
    db.session.add(user)
    db.session.flush()
    custody.record("user_created", actor=actor, details={"user_id": user.id, "email": email, "role": role,
                                                        "organisation_id": org.id})
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    user = db.session.execute(select(User).where(User.email == (email or "").strip().lower())).scalar_one_or_none()
    if user is None or not user.active or not user.password_hash:
        # Spend the same time as a real check so e-mails cannot be probed by timing.
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    user.last_login_at = utcnow()
    db.session.commit()
    return user


_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


def _token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(user: User, *, actor: Actor, name: str = "") -> tuple[ApiToken, str]:
    """A new API token; the secret is returned once and only its hash is stored."""
    secret = "rbt_" + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_token_digest(secret), prefix=secret[:10])
    db.session.add(token)
    db.session.flush()
    custody.record("token_created", actor=actor, details={"token_id": token.id, "user_id": user.id, "name": name})
    db.session.commit()
    return token, secret


def revoke_token(token_id: int, *, actor: Actor) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("No token %(id)s.", id=token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        custody.record("token_revoked", actor=actor, details={"token_id": token.id, "user_id": token.user_id})
    db.session.commit()
    return token


def user_for_token(secret: str) -> User | None:
    token = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == _token_digest(secret))
    ).scalar_one_or_none()
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    return token.user


def find_user(email: str) -> User:
    user = db.session.execute(select(User).where(User.email == (email or "").strip().lower())).scalar_one_or_none()
    if user is None:
        raise NotFound("No user %(email)s.", email=email)
    return user


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No user %(id)s.", id=user_id)
    return user


def set_user_active(user_id: int, active: bool, *, actor: Actor) -> User:
    """Deactivate (or reactivate) an account: a deactivated user cannot sign in and its tokens stop working."""
    user = get_user(user_id)
    if not active and user.id == actor.user_id:
        raise Conflict("You cannot deactivate your own account.", code="own_account")
    if bool(user.active) != active:
        user.active = active
        custody.record("user_activated" if active else "user_deactivated", actor=actor,
                       details={"user_id": user.id, "email": user.email})
    db.session.commit()
    return user


def reset_password(user_id: int, *, actor: Actor, password: str | None = None) -> tuple[User, str]:
    """Set a user's password: the one given, or a new random one returned once (only its hash is stored)."""
    user = get_user(user_id)
    generated = password is None or password == ""
    secret = secrets.token_urlsafe(12) if generated else password
    if len(secret) < MIN_PASSWORD:
        raise Invalid("A password needs at least %(n)s characters.", n=MIN_PASSWORD,
                      details={"password": ["too short"]})
    user.password_hash = hash_password(secret)
    custody.record("user_password_reset", actor=actor, details={"user_id": user.id, "generated": generated})
    db.session.commit()
    return user, secret
