"""Signed checkpoints: the custody chain's position and head hash, signed with a key kept outside the database."""
from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class Checkpoint(Base):
    """One signature over (seq, head_hash, signed_at, key_id). Auditors keep copies outside the service."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, index=True)
    key_id: Mapped[str] = mapped_column(String(32))
    # Base64 of the Ed25519 signature over checkpoint_message().
    signature: Mapped[str] = mapped_column(Text)
    signed_by: Mapped[str] = mapped_column(String(254))
