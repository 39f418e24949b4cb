"""Asset tags: prefix, zero-padded sequence and a Luhn mod 36 check character."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .lifecycle import N_
from .phrases import Phrase

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
TAG_RE = re.compile(r"^(?P<prefix>[A-Z][A-Z0-9]*)-(?P<seq>[0-9]{4,12})-(?P<check>[0-9A-Z])$")
PREFIX_RE = re.compile(r"^[A-Z][A-Z0-9]{0,7}$")


class TagError(ValueError):
    """A string that is not a valid asset tag; the message says why (a translatable sentence and its values)."""

    def __init__(self, template: str, **params):
        self.phrase = Phrase(template, **params)
        super().__init__(self.phrase)


@dataclass(frozen=True)
class Tag:
    text: str
    prefix: str
    sequence: int
    check: str

    def __str__(self) -> str:
        return self.text


def check_character(body: str) -> str:
    """Luhn mod 36 over the letters and digits of ``body`` (dashes are ignored).

    Catches every single-character typo and most swaps of adjacent characters.
    """
    chars = [c for c in body.upper() if c != "-"]
    factor, total, n = 2, 0, len(ALPHABET)
    for c in reversed(chars):
        if c not in _VALUE:
            raise TagError(N_("character %(char)s is not allowed in a tag (only A-Z, 0-9 and '-')"), char=repr(c))
        addend = factor * _VALUE[c]
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def format_tag(prefix: str, sequence: int, width: int = 6) -> str:
    """``format_tag("RB", 4217)`` -> ``"RB-004217-X"``."""
    if not PREFIX_RE.match(prefix):
        raise TagError(N_("tag prefix %(prefix)s must be 1-8 capital letters or digits, starting with a letter"),
                       prefix=repr(prefix))
    if sequence < 0:
        raise TagError(N_("tag sequence must be positive"))
    body = f"{prefix}-{sequence:0{width}d}"
    return f"{body}-{check_character(body)}"


def parse_tag(text: str) -> Tag:
    """Parse and verify a tag typed or scanned by a person; raises TagError naming the problem."""
    raw = (text or "").strip().upper()
    if not raw:
        raise TagError(N_("empty tag"))
    m = TAG_RE.match(raw)
    if not m:
        raise TagError(N_("%(tag)s is not an asset tag (expected PREFIX-000000-C, e.g. RB-004217-3)"), tag=repr(raw))
    body = f"{m['prefix']}-{m['seq']}"
    expected = check_character(body)
    if m["check"] != expected:
        raise TagError(N_("check character of %(tag)s is wrong (expected %(expected)s): the tag was probably "
                          "mistyped"), tag=repr(raw), expected=expected)
    return Tag(raw, m["prefix"], int(m["seq"]), m["check"])


def looks_like_tag(text: str) -> bool:
    return bool(TAG_RE.match((text or "").strip().upper()))
