"""What wipe certificates state: the evidence of each device, its records and custody events."""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from ..core import Actor
from ..custody import services as custody
from ..custody.models import ChainHead, CustodyEvent
from ..devices.models import Device, StorageMedium
from ..devices.services import get_device, scoped
from ..extensions import db
from ..intake.services import get_batch
from ..lifecycle import State
from .models import WipeRecord, WipeResult, WipeVerification


def record_events(records: list[WipeRecord]) -> dict[int, CustodyEvent]:
    """The custody event that wrote each wipe record, by record id."""
    if not records:
        return {}
    wanted = {r.id for r in records}
    devices = {r.device_id for r in records}
    out = {}
    rows = db.session.execute(select(CustodyEvent).where(CustodyEvent.device_id.in_(devices),
                                                         CustodyEvent.type == "wipe_recorded")).scalars()
    for ev in rows:
        rid = json.loads(ev.details or "{}").get("wipe_record_id")
        if rid in wanted:
            out[rid] = ev
    return out


@dataclass
class DeviceEvidence:
    """What a certificate says about one device: its media, their latest records this cycle, the outcome."""

    device: Device
    media: list[StorageMedium]
    records: dict[int, WipeRecord]  # medium id -> the record that decides it (latest passing, else latest)
    events: dict[int, CustodyEvent]  # record id -> its custody event
    no_media: bool
    wiped_event: CustodyEvent | None
    check: WipeVerification | None
    last_event: CustodyEvent | None

    @property
    def outcome(self) -> str:
        """sanitised, unverified (passing, but an overwrite was not read back), failed, pending or no_media."""
        if not self.media:
            return "no_media" if self.no_media else "pending"
        results = [self.records.get(m.id) for m in self.media]
        if all(r is not None and r.result == WipeResult.PASSED for r in results):
            # An overwrite nobody read back is never certified as a plain "sanitised".
            return "unverified" if any(r.unverified for r in results) else "sanitised"
        if any(r is not None and r.result != WipeResult.PASSED for r in results):
            return "failed"
        return "pending"


def device_evidence(devices: list[Device]) -> list[DeviceEvidence]:
    """Evidence of many devices in a few queries (batch certificates list hundreds)."""
    if not devices:
        return []
    ids = [d.id for d in devices]
    media: dict[int, list] = {i: [] for i in ids}
    for m in db.session.execute(select(StorageMedium).where(StorageMedium.device_id.in_(ids))
                                .order_by(StorageMedium.id)).scalars():
        media[m.device_id].append(m)
    by_device = {d.id: d for d in devices}
    chosen: dict[int, WipeRecord] = {}
    all_records = db.session.execute(select(WipeRecord).where(WipeRecord.device_id.in_(ids))
                                     .order_by(WipeRecord.recorded_at, WipeRecord.id)).scalars().all()
    for r in all_records:
        since = by_device[r.device_id].last_received_at
        if since is not None and r.recorded_at < since:
            continue
        current = chosen.get(r.medium_id)
        if current is None or r.result == WipeResult.PASSED or current.result != WipeResult.PASSED:
            chosen[r.medium_id] = r
    events = record_events(list(chosen.values()))
    wiped = {}
    last = {}
    for ev in db.session.execute(select(CustodyEvent).where(CustodyEvent.device_id.in_(ids))
                                 .order_by(CustodyEvent.seq)).scalars():
        last[ev.device_id] = ev
        if ev.state_after == State.WIPED.value and ev.state_before != State.WIPED.value:
            wiped[ev.device_id] = ev
    checks = {}
    for c in db.session.execute(select(WipeVerification).where(WipeVerification.device_id.in_(ids))
                                .order_by(WipeVerification.id)).scalars():
        checks[c.device_id] = c
    out = []
    for d in devices:
        no_media = bool(d.no_media_statement_at and (d.last_received_at is None
                                                     or d.no_media_statement_at >= d.last_received_at))
        wiped_ev = wiped.get(d.id)
        if wiped_ev is not None and d.last_received_at and wiped_ev.server_time < d.last_received_at:
            wiped_ev = None  # a previous cycle's
        out.append(DeviceEvidence(device=d, media=media[d.id],
                                  records={m.id: chosen[m.id] for m in media[d.id] if m.id in chosen},
                                  events=events, no_media=no_media, wiped_event=wiped_ev, check=checks.get(d.id),
                                  last_event=last.get(d.id)))
    return out


def certificate_for_device(tag, *, actor: Actor) -> DeviceEvidence:
    device = get_device(tag, actor=actor)
    return device_evidence([device])[0]


def certificate_for_batch(batch_id: int, *, actor: Actor):
    """A batch and the evidence of each of its devices; a batch outside the caller's scope is 404."""
    batch = get_batch(batch_id, actor=actor)
    devices = db.session.execute(scoped(select(Device).where(Device.batch_id == batch.id).order_by(Device.tag),
                                        actor)).unique().scalars().all()
    return batch, device_evidence(devices)


def batch_wipe_summary(batch_id: int, *, actor: Actor) -> dict:
    """How many devices of a batch are wiped with an evidence file behind every wipe, out of how many (read-only).

    A device counts when each of its storage media has a passing wipe this cycle backed by an evidence file
    (a tool report, a photo); a stated "no storage media" counts as nothing to prove.
    """
    _, evidence = certificate_for_batch(batch_id, actor=actor)
    proven = sum(1 for e in evidence if e.outcome == "no_media" or (
        e.outcome == "sanitised" and all(r.evidence_id is not None for r in e.records.values())))
    return {"devices": len(evidence), "with_evidence": proven,
            "sanitised": sum(1 for e in evidence if e.outcome == "sanitised")}


def chain_head() -> tuple[int, str]:
    head = db.session.get(ChainHead, 1)
    return (head.last_seq, head.last_hash) if head else (0, custody.GENESIS)
