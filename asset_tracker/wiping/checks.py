"""The second-person check: a drawn share of wiped devices is verified by someone else."""
from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select

from ..core import Actor
from ..custody import services as custody
from ..db import utcnow
from ..devices.models import Device
from ..devices.services import get_device, scoped, transition
from ..errors import Conflict, Invalid
from ..extensions import db
from ..lifecycle import State
from .models import VerificationStatus, WipeRecord, WipeVerification


def draw_score(tag: str, cycle: dt.datetime | None, seed: str) -> float:
    """A reproducible number in [0, 1) for one device and wipe cycle: an auditor can recompute the pick."""
    cycle_text = cycle.astimezone(dt.UTC).isoformat() if cycle else "-"
    digest = hashlib.sha256(f"{seed}|{tag}|{cycle_text}".encode()).hexdigest()
    return int(digest[:13], 16) / 16**13


def pick_for_verification(device: Device, *, actor: Actor, share: float, seed: str) -> dict:
    """Called as a device becomes `wiped`: picks it for a second technician's check when its draw is below
    ``share``. Returns what the state change's event should say about the pick."""
    score = draw_score(device.tag, device.last_received_at, seed)
    if score >= share:
        return {}
    db.session.add(WipeVerification(device_id=device.id, cycle_received_at=device.last_received_at,
                                    selected_at=utcnow(), score=score, share=share, wiped_by_id=actor.user_id,
                                    wiped_by_name=actor.name, status=VerificationStatus.PENDING))
    db.session.flush()
    return {"wipe_check": "selected", "wipe_check_score": round(score, 6)}


def pending_verifications(*, actor: Actor, limit: int = 200) -> list[tuple[WipeVerification, Device]]:
    q = pending_verifications_query(actor=actor).order_by(WipeVerification.selected_at).limit(limit)
    return db.session.execute(q).unique().all()


def pending_verifications_query(*, actor: Actor):
    """(check, device) of the wipe checks still to be made, in the actor's scope (unordered)."""
    q = (select(WipeVerification, Device).join(Device, Device.id == WipeVerification.device_id)
         .where(WipeVerification.status == VerificationStatus.PENDING))
    return scoped(q, actor)


def current_verification(device: Device) -> WipeVerification | None:
    return db.session.scalar(select(WipeVerification).where(WipeVerification.device_id == device.id)
                             .order_by(WipeVerification.selected_at.desc(), WipeVerification.id.desc()).limit(1))


def verify_wipe(tag, *, actor: Actor, confirmed: bool, note: str | None = None) -> WipeVerification:
    """A second technician checks a picked device's wipe; whoever wiped it may not check it."""
    device = get_device(tag, actor=actor, for_update=True)
    check = db.session.scalar(select(WipeVerification).where(
        WipeVerification.device_id == device.id, WipeVerification.status == VerificationStatus.PENDING)
        .order_by(WipeVerification.id.desc()).limit(1))
    if check is None:
        raise Conflict("%(tag)s is not waiting for a second-person check.", tag=device.tag, code="no_check_pending")
    wipers = {check.wiped_by_id}
    q = select(WipeRecord.operator_id).where(WipeRecord.device_id == device.id)
    if check.cycle_received_at is not None:
        q = q.where(WipeRecord.recorded_at >= check.cycle_received_at)
    wipers.update(db.session.scalars(q))
    if actor.user_id is not None and actor.user_id in wipers:
        raise Conflict("You wiped this device: its check must be made by another technician.",
                       code="verifier_is_wiper")
    if not confirmed and not (note or "").strip():
        raise Invalid("Say what was wrong with the wipe.", details={"note": ["required when the check fails"]})
    check.status = VerificationStatus.CONFIRMED if confirmed else VerificationStatus.FAILED
    check.verified_by_id, check.verified_by_name, check.verified_at = actor.user_id, actor.name, utcnow()
    check.note = (note or "").strip() or None
    custody.record("wipe_verified", actor=actor, device=device, note=check.note,
                   details={"verification_id": check.id, "outcome": check.status.value,
                            "wiped_by": check.wiped_by_name})
    if not confirmed and device.state in (State.WIPED, State.REFURBISHED) and device.verdict is not None:
        # A refused check sends the device back to be wiped again; the reason is in the chain, twice.
        db.session.flush()
        transition(device, State.DIAGNOSED, actor=actor, note=check.note, commit=False,
                   event_details={"reason": "wipe_check_failed", "verification_id": check.id})
    db.session.commit()
    return check


def on_wiped(device: Device, *, actor: Actor, share: float, seed: str) -> dict:
    """Hook of devices.services.transition as a device becomes `wiped`: the draw of ``share`` of the devices
    (WIPE_VERIFICATION_SHARE) with ``seed`` (WIPE_VERIFICATION_SEED); wiping/hooks.py passes the settings."""
    return pick_for_verification(device, actor=actor, share=share, seed=seed)
