"""Devices, their storage media, and the tag sequence."""
from __future__ import annotations

import enum

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, JSONType, UTCDateTime, utcnow
from ..lifecycle import Grade, State, Verdict
from ..organisations.models import Organisation, enum_column


class DeviceType(str, enum.Enum):
    LAPTOP = "laptop"
    DESKTOP = "desktop"
    TABLET = "tablet"
    PHONE = "phone"
    MONITOR = "monitor"
    OTHER = "other"


DEVICE_TYPE_LABELS = {
    DeviceType.LAPTOP: {"fr": "Portable", "en": "Laptop"},
    DeviceType.DESKTOP: {"fr": "Unité centrale", "en": "Desktop"},
    DeviceType.TABLET: {"fr": "Tablette", "en": "Tablet"},
    DeviceType.PHONE: {"fr": "Téléphone", "en": "Phone"},
    DeviceType.MONITOR: {"fr": "Écran", "en": "Monitor"},
    DeviceType.OTHER: {"fr": "Autre", "en": "Other"},
}


class MediumKind(str, enum.Enum):
    HDD = "hdd"
    SSD = "ssd"
    NVME = "nvme"
    EMMC = "emmc"
    OTHER = "other"


class TagCounter(Base):
    """Last sequence used per tag prefix; tags are never reused."""

    __tablename__ = "tag_counters"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_value: Mapped[int] = mapped_column(BigInteger, default=0)


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (
        Index("ix_devices_state_since", "state", "state_since"),
        Index("ix_devices_donor_state", "donor_organisation_id", "state"),
        Index("ix_devices_custodian_state", "custodian_organisation_id", "state"),
        Index("ix_devices_partner_state", "partner_organisation_id", "state"),
        Index("ix_devices_workshop_state", "workshop_organisation_id", "state"),
        # The device list sorts by time in the current state, across states.
        Index("ix_devices_state_since_alone", "state_since"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag: Mapped[str] = mapped_column(String(32), unique=True)
    type: Mapped[DeviceType] = mapped_column(enum_column(DeviceType, "device_type"), index=True)
    brand: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(200))
    serial: Mapped[str | None] = mapped_column(String(100), index=True)
    imei: Mapped[str | None] = mapped_column(String(20), index=True)
    specs: Mapped[dict] = mapped_column(JSONType, default=dict)
    notes: Mapped[str | None] = mapped_column(Text)
    unit_value_cents: Mapped[int | None] = mapped_column(Integer)
    # The donor's own inventory number (public bodies must list it on the donation slip).
    donor_inventory_number: Mapped[str | None] = mapped_column(String(100))

    state: Mapped[State] = mapped_column(enum_column(State, "device_state"), default=State.REGISTERED)
    # When the device entered its current state (reminders, time-in-step reports).
    state_since: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    # Last entry into `received`: wipe evidence must be newer than this.
    last_received_at: Mapped[object | None] = mapped_column(UTCDateTime)
    no_media_statement_at: Mapped[object | None] = mapped_column(UTCDateTime)
    verdict: Mapped[Verdict | None] = mapped_column(enum_column(Verdict, "device_verdict"))
    grade: Mapped[Grade | None] = mapped_column(enum_column(Grade, "device_grade"))

    donor_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    custodian_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    # The workshop that holds or last held the device (technicians' scope); None until a workshop takes it.
    workshop_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    programme_id: Mapped[int | None] = mapped_column(ForeignKey("programmes.id"), index=True)
    partner_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    recycler_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    loan: Mapped[bool] = mapped_column(Boolean, default=False)
    expected_return_on: Mapped[object | None] = mapped_column(Date, index=True)

    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped by every state change (compare-and-set).
    version: Mapped[int] = mapped_column(Integer, default=1)

    donor: Mapped[Organisation] = relationship(foreign_keys=[donor_organisation_id], lazy="joined")
    custodian: Mapped[Organisation | None] = relationship(foreign_keys=[custodian_organisation_id], lazy="joined")
    partner: Mapped[Organisation | None] = relationship(foreign_keys=[partner_organisation_id])
    recycler: Mapped[Organisation | None] = relationship(foreign_keys=[recycler_organisation_id])
    media: Mapped[list[StorageMedium]] = relationship(back_populates="device", order_by="StorageMedium.id")

    def __repr__(self) -> str:
        return f"<Device {self.tag} {self.state.value}>"


class StorageMedium(Base):
    __tablename__ = "storage_media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    kind: Mapped[MediumKind] = mapped_column(enum_column(MediumKind, "medium_kind"))
    model: Mapped[str | None] = mapped_column(String(200))
    serial: Mapped[str | None] = mapped_column(String(100), index=True)
    capacity_bytes: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)

    device: Mapped[Device] = relationship(back_populates="media")
