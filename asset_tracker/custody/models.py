"""Custody events and the chain head that serialises their writers."""
from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


class CustodyEvent(Base):
    """One fact in the chain of custody. Never updated or deleted (database triggers refuse it)."""

    __tablename__ = "custody_events"
    __table_args__ = (
        Index("ix_custody_events_device_seq", "device_id", "seq"),
        Index("ix_custody_events_type_time", "type", "server_time"),
        Index("ix_custody_events_accessory_seq", "accessory_id", "seq"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    type: Mapped[str] = mapped_column(String(40))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    device_tag: Mapped[str | None] = mapped_column(String(32))
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(254))
    actor_organisation_id: Mapped[int | None] = mapped_column(Integer)
    actor_organisation_name: Mapped[str | None] = mapped_column(String(200))
    state_before: Mapped[str | None] = mapped_column(String(32))
    state_after: Mapped[str | None] = mapped_column(String(32))
    custodian_before_id: Mapped[int | None] = mapped_column(Integer)
    custodian_after_id: Mapped[int | None] = mapped_column(Integer)
    server_time: Mapped[object] = mapped_column(UTCDateTime, index=True)
    client_time: Mapped[object | None] = mapped_column(UTCDateTime)
    station: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    # Canonical JSON text (sorted keys): hashed exactly as stored.
    details: Mapped[str] = mapped_column(Text, default="{}")
    request_id: Mapped[str | None] = mapped_column(String(64))
    # The tracked accessory (4G key, SIM card…) an event is about. Not a hashed column, so events written
    # before it existed verify unchanged; every accessory event also carries `accessory_id` in its hashed
    # details, and `custody.services.accessory_events` keeps only events whose hashed details agree.
    accessory_id: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ChainHead(Base):
    """One row: the last sequence number and hash. Updating it takes the chain's write lock."""

    __tablename__ = "custody_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
