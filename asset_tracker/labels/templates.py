"""Label templates: load the JSON files of ``labels/``, refuse malformed ones, expose their geometry."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from asset_tracker.labels.code128 import barcode_modules
from asset_tracker.tags import format_tag

KINDS = ("sheet", "roll", "zpl")
FIELDS = ("barcode", "tag", "line", "qr")
LANGUAGES = ("fr", "en")
ZPL_DPIS = (152, 203, 300, 600)

MM_PER_PT = 25.4 / 72
# Below ~0.19 mm (7.5 mil) office laser printers and handheld scanners stop agreeing.
MIN_MODULE_MM = 0.19
QUIET_MODULES = 10
# Tags of the default shape must always fit; longer prefixes are rendered with thinner bars.
REFERENCE_TAG = format_tag("RB", 4217)
# Helvetica metrics (per point of font size): capitals and the full ascent/descent of a text line.
CAP_HEIGHT = 0.718
ASCENT = 0.718
DESCENT = 0.207
QR_BORDER_MODULES = 2
GEOMETRY_TOLERANCE_MM = 0.05

_REQUIRED = ("name", "title", "kind", "label_mm", "padding_mm", "barcode", "font_pt", "fields")
_GRID = ("page_mm", "columns", "rows", "margins_mm", "gaps_mm")
_OPTIONAL = (*_GRID, "qr_mm", "dpi")


class TemplateError(ValueError):
    """A label template file that cannot be used; the message names the file and the problem."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"label template {source}: {problem}")
        self.source = source
        self.problem = problem


@dataclass(frozen=True)
class Box:
    """A rectangle in millimetres from the label's top-left corner, y growing downwards."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class LabelLayout:
    """Where each element of one label goes; the barcode is centred in ``barcode`` per tag."""

    barcode: Box
    text_x: float
    text_width: float
    tag_baseline: float | None
    line_baseline: float | None
    qr: Box | None


@dataclass(frozen=True)
class Template:
    """One validated label template; all lengths in millimetres, font sizes in points."""

    name: str
    title: dict[str, str]
    kind: str
    page_width: float
    page_height: float
    label_width: float
    label_height: float
    columns: int
    rows: int
    margin_top: float
    margin_left: float
    column_gap: float
    row_gap: float
    padding_x: float
    padding_y: float
    barcode_height: float
    module_width: float
    tag_font: float
    line_font: float
    fields: frozenset[str]
    qr_size: float | None = None
    dpi: int | None = None
    source: str = ""

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    def shows(self, field: str) -> bool:
        return field in self.fields

    def label_origin(self, position: int) -> tuple[float, float]:
        """Top-left corner of the label at ``position`` (row by row) on a page, in mm from the top-left."""
        row, column = divmod(position, self.columns)
        x = self.margin_left + column * (self.label_width + self.column_gap)
        y = self.margin_top + row * (self.label_height + self.row_gap)
        return x, y

    def layout(self, with_qr: bool = False) -> LabelLayout:
        """The label layout, with or without the QR code (only when the template shows one)."""
        return self._layout_qr if with_qr and self.shows("qr") else self._layout_plain

    @cached_property
    def _layout_plain(self) -> LabelLayout:
        return _compute_layout(self, with_qr=False)

    @cached_property
    def _layout_qr(self) -> LabelLayout:
        return _compute_layout(self, with_qr=True)


def _stack(template: Template) -> list[tuple[str, float, float]]:
    """The vertical stack of (element, gap above, height) of a label's centred column."""
    stack = [("barcode", 0.0, template.barcode_height)]
    if template.shows("tag"):
        size = template.tag_font * MM_PER_PT
        stack.append(("tag", max(0.8, 0.35 * size), CAP_HEIGHT * size))
    if template.shows("line"):
        size = template.line_font * MM_PER_PT
        stack.append(("line", max(0.6, 0.3 * size), (ASCENT + DESCENT) * size))
    return stack


def _compute_layout(template: Template, with_qr: bool) -> LabelLayout:
    inner_width = template.label_width - 2 * template.padding_x
    inner_height = template.label_height - 2 * template.padding_y
    qr = None
    column_width = inner_width
    if with_qr and template.qr_size:
        side = template.qr_size
        qr = Box(template.label_width - template.padding_x - side, (template.label_height - side) / 2, side, side)
        # The barcode's own quiet zone already separates it from the QR code.
        column_width = inner_width - side
    stack = _stack(template)
    total = sum(gap + height for _, gap, height in stack)
    y = template.padding_y + (inner_height - total) / 2
    positions: dict[str, float] = {}
    barcode = Box(0, 0, 0, 0)
    for element, gap, height in stack:
        y += gap
        if element == "barcode":
            barcode = Box(template.padding_x, y, column_width, height)
        elif element == "tag":
            positions["tag"] = y + height
        else:
            positions["line"] = y + ASCENT * template.line_font * MM_PER_PT
        y += height
    return LabelLayout(
        barcode=barcode,
        text_x=template.padding_x + column_width / 2,
        text_width=column_width,
        tag_baseline=positions.get("tag"),
        line_baseline=positions.get("line"),
        qr=qr,
    )


def load_templates(directory: str | Path) -> dict[str, Template]:
    """Load every ``*.json`` template of ``directory``, keyed by name; the first bad file raises."""
    folder = Path(directory)
    if not folder.is_dir():
        raise TemplateError(str(folder), "the label templates directory does not exist")
    templates: dict[str, Template] = {}
    for path in sorted(folder.glob("*.json")):
        template = load_template(path)
        templates[template.name] = template
    return templates


def load_template(path: str | Path) -> Template:
    """Read and validate one template file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TemplateError(path.name, f"not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(path.name, f"cannot be read ({exc})") from exc
    template = parse_template(data, source=path.name)
    if template.name != path.stem:
        raise TemplateError(path.name, f"name {template.name!r} must match the file name {path.stem!r}")
    return template


def parse_template(data: Any, source: str = "<template>") -> Template:
    """Validate the decoded JSON of a template; ``source`` names it in error messages."""
    check = _Checker(source)
    if not isinstance(data, dict):
        raise TemplateError(source, "must be a JSON object")
    check.keys(data, required=_REQUIRED, optional=_OPTIONAL, where="template")
    kind = data["kind"]
    if kind not in KINDS:
        raise TemplateError(source, f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    name = check.text(data["name"], "name")
    title = check.titles(data["title"])
    label_w, label_h = check.size(data["label_mm"], "label_mm")
    page_w, page_h, columns, rows, top, left, col_gap, row_gap = _grid(check, data, kind, label_w, label_h)
    padding = check.mapping(data["padding_mm"], "padding_mm", ("x", "y"))
    barcode = check.mapping(data["barcode"], "barcode", ("height_mm", "module_mm"))
    fonts = check.mapping(data["font_pt"], "font_pt", ("tag", "line"))
    fields = check.fields(data["fields"])
    qr_size = check.number(data["qr_mm"], "qr_mm") if "qr_mm" in data else None
    if "qr" in fields and qr_size is None:
        raise TemplateError(source, "missing key 'qr_mm' (the QR code's side, needed because fields list 'qr')")
    dpi = _dpi(check, data, kind)
    template = Template(
        name=name, title=title, kind=kind,
        page_width=page_w, page_height=page_h, label_width=label_w, label_height=label_h,
        columns=columns, rows=rows, margin_top=top, margin_left=left,
        column_gap=col_gap, row_gap=row_gap,
        padding_x=check.number(padding["x"], "padding_mm.x", allow_zero=True),
        padding_y=check.number(padding["y"], "padding_mm.y", allow_zero=True),
        barcode_height=check.number(barcode["height_mm"], "barcode.height_mm"),
        module_width=check.number(barcode["module_mm"], "barcode.module_mm"),
        tag_font=check.number(fonts["tag"], "font_pt.tag"),
        line_font=check.number(fonts["line"], "font_pt.line"),
        fields=fields, qr_size=qr_size, dpi=dpi, source=source,
    )
    _check_fits(template)
    return template


def _grid(check: _Checker, data: dict, kind: str, label_w: float, label_h: float) -> tuple:
    """Page size and grid; rolls and ZPL print one label per page of the label's own size."""
    if kind == "sheet":
        missing = [key for key in _GRID if key not in data]
        if missing:
            raise TemplateError(check.source, f"missing key {missing[0]!r} (required for sheet templates)")
    page_w, page_h = check.size(data.get("page_mm", {"width": label_w, "height": label_h}), "page_mm")
    columns = check.integer(data.get("columns", 1), "columns")
    rows = check.integer(data.get("rows", 1), "rows")
    margins = check.mapping(data.get("margins_mm", {"top": 0, "left": 0}), "margins_mm", ("top", "left"))
    gaps = check.mapping(data.get("gaps_mm", {"column": 0, "row": 0}), "gaps_mm", ("column", "row"))
    top = check.number(margins["top"], "margins_mm.top", allow_zero=True)
    left = check.number(margins["left"], "margins_mm.left", allow_zero=True)
    col_gap = check.number(gaps["column"], "gaps_mm.column", allow_zero=True)
    row_gap = check.number(gaps["row"], "gaps_mm.row", allow_zero=True)
    if kind != "sheet":
        one_per_page = columns == rows == 1 and top == left == 0
        same_size = abs(page_w - label_w) < GEOMETRY_TOLERANCE_MM and abs(page_h - label_h) < GEOMETRY_TOLERANCE_MM
        if not (one_per_page and same_size):
            raise TemplateError(
                check.source, f"{kind} templates print one label per page of the label's size; drop the grid keys"
            )
    return page_w, page_h, columns, rows, top, left, col_gap, row_gap


def _dpi(check: _Checker, data: dict, kind: str) -> int | None:
    if kind != "zpl":
        if "dpi" in data:
            raise TemplateError(check.source, "'dpi' only applies to zpl templates")
        return None
    if "dpi" not in data:
        raise TemplateError(check.source, "missing key 'dpi' (required for zpl templates)")
    dpi = check.integer(data["dpi"], "dpi")
    if dpi not in ZPL_DPIS:
        raise TemplateError(check.source, f"dpi {dpi} is not a Zebra print head resolution {ZPL_DPIS}")
    return dpi


def _check_fits(template: Template) -> None:
    """Refuse geometry that would print off the page, off the label or an unreadable barcode."""
    source, t = template.source, template
    right = t.margin_left + t.columns * t.label_width + (t.columns - 1) * t.column_gap
    if right > t.page_width + GEOMETRY_TOLERANCE_MM:
        raise TemplateError(
            source,
            f"labels are wider than the page: {t.columns} columns end at {right:g} mm, page is {t.page_width:g} mm",
        )
    bottom = t.margin_top + t.rows * t.label_height + (t.rows - 1) * t.row_gap
    if bottom > t.page_height + GEOMETRY_TOLERANCE_MM:
        raise TemplateError(
            source, f"labels are taller than the page: {t.rows} rows end at {bottom:g} mm, page is {t.page_height:g} mm"
        )
    inner_w = t.label_width - 2 * t.padding_x
    inner_h = t.label_height - 2 * t.padding_y
    if inner_w <= 0 or inner_h <= 0:
        raise TemplateError(source, "padding leaves no room on the label")
    content = sum(gap + height for _, gap, height in _stack(t))
    if content > inner_h + GEOMETRY_TOLERANCE_MM:
        raise TemplateError(
            source,
            f"barcode and text need {content:.1f} mm of height, the label has {inner_h:.1f} mm inside its padding",
        )
    if t.qr_size is not None and t.qr_size > inner_h + GEOMETRY_TOLERANCE_MM:
        raise TemplateError(source, f"the {t.qr_size:g} mm QR code is taller than the label's {inner_h:.1f} mm")
    _check_barcode_width(t)


def _check_barcode_width(t: Template) -> None:
    modules = len(barcode_modules(REFERENCE_TAG)) + 2 * QUIET_MODULES
    for with_qr in (False, True) if t.shows("qr") else (False,):
        width = t.layout(with_qr).barcode.width
        if t.kind == "zpl":
            dots = width * t.dpi / 25.4
            module_dots = max(1, round(t.module_width * t.dpi / 25.4))
            fits = modules * module_dots <= dots
        else:
            fits = modules * MIN_MODULE_MM <= width + 1e-9
        if not fits:
            where = " beside the QR code" if with_qr else ""
            raise TemplateError(
                t.source,
                f"the barcode of {REFERENCE_TAG} ({modules} modules with quiet zones) does not fit in "
                f"{width:.1f} mm{where} at a readable module width",
            )


class _Checker:
    """Small typed readers that turn a bad value into a TemplateError naming the key."""

    def __init__(self, source: str) -> None:
        self.source = source

    def keys(self, data: dict, required: tuple, optional: tuple = (), where: str = "") -> None:
        for key in required:
            if key not in data:
                raise TemplateError(self.source, f"missing key {key!r} in {where}")
        unknown = sorted(set(data) - set(required) - set(optional))
        if unknown:
            # A misspelt key would otherwise be silently ignored and the default printed.
            raise TemplateError(self.source, f"unknown key {unknown[0]!r} in {where}")

    def mapping(self, value: Any, key: str, required: tuple) -> dict:
        if not isinstance(value, dict):
            raise TemplateError(self.source, f"{key!r} must be an object with keys {', '.join(required)}")
        self.keys(value, required, where=repr(key))
        return value

    def number(self, value: Any, key: str, allow_zero: bool = False) -> float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or value < 0 or (value == 0 and not allow_zero):
            wanted = "a number >= 0" if allow_zero else "a positive number"
            raise TemplateError(self.source, f"{key!r} must be {wanted}, got {value!r}")
        return float(value)

    def integer(self, value: Any, key: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise TemplateError(self.source, f"{key!r} must be a positive integer, got {value!r}")
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise TemplateError(self.source, f"{key!r} must be a non-empty string")
        return value

    def size(self, value: Any, key: str) -> tuple[float, float]:
        size = self.mapping(value, key, ("width", "height"))
        return self.number(size["width"], f"{key}.width"), self.number(size["height"], f"{key}.height")

    def titles(self, value: Any) -> dict[str, str]:
        titles = self.mapping(value, "title", LANGUAGES)
        return {lang: self.text(titles[lang], f"title.{lang}") for lang in LANGUAGES}

    def fields(self, value: Any) -> frozenset[str]:
        if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
            raise TemplateError(self.source, f"'fields' must be a list drawn from {', '.join(FIELDS)}")
        unknown = [f for f in value if f not in FIELDS]
        if unknown:
            raise TemplateError(self.source, f"unknown field {unknown[0]!r} (expected {', '.join(FIELDS)})")
        if "barcode" not in value:
            raise TemplateError(self.source, "'fields' must include 'barcode': a label that does not scan is useless")
        return frozenset(value)
