"""Collection batches."""
from __future__ import annotations

import enum

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, JSONType, UTCDateTime, utcnow
from ..organisations.models import Organisation, enum_column


class BatchStatus(str, enum.Enum):
    OPEN = "open"
    COLLECTED = "collected"
    RECEIVED = "received"
    CLOSED = "closed"


class Batch(Base):
    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    donor_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    workshop_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    status: Mapped[BatchStatus] = mapped_column(enum_column(BatchStatus, "batch_status"), default=BatchStatus.OPEN, index=True)
    pickup_date: Mapped[object | None] = mapped_column(Date)
    # {"laptop": 12, "desktop": 3}
    declared_counts: Mapped[dict] = mapped_column(JSONType, default=dict)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[object | None] = mapped_column(UTCDateTime)

    donor: Mapped[Organisation] = relationship(foreign_keys=[donor_organisation_id], lazy="joined")
