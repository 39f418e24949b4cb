"""Beneficiary references: pseudonymous codes only, never a name, an e-mail or a phone number. Pure: no Flask, no DB."""
from __future__ import annotations

import hashlib
import hmac
import re

from ..lifecycle import N_

EMAIL_RE = re.compile(r"@|\b[\w.+-]+\s*(?:\(at\)|\[at\])\s*[\w-]+\.", re.IGNORECASE)
# Letters only (accents, hyphens and apostrophes allowed): the shape of a first or last name.
WORD_RE = re.compile(r"^[^\W\d_]+(?:['’-][^\W\d_]+)*$")
PHONE_CHARS_RE = re.compile(r"^\+?[0-9 ().\-/]+$")


class ReferenceRefused(ValueError):
    def __init__(self, code: str, message: str, params: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.params = code, message, params or {}


def looks_like_email(value: str) -> bool:
    return bool(EMAIL_RE.search(value))


def looks_like_phone(value: str) -> bool:
    """Nine or more digits written only with phone punctuation: 06 12 34 56 78, +33 6 12 34 56 78, 0612345678."""
    if not PHONE_CHARS_RE.match(value):
        return False
    digits = re.sub(r"\D", "", value)
    return len(digits) >= 9


def looks_like_name(value: str) -> bool:
    """Two words or more made of letters ("Lina Benali", "lina benali"), or one capitalised word with no digit."""
    words = value.split()
    if len(words) >= 2 and sum(1 for w in words if WORD_RE.match(w)) >= 2:
        return True
    if len(words) == 1 and WORD_RE.match(value) and value[:1].isupper() and not value.isupper():
        return True
    return False


def validate_reference(value: str | None, pattern: str | None) -> str:
    """The cleaned reference, or ReferenceRefused with a message the coordinator understands."""
    value = (value or "").strip()
    if not value:
        raise ReferenceRefused("beneficiary_required", N_(
            "A hand-over needs the beneficiary's pseudonymous reference."))
    if looks_like_email(value):
        raise ReferenceRefused("reference_is_email", N_(
            "This looks like an e-mail address. Record no contact details: use the pseudonymous code "
            "your organisation gives the beneficiary."))
    if looks_like_phone(value):
        raise ReferenceRefused("reference_is_phone", N_(
            "This looks like a phone number. Record no contact details: use the pseudonymous code "
            "your organisation gives the beneficiary."))
    if looks_like_name(value):
        raise ReferenceRefused("reference_is_name", N_(
            "This looks like a person's name. Beneficiaries are never named here: use the pseudonymous code "
            "your organisation gives them (letters and digits, e.g. MC-0042)."))
    if pattern and not re.fullmatch(pattern, value):
        raise ReferenceRefused("reference_pattern", N_(
            "This reference does not follow your organisation's format (%(pattern)s)."), {"pattern": pattern})
    return value


def reference_hmac(value: str, key: str) -> str:
    """The keyed hash the custody chain keeps instead of the reference itself."""
    return hmac.new(key.encode("utf-8"), value.strip().encode("utf-8"), hashlib.sha256).hexdigest()
