"""Organisation verbs."""
from __future__ import annotations

import re

from sqlalchemy import or_, select

from ..custody import services as custody
from ..custody.services import Actor
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..lifecycle import N_
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


def get_organisation(organisation_id: int) -> Organisation:
    org = db.session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound("No organisation %(id)s.", id=organisation_id)
    return org


def _in_use(org: Organisation) -> bool:
    """Whether users or devices rely on the organisation's kind (a donor's devices, a workshop's staff...)."""
    from ..auth.models import User
    from ..devices.models import Device

    if db.session.execute(select(User.id).where(User.organisation_id == org.id).limit(1)).first():
        return True
    return bool(db.session.execute(select(Device.id).where(or_(
        Device.donor_organisation_id == org.id, Device.custodian_organisation_id == org.id,
        Device.partner_organisation_id == org.id, Device.recycler_organisation_id == org.id)).limit(1)).first())


def update_organisation(organisation_id: int, *, actor: Actor, **changes) -> Organisation:
    """Change an organisation's details (any column of the model, as given by the edit schema)."""
    org = get_organisation(organisation_id)
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
        if changes["name"] != org.name and db.session.execute(
                select(Organisation.id).where(Organisation.name == changes["name"])).first():
            raise Conflict("An organisation named %(name)s already exists.", name=changes["name"],
                           code="duplicate_name", details={"name": [N_("already used")]})
    if changes.get("beneficiary_ref_pattern"):
        try:
            re.compile(changes["beneficiary_ref_pattern"])
        except re.error as exc:
            raise Invalid("The reference pattern is not a valid regular expression: %(err)s", err=str(exc),
                          details={"beneficiary_ref_pattern": [str(exc)]}) from None
    if "kind" in changes:
        changes["kind"] = OrgKind(changes["kind"])
        if changes["kind"] != org.kind and _in_use(org):
            raise Conflict("The kind of an organisation with users or devices cannot change.",
                           code="kind_in_use", details={"kind": [N_("users or devices depend on it")]})
    changed = {}
    for key, value in changes.items():
        if not hasattr(Organisation, key):
            raise Invalid("Unknown field %(field)s.", field=key, details={key: ["unknown"]})
        before = getattr(org, key)
        if before != value:
            setattr(org, key, value)
            changed[key] = [getattr(before, "value", before), getattr(value, "value", value)]
    if changed:
        custody.record("organisation_updated", actor=actor,
                       details={"organisation_id": org.id, "name": org.name, "changes": changed})
    db.session.commit()
    return org
