"""Organisation verbs."""
from __future__ import annotations

import re

from sqlalchemy import or_, select

from ..auth.models import User
from ..core import Actor
from ..custody import services as custody
from ..devices.models import Device
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..lifecycle import N_
from .models import LegalNature, Organisation, OrgKind

# Two organisations of the product may share a SIRET (a DSI and its Métropole, both one establishment), so
# a SIRET is not unique here.
# La Poste's establishments share the SIREN 356 000 000; their SIRETs do not follow the Luhn key but the
# INSEE rule for La Poste: the sum of the 14 digits is a multiple of 5.
LA_POSTE_SIREN = "356000000"

LEGAL_FIELDS = ("legal_name", "siret", "legal_nature", "donation_legal_basis", "donation_legal_basis_ref")
UPDATABLE = ("name", "kind", "contact_email", "locale", "address", "beneficiary_ref_pattern") + LEGAL_FIELDS


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def siret_problem(siret: str) -> str | None:
    """None when ``siret`` (14 digits, spaces removed) is a valid SIRET; otherwise what is wrong (English msgid)."""
    if not re.fullmatch(r"[0-9]{14}", siret):
        return "A SIRET has exactly 14 digits (found \"%(value)s\")."
    if luhn_ok(siret):
        return None
    if siret.startswith(LA_POSTE_SIREN) and sum(int(c) for c in siret) % 5 == 0:
        return None
    return "The SIRET %(value)s fails its check key (Luhn): it was probably mistyped."


def normalise_siret(value: str | None) -> str | None:
    """'130 025 265 00013' -> '13002526500013'; refused (422 naming the field ``siret``) when not a valid SIRET."""
    text = re.sub(r"[\s.\-\u00a0\u202f]", "", value or "")
    if not text:
        return None
    problem = siret_problem(text)
    if problem:
        raise Invalid(problem, value=value.strip(), code="bad_siret", details={"siret": [problem % {
            "value": value.strip()}]})
    return text


def _clean(changes: dict) -> dict:
    out = {}
    for key, value in changes.items():
        if isinstance(value, str):
            value = value.strip() or None
        out[key] = value
    if "siret" in out:
        out["siret"] = normalise_siret(out["siret"])
    if out.get("legal_nature") is not None:
        out["legal_nature"] = LegalNature(out["legal_nature"])
    if out.get("beneficiary_ref_pattern"):
        try:
            re.compile(out["beneficiary_ref_pattern"])
        except re.error as exc:
            raise Invalid("The reference pattern is not a valid regular expression: %(err)s", err=str(exc),
                          details={"beneficiary_ref_pattern": [str(exc)]}) from None
    if out.get("donation_legal_basis_ref") and not out.get("donation_legal_basis"):
        raise Invalid("Write the text of the legal basis, not only its reference.",
                      details={"donation_legal_basis": ["required with a reference"]})
    return out


def create_organisation(*, actor: Actor, name: str, kind: str, contact_email=None, locale="fr", address=None,
                        beneficiary_ref_pattern=None, **legal) -> Organisation:
    name = (name or "").strip()
    if db.session.execute(select(Organisation.id).where(Organisation.name == name)).first():
        raise Conflict("An organisation named %(name)s already exists.", name=name, code="duplicate_name")
    unknown = set(legal) - set(LEGAL_FIELDS)
    if unknown:
        raise Invalid("Field %(field)s cannot be changed here.", field=", ".join(sorted(unknown)))
    values = _clean({"address": address, "beneficiary_ref_pattern": beneficiary_ref_pattern, **legal})
    org = Organisation(name=name, kind=OrgKind(kind), contact_email=contact_email, locale=locale, **values)
    db.session.add(org)
    db.session.flush()
    custody.record("organisation_created", actor=actor, details={
        "organisation_id": org.id, "name": name, "kind": kind,
        **{k: _plain(v) for k, v in values.items() if k in LEGAL_FIELDS and v is not None}})
    db.session.commit()
    return org


def _plain(value):
    return getattr(value, "value", value)


def get_organisation(org_id, *, actor: Actor) -> Organisation:
    try:
        org = db.session.get(Organisation, int(org_id))
    except (TypeError, ValueError):
        org = None
    if org is None:
        raise NotFound("No organisation %(id)s.", id=str(org_id))
    return org


def update_organisation(org_id: int, changes: dict, *, actor: Actor) -> Organisation:
    """Change an organisation's contact or legal identity (admins); before and after go to the custody log."""
    org = get_organisation(org_id, actor=actor)
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise Invalid("Field %(field)s cannot be changed here.", field=", ".join(sorted(unknown)))
    values = _clean(changes)
    if "donation_legal_basis_ref" in values and "donation_legal_basis" not in values and not org.donation_legal_basis \
            and values["donation_legal_basis_ref"]:
        raise Invalid("Write the text of the legal basis, not only its reference.",
                      details={"donation_legal_basis": ["required with a reference"]})
    if values.get("name") and values["name"] != org.name and db.session.execute(
            select(Organisation.id).where(Organisation.name == values["name"])).first():
        raise Conflict("An organisation named %(name)s already exists.", name=values["name"], code="duplicate_name",
                       details={"name": [N_("already used")]})
    if "name" in values and not values["name"]:
        raise Invalid("An organisation needs a name.", details={"name": ["required"]})
    if values.get("kind") is not None:
        values["kind"] = OrgKind(values["kind"])
        if values["kind"] != org.kind and _in_use(org):
            raise Conflict("The kind of an organisation with users or devices cannot change.",
                           code="kind_in_use", details={"kind": [N_("users or devices depend on it")]})
    diff = {}
    for key, value in values.items():
        old = getattr(org, key)
        if old != value:
            diff[key] = {"before": _plain(old), "after": _plain(value)}
            setattr(org, key, value)
    if diff:
        custody.record("organisation_updated", actor=actor, details={"organisation_id": org.id, "changes": diff})
    db.session.commit()
    return org


def visible_organisations(actor: Actor):
    """Everyone sees organisation names (they appear on devices); details are for admins."""
    return db.session.execute(select(Organisation).order_by(Organisation.name)).scalars().all()


def by_name(name: str) -> Organisation | None:
    return db.session.execute(select(Organisation).where(Organisation.name == name)).scalar_one_or_none()


def _in_use(org: Organisation) -> bool:
    """Whether users or devices rely on the organisation's kind (a donor's devices, a workshop's staff...)."""
    if db.session.execute(select(User.id).where(User.organisation_id == org.id).limit(1)).first():
        return True
    return bool(db.session.execute(select(Device.id).where(or_(
        Device.donor_organisation_id == org.id, Device.custodian_organisation_id == org.id,
        Device.partner_organisation_id == org.id, Device.recycler_organisation_id == org.id)).limit(1)).first())



def ordered(*, actor: Actor, kind: OrgKind | None = None, kinds=None) -> list[Organisation]:
    """Organisations by name (of one kind, or of some kinds), for the pages' choices; the pages decide which of them
    to offer."""
    query = select(Organisation).order_by(Organisation.name)
    if kind is not None:
        query = query.where(Organisation.kind == kind)
    if kinds:
        query = query.where(Organisation.kind.in_(kinds))
    return list(db.session.scalars(query))


def organisations_query(*, actor: Actor, kind: str | None = None):
    """The organisations, of one kind (unordered, unexecuted: the admin list sorts and pages it)."""
    query = select(Organisation)
    if kind in OrgKind._value2member_map_:
        query = query.where(Organisation.kind == OrgKind(kind))
    return query


def names(ids, *, actor: Actor) -> dict[int, str]:
    """Organisation id -> name, for the ids a page names (custody events, a device's parties)."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))).all())


def find(org_id: int | None, *, actor: Actor) -> Organisation | None:
    """The organisation of an id a record names (None if there is none)."""
    return db.session.get(Organisation, org_id) if org_id is not None else None
