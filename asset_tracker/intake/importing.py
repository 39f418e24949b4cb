"""Reading device spreadsheets (CSV and XLSX) and validating every row; the downloadable templates."""
from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ..core import IMEI_RE, SERIAL_RE, imei_checksum_ok
from ..devices.models import DeviceType, MediumKind
from ..devices.services import NewDevice
from ..errors import Invalid
from ..lifecycle import N_


@dataclass(frozen=True)
class Column:
    key: str
    fr: str
    en: str
    aliases: tuple[str, ...] = ()


# The template's columns, in order; headers are matched without case, accents or punctuation.
COLUMNS = (
    Column("type", "Type", "Type", ("type d appareil", "type de materiel", "device type", "categorie", "category")),
    Column("brand", "Marque", "Brand", ("fabricant", "manufacturer", "constructeur")),
    Column("model", "Modèle", "Model", ("modele", "reference", "model name")),
    Column(
        "serial",
        "Numéro de série",
        "Serial number",
        ("n de serie", "no de serie", "num serie", "numero serie", "serial", "serial no", "sn", "s n"),
    ),
    Column("imei", "IMEI", "IMEI", ("imei1", "imei 1")),
    Column(
        "unit_value",
        "Valeur unitaire (€)",
        "Unit value (€)",
        ("valeur", "valeur unitaire", "valeur eur", "value", "unit value", "unit value eur"),
    ),
    Column(
        "notes", "Remarques", "Notes", ("remarque", "commentaire", "commentaires", "observations", "comments", "note")
    ),
    Column("disk_kind", "Type de disque", "Disk type", ("disque", "type disque", "disk kind", "storage type")),
    Column(
        "disk_serial",
        "N° de série du disque",
        "Disk serial number",
        ("numero de serie du disque", "n de serie disque", "serie disque", "disk serial"),
    ),
    Column(
        "disk_capacity_gb",
        "Capacité du disque (Go)",
        "Disk capacity (GB)",
        ("capacite du disque", "capacite disque go", "capacite go", "disk capacity", "disk capacity gb", "capacity gb"),
    ),
    Column(
        "donor_inventory_number",
        "N° d'inventaire du donateur",
        "Donor inventory number",
        (
            "n d inventaire",
            "no d inventaire",
            "numero d inventaire",
            "numero inventaire",
            "n inventaire",
            "inventaire",
            "n d immobilisation",
            "numero d immobilisation",
            "immobilisation",
            "inventory number",
            "inventory no",
            "inventory",
            "asset number",
            "asset no",
        ),
    ),
)
BY_KEY = {c.key: c for c in COLUMNS}
REQUIRED = ("type",)
MAX_LENGTHS = {"brand": 100, "model": 200, "notes": 5000, "donor_inventory_number": 100}

TYPE_WORDS = {
    DeviceType.LAPTOP: ("laptop", "portable", "ordinateur portable", "pc portable", "notebook"),
    DeviceType.DESKTOP: ("desktop", "unite centrale", "uc", "pc fixe", "fixe", "ordinateur fixe", "tour"),
    DeviceType.TABLET: ("tablet", "tablette"),
    DeviceType.PHONE: ("phone", "telephone", "smartphone", "mobile", "telephone mobile"),
    DeviceType.MONITOR: ("monitor", "ecran", "moniteur"),
    DeviceType.OTHER: ("other", "autre"),
}
DISK_WORDS = {
    MediumKind.HDD: ("hdd", "disque dur", "hard disk", "hard drive"),
    MediumKind.SSD: ("ssd",),
    MediumKind.NVME: ("nvme", "ssd nvme", "m 2 nvme"),
    MediumKind.EMMC: ("emmc",),
    MediumKind.OTHER: ("other", "autre"),
}


def normalise_header(text) -> str:
    """'N° de série' -> 'n de serie': lower case, no accents, punctuation as spaces."""
    text = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode("ascii").lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


_HEADER_INDEX = {}
for _c in COLUMNS:
    for _name in (_c.key, _c.fr, _c.en) + _c.aliases:
        _HEADER_INDEX[normalise_header(_name)] = _c.key
_TYPE_INDEX = {normalise_header(w): t for t, words in TYPE_WORDS.items() for w in words}
_DISK_INDEX = {normalise_header(w): k for k, words in DISK_WORDS.items() for w in words}


# ---------------------------------------------------------------- reading files


@dataclass
class Sheet:
    """A file's header row and data rows, as text; ``first_row`` is the spreadsheet number of the first data row."""

    headers: list[str]
    rows: list[list[str]]
    kind: str  # "csv" or "xlsx"
    encoding: str | None = None
    delimiter: str | None = None
    first_row: int = 2


@dataclass(frozen=True)
class ArchiveLimits:
    """What an XLSX archive may expand to, checked on its zip directory before anything is inflated."""

    max_uncompressed: int = 64 * 1024 * 1024
    max_ratio: int = 100


def read_sheet(data: bytes, filename: str | None = None, *, max_rows: int = 10_000,
               limits: ArchiveLimits = ArchiveLimits()) -> Sheet:
    """Parse CSV (``;``, ``,`` or tab; UTF-8 with or without BOM, UTF-16 or Windows-1252) or XLSX."""
    if not data or not data.strip():
        raise Invalid("The file is empty.", code="empty_file")
    name = (filename or "").lower()
    if data[:4] == b"PK\x03\x04" or name.endswith((".xlsx", ".xlsm")):
        check_archive(data, limits)
        return _read_xlsx(data, max_rows)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or name.endswith(".xls"):
        raise Invalid("Old Excel files (.xls) are not read: save the file as .xlsx or CSV.", code="unsupported_file")
    text, encoding = _decode(data)
    return _read_csv(text, encoding, max_rows)


def _decode(data: bytes) -> tuple[str, str]:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    else:
        try:
            return data.decode("utf-8-sig"), "utf-8"
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError:
                text = None
            # Windows-1252 decodes almost anything: refuse control bytes a real spreadsheet never writes.
            if text is not None and not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
                return text, "windows-1252"
    raise Invalid("The file is not readable text: save it as CSV (UTF-8 or Windows-1252) or as XLSX.",
                  code="bad_encoding")


def _read_csv(text: str, encoding: str, max_rows: int) -> Sheet:
    if "\x00" in text:
        raise Invalid("The file is not readable text: save it as CSV (UTF-8 or Windows-1252) or as XLSX.",
                      code="bad_encoding")
    first_line = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers = next(reader, None)
        rows = []
        for row in reader:
            rows.append(row)
            if len(rows) > max_rows:
                raise Invalid("The file has more than %(max)s rows: split it into several files.", max=max_rows,
                              code="too_many_rows")
    except csv.Error as exc:
        raise Invalid("The CSV file is malformed near line %(line)s: %(problem)s", line=reader.line_num,
                      problem=str(exc), code="malformed_csv") from None
    if not headers or not any(h.strip() for h in headers):
        raise Invalid("The file is empty.", code="empty_file")
    return Sheet([h.strip() for h in headers], rows, "csv", encoding, delimiter)


def check_archive(data: bytes, limits: ArchiveLimits) -> None:
    """Refuse a zip whose members would expand beyond the limits (a decompression bomb), before reading it.

    The sizes come from the central directory; zipfile never inflates a member beyond the size the
    directory declares for it, so a lying directory cannot get past this check either.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Invalid("The XLSX file cannot be read (%(problem)s): save it again from your spreadsheet.",
                      problem=type(exc).__name__, code="malformed_xlsx") from None
    total = sum(m.file_size for m in members)
    if total > limits.max_uncompressed:
        raise Invalid("The XLSX file would expand to %(size)s MB (the limit is %(mb)s MB): "
                      "save it as CSV or split it into several files.", size=total // 2**20,
                      mb=limits.max_uncompressed // 2**20, code="archive_too_large")
    for m in members:
        if m.file_size > 1024 * 1024 and m.file_size > limits.max_ratio * max(m.compress_size, 1):
            raise Invalid("The XLSX file is not a normal spreadsheet: its part %(part)s expands %(ratio)s times "
                          "(the limit is %(max)s). Save it again from your spreadsheet or as CSV.",
                          part=m.filename[:80], ratio=m.file_size // max(m.compress_size, 1), max=limits.max_ratio,
                          code="archive_ratio")


def _read_xlsx(data: bytes, max_rows: int) -> Sheet:
    from openpyxl import load_workbook  # openpyxl adds ~0.13 s to every process start; only XLSX files need it

    try:
        # Formulas are read as their text (data_only=False): they are stored as text, never evaluated.
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise Invalid("The XLSX file cannot be read (%(problem)s): save it again from your spreadsheet.",
                      problem=type(exc).__name__, code="malformed_xlsx") from None
    except Exception as exc:  # defusedxml refusals and other parser errors
        raise Invalid("The XLSX file cannot be read (%(problem)s): save it again from your spreadsheet.",
                      problem=type(exc).__name__, code="malformed_xlsx") from None
    try:
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        headers = None
        rows: list[list[str]] = []
        for values in it:
            cells = [_cell_text(v) for v in values]
            if headers is None:
                headers = cells
                continue
            rows.append(cells)
            if len(rows) > max_rows:
                raise Invalid("The file has more than %(max)s rows: split it into several files.", max=max_rows,
                              code="too_many_rows")
    finally:
        wb.close()
    if not headers or not any(h.strip() for h in headers):
        raise Invalid("The file is empty.", code="empty_file")
    return Sheet([h.strip() for h in headers], rows, "xlsx")


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


# ---------------------------------------------------------------- validating rows


@dataclass
class RowError:
    row: int
    column: str | None  # the header as written in the file (or the expected one when missing)
    letter: str | None  # spreadsheet column letter
    field: str | None
    value: str | None
    code: str
    message: str  # English msgid with %(name)s placeholders
    params: dict = field(default_factory=dict)

    def text(self, translate=None) -> str:
        msg = translate(self.message) if translate else self.message
        return msg % self.params if self.params else msg

    def as_dict(self, translate=None) -> dict:
        return {"row": self.row, "column": self.column, "letter": self.letter, "field": self.field,
                "value": self.value, "code": self.code, "message": self.text(translate)}


@dataclass(slots=True)
class ParsedRow(NewDevice):
    """A valid row of the file: the device it registers (its disk as its one medium), and its row number."""

    row: int = 0


def map_headers(headers: list[str]) -> tuple[dict[str, int], list[str]]:
    """Column key -> index in the file, and the headers that were not recognised (ignored)."""
    found: dict[str, int] = {}
    unknown = []
    for i, header in enumerate(headers):
        key = _HEADER_INDEX.get(normalise_header(header))
        if key and key not in found:
            found[key] = i
        elif header.strip():
            unknown.append(header)
    missing = [k for k in REQUIRED if k not in found]
    if "serial" not in found and "imei" not in found:
        missing.append("serial")
    if missing:
        names = ", ".join(f"\"{BY_KEY[k].fr}\" / \"{BY_KEY[k].en}\"" for k in missing)
        raise Invalid("Missing column(s): %(columns)s. Start from the template file.", columns=names,
                      code="missing_columns",
                      details={"missing_columns": [{"field": k, "fr": BY_KEY[k].fr, "en": BY_KEY[k].en}
                                                   for k in missing]})
    return found, unknown


class _Memo(dict):
    """Raw cell text -> value of ``index`` for its normalised form, computed once per distinct text."""

    def __init__(self, index: dict):
        super().__init__()
        self.index = index

    def __missing__(self, raw: str):
        value = self[raw] = self.index.get(normalise_header(raw))
        return value

    def get(self, raw, default=None):
        return self[raw]


_SCIENTIFIC = re.compile(r"^[0-9]+([.,][0-9]+)?[eE]\+?[0-9]+$")
_MONEY_STRIP = re.compile(r"[\s\u00a0\u202f€]|EUR", re.IGNORECASE)


class _RowChecks:
    """The checks of each column of a device sheet, sharing what the file has seen so far (duplicates)."""

    def __init__(self, sheet: Sheet, cols: dict[str, int]):
        self.headers = sheet.headers
        self.idx = {k: cols.get(k) for k in BY_KEY}
        self.errors: list[RowError] = []
        self.seen_serial: dict[str, int] = {}
        self.seen_imei: dict[str, int] = {}
        self.seen_disk: dict[str, int] = {}
        # The same few spellings repeat on every row: normalise each once.
        self.type_index = _Memo(_TYPE_INDEX)
        self.disk_index = _Memo(_DISK_INDEX)
        self.rownum = 0
        self.cells: list[str] = []

    def err(self, key, cell, code, message, **params):
        i = self.idx.get(key)
        self.errors.append(RowError(self.rownum, self.headers[i] if i is not None else BY_KEY[key].en,
                                    column_letter(i) if i is not None else None, key,
                                    None if cell is None else str(cell)[:100], code, message, params))

    def get(self, key: str) -> str:
        i = self.idx[key]
        return self.cells[i].strip() if i is not None and i < len(self.cells) else ""

    def row(self, rownum: int, cells: list[str]) -> ParsedRow | None:
        """The row's values, or None when one of its cells is wrong (the errors are collected)."""
        self.rownum, self.cells = rownum, cells
        before = len(self.errors)
        dtype = self.device_type()
        serial, imei = self.identity()
        values = self.lengths()
        cents = self.unit_value()
        disk = self.disk()
        if len(self.errors) != before:
            return None
        return ParsedRow(dtype, values["brand"], values["model"], serial, imei, None, values["notes"], cents,
                         values["donor_inventory_number"], media=[disk] if disk else [], row=rownum)

    def device_type(self):
        raw_type = self.get("type")
        dtype = self.type_index.get(raw_type)
        if not raw_type:
            self.err("type", raw_type, "required", N_("The device type is required."))
        elif dtype is None:
            self.err("type", raw_type, "unknown_type", N_(
                "Unknown device type \"%(value)s\": use laptop, desktop, tablet, phone, monitor or other "
                "(portable, unité centrale, tablette, téléphone, écran, autre)."), value=raw_type)
        return dtype

    def identity(self) -> tuple[str | None, str | None]:
        """Serial number and IMEI: their formats, one of them at least, each once in the file."""
        serial = self.get("serial").upper() or None
        imei = re.sub(r"[\s\-]", "", self.get("imei")) or None
        if serial and not SERIAL_RE.match(serial):
            self.serial_format(serial)
        if imei:
            self.imei_format(imei)
        if not serial and not imei:
            self.err("serial" if self.idx["serial"] is not None else "imei", "", "identity_required", N_(
                "A serial number or an IMEI is required, so the workshop can recognise the device."))
        if serial and SERIAL_RE.match(serial):
            self.once(self.seen_serial, "serial", serial, N_(
                "Serial number %(value)s is already on row %(first)s of this file."))
        if imei and IMEI_RE.match(imei):
            self.once(self.seen_imei, "imei", imei, N_("IMEI %(value)s is already on row %(first)s of this file."))
        return serial, imei

    def serial_format(self, serial: str) -> None:
        if _SCIENTIFIC.match(serial):
            self.err("serial", serial, "number_format", N_(
                "The spreadsheet turned this serial number into a number (%(value)s): format the column "
                "as text."), value=serial)
        else:
            self.err("serial", serial, "bad_serial", N_(
                "A serial number has 2-100 letters, digits, spaces or . _ / - (found \"%(value)s\")."),
                value=serial)

    def imei_format(self, imei: str) -> None:
        if _SCIENTIFIC.match(imei):
            self.err("imei", imei, "number_format", N_(
                "The spreadsheet turned this IMEI into a number (%(value)s): format the column as text."),
                value=imei)
        elif not IMEI_RE.match(imei):
            self.err("imei", imei, "bad_imei", N_("An IMEI has exactly 15 digits (found \"%(value)s\")."),
                     value=imei)
        elif not imei_checksum_ok(imei):
            self.err("imei", imei, "imei_check", N_(
                "The check digit of IMEI %(value)s is wrong: it was probably mistyped."), value=imei)

    def once(self, seen: dict[str, int], key: str, value: str, message: str) -> None:
        """Refuses a value already on an earlier row of the file; remembers it otherwise."""
        first = seen.get(value)
        if first is not None:
            self.err(key, value, "duplicate_in_file", message, value=value, first=first)
        else:
            seen[value] = self.rownum

    def lengths(self) -> dict[str, str | None]:
        values = {}
        for key, limit in MAX_LENGTHS.items():
            v = self.get(key)
            if len(v) > limit:
                self.err(key, v, "too_long", N_("At most %(max)s characters (found %(length)s)."),
                         max=limit, length=len(v))
            values[key] = v or None
        return values

    def unit_value(self) -> int | None:
        raw_value = self.get("unit_value")
        if not raw_value:
            return None
        cleaned = _MONEY_STRIP.sub("", raw_value).replace(",", ".")
        try:
            amount = Decimal(cleaned)
            if not amount.is_finite() or amount < 0 or amount > 1_000_000:
                raise InvalidOperation
            return int((amount * 100).quantize(Decimal(1)))
        except InvalidOperation:
            self.err("unit_value", raw_value, "bad_value", N_(
                "A value is an amount in euros, such as 45 or 45,50 (found \"%(value)s\")."), value=raw_value)
            return None

    def disk(self) -> dict | None:
        raw_kind, disk_serial = self.get("disk_kind"), self.get("disk_serial").upper()
        raw_cap = self.get("disk_capacity_gb")
        if not (raw_kind or disk_serial or raw_cap):
            return None
        kind = self.disk_index.get(raw_kind) if raw_kind else None
        if not raw_kind:
            self.err("disk_kind", raw_kind, "required", N_(
                "Say the disk type (HDD, SSD, NVMe, eMMC or other) when a disk is described."))
        elif kind is None:
            self.err("disk_kind", raw_kind, "unknown_disk", N_(
                "Unknown disk type \"%(value)s\": use HDD, SSD, NVMe, eMMC or other."), value=raw_kind)
        capacity = self.disk_capacity(raw_cap) if raw_cap else None
        if disk_serial:
            if not SERIAL_RE.match(disk_serial):
                self.err("disk_serial", disk_serial, "bad_serial", N_(
                    "A serial number has 2-100 letters, digits, spaces or . _ / - (found \"%(value)s\")."),
                    value=disk_serial)
            else:
                self.once(self.seen_disk, "disk_serial", disk_serial, N_(
                    "Disk serial number %(value)s is already on row %(first)s of this file."))
        return {"kind": kind, "serial": disk_serial or None, "capacity_bytes": capacity}

    def disk_capacity(self, raw_cap: str) -> int | None:
        try:
            gb = Decimal(raw_cap.replace(",", ".").replace(" ", ""))
            if not gb.is_finite() or gb <= 0 or gb > 1_000_000:
                raise InvalidOperation
            return int(gb * 10**9)
        except InvalidOperation:
            self.err("disk_capacity_gb", raw_cap, "bad_capacity", N_(
                "A disk capacity is a number of gigabytes, such as 256 (found \"%(value)s\")."),
                value=raw_cap)
            return None


def validate_rows(sheet: Sheet) -> tuple[list[ParsedRow], list[RowError], list[str]]:
    """Check every row (types, required fields, formats, duplicates inside the file), in one pass."""
    cols, unknown = map_headers(sheet.headers)
    checks = _RowChecks(sheet, cols)
    parsed: list[ParsedRow] = []
    for offset, cells in enumerate(sheet.rows):
        if not "".join(cells).strip():
            continue  # blank lines at the end of spreadsheets
        row = checks.row(sheet.first_row + offset, cells)
        if row is not None:
            parsed.append(row)
    return parsed, checks.errors, unknown


# ---------------------------------------------------------------- templates


def template_headers(lang: str) -> list[str]:
    return [c.fr if lang == "fr" else c.en for c in COLUMNS]


def template_csv(lang: str) -> bytes:
    """Headers only; French: `;` and a BOM, which is what Excel in French opens correctly."""
    out = io.StringIO()
    csv.writer(out, delimiter=";" if lang == "fr" else ",", lineterminator="\r\n").writerow(template_headers(lang))
    return (("\ufeff" if lang == "fr" else "") + out.getvalue()).encode("utf-8")


def template_xlsx(lang: str) -> bytes:
    from openpyxl import Workbook  # openpyxl adds ~0.13 s to every process start; only XLSX files need it
    from openpyxl.styles import Font  # openpyxl adds ~0.13 s to every process start; only XLSX files need it
    from openpyxl.worksheet.datavalidation import DataValidation  # openpyxl: ~0.13 s at start; XLSX only

    wb = Workbook()
    ws = wb.active
    ws.title = "Appareils" if lang == "fr" else "Devices"
    ws.append(template_headers(lang))
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "A2"
    for i, col in enumerate(COLUMNS):
        ws.column_dimensions[column_letter(i)].width = max(14, len(col.fr) + 4)
        if col.key in ("serial", "imei", "disk_serial", "donor_inventory_number"):
            # Text format keeps long numbers (IMEIs) from turning into 3.5E+14.
            for row in range(2, 2001):
                ws.cell(row=row, column=i + 1).number_format = "@"
    types = ("portable,unité centrale,tablette,téléphone,écran,autre" if lang == "fr"
             else "laptop,desktop,tablet,phone,monitor,other")
    dv = DataValidation(type="list", formula1=f'"{types}"', allow_blank=False)
    ws.add_data_validation(dv)
    dv.add("A2:A10000")
    disks = DataValidation(type="list", formula1='"HDD,SSD,NVMe,eMMC,' + ("autre" if lang == "fr" else "other") + '"',
                           allow_blank=True)
    ws.add_data_validation(disks)
    disk_col = column_letter([c.key for c in COLUMNS].index("disk_kind"))
    disks.add(f"{disk_col}2:{disk_col}10000")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
