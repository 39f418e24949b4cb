"""The header search: one query text, devices and batches in the caller's scope, an exact hit when there is one."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select

from ..core import Actor
from ..devices import keyboard
from ..devices.models import Device
from ..devices.services import scoped
from ..extensions import db
from ..intake.models import Batch
from ..intake.services import batch_scope
from ..tags import TagError, parse_tag

MAX_QUERY = 100
LIMIT = 25
# A tag typed without its dashes: prefix letters, the sequence digits, the check character.
_DASHLESS_TAG = re.compile(r"^(?P<prefix>[A-Z][A-Z0-9]{0,7}?)(?P<seq>[0-9]{4,12})(?P<check>[0-9A-Z])$")


@dataclass
class SearchResult:
    query: str
    devices: list[Device] = field(default_factory=list)
    batches: list[Batch] = field(default_factory=list)
    exact: Device | None = None  # the one device the text names (tag, serial or IMEI): the page opens it
    read_as: str | None = None  # the tag a garbled or dash-less text was read as


def tag_candidates(text: str) -> list[str]:
    """Valid tags the text may stand for: as typed, without its dashes, or garbled by an AZERTY keyboard."""
    upper = text.strip().upper()
    out = []
    for candidate in (upper, _with_dashes(upper)):
        if candidate:
            try:
                out.append(parse_tag(candidate).text)
            except TagError:
                pass
    if keyboard.looks_garbled(text) or not out:
        out += keyboard.recover_tags(text)
    return list(dict.fromkeys(out))


def _with_dashes(text: str) -> str | None:
    m = _DASHLESS_TAG.match(text.replace("-", "").replace(" ", ""))
    return f"{m['prefix']}-{m['seq']}-{m['check']}" if m else None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(text: str, *, actor: Actor, limit: int = LIMIT) -> SearchResult:
    """Devices and batches matching ``text`` in the actor's scope (out-of-scope rows are never found)."""
    query = " ".join((text or "").split())[:MAX_QUERY]
    result = SearchResult(query=query)
    if not query:
        return result
    upper = query.upper()
    tags = tag_candidates(query)
    if tags:
        found = db.session.execute(scoped(select(Device).where(Device.tag.in_(tags)), actor)).unique().scalars().all()
        if found:
            by_tag = {d.tag: d for d in found}
            result.exact = next(by_tag[t] for t in tags if t in by_tag)
            if result.exact.tag != upper:
                result.read_as = result.exact.tag
    if result.exact is None:
        decoded = keyboard.decode(query).upper() if keyboard.looks_garbled(query) else upper
        same = db.session.execute(scoped(select(Device).where(or_(
            Device.serial == upper, Device.imei == upper, Device.serial == decoded, Device.imei == decoded)),
            actor).limit(2)).unique().scalars().all()
        if len(same) == 1:
            result.exact = same[0]
    words = [w for w in query.split(" ") if w][:6]
    word_match = and_(*[or_(func.lower(Device.brand).like(_like(w.lower()), escape="\\"),
                            func.lower(Device.model).like(_like(w.lower()), escape="\\")) for w in words])
    compact = upper.replace(" ", "")
    devices = select(Device).where(or_(
        word_match,
        Device.tag.like(_like(upper), escape="\\"),
        func.replace(Device.tag, "-", "").like(_like(compact.replace("-", "")), escape="\\"),
        Device.serial.like(_like(upper), escape="\\"),
        Device.imei.like(_like(compact), escape="\\"),
        Device.tag.in_(tags or [""]),
    )).order_by(Device.tag).limit(limit)
    result.devices = list(db.session.execute(scoped(devices, actor)).unique().scalars())
    if result.exact is not None and result.exact not in result.devices:
        result.devices.insert(0, result.exact)
    batches = select(Batch).where(func.lower(Batch.name).like(_like(query.lower()), escape="\\")) \
        .order_by(Batch.id.desc()).limit(limit)
    result.batches = list(db.session.execute(batch_scope(batches, actor)).unique().scalars())
    return result
