"""What wiping adds to a device's steps (see asset_tracker/devices/extension_points.py)."""
from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from ..devices import extension_points
from ..devices.models import Device, StorageMedium
from ..extensions import db
from ..lifecycle import State
from .models import VerificationStatus, WipeRecord, WipeResult, WipeVerification
from .services import on_wiped


def register(app: Flask) -> None:
    config = app.config  # this application's settings, read at each call (a changed setting applies at once)

    def facts(device: Device, **wanted) -> dict:
        return wipe_facts(device, accept_unverified=bool(config.get("WIPE_ACCEPT_UNVERIFIED", False)), **wanted)

    def draw_check(device: Device, *, actor) -> dict:
        return on_wiped(device, actor=actor, share=float(config.get("WIPE_VERIFICATION_SHARE", 0.05)),
                        seed=str(config.get("WIPE_VERIFICATION_SEED", "")))

    extension_points.add_facts(app, facts)  # the `wiped` and `ready` guards read the wipe evidence
    extension_points.on_enter(app, State.WIPED, draw_check)  # the second-person check is drawn


def wipe_facts(device: Device, *, accept_unverified: bool, wipe_evidence: bool = True,
               wipe_check: bool = False) -> dict:
    """The wipe evidence of the device's current cycle (`lifecycle.Facts` fields).

    ``wipe_evidence``: the media and how many were cleared since the device's reception (a few queries,
    read only by the `wiped` guard); ``wipe_check``: the latest second-person check of this cycle (`ready`).
    ``accept_unverified`` (WIPE_ACCEPT_UNVERIFIED): an overwrite nobody read back counts as cleared.
    """
    media_count = cleared = unverified = 0
    if wipe_evidence:
        media_count = db.session.scalar(select(func.count()).select_from(StorageMedium)
                                        .where(StorageMedium.device_id == device.id)) or 0
    if media_count:
        since = device.last_received_at
        # A refused second-person check voids the wipes before it: the device is wiped again.
        refused = db.session.scalar(select(func.max(WipeVerification.verified_at)).where(
            WipeVerification.device_id == device.id, WipeVerification.status == VerificationStatus.FAILED))
        if refused is not None and (since is None or refused > since):
            since = refused
        q = (select(func.count(func.distinct(WipeRecord.medium_id)))
             .where(WipeRecord.device_id == device.id, WipeRecord.result == WipeResult.PASSED))
        if since is not None:
            q = q.where(WipeRecord.recorded_at >= since)
        if not accept_unverified:
            total = db.session.scalar(q) or 0
            cleared = db.session.scalar(q.where(WipeRecord.unverified.is_(False))) or 0
            unverified = total - cleared
        else:
            cleared = db.session.scalar(q) or 0
    check = None
    if wipe_check:
        latest = db.session.scalar(select(WipeVerification).where(WipeVerification.device_id == device.id)
                                   .order_by(WipeVerification.id.desc()).limit(1))
        if latest is not None and (device.last_received_at is None or latest.cycle_received_at is None
                                   or latest.cycle_received_at >= device.last_received_at):
            check = latest.status.value
    no_media = bool(device.no_media_statement_at and (device.last_received_at is None
                                                      or device.no_media_statement_at >= device.last_received_at))
    return {"media_count": media_count, "media_cleared": cleared, "media_unverified": unverified,
            "no_media_statement": no_media, "wipe_check": check}
