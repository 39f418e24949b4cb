"""From a scanned or typed code to a device: asset tag, serial number, IMEI, or a tag garbled by an AZERTY keyboard.

One reader for every page that takes a code (the scanning station, batch reception, the header search).
"""
from __future__ import annotations

from sqlalchemy import or_, select

from ..core import Actor
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..tags import TagError, looks_like_tag, parse_tag
from . import keyboard
from .models import Device
from .services import scoped


def _by_identity(text: str, actor: Actor) -> list[Device]:
    value = text.strip().upper()
    if not value or len(value) > 100:
        return []
    query = select(Device).where(or_(Device.serial == value, Device.imei == value)).limit(2)
    return list(db.session.execute(scoped(query, actor)).unique().scalars())


def _by_tag(tag: str, actor: Actor) -> Device | None:
    query = scoped(select(Device).where(Device.tag == tag), actor)
    return db.session.execute(query).unique().scalar_one_or_none()


def resolve_code(code: str, *, actor: Actor) -> tuple[Device, dict]:
    """The device a scanned code designates, and how it was read: tag, serial/IMEI, or a garbled tag recovered.

    Raises NotFound (unknown, or outside the actor's scope), Invalid (a tag with a wrong check character)
    or Conflict (a serial number shared by several devices).
    """
    raw = (code or "").strip()
    if not raw:
        raise Invalid("Nothing was scanned.", code="empty_code", details={"code": ["empty"]})
    reading = {"typed": raw, "read": None, "how": None}
    tag_error = None
    upper = raw.upper()
    if looks_like_tag(upper):
        try:
            tag = parse_tag(upper).text
        except TagError as exc:
            tag_error = exc
        else:
            device = _by_tag(tag, actor)
            if device is not None:
                return device, {**reading, "read": tag, "how": "tag"}
    found = _by_identity(raw, actor) if not looks_like_tag(upper) or tag_error else []
    if len(found) > 1:
        raise Conflict("Several devices have the serial number or IMEI %(scanned)s: scan their asset tag instead.",
                       code="ambiguous_code", scanned=raw)
    if found:
        how = "imei" if found[0].imei == upper else "serial"
        return found[0], {**reading, "read": found[0].tag, "how": how}
    recovered = keyboard.recover_tags(raw) if (keyboard.looks_garbled(raw) or not looks_like_tag(upper)) else []
    for tag in recovered:
        device = _by_tag(tag, actor)
        if device is not None:
            return device, {**reading, "read": tag, "how": "azerty"}
    if keyboard.looks_garbled(raw):
        decoded = keyboard.decode(raw)
        found = _by_identity(decoded, actor)
        if len(found) == 1:
            return found[0], {**reading, "read": found[0].tag, "how": "azerty"}
        if recovered:
            raise NotFound("No device %(tag)s (read from %(scanned)s, typed on an AZERTY keyboard).",
                           tag=recovered[0], scanned=raw)
        if looks_like_tag(decoded):
            raise Invalid("%(scanned)s was read as %(tag)s (typed on an AZERTY keyboard), but its check character "
                          "is wrong: the label may be damaged. Type the tag by hand.",
                          code="tag_check_failed", scanned=raw, tag=decoded, details={"code": raw})
    if tag_error is not None:
        raise Invalid("The check character of %(scanned)s is wrong: the tag was probably mistyped. "
                      "Scan it again or type it carefully.", code="tag_check_failed", scanned=upper,
                      details={"code": str(tag_error)})
    raise NotFound("No device has the code %(scanned)s (neither an asset tag, nor a serial number, nor an IMEI).",
                   code="unknown_code", scanned=raw)
