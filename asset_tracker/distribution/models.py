"""Programmes and their partners, reservations, kits and accessories, hand-overs, returns and recycling."""
from __future__ import annotations

import enum

from sqlalchemy import Boolean, Column, Date, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, JSONType, UTCDateTime, utcnow
from ..organisations.models import Organisation, enum_column

programme_partners = Table(
    "programme_partners",
    Base.metadata,
    Column("programme_id", ForeignKey("programmes.id"), primary_key=True),
    Column("organisation_id", ForeignKey("organisations.id"), primary_key=True),
)


class Programme(Base):
    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    owner_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    starts_on: Mapped[object | None] = mapped_column(Date)
    ends_on: Mapped[object | None] = mapped_column(Date)
    beneficiary_categories: Mapped[list] = mapped_column(JSONType, default=list)
    # A second device for a beneficiary who already holds one from this programme: allow, warn or refuse.
    beneficiary_policy: Mapped[str] = mapped_column(String(10), default="warn", server_default="warn")
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[Organisation] = relationship(lazy="joined")
    partners: Mapped[list[Organisation]] = relationship(secondary=programme_partners)
    targets: Mapped[list[ProgrammeTarget]] = relationship(
        back_populates="programme", order_by="ProgrammeTarget.position, ProgrammeTarget.id", lazy="selectin",
        cascade="all, delete-orphan")
    kit_kinds: Mapped[list[KitKind]] = relationship(
        back_populates="programme", order_by="KitKind.id", lazy="selectin", cascade="all, delete-orphan")


class ProgrammeTarget(Base):
    """One count a programme promises: a device type ("laptop") or one of its kit kinds ("family_kit")."""

    __tablename__ = "programme_targets"
    __table_args__ = (UniqueConstraint("programme_id", "unit", name="uq_programme_targets_programme_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    # A device type value, "device" (any type), or the code of a kit kind of the same programme.
    unit: Mapped[str] = mapped_column(String(40))
    count: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)

    programme: Mapped[Programme] = relationship(back_populates="targets")


class KitKind(Base):
    """What a programme's kit holds: one device of the listed types, and one accessory of each listed kind."""

    __tablename__ = "kit_kinds"
    __table_args__ = (UniqueConstraint("programme_id", "code", name="uq_kit_kinds_programme_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    # Device types that may carry the kit (["laptop", "desktop"]); empty means any type.
    device_types: Mapped[list] = mapped_column(JSONType, default=list)
    # Accessory kinds that must all be in the kit (["mobile_key", "charger"]).
    accessory_kinds: Mapped[list] = mapped_column(JSONType, default=list)

    programme: Mapped[Programme] = relationship(back_populates="kit_kinds")


class Reservation(Base):
    """A ready device set aside for a programme and a partner. At most one active reservation per device."""

    __tablename__ = "reservations"
    __table_args__ = (
        # The database, not only the code, keeps a device out of two active reservations.
        Index("uq_reservations_active_device", "device_id", unique=True,
              sqlite_where=text("active"), postgresql_where=text("active")),
        Index("ix_reservations_partner_active", "partner_organisation_id", "active"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    partner_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    # Reserved as a kit of this kind (the device and the accessories in its kit), or the device alone.
    kit_kind_id: Mapped[int | None] = mapped_column(ForeignKey("kit_kinds.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # How it ended: "handed_over" or "cancelled" (null while active).
    outcome: Mapped[str | None] = mapped_column(String(20))
    reserved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[object | None] = mapped_column(UTCDateTime)

    programme: Mapped[Programme] = relationship(lazy="joined")
    partner: Mapped[Organisation] = relationship(lazy="joined")


class AccessoryKind(str, enum.Enum):
    MOBILE_KEY = "mobile_key"  # 4G key
    SIM_CARD = "sim_card"
    CHARGER = "charger"
    BAG = "bag"
    MOUSE = "mouse"
    HEADSET = "headset"
    OTHER = "other"


ACCESSORY_LABELS = {
    AccessoryKind.MOBILE_KEY: {"fr": "Clé 4G", "en": "4G key"},
    AccessoryKind.SIM_CARD: {"fr": "Carte SIM", "en": "SIM card"},
    AccessoryKind.CHARGER: {"fr": "Chargeur", "en": "Charger"},
    AccessoryKind.BAG: {"fr": "Sacoche", "en": "Bag"},
    AccessoryKind.MOUSE: {"fr": "Souris", "en": "Mouse"},
    AccessoryKind.HEADSET: {"fr": "Casque", "en": "Headset"},
    AccessoryKind.OTHER: {"fr": "Autre", "en": "Other"},
}


class AccessoryStatus(str, enum.Enum):
    IN_STOCK = "in_stock"  # loose, at the workshop
    IN_KIT = "in_kit"  # attached to a device (its kit)
    WITH_BENEFICIARY = "with_beneficiary"  # handed over with its kit
    RETURNED = "returned"  # given back at a return; may go into another kit
    LOST = "lost"  # not given back, or declared lost


ACCESSORY_STATUS_LABELS = {
    AccessoryStatus.IN_STOCK: {"fr": "En stock", "en": "In stock"},
    AccessoryStatus.IN_KIT: {"fr": "Dans un kit", "en": "In a kit"},
    AccessoryStatus.WITH_BENEFICIARY: {"fr": "Chez un bénéficiaire", "en": "With a beneficiary"},
    AccessoryStatus.RETURNED: {"fr": "Rendu", "en": "Returned"},
    AccessoryStatus.LOST: {"fr": "Perdu", "en": "Lost"},
}
# The accessory moves the services allow (a returned key may go into another kit).
ACCESSORY_MOVES = {
    AccessoryStatus.IN_STOCK: {AccessoryStatus.IN_KIT, AccessoryStatus.LOST},
    AccessoryStatus.IN_KIT: {AccessoryStatus.IN_STOCK, AccessoryStatus.WITH_BENEFICIARY, AccessoryStatus.LOST},
    AccessoryStatus.WITH_BENEFICIARY: {AccessoryStatus.RETURNED, AccessoryStatus.LOST},
    AccessoryStatus.RETURNED: {AccessoryStatus.IN_STOCK, AccessoryStatus.IN_KIT, AccessoryStatus.LOST},
    AccessoryStatus.LOST: {AccessoryStatus.IN_STOCK},  # found again
}


class Accessory(Base):
    """A tracked accessory; attached to a device it makes that device's kit."""

    __tablename__ = "accessories"
    __table_args__ = (
        Index("ix_accessories_device_status", "device_id", "status"),
        # The plan-ending reminder looks up keys with a beneficiary by plan end date.
        Index("ix_accessories_status_plan_ends", "status", "plan_ends_on"),
        # One key per IMEI and one SIM card per ICCID, enforced by the database (NULLs may repeat).
        Index("uq_accessories_imei", "imei", unique=True),
        Index("uq_accessories_iccid", "iccid", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[AccessoryKind] = mapped_column(enum_column(AccessoryKind, "accessory_kind"))
    tag: Mapped[str | None] = mapped_column(String(32), unique=True)
    description: Mapped[str | None] = mapped_column(String(200))
    serial: Mapped[str | None] = mapped_column(String(100))
    imei: Mapped[str | None] = mapped_column(String(20))
    iccid: Mapped[str | None] = mapped_column(String(22))
    operator: Mapped[str | None] = mapped_column(String(100))
    plan_ends_on: Mapped[object | None] = mapped_column(Date)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    status: Mapped[AccessoryStatus] = mapped_column(enum_column(AccessoryStatus, "accessory_status"),
                                                    default=AccessoryStatus.IN_STOCK)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class Handover(Base):
    """A device (and kit) given to a beneficiary through a partner.

    The pseudonymous reference lives only here, readable by the partner that recorded it; the
    custody chain holds its keyed hash. Erasure empties ``beneficiary_ref`` and keeps the rest.
    """

    __tablename__ = "handovers"
    __table_args__ = (
        Index("ix_handovers_partner_returned", "partner_organisation_id", "returned_at"),
        Index("ix_handovers_loan_due", "loan", "expected_return_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    reservation_id: Mapped[int | None] = mapped_column(ForeignKey("reservations.id"))
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    partner_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    beneficiary_ref: Mapped[str | None] = mapped_column(String(64))
    beneficiary_ref_hmac: Mapped[str | None] = mapped_column(String(64), index=True)
    ref_erased_at: Mapped[object | None] = mapped_column(UTCDateTime, index=True)
    beneficiary_category: Mapped[str] = mapped_column(String(40))
    handed_over_on: Mapped[object] = mapped_column(Date, index=True)  # the distribution list sorts by it
    # Handed over as a kit of this kind; the parts of the kind that were not in it (empty: complete).
    kit_kind_id: Mapped[int | None] = mapped_column(ForeignKey("kit_kinds.id"), index=True)
    missing_parts: Mapped[list] = mapped_column(JSONType, default=list)
    # A kit counts toward its target only when complete (null: not a kit).
    kit_complete: Mapped[bool | None] = mapped_column(Boolean)
    loan: Mapped[bool] = mapped_column(Boolean, default=False)
    expected_return_on: Mapped[object | None] = mapped_column(Date)
    handed_over_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    handed_over_by_name: Mapped[str] = mapped_column(String(200))
    conditions: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    # Return, recorded by the partner.
    returned_at: Mapped[object | None] = mapped_column(UTCDateTime, index=True)
    return_reason: Mapped[str | None] = mapped_column(String(200))
    return_condition: Mapped[str | None] = mapped_column(String(200))
    return_note: Mapped[str | None] = mapped_column(Text)

    programme: Mapped[Programme] = relationship(lazy="joined")
    partner: Mapped[Organisation] = relationship(lazy="joined")
    kit_kind: Mapped[KitKind | None] = relationship(lazy="joined")
    items: Mapped[list[HandoverItem]] = relationship(back_populates="handover", order_by="HandoverItem.id",
                                                       lazy="selectin")


class HandoverItem(Base):
    """One accessory of a handed-over kit, and what became of it at the return."""

    __tablename__ = "handover_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handover_id: Mapped[int] = mapped_column(ForeignKey("handovers.id"), index=True)
    accessory_id: Mapped[int] = mapped_column(ForeignKey("accessories.id"), index=True)
    # null until the return: True given back, False missing.
    returned: Mapped[bool | None] = mapped_column(Boolean)

    handover: Mapped[Handover] = relationship(back_populates="items")
    accessory: Mapped[Accessory] = relationship(lazy="joined")


class Recycling(Base):
    """A device sent to a recycler, with its disposal reference and the parts harvested before."""

    __tablename__ = "recyclings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), unique=True)
    recycler_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    disposal_reference: Mapped[str] = mapped_column(String(100))
    # Groups the devices of one shipment on one certificate.
    shipment_reference: Mapped[str | None] = mapped_column(String(100), index=True)
    parts_harvested: Mapped[list] = mapped_column(JSONType, default=list)
    recorded_by_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)

    recycler: Mapped[Organisation] = relationship(lazy="joined")
