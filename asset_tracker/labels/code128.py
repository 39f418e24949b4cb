"""Code 128 encoding of tags, verified by reading the symbols back (used by the renderer and the template checks)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from barcode.charsets import code128
from barcode.codex import Code128

TAG_RE = re.compile(r"^[A-Z0-9-]{1,40}$")

_START = {103: "A", 104: "B", 105: "C"}
_SWITCH = {"A": {99: "C", 100: "B"}, "B": {99: "C", 101: "A"}, "C": {100: "B", 101: "A"}}
_CHARS = {
    "A": {value: char for char, value in code128.A.items() if len(char) == 1},
    "B": {value: char for char, value in code128.B.items() if len(char) == 1},
}

class LabelError(ValueError):
    """Labels that cannot be rendered as asked (bad tag characters, nothing to print, bad start position)."""



class _Code128(Code128):
    """python-barcode's encoder, minus its habit of dropping a leading "99"."""

    def _try_to_optimize(self, encoded: list[int]) -> list[int]:
        # python-barcode folds "Start C, Code B" into "Start B". When the value opens with the
        # digit pair 99, the second value is data that merely equals Code C (99), and folding it
        # silently deletes those two digits from the barcode.
        if self.code[:2].isdigit():
            return encoded
        return super()._try_to_optimize(encoded)


def _check_tag(tag: str) -> None:
    if not isinstance(tag, str) or not TAG_RE.match(tag):
        raise LabelError(f"{tag!r} cannot be printed as a tag: only A-Z, 0-9 and '-' (1-40 characters)")


def decode_values(values: Sequence[int]) -> str:
    """Read Code 128 symbol values (start code first, no checksum) back into text."""
    if not values or values[0] not in _START:
        raise LabelError("a Code 128 symbol must open with a start code")
    charset, text = _START[values[0]], []
    for value in values[1:]:
        if value in _SWITCH[charset]:
            charset = _SWITCH[charset][value]
        elif charset == "C" and value < 100:
            text.append(f"{value:02d}")
        elif charset != "C" and value in _CHARS[charset]:
            text.append(_CHARS[charset][value])
        else:
            raise LabelError(f"Code 128 value {value} is not plain data in subset {charset}")
    return "".join(text)


@lru_cache(maxsize=8192)
def code128_values(tag: str) -> tuple[int, ...]:
    """The Code 128 symbol values of ``tag`` (start code and data, without checksum), verified."""
    _check_tag(tag)
    # A fresh encoder each time: python-barcode keeps the current subset on the instance.
    values = tuple(_Code128(tag).encoded)
    if decode_values(values) != tag:
        # Never print a label whose bars say something else than its clear text.
        raise LabelError(f"Code 128 encoding of {tag!r} does not read back as the tag")
    return values


def checksum(values: Sequence[int]) -> int:
    return (values[0] + sum(i * v for i, v in enumerate(values[1:], start=1))) % 103


@lru_cache(maxsize=8192)
def barcode_modules(tag: str) -> str:
    """The bars of ``tag`` as a string of modules, '1' dark and '0' light, without quiet zones."""
    values = code128_values(tag)
    symbols = [code128.CODES[v] for v in (*values, checksum(values))]
    return "".join(symbols) + code128.STOP + "11"
