"""Evidence files: uploaded logs and reports stored once by their SHA-256."""
from __future__ import annotations

import hashlib

from sqlalchemy import select

from ..core import Actor
from ..db import utcnow
from ..devices.models import Device
from ..devices.services import scoped
from ..errors import NotFound
from ..extensions import db
from .models import EvidenceFile, WipeRecord


def store_evidence(data: bytes, filename: str, *, actor: Actor,
                   content_type: str = "application/octet-stream") -> EvidenceFile:
    """Keep a raw evidence file once: the same bytes uploaded again reuse the stored file."""
    digest = hashlib.sha256(data).hexdigest()
    found = db.session.scalar(select(EvidenceFile).where(EvidenceFile.sha256 == digest))
    if found is not None:
        return found
    evidence = EvidenceFile(sha256=digest, filename=(filename or "evidence")[:255], content_type=content_type,
                            size=len(data), content=data, uploaded_by_id=actor.user_id, created_at=utcnow())
    db.session.add(evidence)
    db.session.flush()
    return evidence


def get_evidence(sha256: str, *, actor: Actor) -> EvidenceFile:
    """An evidence file, for whoever may see at least one device it proves something about."""
    evidence = db.session.scalar(select(EvidenceFile).where(EvidenceFile.sha256 == (sha256 or "").lower()))
    if evidence is None:
        raise NotFound("No evidence file %(sha)s.", sha=sha256)
    visible = scoped(select(Device.id).join(WipeRecord, WipeRecord.device_id == Device.id)
                     .where(WipeRecord.evidence_id == evidence.id).limit(1), actor)
    if db.session.scalar(visible) is None:
        raise NotFound("No evidence file %(sha)s.", sha=sha256)
    return evidence
