"""The organisation model."""
from __future__ import annotations

import enum

from sqlalchemy import Enum, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class OrgKind(str, enum.Enum):
    DONOR = "donor"
    WORKSHOP = "workshop"
    PARTNER = "partner"
    RECYCLER = "recycler"
    PROGRAMME_OWNER = "programme_owner"


def enum_column(enum_cls, name: str):
    """Enums stored by value (the database says 'wiped', not 'WIPED')."""
    return Enum(enum_cls, name=name, native_enum=False, length=32,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[OrgKind] = mapped_column(enum_column(OrgKind, "org_kind"), index=True)
    contact_email: Mapped[str | None] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(5), default="fr")
    address: Mapped[str | None] = mapped_column(Text)
    # Partners: regular expression a beneficiary reference must match (e.g. ^MC-[0-9]{4}$).
    beneficiary_ref_pattern: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Organisation {self.name} ({self.kind.value})>"
