"""Import of wipe results exported by other tools as CSV: all rows valid, or every error listed."""
from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

from ..lifecycle import N_
from ..phrases import Phrase
from ..tags import TagError, parse_tag
from .nwipe import ABORTED, CLEAR, DESTROY, FAILED, PASSED, PURGE

# The template's header, in this order. Pages offer it as a download; the import accepts the columns
# in any order, in any case, with spaces instead of underscores ("Device tag").
COLUMNS: tuple[str, ...] = (
    "device_tag",
    "medium_serial",
    "kind",
    "capacity_bytes",
    "method",
    "nist_category",
    "tool",
    "tool_version",
    "passes",
    "pattern",
    "verification",
    "started_at",
    "ended_at",
    "operator",
    "result",
)
# Columns that must be present and filled on every row; the others may be left out or empty.
REQUIRED_COLUMNS: frozenset[str] = frozenset({
    "device_tag", "medium_serial", "kind", "method", "nist_category", "tool",
    "started_at", "ended_at", "operator", "result",
})

KINDS = ("hdd", "ssd", "nvme", "emmc", "other")  # devices.models.MediumKind values
NIST_CATEGORIES = (CLEAR, PURGE, DESTROY)
RESULTS = (PASSED, FAILED, ABORTED)

# Lengths of the columns these values end up in (wipe_records, storage_media), so an import that
# passes here cannot fail later in the database.
_MAX_LENGTH = {
    "medium_serial": 100, "method": 200, "tool": 100, "tool_version": 50,
    "pattern": 100, "verification": 100, "operator": 254,
}
# Words other tools and people write for a result, English and French (the first deployment is Lyon).
_RESULT_WORDS = {
    PASSED: ("passed", "pass", "success", "successful", "succeeded", "ok", "erased", "wiped",
             "réussi", "reussi", "succès", "succes", "effacé", "efface"),
    FAILED: ("failed", "fail", "failure", "error", "échec", "echec", "erreur"),
    ABORTED: ("aborted", "abort", "cancelled", "canceled", "interrupted", "annulé", "annule", "interrompu"),
}
_RESULT = {word: result for result, words in _RESULT_WORDS.items() for word in words}
_KIND = {k: k for k in KINDS}
_FR_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})[ T](\d{1,2}):(\d{2})(?::(\d{2}))?\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Spaces people (and French spreadsheets) put between thousands: regular, no-break, narrow no-break.
_DIGIT_GROUPING = re.compile(r"[ \u00a0\u202f_]")


@dataclass(frozen=True)
class CsvIssue:
    """One problem of the file: the spreadsheet row (the header is row 1), the column, and what is wrong."""

    row: int
    column: str | None
    message: Phrase

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class WipeCsvError(ValueError):
    """The file was refused; ``errors`` lists every problem found, not only the first."""

    def __init__(self, errors: list[CsvIssue], filename: str = ""):
        self.errors = list(errors)
        self.filename = filename
        shown = "; ".join(str(e) for e in self.errors[:5])
        more = f" (and {len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        prefix = f"{filename}: " if filename else ""
        super().__init__(f"{prefix}{len(self.errors)} error(s): {shown}{more}")


@dataclass(frozen=True)
class WipeCsvRow:
    """One medium's wipe as another tool reported it."""

    row: int
    device_tag: str
    medium_serial: str
    kind: str
    capacity_bytes: int | None
    method: str
    nist_category: str
    tool: str
    tool_version: str | None
    passes: int | None
    pattern: str | None
    verification: str | None
    started_at: datetime
    ended_at: datetime
    timezone_known: bool
    operator: str
    result: str


@dataclass(frozen=True)
class WipeCsv:
    """A whole imported file: its fingerprint, how it was read, and its rows."""

    filename: str
    sha256: str
    encoding: str
    delimiter: str
    rows: tuple[WipeCsvRow, ...]


def template(delimiter: str = ";") -> str:
    """The header line of an empty import file (";" by default, as French spreadsheets expect)."""
    return delimiter.join(COLUMNS) + "\r\n"


def _decode(data: bytes, errors: list[CsvIssue]) -> tuple[str, str] | None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        errors.append(CsvIssue(1, None, Phrase(N_("the file is UTF-16: save it as CSV (UTF-8) or CSV "
                                                   "(semicolon separated)"))))
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        body, encoding = data[3:], "utf-8-sig"
    else:
        body, encoding = data, "utf-8"
    try:
        return body.decode("utf-8"), encoding
    except UnicodeDecodeError as exc:
        if encoding == "utf-8-sig":
            errors.append(CsvIssue(body[:exc.start].count(b"\n") + 1, None, Phrase(
                N_("byte %(byte)s is not valid UTF-8"), byte=f"0x{body[exc.start]:02x}")))
            return None
    # Not UTF-8: Excel on Windows saves "CSV (separator: semicolon)" in Windows-1252.
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as exc:
        errors.append(CsvIssue(data[:exc.start].count(b"\n") + 1, None,
                               Phrase(N_("byte %(byte)s is neither UTF-8 nor Windows-1252 text"),
                                      byte=f"0x{data[exc.start]:02x}")))
        return None


def _column_key(title: str) -> str:
    return "_".join(title.strip().lower().replace("-", " ").split())


def _datetime(value: str, default_timezone: tzinfo | None) -> datetime:
    if ":" not in value:
        # fromisoformat() reads a bare date as midnight; a wipe record needs the time it ran.
        raise ValueError("no time of day")
    m = _FR_DATE.match(value)
    if m:
        day, month, year, hour, minute, second = m.groups()
        at = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0))
    else:
        at = datetime.fromisoformat(value)  # 2024-03-12T09:15:10, 2024-03-12 09:15, ...+01:00, ...Z
    if at.tzinfo is None and default_timezone is not None:
        at = at.replace(tzinfo=default_timezone)
    return at


class _Row:
    """Reads the cells of one data row, collecting an issue per bad cell."""

    def __init__(self, number: int, cells: dict[str, str], errors: list[CsvIssue]):
        self.number = number
        self.cells = cells
        self.errors = errors
        self.ok = True

    def fail(self, column: str, message: str, **params) -> None:
        self.errors.append(CsvIssue(self.number, column, Phrase(message, **params)))
        self.ok = False

    def text(self, column: str) -> str | None:
        value = self.cells.get(column, "").strip()
        if not value:
            if column in REQUIRED_COLUMNS:
                self.fail(column, N_("required"))
            return None
        if _CONTROL.search(value):
            self.fail(column, N_("contains a line break or control character"))
            return None
        limit = _MAX_LENGTH.get(column)
        if limit and len(value) > limit:
            self.fail(column, N_("longer than %(limit)s characters"), limit=limit)
            return None
        return value

    def choice(self, column: str, table: dict[str, str], allowed: tuple[str, ...]) -> str | None:
        value = self.text(column)
        if value is None:
            return None
        choice = table.get(value.casefold())
        if choice is None:
            self.fail(column, N_("%(value)s is not one of %(allowed)s"), value=repr(value), allowed=", ".join(allowed))
        return choice

    def integer(self, column: str, minimum: int) -> int | None:
        value = self.text(column)
        if value is None:
            return None
        digits = _DIGIT_GROUPING.sub("", value)
        if not digits.isascii() or not digits.isdigit():
            self.fail(column, N_("%(value)s is not a whole number"), value=repr(value))
            return None
        number = int(digits)
        if number < minimum or number >= 2**63:
            self.fail(column, N_("%(value)s is out of range (at least %(minimum)s)"), value=repr(value),
                      minimum=minimum)
            return None
        return number

    def moment(self, column: str, default_timezone: tzinfo | None) -> datetime | None:
        value = self.text(column)
        if value is None:
            return None
        try:
            return _datetime(value, default_timezone)
        except ValueError:
            self.fail(column, N_("%(value)s is not a date and time (use 2024-03-12 09:15 or 12/03/2024 09:15)"),
                      value=repr(value))
            return None

    def tag(self) -> str | None:
        value = self.text("device_tag")
        if value is None:
            return None
        try:
            return parse_tag(value).text
        except TagError as exc:
            self.fail("device_tag", exc.phrase.template, **exc.phrase.params)
            return None


def _read_row(row: _Row, default_timezone: tzinfo | None) -> WipeCsvRow | None:
    tag = row.tag()
    serial = row.text("medium_serial")
    kind = row.choice("kind", _KIND, KINDS)
    capacity = row.integer("capacity_bytes", 1)
    method = row.text("method")
    category = row.choice("nist_category", {c: c for c in NIST_CATEGORIES}, NIST_CATEGORIES)
    tool = row.text("tool")
    tool_version = row.text("tool_version")
    passes = row.integer("passes", 1)
    pattern = row.text("pattern")
    verification = row.text("verification")
    started = row.moment("started_at", default_timezone)
    ended = row.moment("ended_at", default_timezone)
    operator = row.text("operator")
    result = row.choice("result", _RESULT, RESULTS)
    if started is not None and ended is not None:
        if (started.tzinfo is None) != (ended.tzinfo is None):
            row.fail("ended_at", N_("give a time zone for both started_at and ended_at, or for neither"))
        elif ended < started:
            row.fail("ended_at", N_("before started_at"))
    if not row.ok:
        return None
    return WipeCsvRow(
        row=row.number, device_tag=tag, medium_serial=serial, kind=kind, capacity_bytes=capacity,
        method=method, nist_category=category, tool=tool, tool_version=tool_version, passes=passes,
        pattern=pattern, verification=verification, started_at=started, ended_at=ended,
        timezone_known=started.tzinfo is not None, operator=operator, result=result,
    )


def parse_wipe_csv(data: bytes, filename: str = "", *, default_timezone: tzinfo | None = None,
                   max_rows: int = 10_000) -> WipeCsv:
    """Read a CSV of wipe results (";" or ",", UTF-8 or Windows-1252) into rows, all or nothing.

    Times without a zone get ``default_timezone`` when given (the workshop's zone), else stay naive
    with ``timezone_known`` False. Raises WipeCsvError listing every problem by row and column.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("parse_wipe_csv() takes the raw bytes of the file")
    data = bytes(data)
    errors: list[CsvIssue] = []
    decoded = _decode(data, errors)
    if decoded is None:
        raise WipeCsvError(errors, filename)
    text, encoding = decoded
    if not text.strip():
        raise WipeCsvError([CsvIssue(1, None, Phrase(N_("the file is empty")))], filename)

    first_line = text.lstrip("\r\n").splitlines()[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    if first_line.count(delimiter) == 0:
        raise WipeCsvError([CsvIssue(1, None, Phrase(N_("the first line must name the columns, separated by ';' or "
                                                             "','")))],
                           filename)

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[WipeCsvRow] = []
    header: list[str | None] = []
    seen: dict[tuple[str, str, datetime], int] = {}
    number = 0
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                if number:
                    number += 1
                continue  # blank lines, or a spreadsheet's ";;;;" filler
            number += 1
            if not header:
                header = _header(cells, errors)
                if errors:
                    raise WipeCsvError(errors, filename)
                continue
            if number - 1 > max_rows:
                errors.append(CsvIssue(number, None, Phrase(N_("more than %(max)s rows: split the file"),
                                                              max=max_rows)))
                break
            extra = [c for c in cells[len(header):] if c.strip()]
            if extra:
                errors.append(CsvIssue(number, None, Phrase(
                    N_("%(cells)s cells but the header names %(columns)s columns (a separator inside an unquoted "
                       "value?)"), cells=len(cells), columns=len(header))))
                continue
            values = {name: cell for name, cell in zip(header, cells, strict=False) if name}
            parsed = _read_row(_Row(number, values, errors), default_timezone)
            if parsed is None:
                continue
            key = (parsed.device_tag, parsed.medium_serial.casefold(), parsed.started_at)
            if key in seen:
                errors.append(CsvIssue(number, "medium_serial", Phrase(
                    N_("same device, medium and start as row %(row)s"), row=seen[key])))
                continue
            seen[key] = number
            rows.append(parsed)
    except csv.Error as exc:
        errors.append(CsvIssue(number + 1, None, Phrase(N_("malformed CSV near line %(line)s: %(reason)s"),
                                                        line=reader.line_num, reason=str(exc))))
    if not errors and not rows:
        errors.append(CsvIssue(2, None, Phrase(N_("no data rows under the header"))))
    if errors:
        raise WipeCsvError(errors, filename)
    return WipeCsv(filename=filename, sha256=hashlib.sha256(data).hexdigest(), encoding=encoding,
                   delimiter=delimiter, rows=tuple(rows))


def _header(cells: list[str], errors: list[CsvIssue]) -> list[str | None]:
    names: list[str | None] = []
    for title in cells:
        key = _column_key(title)
        if not key:
            names.append(None)  # an untitled empty column, as spreadsheets add
            continue
        if key not in COLUMNS:
            errors.append(CsvIssue(1, title.strip(), Phrase(N_("unknown column (expected: %(columns)s)"),
                                                           columns=", ".join(COLUMNS))))
        elif key in names:
            errors.append(CsvIssue(1, key, Phrase(N_("column given twice"))))
        names.append(key)
    for name in COLUMNS:
        if name in REQUIRED_COLUMNS and name not in names:
            errors.append(CsvIssue(1, name, Phrase(N_("required column missing"))))
    return names
