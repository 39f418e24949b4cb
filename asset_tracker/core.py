"""The vocabulary every layer shares: who acts, and what a device's identity looks like.

Nothing here imports Flask, the database or a capability, so every module may import it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .lifecycle import N_


@dataclass(frozen=True)
class Actor:
    """Who acts: a user of an organisation, or the system (scheduler, migrations)."""

    user_id: int | None
    name: str
    organisation_id: int | None
    organisation_name: str | None
    role: str | None = None
    title: str = ""  # job title, printed with the name on certificates

    @classmethod
    def of(cls, user) -> Actor:
        """The user as people and documents name them: display name (the e-mail until a name is set), title."""
        return cls(user.id, user.display_name, user.organisation_id, user.organisation.name, user.role.value,
                   getattr(user, "job_title", "") or "")

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(None, name, None, None, None)



# ---------------------------------------------------------------- device identity

IMEI_RE = re.compile(r"^[0-9]{15}$")
SERIAL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/\-]{1,99}$")


def normalise_serial(value: str | None) -> str | None:
    value = (value or "").strip()
    return value.upper() or None


def validate_identity(serial: str | None, imei: str | None) -> dict:
    """Field errors for a serial number and an IMEI (empty dict when both are fine)."""
    errors = {}
    if serial and not SERIAL_RE.match(serial):
        errors["serial"] = [N_("A serial number has 2-100 letters, digits, spaces or . _ / -")]
    if imei:
        if not IMEI_RE.match(imei):
            errors["imei"] = [N_("An IMEI has exactly 15 digits.")]
        elif not imei_checksum_ok(imei):
            errors["imei"] = [N_("The last digit of this IMEI does not match its check digit (Luhn): "
                                 "it was probably mistyped.")]
    return errors


def imei_checksum_ok(imei: str) -> bool:
    total = 0
    for i, ch in enumerate(imei):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return total % 10 == 0
