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


class LegalNature(str, enum.Enum):
    """What kind of legal person an organisation is; it decides which mentions its documents carry."""
    STATE = "state"  # État (ministère, service déconcentré)
    LOCAL_AUTHORITY = "local_authority"  # collectivité territoriale (commune, département, région)
    PUBLIC_ESTABLISHMENT = "public_establishment"  # établissement public (EPLE, CAF, hôpital, EPCI…)
    ASSOCIATION = "association"
    COMPANY = "company"
    OTHER = "other"


LEGAL_NATURE_LABELS = {
    LegalNature.STATE: {"fr": "État", "en": "State"},
    LegalNature.LOCAL_AUTHORITY: {"fr": "Collectivité territoriale", "en": "Local authority"},
    LegalNature.PUBLIC_ESTABLISHMENT: {"fr": "Établissement public", "en": "Public establishment"},
    LegalNature.ASSOCIATION: {"fr": "Association", "en": "Association"},
    LegalNature.COMPANY: {"fr": "Entreprise", "en": "Company"},
    LegalNature.OTHER: {"fr": "Autre", "en": "Other"},
}


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
    # Legal identity, printed on the documents the organisation signs (donation slip, receipts, certificates).
    legal_name: Mapped[str | None] = mapped_column(String(200))
    siret: Mapped[str | None] = mapped_column(String(14))
    legal_nature: Mapped[LegalNature | None] = mapped_column(enum_column(LegalNature, "legal_nature"))
    # Donors: the legal basis of their donations as printed on the slip (text and reference), or nothing.
    donation_legal_basis: Mapped[str | None] = mapped_column(Text)
    donation_legal_basis_ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def official_name(self) -> str:
        return self.legal_name or self.name

    def __repr__(self) -> str:
        return f"<Organisation {self.name} ({self.kind.value})>"
