"""Programmes and the partners allowed to distribute for them."""
from __future__ import annotations

from sqlalchemy import Column, Date, ForeignKey, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, JSONType, UTCDateTime, utcnow
from ..organisations.models import Organisation

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
    target_count: Mapped[int] = mapped_column(Integer, default=0)
    # What counts toward the target: "device" or "kit".
    target_unit: Mapped[str] = mapped_column(String(20), default="device")
    starts_on: Mapped[object | None] = mapped_column(Date)
    ends_on: Mapped[object | None] = mapped_column(Date)
    beneficiary_categories: Mapped[list] = mapped_column(JSONType, default=list)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[Organisation] = relationship(lazy="joined")
    partners: Mapped[list[Organisation]] = relationship(secondary=programme_partners)
