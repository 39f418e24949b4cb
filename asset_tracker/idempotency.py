"""Client-made ids for scans, imports and API writes: a retry returns the first answer."""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from .db import Base, UTCDateTime, utcnow
from .errors import Conflict


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_keys_scope_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, index=True)


def payload_hash(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def replay(session, scope: str, key: str, request_hash: str):
    """The stored (status, response) for this id, or None; a different payload under the same id is refused."""
    row = session.execute(
        select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
    ).scalar_one_or_none()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise Conflict("The id %(key)s was already used for a different request.", key=key,
                       code="idempotency_key_reused")
    return row.status_code, json.loads(row.response)


def remember(session, scope: str, key: str, request_hash: str, status_code: int, response, user_id=None) -> None:
    session.add(IdempotencyKey(scope=scope, key=key, request_hash=request_hash, status_code=status_code,
                               response=json.dumps(response, default=str), user_id=user_id))
