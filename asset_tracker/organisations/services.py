"""Organisation verbs."""
from __future__ import annotations

import re

from sqlalchemy import select

from ..custody import services as custody
from ..custody.services import Actor
from ..errors import Conflict, Invalid
from ..extensions import db
from .models import OrgKind, Organisation


def create_organisation(*, actor: Actor, name: str, kind: str, contact_email=None, locale="fr", address=None,
                        beneficiary_ref_pattern=None) -> Organisation:
    name = (name or "").strip()
    if db.session.execute(select(Organisation.id).where(Organisation.name == name)).first():
        raise Conflict("An organisation named %(name)s already exists.", name=name, code="duplicate_name")
    if beneficiary_ref_pattern:
        try:
            re.compile(beneficiary_ref_pattern)
        except re.error as exc:
            raise Invalid("The reference pattern is not a valid regular expression: %(err)s", err=str(exc),
                          details={"beneficiary_ref_pattern": [str(exc)]}) from None
    org = Organisation(name=name, kind=OrgKind(kind), contact_email=contact_email, locale=locale, address=address,
                       beneficiary_ref_pattern=beneficiary_ref_pattern)
    db.session.add(org)
    db.session.flush()
    custody.record("organisation_created", actor=actor, details={"organisation_id": org.id, "name": name,
                                                                "kind": kind})
    db.session.commit()
    return org


def visible_organisations(actor: Actor):
    """Everyone sees organisation names (they appear on devices); details are for admins."""
    return db.session.execute(select(Organisation).order_by(Organisation.name)).scalars().all()


def by_name(name: str) -> Organisation | None:
    return db.session.execute(select(Organisation).where(Organisation.name == name)).scalar_one_or_none()
