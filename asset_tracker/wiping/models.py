"""Wipe records per storage medium, evidence files, and verification by a second person."""
from __future__ import annotations

import enum

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, JSONType, UTCDateTime, utcnow
from ..organisations.models import enum_column


class WipeResult(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    ABORTED = "aborted"


class NistCategory(str, enum.Enum):
    CLEAR = "clear"
    PURGE = "purge"
    DESTROY = "destroy"


class EvidenceFile(Base):
    """A raw evidence file (nwipe log, CSV export, photo), kept as uploaded with its SHA-256."""

    __tablename__ = "evidence_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # read only for a download
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class WipeRecord(Base):
    """The outcome of sanitising (or destroying) one storage medium, with what proves it."""

    __tablename__ = "wipe_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    medium_id: Mapped[int] = mapped_column(ForeignKey("storage_media.id"), index=True)
    result: Mapped[WipeResult] = mapped_column(enum_column(WipeResult, "wipe_result"))
    nist_category: Mapped[NistCategory] = mapped_column(enum_column(NistCategory, "nist_category"))
    method: Mapped[str] = mapped_column(String(200))
    tool: Mapped[str | None] = mapped_column(String(100))
    tool_version: Mapped[str | None] = mapped_column(String(50))
    passes: Mapped[int | None] = mapped_column(Integer)
    pattern: Mapped[str | None] = mapped_column(String(100))
    verification: Mapped[str | None] = mapped_column(String(100))
    started_at: Mapped[object | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[object | None] = mapped_column(UTCDateTime)
    bytes_erased: Mapped[int | None] = mapped_column(BigInteger)
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    operator_name: Mapped[str] = mapped_column(String(254))
    # Who performed it as they were when it was recorded: the certificate never names the current custodian.
    operator_title: Mapped[str] = mapped_column(String(200), default="", server_default="")
    operator_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    # A log's disk section (or a CSV row) proves the wipe of one medium only: its fingerprint is unique.
    fingerprint: Mapped[str | None] = mapped_column(String(64), unique=True)
    # An overwrite nobody read back (nwipe --verify=off): certified "not verified"; see WIPE_ACCEPT_UNVERIFIED.
    unverified: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # A technician's written reason for recording a log whose serial or size does not match the medium.
    override_reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20), default="manual")
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_files.id"), index=True)
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
    recorded_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Second-person verification.
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[object | None] = mapped_column(UTCDateTime)

    evidence: Mapped[EvidenceFile | None] = relationship()
    operator_organisation = relationship("Organisation", foreign_keys=[operator_organisation_id])


class VerificationStatus(str, enum.Enum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class WipeVerification(Base):
    """A wiped device picked for a second technician's check, and that check's outcome."""

    __tablename__ = "wipe_verifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    # The wipe cycle checked: the device's last entry into `received` when it was picked.
    cycle_received_at: Mapped[object | None] = mapped_column(UTCDateTime)
    selected_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    # The draw: a number in [0, 1) derived from the tag, the cycle and the seed, below `share` when picked.
    score: Mapped[float] = mapped_column(Float)
    share: Mapped[float] = mapped_column(Float)
    wiped_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    wiped_by_name: Mapped[str] = mapped_column(String(254))
    status: Mapped[VerificationStatus] = mapped_column(
        enum_column(VerificationStatus, "wipe_verification_status"), default=VerificationStatus.PENDING, index=True)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verified_by_name: Mapped[str | None] = mapped_column(String(254))
    verified_at: Mapped[object | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
