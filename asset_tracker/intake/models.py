"""Collection batches, their imports, reception scans and reconciliation explanations."""
from __future__ import annotations

import enum

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
    __table_args__ = (Index("ix_batches_workshop_status", "workshop_organisation_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    donor_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    # The workshop that collects (or was assigned) the batch; None while any workshop may still collect it.
    workshop_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    status: Mapped[BatchStatus] = mapped_column(
        enum_column(BatchStatus, "batch_status"), default=BatchStatus.OPEN, index=True
    )
    pickup_date: Mapped[object | None] = mapped_column(Date)
    # {"laptop": 12, "desktop": 3}
    declared_counts: Mapped[dict] = mapped_column(JSONType, default=dict)
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    notes: Mapped[str | None] = mapped_column(Text)
    # Per-unit value printed on the hand-over slip when a device has none of its own (CG3P cession).
    unit_value_cents: Mapped[int | None] = mapped_column(Integer)
    # Why the counts received differ from the counts declared, given when closing.
    closing_note: Mapped[str | None] = mapped_column(Text)
    # The donor's decision to give the equipment away (e.g. "Délibération n° 2026-114"), printed on the slip.
    disposal_decision_ref: Mapped[str | None] = mapped_column(String(200))
    disposal_decision_date: Mapped[object | None] = mapped_column(Date)
    # Who signs the slip for each party.
    donor_signatory_name: Mapped[str | None] = mapped_column(String(200))
    donor_signatory_title: Mapped[str | None] = mapped_column(String(200))
    workshop_signatory_name: Mapped[str | None] = mapped_column(String(200))
    workshop_signatory_title: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    collected_at: Mapped[object | None] = mapped_column(UTCDateTime)
    received_at: Mapped[object | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[object | None] = mapped_column(UTCDateTime)

    donor: Mapped[Organisation] = relationship(foreign_keys=[donor_organisation_id], lazy="joined")
    workshop: Mapped[Organisation | None] = relationship(foreign_keys=[workshop_organisation_id], lazy="joined")


class ImportFile(Base):
    """One successful bulk import: the file's SHA-256 makes a second upload of the same file import nothing."""

    __tablename__ = "intake_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str | None] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))
    rows_total: Mapped[int] = mapped_column(Integer)
    rows_created: Mapped[int] = mapped_column(Integer)
    rows_skipped: Mapped[int] = mapped_column(Integer, default=0)
    rows_invalid: Mapped[int] = mapped_column(Integer, default=0)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class BatchReceipt(Base):
    """A device scanned in at the workshop while receiving a batch (expected in it or not)."""

    __tablename__ = "batch_receipts"
    __table_args__ = (UniqueConstraint("batch_id", "device_id", name="uq_batch_receipts_batch_device"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    expected: Mapped[bool] = mapped_column(default=True)
    actor_name: Mapped[str] = mapped_column(String(254))
    received_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class ExplanationKind(str, enum.Enum):
    MISSING = "missing"  # expected, not received
    UNEXPECTED = "unexpected"  # received, not expected


class BatchExplanation(Base):
    """Why a device of the reconciliation is missing or unexpected (a note, or declared lost)."""

    __tablename__ = "batch_explanations"
    __table_args__ = (
        UniqueConstraint("batch_id", "device_id", name="uq_batch_explanations_batch_device"),
        Index("ix_batch_explanations_device", "device_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    kind: Mapped[ExplanationKind] = mapped_column(enum_column(ExplanationKind, "explanation_kind"))
    declared_lost: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(Text)
    actor_name: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
