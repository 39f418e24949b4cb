"""Test data made through the services, so every row has its custody events."""
from __future__ import annotations

import datetime as dt
import itertools

from flask import current_app

from asset_tracker.auth import services as auth
from asset_tracker.auth.models import Role, User
from asset_tracker.core import Actor
from asset_tracker.devices import services as devices
from asset_tracker.devices.models import Device, StorageMedium
from asset_tracker.distribution.models import Programme, ProgrammeTarget
from asset_tracker.extensions import db
from asset_tracker.lifecycle import State
from asset_tracker.organisations.models import Organisation, OrgKind
from asset_tracker.wiping import services as wiping

PASSWORD = "correct-horse-battery"
SYSTEM = Actor.system("tests")
_serials = itertools.count(1)

ORGS = {
    "donor": ("CAF du Rhône", OrgKind.DONOR),
    "donor_b": ("Mairie de Lyon", OrgKind.DONOR),
    "workshop": ("Weeefund", OrgKind.WORKSHOP),
    "partner": ("Emmaüs Connect", OrgKind.PARTNER),
    "partner_b": ("Collège Maria Casarès", OrgKind.PARTNER),
    "recycler": ("Recyclage DEEE Rhône", OrgKind.RECYCLER),
    "owner": ("Métropole de Lyon", OrgKind.PROGRAMME_OWNER),
}


def make_organisations() -> dict[str, Organisation]:
    out = {}
    for key, (name, kind) in ORGS.items():
        org = Organisation(name=name, kind=kind, contact_email=f"{key}@example.org")
        db.session.add(org)
        out[key] = org
    db.session.commit()
    out["programme"] = make_programme(out)
    return out


def make_programme(orgs, name="Collégiens 2026", target=1000, policy="allow") -> Programme:
    p = Programme(name=name, owner_organisation_id=orgs["owner"].id, beneficiary_policy=policy,
                  targets=[ProgrammeTarget(unit="device", count=target)])
    p.partners = [orgs["partner"], orgs["partner_b"]]
    db.session.add(p)
    db.session.commit()
    return p


def make_user(role: str, org: Organisation, email: str | None = None, locale: str | None = None) -> User:
    email = email or f"{role}.{org.id}.{next(_serials)}@example.org"
    return auth.create_user(email, role=role, organisation_id=org.id, password=PASSWORD, actor=SYSTEM,
                            name=role.title(), locale=locale, policy=auth.PasswordPolicy.of(current_app.config))


def make_users(orgs) -> dict[str, User]:
    return {
        "donor": make_user("donor", orgs["donor"], "donor@example.org"),
        "donor_b": make_user("donor", orgs["donor_b"], "donor.b@example.org"),
        "technician": make_user("technician", orgs["workshop"], "tech@example.org"),
        "technician_b": make_user("technician", orgs["workshop"], "tech.b@example.org"),
        "coordinator": make_user("coordinator", orgs["partner"], "coord@example.org"),
        "coordinator_b": make_user("coordinator", orgs["partner_b"], "coord.b@example.org"),
        "auditor": make_user("auditor", orgs["owner"], "auditor@example.org"),
        "admin": make_user("admin", orgs["owner"], "admin@example.org"),
    }


def token_for(user: User) -> str:
    return auth.create_token(user, actor=SYSTEM, name="tests", days=current_app.config["TOKEN_LIFETIME_DAYS"])[1]


PATH = [State.COLLECTED, State.RECEIVED, State.DIAGNOSED, State.WIPED, State.REFURBISHED, State.READY,
        State.RESERVED, State.HANDED_OVER, State.RETURNED]


def make_device(orgs, users, state: State | str = State.REGISTERED, *, donor="donor", media: int = 1,
                type="laptop", verdict="refurbish", serial: str | None = None, imei: str | None = None,
                partner="partner", capacity_bytes: int | None = 256 * 10**9) -> Device:
    """A device walked through the services to ``state`` (with wipe records when it passes `wiped`)."""
    state = State(state)
    donor_org = orgs[donor]
    donor_user = users[donor]
    device = devices.register_device(
        actor=Actor.of(donor_user), type=type, donor_organisation_id=donor_org.id, brand="Lenovo",
        model="ThinkPad T480", serial=serial or f"SN{next(_serials):08d}", imei=imei,
        media=[{"kind": "ssd", "serial": f"DISK{next(_serials):06d}", "capacity_bytes": capacity_bytes}
               for _ in range(media)])
    if state == State.LOST:
        return devices.transition(device, State.LOST, actor=Actor.of(donor_user),
                                  params={"reason": "fell off the van"})
    if state == State.RECYCLED:
        path = [State.COLLECTED, State.RECEIVED, State.DIAGNOSED, State.WIPED, State.RECYCLED]
        verdict = "recycle"
    elif state == State.REGISTERED:
        path = []
    else:
        path = PATH[: PATH.index(state) + 1]
    for target in path:
        device = step(device, target, orgs, users, partner=partner, verdict=verdict)
    return device


def step(device: Device, target: State | str, orgs, users, *, partner="partner", verdict="refurbish",
         loan: bool = False, expected_return_on=None, beneficiary_ref="MC-0042") -> Device:
    """One lifecycle step with what it needs, through the service that owns it."""
    from asset_tracker.distribution import services as distribution
    from asset_tracker.distribution.models import Handover

    target = State(target)
    tech = Actor.of(users["technician"])
    coord = Actor.of(users["coordinator" if partner == "partner" else "coordinator_b"])
    if target == State.RESERVED:
        distribution.reserve_device(device.tag, actor=coord, programme_id=orgs["programme"].id,
                                  partner_organisation_id=orgs[partner].id)
    elif target == State.HANDED_OVER:
        distribution.record_handover(device.tag, actor=coord, beneficiary_ref=beneficiary_ref,
                                   beneficiary_category="pupil", loan=loan, expected_return_on=expected_return_on,
                                   **handing_over())
    elif target == State.RETURNED:
        handover = db.session.query(Handover).filter_by(device_id=device.id, returned_at=None).one()
        distribution.record_return(handover.id, actor=coord, reason="end of the school year")
    elif target == State.RECYCLED:
        distribution.record_recycling(device.tag, actor=tech, recycler_organisation_id=orgs["recycler"].id,
                                    disposal_reference="BSD-2026-0001")
    else:
        params = {}
        if target == State.DIAGNOSED:
            params = {"verdict": verdict}
        elif target == State.WIPED:
            wipe_all(device, tech)
        elif target == State.READY:
            params = {"grade": "B"}
            _confirm_pending_check(device, users)
        return devices.transition(device, target, actor=tech, params=params)
    return db.session.get(Device, device.id, populate_existing=True)


def _confirm_pending_check(device: Device, users) -> None:
    """A device the draw picked for a second-person check is confirmed by another technician before `ready`."""
    from asset_tracker.wiping.models import VerificationStatus, WipeVerification

    pending = db.session.query(WipeVerification).filter_by(device_id=device.id,
                                                           status=VerificationStatus.PENDING).first()
    if pending is not None:
        wiping.verify_wipe(device.tag, actor=Actor.of(_second_technician(users["technician"])), confirmed=True)


def _second_technician(tech: User) -> User:
    """Another technician of the same workshop (the check is a second person's), made once if needed."""
    other = db.session.query(User).filter(User.organisation_id == tech.organisation_id, User.id != tech.id,
                                          User.role == Role.TECHNICIAN).order_by(User.id).first()
    return other or make_user("technician", tech.organisation, f"check.{tech.organisation_id}@example.org")


def wipe_all(device: Device, tech: Actor, result: str = "passed") -> None:
    from asset_tracker.db import utcnow

    media = db.session.query(StorageMedium).filter_by(device_id=device.id).all()
    if not media:
        wiping.state_no_media(device, actor=tech)
    now = utcnow()
    for medium in media:
        wiping.record_wipe(device, medium.id, actor=tech, result=result, method="Fill With Zeros",
                           nist_category="clear", tool="nwipe", tool_version="0.35", passes=1,
                           verification="last pass", started_at=now - dt.timedelta(hours=1), ended_at=now)


_keys = itertools.count(1)


def luhn_complete(body: str) -> str:
    """``body`` followed by its Luhn check digit (IMEIs and ICCIDs)."""
    for check in "0123456789":
        digits = [int(c) for c in reversed(body + check)]
        if sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits)) % 10 == 0:
            return body + check
    raise AssertionError("unreachable")


def key_numbers(n: int | None = None) -> dict:
    """A fresh, valid IMEI and ICCID pair for a 4G key (each call a different pair unless ``n`` is given)."""
    n = next(_keys) if n is None else n
    return {"imei": luhn_complete(f"35{n:012d}"), "iccid": luhn_complete(f"893315{n:012d}")}


# ---------------------------------------------------------------- settings the routes pass to the services


def printing() -> dict:
    """What the label routes pass to print_labels and print_batch from the configuration."""
    return {"max_per_job": current_app.config["LABEL_MAX_PER_JOB"], "line": current_app.config["LABEL_LINE"]}


def blank_printing() -> dict:
    """What the label routes pass to print_blank_tags."""
    return {"max_per_job": current_app.config["LABEL_MAX_PER_JOB"]}


def issuing() -> dict:
    """What the label routes pass to issue_blank_tags and issue_and_print_blank_tags."""
    return {**blank_printing(), "tag_prefix": current_app.config["TAG_PREFIX"],
            "tag_width": current_app.config["TAG_WIDTH"]}


def handing_over() -> dict:
    """What the hand-over route passes to record_handover (second_device_to_confirm takes the key alone)."""
    return {"hmac_key": current_app.config["BENEFICIARY_HMAC_KEY"],
            "default_pattern": current_app.config.get("BENEFICIARY_REF_DEFAULT_PATTERN")}
