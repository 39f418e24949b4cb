"""Parser for nwipe log files: one result per wiped disk, or a refusal naming the line it stopped at."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone

from ..lifecycle import N_
from ..phrases import Phrase

# Result values, spelled like wiping.models.WipeResult so a service can convert with WipeResult(value).
# nwipe has a fourth verdict, INSANITY ("if this ever happens, there is a bug"), kept distinct here so
# the caller decides; it must never be read as a pass.
PASSED = "passed"
FAILED = "failed"
ABORTED = "aborted"
INSANITY = "insanity"

# NIST SP 800-88 categories, spelled like wiping.models.NistCategory.
CLEAR = "clear"
PURGE = "purge"
DESTROY = "destroy"

# Verification modes, nwipe's --verify=off|last|all ("off" is called "none" here, as in the CSV import).
VERIFY_NONE = "none"
VERIFY_LAST = "last"
VERIFY_ALL = "all"


class WipeLogError(ValueError):
    """The log cannot be read whole; ``line`` is where reading stopped (1-based) and ``reason`` why."""

    def __init__(self, line: int, reason: str, filename: str = "", **params):
        self.line = line
        self.reason = Phrase(reason, **params)  # English, translated where a person reads it
        self.filename = filename
        where = f"{filename}: line {line}" if filename else f"line {line}"
        super().__init__(f"{where}: {self.reason}")


@dataclass(frozen=True)
class Method:
    """What nwipe does for one of its method labels, and what that is worth under NIST SP 800-88."""

    key: str
    label: str
    nist_category: str | None
    pattern: str
    uses_prng: bool
    # True when nwipe itself writes every block, so its "bytes written" lines must cover the disk.
    overwrites: bool
    aliases: tuple[str, ...] = ()


# Every label nwipe's method.c has printed (nwipe_method_label), old spellings as aliases.
#
# Why these categories (NIST SP 800-88 Rev. 1, Appendix A):
# - Overwriting the user-addressable blocks from the host is *Clear*: "at least a single write pass
#   with a fixed data value, such as all zeros. Multiple write passes or more complex values may
#   optionally be used." More passes (DoD, Gutmann, ...) do not make an overwrite a Purge, and on
#   flash media an overwrite may miss spare blocks, so Clear is the most it can claim.
# - Commands executed by the drive's firmware over all of its media - ATA SECURITY ERASE UNIT,
#   NVMe Format with secure erase, and the ATA/SCSI/NVMe SANITIZE family (block erase, overwrite,
#   crypto erase) - are the techniques Appendix A lists under *Purge*.
# - The two verify-only "methods" read the disk and write nothing: no category at all.
# - nwipe never destroys media, so it never yields *Destroy*.
METHODS: tuple[Method, ...] = (
    Method("zero", "Fill With Zeros", CLEAR, "0x00", False, True, ("Zero Fill", "Quick Erase")),
    Method("one", "Fill With Ones", CLEAR, "0xFF", False, True),
    Method("random", "PRNG Stream", CLEAR, "PRNG stream", True, True),
    Method("dodshort", "DoD Short", CLEAR, "3 passes: random byte, its complement, PRNG stream", True, True),
    Method("dod522022m", "DoD 5220.22-M", CLEAR,
           "7 passes: random byte, complement, PRNG, random byte, random byte, complement, PRNG", True, True),
    Method("gutmann", "Gutmann Wipe", CLEAR, "35 passes: 4 PRNG, 27 fixed patterns shuffled, 4 PRNG",
           True, True, ("Gutmann",)),
    Method("ops2", "RCMP TSSIT OPS-II", CLEAR,
           "random byte and its complement alternately, then a final PRNG pass", True, True),
    Method("is5enh", "HMG IS5 Enhanced", CLEAR, "3 passes: 0x00, 0xFF, PRNG (always verified)", True, True),
    Method("bruce7", "Bruce Schneier 7-Pass", CLEAR, "7 passes: 0xFF, 0x00, 5 PRNG", True, True),
    Method("bmb21", "BMB21-2019", CLEAR, "6 passes: 0xFF, 0x00, 3 PRNG, 0xFF", True, True),
    Method("secure_erase", "Secure Erase (ATA/NVMe)", PURGE,
           "drive firmware secure erase, then a zero read-back", False, False),
    Method("secure_erase_prng_verify", "Secure Erase + PRNG + Verify", PURGE,
           "drive firmware secure erase, then a verified PRNG pass", True, False),
    Method("sanitize_crypto_erase", "Sanitize Crypto Erase (ATA/SCSI/NVMe)", PURGE,
           "drive firmware sanitize: media encryption key replaced", False, False),
    Method("sanitize_block_erase", "Sanitize Block Erase (ATA/SCSI/NVMe)", PURGE,
           "drive firmware sanitize: block erase", False, False),
    Method("sanitize_overwrite", "Sanitize Overwrite (ATA/SCSI/NVMe)", PURGE,
           "drive firmware sanitize: overwrite with 0x00", False, False),
    Method("verify_zero", "Verify Zeros (0x00)", None, "read-only check for 0x00", False, False),
    Method("verify_one", "Verify Ones (0xFF)", None, "read-only check for 0xFF", False, False),
)


def _norm_label(label: str) -> str:
    # nwipe pads some labels ("Verify Ones  (0xFF)" has two spaces), so compare on collapsed spaces.
    return " ".join(label.split()).casefold()


_METHOD_BY_LABEL = {_norm_label(name): m for m in METHODS for name in (m.label, *m.aliases)}


def lookup_method(label: str) -> Method | None:
    """The Method nwipe prints as ``label``, or None for a label this module does not know."""
    return _METHOD_BY_LABEL.get(_norm_label(label))


@dataclass(frozen=True)
class LogMessage:
    """One error, fatal or sanity line of the log, as evidence of what went wrong."""

    line: int
    level: str
    text: str


@dataclass(frozen=True)
class DiskResult:
    """The outcome of one disk in one nwipe run, as nwipe's summary table and log lines state it."""

    device: str
    model: str
    serial: str
    serial_raw: bytes
    serial_readable: bool
    bus: str | None
    kind_hint: str | None
    size_bytes: int | None
    size_exact: bool
    method: str
    method_key: str | None
    nist_category: str | None
    rounds: int | None
    passes_per_round: int | None
    verification: str | None
    verified: bool | None
    blanking: bool | None
    prng: str | None
    pattern: str
    status: str
    raw_status: str
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    timezone_known: bool
    bytes_erased: int | None
    bytes_written: int
    bytes_verified: int
    throughput_bytes_per_second: int | None
    throughput_text: str
    pass_errors: int | None
    verify_errors: int | None
    fsync_errors: int | None
    nwipe_version: str | None
    summary_line: int
    messages: tuple[LogMessage, ...] = ()
    concerns: tuple[str, ...] = ()
    # What identifies this disk's section of the log whatever the file's encoding: see section_fingerprint().
    fingerprint: str = ""

    @property
    def errors(self) -> int | None:
        """Pass + verification + fdatasync errors from the Error Summary (None before nwipe 0.31)."""
        counts = [c for c in (self.pass_errors, self.verify_errors, self.fsync_errors) if c is not None]
        return sum(counts) if counts else None


@dataclass(frozen=True)
class NwipeLog:
    """A whole nwipe log file: its fingerprint, the machine it ran on and every disk it wiped."""

    filename: str
    sha256: str
    size_bytes: int
    nwipe_version: str | None
    banner: str | None
    host: dict[str, str]
    os_info: str | None
    runs: int
    disks: tuple[DiskResult, ...]
    unwiped_devices: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    error_messages: tuple[LogMessage, ...] = ()


# --------------------------------------------------------------------------------------------------
# Reading: the file is handled as bytes. Each line is decoded as Latin-1, which maps every byte to
# one character and back, so regular expressions work on text while serial numbers keep their
# exact bytes (nwipe 0.33 prints uninitialised memory as the serial of devices that have none).
# --------------------------------------------------------------------------------------------------

_TS_RE = re.compile(
    r"\[(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2})"
    # nwipe prints local time without a zone; an explicit offset is honoured if a build adds one.
    r"(?: ?(Z|UTC|[+-]\d{2}:?\d{2}))?\] ?(.*)\Z",
    re.S,
)
# nwipe <= 0.2x wrote "nwipe: notice: ..."; later versions pad the level to 7 characters.
_LEVEL_RE = re.compile(
    r"\s*(?:nwipe:\s*)?(debug|info|notice|warning|error|fatal|sanity|level -?\d+): ?(.*)\Z", re.S
)
_BANNER_RE = re.compile(r"\*+ (Error Summary|Drive Status) \*+\s*\Z")
_STARS_RE = re.compile(r"\*{20,}\s*\Z")
_DASHES_RE = re.compile(r"-{20,}\s*\Z")
_ERROR_ROW_RE = re.compile(r"(?P<flag>[! ]?)\s*(?P<dev>[^\s|]+)\s*\|(?P<cells>[\s\d|]*)\Z")
_DRIVE_ROW_RE = re.compile(
    r"(?P<flag>[! ]?)\s*(?P<dev>[^\s|]+)\s*\|(?P<status>[^|]{1,12})\|\s*(?P<thru>[^|]*?)\s*\|"
    r"\s*(?P<dur>\d+):(?P<min>\d{2}):(?P<sec>\d{2})\s*\| ?(?P<ms>.*)\Z",
    re.S,
)
_FOOTER_RE = re.compile(
    r"Total Throughput\s+(?P<thru>\d+\s*[KMGTP]?B/s),\s*(?P<method>.+?),\s*"
    r"(?P<rounds>\d+)R\+(?P<blank>N?B)\+(?P<verify>NV|VL|VA)\s*\Z"
)
_THROUGHPUT_RE = re.compile(r"(\d+)\s*([KMGTP]?B)/s\Z")
_SIZE_TEXT_RE = re.compile(r"(\d+)\s*([KMGTPE]?B)\Z")
_UNIT = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15, "EB": 10**18}

_FOUND_RE = re.compile(
    r"Found (?P<dev>/\S+?),(?P<mid>.*),\s*(?P<size>\d+\s*[KMGTPE]?B),\s*S/N=(?P<serial>.*)\Z", re.S
)
_BUS_RE = re.compile(r"(UNK|IDE|SCSI|CPQ|USB|1394|ATA|NVME|VIRT|SAS|MMC|SD)(-SSD)?\Z")
_HAS_SERIAL_RE = re.compile(r"(?:Device )?(/\S+) has serial number (.*)\Z", re.S)
_SECT_RE = re.compile(r"(/\S+), sect/blk/dev (\d+)/(\d+)/(-?\d+)\s*\Z")
_DEVSIZE_RE = re.compile(r"Device '(/[^']+)' is size (\d+)\.?\s*\Z")
# nwipe >= 0.34 compares the HPA/DCO limits with the real size; these sectors are outside what it wipes.
_HIDDEN_AREA_RE = re.compile(r"HIDDEN AREA DETECTED!? on (/\S+?)[.,]?\s*\Z")
_INVOKING_RE = re.compile(r"Invoking method '(?P<method>.+)' on (?:device )?'?(?P<dev>/[^\s']+?)'?\.?\s*\Z")
_ATTEMPTING_RE = re.compile(r"Attempting .+ on (?P<dev>/\S+) \(")
_ROUND_RE = re.compile(r"Starting round (\d+) of (\d+) on (?:device )?'?(/[^\s']+?)'?\.?\s*\Z")
_PASS_RE = re.compile(r"Starting pass (\d+)(?:/| of )(\d+), round .* on (?:device )?'?(/[^\s']+?)'?\.?\s*\Z")
_WRITTEN_RE = re.compile(r"(\d+) bytes written to (?:device )?'?(/[^\s']+?)'?\.?\s*\Z")
_READ_RE = re.compile(r"(\d+) bytes read from (?:device )?'?(/[^\s']+?)'?\.?\s*\Z")
_VERIFIED_RE = re.compile(r"(?:\[SUCCESS\] Verified|Verified pass)")
_DEV_IN_TEXT_RE = re.compile(r"(/dev/[^\s',()]+)")
_VERSION_RE = re.compile(r"nwipe\s+v?(\d+(?:\.\d+)+[\w.-]*)\s*\Z", re.I)
_OPTION_RE = re.compile(r"\s+(banner|prng|method|rounds|verify|quiet|sync)\s*=\s*(.*)\Z")
_DMI_KEYS = frozenset((
    "bios-version", "bios-release-date", "system-manufacturer", "system-product-name", "system-version",
    "system-serial-number", "system-uuid", "baseboard-manufacturer", "baseboard-product-name",
    "baseboard-version", "baseboard-serial-number", "baseboard-asset-tag", "chassis-manufacturer",
    "chassis-type", "chassis-version", "chassis-serial-number", "chassis-asset-tag", "processor-family",
    "processor-manufacturer", "processor-version", "processor-frequency",
))
_STATUS = {"ERASED": PASSED, "FAILED": FAILED, "FAIL": FAILED, "FAILURE": FAILED,
           "UABORTED": ABORTED, "ABORTED": ABORTED, "INSANITY": INSANITY}
_VERIFY_CODE = {"NV": VERIFY_NONE, "VL": VERIFY_LAST, "VA": VERIFY_ALL}
_VERIFY_OPTION = {"0": VERIFY_NONE, "1": VERIFY_LAST, "2": VERIFY_ALL}
# What nwipe -q prints instead of a serial: "XXX..." when one exists, "???..." when it could not be read.
_ANONYMISED = re.compile(rb"(X{5,}|\?{5,})\Z")


@dataclass
class _Record:
    line: int
    at: datetime
    level: str | None
    text: str


@dataclass
class _ErrorTable:
    line: int
    rows: list[tuple[int, str, tuple[int, ...]]]


@dataclass
class _DriveRow:
    line: int
    flag: str
    short: str
    status: str
    throughput: str
    duration: int
    model_serial: str
    extra: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class _Footer:
    line: int
    throughput: str
    method: str
    rounds: int
    blanking: bool
    verification: str


@dataclass
class _DriveTable:
    line: int
    rows: list[_DriveRow]
    footer: _Footer | None


def _latin1_lines(data: bytes) -> list[str]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    # A log copied through a Windows machine may have gained CRs; they are not part of any message.
    return [raw[:-1].decode("latin-1") if raw.endswith(b"\r") else raw.decode("latin-1") for raw in lines]


def _timestamp(m: re.Match, line: int) -> datetime:
    try:
        at = datetime(*(int(m.group(i)) for i in range(1, 7)))
    except ValueError:
        raise WipeLogError(line, N_("impossible date or time %(value)s"), value=repr(m.group(0)[:21])) from None
    zone = m.group(7)
    if zone:
        if zone in ("Z", "UTC"):
            return at.replace(tzinfo=UTC)
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        return at.replace(tzinfo=timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))))
    return at


class _Tokens:
    """Turns lines into records and summary tables; refuses anything that is not nwipe's layout."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.events: list[_Record | _ErrorTable | _DriveTable] = []

    def run(self) -> list[_Record | _ErrorTable | _DriveTable]:
        lines, i = self.lines, 0
        pending: _Record | None = None
        while i < len(lines):
            no, text = i + 1, lines[i]
            if "\x00" in text:
                raise WipeLogError(no, N_("NUL byte: this is binary data, not an nwipe text log"))
            m = _TS_RE.match(text)
            if m:
                pending = self._record(m, no)
                if pending.level is None and pending.text.startswith("Total Throughput"):
                    raise WipeLogError(no, N_("'Total Throughput' line outside a Drive Status table"))
                self.events.append(pending)
                i += 1
                continue
            if not text.strip():
                pending = None
                i += 1
                continue
            if not self.events:
                raise WipeLogError(no, N_("not an nwipe log: expected a line starting with a timestamp "
                                          "such as [2024/01/31 12:00:00]"))
            banner = _BANNER_RE.match(text)
            if banner:
                pending = None
                read = self._error_table if banner.group(1) == "Error Summary" else self._drive_table
                i = read(i)
                continue
            if pending is not None:
                # nwipe wrote a newline inside one message (the /proc/version text it wraps, or a
                # serial number holding a 0x0A byte): the line belongs to the record above.
                pending.text += "\n" + text
            # Other untimestamped text ("Creating PDF report in ...") carries nothing used here.
            i += 1
        return self.events

    @staticmethod
    def _record(m: re.Match, no: int) -> _Record:
        at = _timestamp(m, no)
        rest = m.group(8)
        lm = _LEVEL_RE.match(rest)
        if lm:
            return _Record(no, at, lm.group(1), lm.group(2))
        return _Record(no, at, None, rest.strip())

    def _expect(self, i: int, what: str) -> str:
        if i >= len(self.lines):
            raise WipeLogError(len(self.lines), N_("the log ends inside the %(table)s table (file cut short?)"),
                               table=what)
        return self.lines[i]

    def _header(self, i: int, what: str) -> int:
        header = self._expect(i + 1, what)
        if not ("Device" in header and "|" in header):
            raise WipeLogError(i + 2, N_("expected the %(table)s column titles"), table=what)
        if not _DASHES_RE.match(self._expect(i + 2, what)):
            raise WipeLogError(i + 3, N_("expected a line of dashes under the %(table)s column titles"), table=what)
        return i + 3

    def _error_table(self, i: int) -> int:
        table = _ErrorTable(i + 1, [])
        i = self._header(i, "Error Summary")
        while True:
            text = self._expect(i, "Error Summary")
            if _STARS_RE.match(text):
                break
            m = _ERROR_ROW_RE.match(text)
            counts = tuple(int(c) for c in re.findall(r"\d+", m.group("cells"))) if m else ()
            if not m or len(counts) not in (2, 3):
                raise WipeLogError(i + 1, N_("unrecognised row in the Error Summary table"))
            table.rows.append((i + 1, m.group("dev"), counts))
            i += 1
        self.events.append(table)
        return i + 1

    def _drive_table(self, i: int) -> int:
        table = _DriveTable(i + 1, [], None)
        i = self._header(i, "Drive Status")
        while True:
            text = self._expect(i, "Drive Status")
            if _DASHES_RE.match(text):
                break
            m = _DRIVE_ROW_RE.match(text)
            if m:
                dur = int(m.group("dur")) * 3600 + int(m.group("min")) * 60 + int(m.group("sec"))
                table.rows.append(_DriveRow(i + 1, m.group("flag"), m.group("dev"), m.group("status"),
                                            m.group("thru"), dur, m.group("ms")))
            elif table.rows:
                # Possibly the rest of a serial number holding a newline byte; checked against the
                # serial from the device's "Found" line once that is known.
                table.rows[-1].extra.append((i + 1, text))
            else:
                raise WipeLogError(i + 1, N_("unrecognised row in the Drive Status table"))
            i += 1
        if not table.rows:
            raise WipeLogError(i + 1, N_("the Drive Status table lists no device"))
        i += 1
        text = self._expect(i, "Drive Status")
        m = _TS_RE.match(text)
        if m:
            record = self._record(m, i + 1)
            fm = _FOOTER_RE.match(record.text)
            if record.level is not None or not fm:
                raise WipeLogError(i + 1, N_("expected the 'Total Throughput' line closing the Drive Status table"))
            table.footer = _Footer(i + 1, fm.group("thru"), fm.group("method"), int(fm.group("rounds")),
                                   fm.group("blank") == "B", _VERIFY_CODE[fm.group("verify")])
            i += 1
            text = self._expect(i, "Drive Status")
        if not _STARS_RE.match(text):
            raise WipeLogError(i + 1, N_("expected the line of stars closing the Drive Status table"))
        self.events.append(table)
        return i + 1


# --------------------------------------------------------------------------------------------------
# Interpreting: device facts, options and per-device progress are collected record by record; each
# Drive Status table turns the devices it lists into results.
# --------------------------------------------------------------------------------------------------


@dataclass
class _Device:
    path: str
    model: str | None = None
    bus: str | None = None
    is_ssd: bool | None = None
    size_text: str | None = None
    serial: str | None = None
    serial_from_notice: str | None = None
    size_exact: int | None = None
    hidden_area_line: int | None = None  # nwipe found an HPA/DCO hidden area (sectors it does not wipe)


@dataclass
class _Options:
    line: int
    banner: str | None = None
    prng: str | None = None
    method: str | None = None
    rounds: int | None = None
    verification: str | None = None
    noblank: bool = False
    open: bool = True


@dataclass
class _Progress:
    path: str
    line: int
    started_at: datetime
    method: str | None = None
    method_line: int = 0
    rounds: int | None = None
    passes_per_round: int | None = None
    written: list[int] = field(default_factory=list)
    read: list[int] = field(default_factory=list)
    verified: bool = False
    failure_lines: list[int] = field(default_factory=list)
    messages: list[LogMessage] = field(default_factory=list)


def _text(latin1: str) -> str:
    """Latin-1 decoded line back to the text nwipe meant: UTF-8, with undecodable bytes shown as \\xNN."""
    return latin1.encode("latin-1").decode("utf-8", "backslashreplace")


def _serial_text(raw: bytes) -> str:
    # Printable ASCII as is, everything else as \xNN (and a backslash doubled) so the text shows
    # exactly which bytes nwipe printed and two different byte strings never read the same.
    out = []
    for b in raw:
        if b == 0x5C:
            out.append("\\\\")
        elif 0x20 <= b <= 0x7E:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


def _unwrap(text: str) -> str:
    # nwipe_log_OSinfo() cuts /proc/version at a fixed width, mid-word, and indents each following
    # piece by 31 spaces to line up under the message: removing exactly that restores the text.
    first, *rest = text.split("\n")
    return first + "".join(p[31:] if len(p) > 31 and not p[:31].strip() else p.lstrip() for p in rest)


def _strip_spaces(raw: bytes) -> bytes:
    # ATA identify data pads serials with spaces; only ASCII blanks are padding, other bytes are kept.
    return raw.strip(b" \t")


def _short_name(path: str) -> str:
    # nwipe_strip_path(): the last 8 characters after the final '/', right-justified in the tables.
    return path.rsplit("/", 1)[-1][-8:]


def _throughput(text: str) -> int | None:
    m = _THROUGHPUT_RE.match(text.strip())
    return int(m.group(1)) * _UNIT[m.group(2)] if m else None


class _Interpreter:
    def __init__(self, filename: str):
        self.filename = filename
        self.devices: dict[str, _Device] = {}
        self.options: _Options | None = None
        self.progress: dict[str, _Progress] = {}
        self.error_table: _ErrorTable | None = None
        self.version: str | None = None
        self.host: dict[str, str] = {}
        self.os_info: str | None = None
        self.results: list[DiskResult] = []
        self.warnings: list[str] = []
        self.messages: list[LogMessage] = []
        self.runs = 0
        self.wiped_paths: set[str] = set()

    # -- records ----------------------------------------------------------------------------------

    def record(self, r: _Record) -> None:
        text = r.text
        if self.options and self.options.open and not self._option(r):
            self.options.open = False
        if r.level in ("error", "fatal", "sanity"):
            self._message(r)

        if text.startswith("Program options are set as follows"):
            self._new_run(r)
            return
        m = _VERSION_RE.match(text)
        if m:
            self.version = m.group(1)
            return
        key, sep, value = text.partition(" = ")
        if sep and key in _DMI_KEYS:
            value = _text(value).strip()
            old = self.host.get(key)
            self.host[key] = value if not old or value in old.split("; ") else f"{old}; {value}"
            return
        if text.startswith("Linux version"):
            self.os_info = _unwrap(_text(text))
            return
        for handler in (self._found, self._serial_notice, self._size, self._hidden_area, self._invoking,
                        self._attempting,
                        self._round, self._pass, self._written, self._read, self._verification):
            if handler(r):
                return

    def _option(self, r: _Record) -> bool:
        opts = self.options
        if r.text.strip() == "do not perform a final blank pass":
            opts.noblank = True
            return True
        m = _OPTION_RE.match(r.text)
        if not m:
            # Other indented option lines ("  autonuke = 1 (on)", "  do not wait ...") keep the block open.
            return r.text.startswith("  ")
        key, value = m.group(1), _text(m.group(2)).strip()
        if key == "banner":
            opts.banner = value
            vm = re.search(r"\bnwipe\s+v?(\d+(?:\.\d+)+[\w.-]*)", value, re.I)
            if vm:
                self.version = vm.group(1)
        elif key == "prng":
            opts.prng = value
        elif key == "method":
            opts.method = value
        elif key == "rounds" and value.isdigit():
            opts.rounds = int(value)
        elif key == "verify":
            opts.verification = _VERIFY_OPTION.get(value.split()[0] if value else "")
        return True

    def _new_run(self, r: _Record) -> None:
        # A new run starts: a wipe of the previous run that never reached a summary was interrupted
        # (power cut, crash, killed terminal). Nothing can be said about its result, and saying so.
        for p in self.progress.values():
            self.warnings.append(
                f"the wipe of {p.path} started at line {p.line} was interrupted before nwipe printed its "
                f"summary; no result is recorded for it")
        self.progress.clear()
        self.error_table = None
        self.options = _Options(r.line)

    def _message(self, r: _Record) -> None:
        msg = LogMessage(r.line, r.level, _text(r.text))
        self.messages.append(msg)
        named = [p for p in self._paths_in(r.text) if p in self.progress]
        if not named and len(self.progress) == 1:
            # e.g. "nwipe_random_pass: write: Operation not permitted" names no device; with a single
            # wipe under way it can only be about that one.
            named = list(self.progress)
        for path in named:
            self.progress[path].messages.append(msg)

    @staticmethod
    def _paths_in(text: str) -> list[str]:
        return [p.rstrip(".:;") for p in _DEV_IN_TEXT_RE.findall(text)]

    def _device(self, path: str) -> _Device:
        return self.devices.setdefault(path, _Device(path))

    def _found(self, r: _Record) -> bool:
        m = _FOUND_RE.match(r.text)
        if not m:
            return False
        path = m.group("dev")
        fresh = _Device(path)
        parts = m.group("mid").split(",", 1)
        bus = _BUS_RE.match(parts[0].strip()) if len(parts) == 2 else None
        if bus:
            fresh.bus, fresh.is_ssd = bus.group(1), bool(bus.group(2))
            model = parts[1]
        else:
            model = m.group("mid")
        fresh.model = model.strip()
        fresh.size_text = " ".join(m.group("size").split())
        fresh.serial = m.group("serial")
        old = self.devices.get(path)
        if old and old.size_exact and old.model == fresh.model:
            fresh.size_exact = old.size_exact
        # A later "Found" (next run, or a disk swapped in the same bay) replaces what was known.
        self.devices[path] = fresh
        return True

    def _serial_notice(self, r: _Record) -> bool:
        m = _HAS_SERIAL_RE.match(r.text)
        if not m:
            return False
        if m.group(2).strip() != "(no ATA pass thru)":
            self._device(m.group(1)).serial_from_notice = m.group(2)
        return True

    def _size(self, r: _Record) -> bool:
        m = _SECT_RE.match(r.text)
        if m:
            # Older 32-bit builds printed this with %i and overflowed to negative numbers.
            size = int(m.group(4))
            if size > 0:
                self._device(m.group(1)).size_exact = size
            return True
        m = _DEVSIZE_RE.match(r.text)
        if m:
            self._device(m.group(1)).size_exact = int(m.group(2))
            return True
        return False

    def _hidden_area(self, r: _Record) -> bool:
        m = _HIDDEN_AREA_RE.search(r.text)
        if not m:
            return False
        self._device(m.group(1)).hidden_area_line = r.line
        return True

    def _start(self, path: str, r: _Record) -> _Progress:
        p = self.progress.get(path)
        if p is None:
            p = self.progress[path] = _Progress(path, r.line, r.at)
        return p

    def _invoking(self, r: _Record) -> bool:
        m = _INVOKING_RE.match(r.text)
        if not m:
            return False
        path = m.group("dev")
        if path in self.progress and self.progress[path].method:
            raise WipeLogError(r.line, N_("a second wipe of %(device)s starts before the first one's summary"),
                               device=path)
        p = self._start(path, r)
        p.method, p.method_line = _text(m.group("method")), r.line
        return True

    def _attempting(self, r: _Record) -> bool:
        # Secure erase and sanitize methods do not go through nwipe_runmethod(), so there is no
        # "Invoking method" line: "Attempting ... on /dev/x (...)" is where they start.
        m = _ATTEMPTING_RE.match(r.text)
        if not m:
            return False
        self._start(m.group("dev"), r)
        return True

    def _round(self, r: _Record) -> bool:
        m = _ROUND_RE.match(r.text)
        if not m:
            return False
        self._start(m.group(3), r).rounds = int(m.group(2))
        return True

    def _pass(self, r: _Record) -> bool:
        m = _PASS_RE.match(r.text)
        if not m:
            return False
        self._start(m.group(3), r).passes_per_round = int(m.group(2))
        return True

    def _written(self, r: _Record) -> bool:
        m = _WRITTEN_RE.match(r.text)
        if not m:
            return False
        if m.group(2) in self.progress:
            self.progress[m.group(2)].written.append(int(m.group(1)))
        return True

    def _read(self, r: _Record) -> bool:
        m = _READ_RE.match(r.text)
        if not m:
            return False
        if m.group(2) in self.progress:
            self.progress[m.group(2)].read.append(int(m.group(1)))
        return True

    def _verification(self, r: _Record) -> bool:
        success = _VERIFIED_RE.match(r.text)
        failure = r.text.startswith("[FAILURE]")
        if not (success or failure):
            return False
        for path in self._paths_in(r.text):
            if path in self.progress:
                if success:
                    self.progress[path].verified = True
                else:
                    self.progress[path].failure_lines.append(r.line)
        return True

    # -- tables -----------------------------------------------------------------------------------

    def error_summary(self, table: _ErrorTable) -> None:
        if self.error_table is not None:
            raise WipeLogError(table.line, N_("a second Error Summary table before any Drive Status table"))
        self.error_table = table

    def drive_status(self, table: _DriveTable) -> None:
        self.runs += 1
        errors = self._error_counts(table)
        footer = table.footer
        opts = self.options
        if footer and opts:
            self._agree_method(footer.line, opts.method, footer.method)
            if opts.rounds is not None and opts.rounds != footer.rounds:
                raise WipeLogError(footer.line, N_("%(here)s rounds here but %(options)s in the options"),
                                   here=footer.rounds, options=opts.rounds)
            if opts.verification and opts.verification != footer.verification:
                raise WipeLogError(footer.line, N_("verification '%(here)s' here but '%(options)s' in the options"),
                                   here=footer.verification, options=opts.verification)
        listed: dict[str, str] = {}
        for row in table.rows:
            path = self._resolve(row)
            if path in listed.values():
                raise WipeLogError(row.line, N_("%(device)s appears twice in the Drive Status table"), device=path)
            listed[row.short] = path
            self.results.append(self._result(row, path, errors.get(row.short), footer))
            self.progress.pop(path, None)
            self.wiped_paths.add(path)
        if self.progress:
            p = next(iter(self.progress.values()))
            raise WipeLogError(table.line, N_("the wipe of %(device)s started at line %(start)s is missing "
                                              "from the Drive Status table"), device=p.path, start=p.line)
        self.error_table = None

    def _agree_method(self, line: int, option: str | None, printed: str | None) -> None:
        if option and printed and _norm_label(option) != _norm_label(printed):
            raise WipeLogError(line, N_("method '%(here)s' here but '%(options)s' in the options"),
                               here=_text(printed), options=_text(option))

    def _error_counts(self, table: _DriveTable) -> dict[str, tuple[int, ...]]:
        if self.error_table is None:
            return {}  # nwipe < 0.31 printed no Error Summary
        counts: dict[str, tuple[int, ...]] = {}
        for line, short, values in self.error_table.rows:
            if short in counts:
                raise WipeLogError(line, N_("device '%(device)s' appears twice in the Error Summary table"),
                                   device=short)
            counts[short] = values
        drives = {row.short for row in table.rows}
        if set(counts) != drives:
            missing = sorted(drives ^ set(counts))
            raise WipeLogError(table.line, N_("the Error Summary and Drive Status tables list different "
                                              "devices (%(devices)s)"), devices=", ".join(missing))
        return counts

    def _resolve(self, row: _DriveRow) -> str:
        for pool in (self.progress, self.devices):
            matches = [p for p in pool if _short_name(p) == row.short]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise WipeLogError(row.line, N_("'%(device)s' could be any of %(devices)s"), device=row.short,
                                   devices=", ".join(sorted(matches)))
        raise WipeLogError(row.line, N_("no earlier line names the device '%(device)s' listed here"),
                           device=row.short)

    def _result(self, row: _DriveRow, path: str, counts: tuple[int, ...] | None,
                footer: _Footer | None) -> DiskResult:
        dev = self.devices.get(path) or _Device(path)
        p = self.progress.get(path)
        opts = self.options
        concerns: list[str] = []

        raw_status, status = _row_status(row, counts)
        pass_errors = verify_errors = fsync_errors = None
        if counts is not None:
            pass_errors, verify_errors = counts[0], counts[1]
            fsync_errors = counts[2] if len(counts) > 2 else None

        model, serial_raw = self._model_serial(row, dev, concerns)
        label, method = self._method(row, path, p, footer)
        rounds, verification, blanking = _settings(method, p, opts, footer)

        written = sum(p.written) if p else 0
        bytes_erased = max(p.written) if p and p.written else None
        size, size_exact = _device_size(dev)
        verified = _verified(p, verify_errors, size, size_exact)

        started_at = p.started_at if p else None
        ended_at = None
        if started_at is not None:
            # nwipe's HH:MM:SS is its own end - start for this disk; the log has no per-disk end line.
            ended_at = started_at + timedelta(seconds=row.duration)

        messages = tuple(p.messages) if p else ()
        if status == PASSED:
            concerns.extend(_passed_concerns(raw_status, p, messages, method, label, bytes_erased, size,
                                             size_exact, verification, verified))
            if dev.hidden_area_line is not None:
                concerns.append(f"nwipe detected a hidden area (HPA/DCO) on this device at line "
                                f"{dev.hidden_area_line}: its sectors were not overwritten")

        anonymised = bool(_ANONYMISED.match(serial_raw))
        readable = bool(serial_raw) and not anonymised and all(0x20 <= b <= 0x7E for b in serial_raw)

        return DiskResult(
            device=path,
            model=_text(model),
            serial=_serial_text(serial_raw),
            serial_raw=serial_raw,
            serial_readable=readable,
            bus=dev.bus,
            kind_hint=_kind_hint(dev, path),
            size_bytes=size,
            size_exact=size_exact,
            method=_text(method.label if method else label),
            method_key=method.key if method else None,
            nist_category=method.nist_category if method else None,
            rounds=rounds,
            passes_per_round=p.passes_per_round if p else None,
            verification=verification,
            verified=verified,
            blanking=blanking,
            prng=(opts.prng if opts else None) if method and method.uses_prng else None,
            pattern=method.pattern if method else "",
            status=status,
            raw_status=raw_status,
            started_at=started_at,
            ended_at=ended_at,
            duration_seconds=row.duration,
            timezone_known=started_at is not None and started_at.tzinfo is not None,
            bytes_erased=bytes_erased,
            bytes_written=written,
            bytes_verified=sum(p.read) if p else 0,
            throughput_bytes_per_second=_throughput(row.throughput),
            throughput_text=" ".join(row.throughput.split()),
            pass_errors=pass_errors,
            verify_errors=verify_errors,
            fsync_errors=fsync_errors,
            nwipe_version=self.version,
            summary_line=row.line,
            messages=messages,
            concerns=tuple(concerns),
        )

    def _method(self, row: _DriveRow, path: str, p: _Progress | None,
                footer: _Footer | None) -> tuple[str, Method | None]:
        """The method's label as logged (progress, options, then footer) and the known method it names."""
        opts = self.options
        label = p.method if p and p.method else (opts.method if opts and opts.method else None)
        if label is None and footer:
            label = footer.method
        if label is None:
            raise WipeLogError(row.line, N_("no line says which method wiped %(device)s"), device=path)
        if p and p.method and opts:
            self._agree_method(p.method_line, opts.method, p.method)
        return label, lookup_method(label)

    def _model_serial(self, row: _DriveRow, dev: _Device, concerns: list[str]) -> tuple[str, bytes]:
        cell = row.model_serial
        # The table shows the model cut to 17 bytes, then '/', then the serial cut to 20 bytes.
        if dev.model is not None and cell.startswith(dev.model[:17] + "/"):
            model, table_serial = dev.model, cell[len(dev.model[:17]) + 1:]
        else:
            head, _, table_serial = cell.partition("/")
            model = dev.model if dev.model is not None else head.strip()
            if dev.model is not None:
                concerns.append(f"the summary shows model {_text(head.strip())!r}, the device was found as "
                                f"{_text(dev.model)!r}")
        known = dev.serial if dev.serial is not None else dev.serial_from_notice
        for no, text in row.extra:
            candidate = table_serial + "\n" + text
            if known is None or not _strip_spaces(known.encode("latin-1")).startswith(
                    _strip_spaces(candidate.encode("latin-1"))):
                raise WipeLogError(no, N_("unrecognised row in the Drive Status table"))
            table_serial = candidate
        table_raw = _strip_spaces(table_serial.encode("latin-1"))
        if known is None:
            return model, table_raw
        known_raw = _strip_spaces(known.encode("latin-1"))
        # One of the two may be cut short (the table keeps 20 bytes; nwipe 0.28 cut notices at 80
        # columns): when one extends the other, the longer one is the serial.
        if known_raw.startswith(table_raw):
            return model, known_raw
        if table_raw.startswith(known_raw):
            return model, table_raw
        concerns.append(f"the summary shows serial {_serial_text(table_raw)!r}, the device was found with "
                        f"{_serial_text(known_raw)!r}")
        return model, known_raw

    # -- end --------------------------------------------------------------------------------------

    def finish(self, last_line: int, sha256: str, size: int) -> NwipeLog:
        if self.error_table is not None:
            raise WipeLogError(last_line, N_("the Error Summary table at line %(start)s is not followed by a "
                                             "Drive Status table (file cut short?)"), start=self.error_table.line)
        if self.progress:
            p = next(iter(self.progress.values()))
            raise WipeLogError(last_line, N_("the log ends before nwipe's summary of the wipe of %(device)s "
                                             "started at line %(start)s (wipe still running, or file cut short)"),
                               device=p.path, start=p.line)
        if not self.results:
            raise WipeLogError(last_line, N_("the log has no Drive Status summary: no wipe was run, or the "
                                             "file was cut short"))
        unwiped = tuple(sorted(set(self.devices) - self.wiped_paths))
        # One version per file in practice; a file appended to by an upgraded nwipe names them all.
        versions = list(dict.fromkeys(d.nwipe_version for d in self.results if d.nwipe_version))
        return NwipeLog(
            filename=self.filename,
            sha256=sha256,
            size_bytes=size,
            nwipe_version=", ".join(versions) or self.version,
            banner=self.options.banner if self.options else None,
            host=dict(self.host),
            os_info=self.os_info,
            runs=self.runs,
            disks=tuple(self.results),
            unwiped_devices=unwiped,
            warnings=tuple(self.warnings),
            error_messages=tuple(self.messages),
        )


def _row_status(row: _DriveRow, counts: tuple[int, ...] | None) -> tuple[str, str]:
    """The row's status as printed and as known, refused when the row or the error counts contradict it."""
    raw_status = row.status.strip()
    status = _STATUS.get(raw_status.strip("-").strip().upper())
    if status is None:
        raise WipeLogError(row.line, N_("unknown drive status %(status)s"), status=repr(raw_status))
    # nwipe marks a row with '!' exactly when it failed or was aborted, and fails any drive with
    # a counted error; a log that says otherwise has been edited.
    flagged = row.flag == "!"
    if flagged != (status in (FAILED, ABORTED)) and row.flag in ("!", " "):
        raise WipeLogError(row.line, N_("status %(status)s contradicts the row's '!' marker"), status=repr(raw_status))
    if status == PASSED and counts is not None and any(counts):
        raise WipeLogError(row.line, N_("status %(status)s contradicts the Error Summary counts %(counts)s"),
                           status=repr(raw_status), counts=str(counts))
    return raw_status, status


def _settings(method: Method | None, p: _Progress | None, opts: _Options | None,
              footer: _Footer | None) -> tuple[int | None, str | None, bool | None]:
    """Rounds, verification and blanking: the options first, then the footer, then the progress lines."""
    rounds = opts.rounds if opts and opts.rounds is not None else (
        footer.rounds if footer else (p.rounds if p else None))
    verification = (opts.verification if opts and opts.verification else None) or (
        footer.verification if footer else None)
    blanking = footer.blanking if footer else (not opts.noblank if opts else None)
    if method and method.key in ("ops2", "verify_zero", "verify_one"):
        blanking = False  # nwipe never blanks after these, whatever the option says
    return rounds, verification, blanking


def _device_size(dev: _Device) -> tuple[int | None, bool]:
    """The disk's size in bytes and whether it is exact (else read from the rounded size text)."""
    size = dev.size_exact
    size_exact = size is not None
    if size is None and dev.size_text:
        sm = _SIZE_TEXT_RE.match(dev.size_text)
        size = int(sm.group(1)) * _UNIT[sm.group(2)] if sm else None
    return size, size_exact


def _verified(p: _Progress | None, verify_errors: int | None, size: int | None, size_exact: bool) -> bool | None:
    if p and (p.failure_lines or (verify_errors or 0) > 0):
        return False
    if p and p.verified:
        return True
    if p and p.read and size_exact and max(p.read) >= size and verify_errors == 0:
        # Not every method logs a "[SUCCESS] Verified" line (secure erase reads back silently):
        # a whole-disk read with no verification error counted is a verification too.
        return True
    return None


def _passed_concerns(raw_status: str, p: _Progress | None, messages: tuple, method: Method | None, label: str,
                     bytes_erased: int | None, size: int | None, size_exact: bool,
                     verification: str | None, verified: bool | None) -> list[str]:
    """What makes a disk nwipe calls passed doubtful: error lines, a short overwrite, no verification."""
    concerns = []
    if messages:
        concerns.append(f"nwipe says {raw_status} but logged {len(messages)} error line(s) about "
                        f"this device (first at line {messages[0].line})")
    if p and p.failure_lines:
        concerns.append(f"[FAILURE] logged for this device at line {p.failure_lines[0]}")
    if method and method.overwrites:
        if bytes_erased is None:
            concerns.append("no 'bytes written' line for this device")
        elif size_exact and bytes_erased < size:
            concerns.append(f"only {bytes_erased} of {size} bytes were overwritten")
    # --verify only governs the pass loop (nwipe_runmethod); firmware methods ignore it.
    if method and method.overwrites and verification in (VERIFY_LAST, VERIFY_ALL) and not verified:
        concerns.append(f"verification '{verification}' was requested but no successful "
                        "verification is logged")
    if method is None:
        concerns.append(f"unknown method {label!r}: no NIST SP 800-88 category")
    elif method.nist_category is None:
        concerns.append(f"method {method.label!r} only reads the disk: it sanitises nothing")
    return concerns


def _kind_hint(dev: _Device, path: str) -> str | None:
    if dev.bus == "NVME" or path.startswith("/dev/nvme"):
        return "nvme"
    if path.startswith("/dev/mmcblk"):
        return "emmc"
    if dev.is_ssd:
        return "ssd"
    return None


def parse_nwipe_log(data: bytes, filename: str = "") -> NwipeLog:
    """Parse an nwipe log (the bytes of the file nwipe -l wrote) into one DiskResult per wiped disk.

    Raises WipeLogError with the line it stopped at when the file is not a complete nwipe log: the
    summary missing, a table cut short or edited into contradiction, an unknown status.
    """
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("parse_nwipe_log() takes the raw bytes of the log file")
    data = bytes(data)
    if not data.strip():
        raise WipeLogError(1, N_("the file is empty"), filename)
    lines = _latin1_lines(data)
    try:
        events = _Tokens(lines).run()
        interpreter = _Interpreter(filename)
        for event in events:
            if isinstance(event, _Record):
                interpreter.record(event)
            elif isinstance(event, _ErrorTable):
                interpreter.error_summary(event)
            else:
                interpreter.drive_status(event)
        log = interpreter.finish(len(lines), hashlib.sha256(data).hexdigest(), len(data))
    except WipeLogError as exc:
        if filename and not exc.filename:
            raise WipeLogError(exc.line, exc.reason.template, filename, **exc.reason.params) from None
        raise
    disks = tuple(replace(d, fingerprint=section_fingerprint(lines, d, i)) for i, d in enumerate(log.disks))
    return replace(log, disks=disks)


def normalised_lines(lines: list[str]) -> list[str]:
    """The log's lines as a re-save cannot change them: no CR, no trailing blanks, no blank lines."""
    return [line.rstrip() for line in (x.replace("\r", "") for x in lines) if line.strip()]


def section_fingerprint(lines: list[str], disk: DiskResult, index: int) -> str:
    """SHA-256 of one disk's section of a log: every line naming the disk, normalised, plus its identity.

    The lines carry nwipe's timestamps, so two runs never share a section; normalising line endings and
    trailing blanks makes a copy re-saved on Windows (or by an editor) give the same fingerprint.
    The identity (device path, raw serial, size, place in the summary table) keeps the disks of one run apart.
    """
    names = {disk.device, _short_name(disk.device)}
    pattern = re.compile("|".join(r"(?<![\w/])" + re.escape(n) + r"(?!\w)" for n in sorted(names, key=len,
                                                                                             reverse=True)))
    section = [line for line in normalised_lines(lines) if pattern.search(line)]
    identity = "|".join([disk.device, disk.serial_raw.hex(), str(disk.size_bytes or ""), str(index)])
    blob = "\n".join(["nwipe-section-v1", identity, *section])
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
