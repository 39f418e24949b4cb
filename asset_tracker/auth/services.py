"""User and token verbs: create users, check passwords, issue and revoke API tokens."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from ..core import Actor
from ..custody import services as custody
from ..db import utcnow
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..organisations.models import Organisation, OrgKind
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
# A token's last use is written at most this often (seconds): a busy client does not write on every request.
LAST_USE_RESOLUTION = 60


@dataclass(frozen=True)
class PasswordPolicy:
    """What a password must be and how it is hashed: PASSWORD_MIN_LENGTH, PASSWORD_MIN_SCORE, PASSWORD_HASH_METHOD."""
    min_length: int
    min_score: int
    hash_method: str

    @classmethod
    def of(cls, config) -> PasswordPolicy:
        return cls(config["PASSWORD_MIN_LENGTH"], config["PASSWORD_MIN_SCORE"], config["PASSWORD_HASH_METHOD"])


def hash_password(password: str, *, method: str) -> str:
    return generate_password_hash(password, method=method)


def create_user(email: str, *, role: str, organisation_id: int, actor: Actor, password: str | None = None,
                name: str = "", locale: str | None = None, policy: PasswordPolicy) -> User:
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
    if password is not None:
        check_password_strength(password, email, name, policy=policy)
    if db.session.execute(select(User.id).where(func.lower(User.email) == email)).first():
        raise Conflict("A user with e-mail %(email)s already exists.", email=email, code="duplicate_email")
    user = User(email=email, role=role_enum, organisation_id=org.id, name=name, locale=locale,
                password_hash=hash_password(password, method=policy.hash_method) if password else None)
    db.session.add(user)
    db.session.flush()
    custody.record("user_created", actor=actor, details={"user_id": user.id, "email": email, "role": role,
                                                        "organisation_id": org.id})
    db.session.commit()
    return user


def check_password_strength(password: str, *related: str, policy: PasswordPolicy) -> None:
    """Refuse a short or guessable password (zxcvbn, offline); ``related`` are the user's e-mail, name..."""
    minimum = policy.min_length
    if len(password or "") < minimum:
        raise Invalid("A password needs at least %(n)s characters.", n=minimum, code="weak_password",
                      details={"password": ["too short"]})
    # zxcvbn's time grows with the length; past 100 characters a password is long enough on its own.
    words = [text for text in related if text] + [w for text in related if text for w in re.split(r"[@.\s_-]+", text)
                                                  if w]
    result = zxcvbn(password[:100], user_inputs=words)
    needed = policy.min_score
    if result["score"] < needed:
        hints = [h for h in [result["feedback"].get("warning")] + result["feedback"].get("suggestions", []) if h]
        raise Invalid("This password is too easy to guess (strength %(score)s of 4, %(needed)s needed). "
                      "Use a longer one, for instance several unrelated words.", score=result["score"],
                      needed=needed, code="weak_password", details={"password": hints or ["too easy to guess"]})


def change_password(user_id: int, current: str, new: str, *, actor: Actor, policy: PasswordPolicy) -> User:
    """Set a new password after checking the current one; every session of the user ends (sign in again)."""
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound("No user %(id)s.", id=user_id)
    if not user.password_hash or not check_password_hash(user.password_hash, current or ""):
        raise Invalid("The current password is wrong.", code="wrong_password", details={"current": ["wrong"]})
    if new == current:
        raise Invalid("The new password must differ from the current one.", details={"password": ["unchanged"]})
    check_password_strength(new, user.email, user.name, policy=policy)
    user.password_hash = hash_password(new, method=policy.hash_method)
    user.session_generation = (user.session_generation or 0) + 1
    custody.record("password_changed", actor=actor, details={"user_id": user.id})
    db.session.commit()
    return user


def end_sessions(user_id: int, *, actor: Actor) -> None:
    """Sign the user out everywhere: every session cookie issued so far stops being accepted."""
    db.session.execute(update(User).where(User.id == user_id)
                       .values(session_generation=User.session_generation + 1))
    db.session.commit()


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


def create_token(user: User, *, actor: Actor, days: int, name: str = "") -> tuple[ApiToken, str]:
    """A new API token living ``days`` (TOKEN_LIFETIME_DAYS); the secret is returned once, its hash kept."""
    secret = "rbt_" + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name, token_hash=_token_digest(secret), prefix=secret[:10],
                     expires_at=utcnow() + dt.timedelta(days=days))
    db.session.add(token)
    db.session.flush()
    custody.record("token_created", actor=actor, details={"token_id": token.id, "user_id": user.id, "name": name,
                                                         "expires_at": token.expires_at.isoformat()})
    db.session.commit()
    return token, secret


def _may_manage(token: ApiToken, actor: Actor) -> bool:
    """A token is its owner's and the admins' business (the system actor is the command line)."""
    return actor.user_id is None or actor.role == "admin" or token.user_id == actor.user_id


def list_tokens(*, actor: Actor, user_id: int | None = None) -> list[ApiToken]:
    """The caller's tokens; admins see everyone's (or one user's), newest first."""
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if actor.role != "admin" and actor.user_id is not None:
        query = query.where(ApiToken.user_id == actor.user_id)
    elif user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return db.session.execute(query).scalars().all()


def revoke_token(token_id: int, *, actor: Actor) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None or not _may_manage(token, actor):  # another user's token is none of yours: same 404
        raise NotFound("No token %(id)s.", id=token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        custody.record("token_revoked", actor=actor, details={"token_id": token.id, "user_id": token.user_id})
    db.session.commit()
    return token


def user_for_token(secret: str) -> User | None:
    """The active user of a live (not revoked, not expired) token, noting the token's use.

    The token is read and its last use written on connections of their own, before the request's transaction
    starts (a write) or alongside it (a GET's read-only one): neither waits for the other.
    """
    tokens = ApiToken.__table__
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            conn = conn.execution_options(sqlite_deferred=True)
        row = conn.execute(select(tokens.c.id, tokens.c.user_id, tokens.c.revoked_at, tokens.c.expires_at,
                                  tokens.c.last_used_at).where(tokens.c.token_hash == _token_digest(secret))).first()
        conn.rollback()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() >= LAST_USE_RESOLUTION:
        _record_use(row.id, now)
    user = db.session.get(User, row.user_id)
    return user if user is not None and user.active else None


def _record_use(token_id: int, now: dt.datetime) -> None:
    session = db.session()
    if session.in_transaction() and not session.connection().get_execution_options().get("sqlite_deferred"):
        # Already inside a writing transaction (a caller that started one): join it rather than wait for it.
        session.execute(update(ApiToken.__table__).where(ApiToken.__table__.c.id == token_id)
                        .values(last_used_at=now))
        return
    try:
        with db.engine.begin() as conn:
            conn.execute(update(ApiToken.__table__).where(ApiToken.__table__.c.id == token_id)
                         .values(last_used_at=now))
    except OperationalError:  # the database is busy: the last use is a hint, the request goes on
        current_app.logger.warning("could not record the last use of token %s", token_id)


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


def reset_password(user_id: int, *, actor: Actor, policy: PasswordPolicy,
                   password: str | None = None) -> tuple[User, str]:
    """Set a user's password: the one given, or a new random one returned once (only its hash is stored)."""
    user = get_user(user_id)
    generated = password is None or password == ""
    secret = secrets.token_urlsafe(16) if generated else password
    if not generated:
        check_password_strength(secret, user.email, user.name, policy=policy)
    user.password_hash = hash_password(secret, method=policy.hash_method)
    user.session_generation = (user.session_generation or 0) + 1  # whoever knew the old one is signed out
    custody.record("user_password_reset", actor=actor, details={"user_id": user.id, "generated": generated})
    db.session.commit()
    return user, secret


def users_query(*, actor: Actor, role: str | None = None):
    """The users with their organisation (for sorting by its name), of one role (unordered: lists sort and page)."""
    query = select(User).join(Organisation, Organisation.id == User.organisation_id)
    if role in Role._value2member_map_:
        query = query.where(User.role == Role(role))
    return query


def tokens_query(*, actor: Actor, active_only: bool = False):
    """The API tokens with their user, the revoked ones left out with ``active_only`` (unordered)."""
    query = select(ApiToken).join(User, User.id == ApiToken.user_id)
    if active_only:
        query = query.where(ApiToken.revoked_at.is_(None))
    return query


def active_users(*, actor: Actor) -> list[User]:
    """Active users by e-mail address (who a token may be made for)."""
    return db.session.execute(select(User).where(User.active.is_(True)).order_by(User.email)).scalars().all()


def set_locale(user_id: int, locale: str, *, actor: Actor) -> None:
    """The language a user's pages and e-mails are in, remembered on the user."""
    user = db.session.get(User, user_id)
    if user is not None:
        user.locale = locale
        db.session.commit()
