"""Codes garbled by a US-layout scanner typing on a French AZERTY keyboard, and their recovery. Pure."""
from __future__ import annotations

from ..tags import PREFIX_RE, TagError, parse_tag

# A keyboard-wedge scanner "types" each character by pressing the key that produces it on the layout the
# scanner is set to (US by default), with Shift for capitals. The computer reads those key presses through
# its own layout. Physical keys are listed row by row, left to right, as (unshifted, shifted) characters.
# Rows: number row (from the key left of 1 to the key left of Backspace), top letter row, home row, bottom
# row (from the key right of left Shift; ISO keyboards have one more key there, which a US scanner never
# presses). Keys a US scanner never uses for A-Z, 0-9 and '-' are kept so that positions line up.
US = (
    ("`~", "1!", "2@", "3#", "4$", "5%", "6^", "7&", "8*", "9(", "0)", "-_", "=+"),
    ("qQ", "wW", "eE", "rR", "tT", "yY", "uU", "iI", "oO", "pP", "[{", "]}"),
    ("aA", "sS", "dD", "fF", "gG", "hH", "jJ", "kK", "lL", ";:", "'\""),
    ("zZ", "xX", "cC", "vV", "bB", "nN", "mM", ",<", ".>", "/?"),
)
# French AZERTY as shipped by Windows and Linux ("fr"): digits need Shift.
AZERTY_FR = (
    ("²³", "&1", "é2", "\"3", "'4", "(5", "-6", "è7", "_8", "ç9", "à0", ")°", "=+"),
    ("aA", "zZ", "eE", "rR", "tT", "yY", "uU", "iI", "oO", "pP", "^¨", "$£"),
    ("qQ", "sS", "dD", "fF", "gG", "hH", "jJ", "kK", "lL", "mM", "ù%"),
    ("wW", "xX", "cC", "vV", "bB", "nN", ",?", ";.", ":/", "!§"),
)
# French AZERTY of macOS and Belgian AZERTY: the same letters, a different number row.
AZERTY_MAC_BE = (
    ("@#", "&1", "é2", "\"3", "'4", "(5", "§6", "è7", "!8", "ç9", "à0", ")°", "-_"),
) + AZERTY_FR[1:]

LAYOUTS = {"azerty": AZERTY_FR, "azerty-mac": AZERTY_MAC_BE}
TAG_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"


def _key_of(layout, char: str) -> tuple[int, int, int]:
    """(row, column, shift) of the key that types ``char`` on ``layout``."""
    for r, row in enumerate(layout):
        for c, key in enumerate(row):
            if char in key:
                return r, c, key.index(char)
    raise KeyError(char)


def typed_through(layout, char: str, caps_lock: bool = False) -> str:
    """What the computer shows when a US-layout scanner types ``char`` and the computer uses ``layout``.

    With Caps Lock on, French layouts invert Shift on the letter keys and on the number row.
    """
    r, c, shift = _key_of(US, char)
    key = layout[r][c]
    if caps_lock and (r == 0 or key[0].isalpha()):
        shift = 1 - shift
    return key[shift]


def garble(text: str, layout: str = "azerty", caps_lock: bool = False) -> str:
    """``garble("RB-004217-0")`` -> ``'RB)àà\\'é&è)à'``: what a US scanner types on an AZERTY computer."""
    return "".join(typed_through(LAYOUTS[layout], ch, caps_lock) for ch in text)


def _recovery_table() -> dict[str, str]:
    """Typed character -> intended tag character, over every AZERTY variant and Caps Lock state."""
    table: dict[str, str] = {}
    for layout in LAYOUTS.values():
        for caps in (False, True):
            for intended in TAG_ALPHABET:
                typed = typed_through(layout, intended, caps).upper()
                if typed == intended:
                    continue
                previous = table.setdefault(typed, intended)
                if previous != intended:  # never happens for A-Z, 0-9 and '-'; checked by a test
                    raise AssertionError(f"{typed!r} is ambiguous: {previous!r} or {intended!r}")
    return table


RECOVERY = _recovery_table()
# Characters that only appear when a code was typed through the wrong layout (never in a tag).
GARBLED_ONLY = frozenset(ch for ch in RECOVERY if ch not in TAG_ALPHABET)
# The dash and the 6 share one key on AZERTY: a tag's separators may arrive as either.
SEPARATOR_LOOKALIKES = frozenset("-6")


def decode(text: str) -> str:
    """Undo the layout mix-up character by character (letters A/Q, Z/W and M included)."""
    out = []
    for ch in (text or "").strip():
        up = ch.upper()
        out.append(RECOVERY.get(up, RECOVERY.get(ch, up)))
    return "".join(out)


def looks_garbled(text: str) -> bool:
    return any(ch in GARBLED_ONLY or ch.upper() in GARBLED_ONLY for ch in (text or ""))


def _with_separators(text: str) -> list[str]:
    """``RB600421760`` -> ``["RB-004217-0"]`` when the separators arrived as '6' (or anything dash-like)."""
    out = []
    if len(text) < 8 or text[-2] not in SEPARATOR_LOOKALIKES:
        return out
    for i in range(1, min(9, len(text) - 6)):
        if text[i] in SEPARATOR_LOOKALIKES and PREFIX_RE.match(text[:i]):
            out.append(f"{text[:i]}-{text[i + 1:-2]}-{text[-1]}")
    return out


def recover_tags(text: str) -> list[str]:
    """Valid tags (check character verified) that ``text`` may be once the layout mix-up is undone.

    Best guesses first: the straight character-by-character decoding, then separator repairs, then
    the same without swapping letters (a scanner whose letters were already right).
    """
    raw = (text or "").strip()
    decoded = decode(raw)
    digits_only = "".join(RECOVERY.get(ch, ch) if not ch.isalpha() else ch for ch in raw.upper())
    candidates = [decoded, *_with_separators(decoded), digits_only, *_with_separators(digits_only)]
    seen, valid = set(), []
    for candidate in candidates:
        if candidate in seen or candidate == raw.upper():
            continue
        seen.add(candidate)
        try:
            valid.append(parse_tag(candidate).text)
        except TagError:
            continue
    return list(dict.fromkeys(valid))
