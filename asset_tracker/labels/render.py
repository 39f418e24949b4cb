"""Pure label rendering: Code 128 tags, clear text and optional QR to PDF, SVG, PNG and ZPL (no Flask, no DB)."""
from __future__ import annotations

import io
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from xml.sax.saxutils import escape

import pypdfium2
import segno
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from asset_tracker.labels.code128 import (
    _CHARS,
    _START,
    _SWITCH,
    LabelError,
    _check_tag,
    barcode_modules,
    code128_values,
)
from asset_tracker.labels.templates import MM_PER_PT, QR_BORDER_MODULES, QUIET_MODULES, Box, Template

PT_PER_MM = 1 / MM_PER_PT
TAG_FONT = "Helvetica-Bold"
LINE_FONT = "Helvetica"
SVG_FONTS = "Helvetica, Arial, sans-serif"
ELLIPSIS = "…"
# Zebra font 0 may lack U+2026 on older firmware; three dots print everywhere.
ZPL_ELLIPSIS = "..."
# Zebra font 0 draws capitals over roughly this share of the requested cell height.
ZPL_CAP_SHARE = 0.75

_ZPL_START = {"A": ">9", "B": ">:", "C": ">;"}
_ZPL_SWITCH = {99: ">5", 100: ">6", 101: ">7"}


@dataclass(frozen=True)
class LabelData:
    """What one label carries: the tag, a short free-text line and whether to add a QR code."""

    tag: str
    line: str = ""
    qr: bool = False


# --- Code 128 ---------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _bar_runs(tag: str) -> tuple[tuple[int, int], ...]:
    """(first module, width in modules) of each dark bar: one rectangle per bar, no seams."""
    return tuple((m.start(), m.end() - m.start()) for m in re.finditer("1+", barcode_modules(tag)))


@lru_cache(maxsize=4096)
def _qr_runs(tag: str) -> tuple[int, tuple[tuple[int, int, int], ...]]:
    """QR modules of ``tag`` as (size with border, ((row, first column, width), ...))."""
    # A fixed mask skips segno's search over all eight (most of its time); any mask is valid QR.
    matrix = segno.make(tag, error="m", micro=False, mask=2).matrix
    runs = []
    for row, cells in enumerate(matrix):
        line = "".join("1" if cell else "0" for cell in cells)
        for m in re.finditer("1+", line):
            runs.append((row + QR_BORDER_MODULES, m.start() + QR_BORDER_MODULES, m.end() - m.start()))
    return len(matrix) + 2 * QR_BORDER_MODULES, tuple(runs)


def _place_bars(box: Box, tag: str, module_max: float, pixel: float | None = None) -> tuple[float, float]:
    """Start x and module width (mm) of the bars, centred in ``box`` with quiet zones inside it."""
    count = len(barcode_modules(tag))
    module = min(module_max, box.width / (count + 2 * QUIET_MODULES))
    if pixel:
        # On a raster, whole-pixel modules keep every bar the same width.
        module = max(pixel, math.floor(module / pixel + 1e-6) * pixel)
    x = box.x + (box.width - count * module) / 2
    if pixel:
        x = round(x / pixel) * pixel
    return x, module


# --- Text ---------------------------------------------------------------------------------------


def clean_line(text: str | None) -> str:
    """Free text made printable on one line: no control or format characters, single spaces."""
    chars = []
    for char in unicodedata.normalize("NFC", text or ""):
        category = unicodedata.category(char)
        if category.startswith("Z") or char in "\t\n\r":
            chars.append(" ")
        elif not category.startswith("C"):
            # Drops controls, bidi overrides and lone surrogates, which could reorder or break output.
            chars.append(char)
    return " ".join("".join(chars).split())


@lru_cache(maxsize=2048)
def _winansi(char: str) -> str:
    """``char`` as the standard PDF fonts can draw it (their encoding is Windows-1252)."""
    try:
        char.encode("cp1252")
        return char
    except UnicodeEncodeError:
        pass
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    try:
        base.encode("cp1252")
        return base or "?"
    except UnicodeEncodeError:
        return "?"


@lru_cache(maxsize=4096)
def _char_width(char: str, font: str) -> float:
    """Width of ``char`` at 1 pt, measured on the glyph actually printed."""
    return stringWidth(_winansi(char), font, 1)


def fit_text(text: str, font: str, size: float, max_width: float, ellipsis: str = ELLIPSIS) -> str:
    """``text`` cut with an ellipsis so it is at most ``max_width`` wide (same unit as ``size``)."""
    widths = [_char_width(c, font) * size for c in text]
    if sum(widths) <= max_width:
        return text
    room = max_width - sum(_char_width(c, font) * size for c in ellipsis)
    used, keep = 0.0, 0
    for width in widths:
        if used + width > room:
            break
        used, keep = used + width, keep + 1
    return text[:keep].rstrip() + ellipsis if keep else ""


def _pdf_text(text: str) -> str:
    return "".join(_winansi(c) for c in text)


def _tag_size(tag: str, font_pt: float, max_width_mm: float) -> float:
    """Font size for the tag: the template's, shrunk when a long tag would overflow (never cut)."""
    width = sum(_char_width(c, TAG_FONT) for c in tag) * font_pt * MM_PER_PT
    return font_pt if width <= max_width_mm else font_pt * max_width_mm / width


@dataclass(frozen=True)
class _Drawn:
    """Everything measured for one label, shared by the PDF and SVG writers (millimetres)."""

    bars_x: float
    module: float
    tag_size: float
    line: str
    qr: Box | None


def _measure(template: Template, label: LabelData, pixel: float | None = None) -> _Drawn:
    layout = template.layout(label.qr)
    bars_x, module = _place_bars(layout.barcode, label.tag, template.module_width, pixel)
    line = ""
    if template.shows("line"):
        max_pt = layout.text_width * PT_PER_MM
        line = fit_text(clean_line(label.line), LINE_FONT, template.line_font, max_pt)
    return _Drawn(bars_x, module, _tag_size(label.tag, template.tag_font, layout.text_width), line, layout.qr)


# --- PDF ----------------------------------------------------------------------------------------


def render_pdf(template: Template, labels: Iterable[LabelData], start_position: int = 0) -> bytes:
    """One PDF for many labels; ``start_position`` skips the used cells of a partly used first sheet."""
    labels = list(labels)
    if not labels:
        raise LabelError("no labels to render")
    if not 0 <= start_position < template.per_page:
        raise LabelError(f"start position must be between 0 and {template.per_page - 1} on {template.name}")
    for label in labels:
        _check_tag(label.tag)
    return _pdf(template, labels, start_position)


def _pdf(template: Template, labels: Sequence[LabelData], start: int, pixel: float | None = None) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(
        buffer,
        pagesize=(template.page_width * PT_PER_MM, template.page_height * PT_PER_MM),
        invariant=1,  # same input, same bytes: reprints and tests can compare files
        pageCompression=1,
    )
    canvas.setTitle(f"Labels {labels[0].tag} – {labels[-1].tag}")
    canvas.setCreator("Reboot Tracker")
    for index, label in enumerate(labels):
        position = (start + index) % template.per_page
        if position == 0 and index > 0:
            canvas.showPage()
        x, y = template.label_origin(position)
        _draw_pdf_label(canvas, template, label, x, y, pixel)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _draw_pdf_label(canvas: Canvas, template: Template, label: LabelData, ox: float, oy: float,
                    pixel: float | None) -> None:
    """Draw one label whose top-left corner is at (ox, oy) mm from the page's top-left."""
    drawn = _measure(template, label, pixel)
    layout = template.layout(label.qr)
    top = template.page_height - oy  # mm, PDF y grows upwards from the page bottom

    box = layout.barcode
    # Bars in module units under one transform: integer operands, cached per tag, and no
    # per-number float formatting (which dominates the time of large sheets otherwise).
    canvas.addLiteral(
        f"q {drawn.module * PT_PER_MM:.4f} 0 0 {box.height * PT_PER_MM:.4f} "
        f"{(ox + drawn.bars_x) * PT_PER_MM:.3f} {(top - box.y - box.height) * PT_PER_MM:.3f} cm "
        f"{_pdf_bars(label.tag, 0.25 * pixel / drawn.module if pixel else 0.0)} f Q"
    )
    if drawn.qr:
        qr = drawn.qr
        size, _ = _qr_runs(label.tag)
        module = qr.width / size * PT_PER_MM
        # Negative y scale: QR rows are counted downwards from the box's top edge.
        canvas.addLiteral(
            f"q {module:.4f} 0 0 {-module:.4f} {(ox + qr.x) * PT_PER_MM:.3f} {(top - qr.y) * PT_PER_MM:.3f} cm "
            f"{_pdf_qr(label.tag)} f Q"
        )

    centre = (ox + layout.text_x) * PT_PER_MM
    if layout.tag_baseline is not None:
        canvas.setFont(TAG_FONT, drawn.tag_size)
        canvas.drawCentredString(centre, (top - layout.tag_baseline) * PT_PER_MM, label.tag)
    if layout.line_baseline is not None and drawn.line:
        canvas.setFont(LINE_FONT, template.line_font)
        canvas.drawCentredString(centre, (top - layout.line_baseline) * PT_PER_MM, _pdf_text(drawn.line))


@lru_cache(maxsize=8192)
def _pdf_bars(tag: str, inset: float = 0.0) -> str:
    """PDF rectangles of the bars in a unit space: one module wide, one barcode high.

    ``inset`` (in modules) pulls each edge off the pixel boundary for raster output: exactly on
    it, rounding inside the rasteriser widens some bars by a pixel and shifts all that follow.
    """
    if not inset:
        return " ".join(f"{first} 0 {width} 1 re" for first, width in _bar_runs(tag))
    return " ".join(f"{first + inset:.4f} 0 {width - 2 * inset:.4f} 1 re" for first, width in _bar_runs(tag))


@lru_cache(maxsize=4096)
def _pdf_qr(tag: str) -> str:
    _, runs = _qr_runs(tag)
    return " ".join(f"{column} {row} {width} 1 re" for row, column, width in runs)


# --- SVG and PNG --------------------------------------------------------------------------------


def render_svg(template: Template, label: LabelData) -> str:
    """One label as a standalone SVG document in millimetres; free text is XML-escaped."""
    _check_tag(label.tag)
    drawn = _measure(template, label)
    layout = template.layout(label.qr)
    box = layout.barcode
    w, h = template.label_width, template.label_height
    d = [f"M{drawn.bars_x + first * drawn.module:.4f} {box.y:.4f}h{width * drawn.module:.4f}v{box.height:.4f}"
         f"h{-width * drawn.module:.4f}z" for first, width in _bar_runs(label.tag)]
    if drawn.qr:
        d.extend(_qr_svg(label.tag, drawn.qr))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:g}mm" height="{h:g}mm" viewBox="0 0 {w:g} {h:g}">',
        f"<title>{label.tag}</title>",
        f'<rect width="{w:g}" height="{h:g}" fill="#fff"/>',
        f'<path fill="#000" shape-rendering="crispEdges" d="{"".join(d)}"/>',
    ]
    x = f"{layout.text_x:.3f}"
    if layout.tag_baseline is not None:
        parts.append(f'<text x="{x}" y="{layout.tag_baseline:.3f}" font-family="{SVG_FONTS}" font-weight="bold" '
                     f'font-size="{drawn.tag_size * MM_PER_PT:.3f}" text-anchor="middle">{label.tag}</text>')
    if layout.line_baseline is not None and drawn.line:
        parts.append(f'<text x="{x}" y="{layout.line_baseline:.3f}" font-family="{SVG_FONTS}" '
                     f'font-size="{template.line_font * MM_PER_PT:.3f}" text-anchor="middle">'
                     f"{escape(_pdf_text(drawn.line))}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _qr_svg(tag: str, box: Box) -> list[str]:
    size, runs = _qr_runs(tag)
    module = box.width / size
    return [f"M{box.x + column * module:.4f} {box.y + row * module:.4f}h{width * module:.4f}v{module:.4f}"
            f"h{-width * module:.4f}z" for row, column, width in runs]


def render_png(template: Template, label: LabelData, dpi: int = 300) -> bytes:
    """One label as a greyscale PNG: the PDF drawing rasterised, bars snapped to whole pixels."""
    _check_tag(label.tag)
    if dpi < 72:
        raise LabelError("a label PNG needs at least 72 dpi")
    pixel = 25.4 / dpi
    # A page of whole pixels, a hair under so the rasteriser's rounding up cannot add a column
    # and stretch the drawing by a fraction of a pixel, which would undo the bar snapping.
    width = (round(template.label_width / pixel) - 0.01) * pixel
    height = (round(template.label_height / pixel) - 0.01) * pixel
    page = replace(_single(template), page_width=width, page_height=height)
    pdf = pypdfium2.PdfDocument(_pdf(page, [label], 0, pixel=pixel))
    try:
        # Unsmoothed paths: bars stay pure black and white, which scanners and zxing prefer.
        image = pdf[0].render(scale=dpi / 72, no_smoothpath=True).to_pil().convert("L")
    finally:
        pdf.close()
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=False)
    return out.getvalue()


def _single(template: Template) -> Template:
    """The same template printing one label on a page of its own size."""
    return replace(template, page_width=template.label_width, page_height=template.label_height,
                   columns=1, rows=1, margin_top=0, margin_left=0, column_gap=0, row_gap=0)


# --- ZPL ----------------------------------------------------------------------------------------


def zpl_code128_data(tag: str) -> str:
    """The ^BC field data for ``tag`` with explicit subset invocations, so the printer encodes the
    exact symbols tested here (and we know the barcode's width to centre it)."""
    values = code128_values(tag)
    charset = _START[values[0]]
    if charset == "A":
        raise LabelError("subset A is never needed for tags")
    out = [_ZPL_START[charset]]
    for value in values[1:]:
        if value in _SWITCH[charset]:
            charset = _SWITCH[charset][value]
            if charset == "A":
                raise LabelError("subset A is never needed for tags")
            out.append(_ZPL_SWITCH[value])
        elif charset == "C":
            out.append(f"{value:02d}")
        else:
            out.append(_CHARS[charset][value])
    return "".join(out)


def zpl_escape(text: str) -> str:
    """Field text that cannot end the field or run a command: ^ ~ and the _ hex indicator go
    through ^FH as hex, and ^FB's backslash escape is doubled."""
    out = []
    for char in text:
        if char in "^~_":
            out.append(f"_{ord(char):02X}")
        elif char == "\\":
            out.append("\\\\")
        else:
            out.append(char)
    return "".join(out)


def render_zpl(template: Template, labels: Iterable[LabelData]) -> str:
    """ZPL II for Zebra printers, one ^XA…^XZ format per label, UTF-8 text (^CI28)."""
    labels = list(labels)
    if not labels:
        raise LabelError("no labels to render")
    if not template.dpi:
        raise LabelError(f"template {template.name} is not a ZPL template")
    return "".join(_zpl_label(template, label) for label in labels)


def _zpl_label(template: Template, label: LabelData) -> str:
    _check_tag(label.tag)
    dots = template.dpi / 25.4
    layout = template.layout(label.qr)
    box = layout.barcode
    count = len(barcode_modules(label.tag))
    box_x, box_w = round(box.x * dots), int(box.width * dots)
    module = max(1, round(template.module_width * dots))
    while module > 1 and (count + 2 * QUIET_MODULES) * module > box_w:
        module -= 1
    text_x = round((layout.text_x - layout.text_width / 2) * dots)
    text_w = int(layout.text_width * dots)
    lines = [
        "^XA", "^CI28",
        f"^PW{round(template.label_width * dots)}", f"^LL{round(template.label_height * dots)}", "^LH0,0",
        f"^FO{box_x + (box_w - count * module) // 2},{round(box.y * dots)}^BY{module}"
        f"^BCN,{round(box.height * dots)},N,N,N,N^FD{zpl_code128_data(label.tag)}^FS",
    ]
    if layout.tag_baseline is not None:
        size = round(_tag_size(label.tag, template.tag_font, layout.text_width) / 72 * template.dpi)
        top = round(layout.tag_baseline * dots - ZPL_CAP_SHARE * size)
        lines.append(f"^FO{text_x},{top}^A0N,{size},{size}^FB{text_w},1,0,C,0^FD{label.tag}^FS")
    if layout.line_baseline is not None:
        size = round(template.line_font / 72 * template.dpi)
        text = fit_text(clean_line(label.line), TAG_FONT, size, text_w, ZPL_ELLIPSIS)
        if text:
            top = round(layout.line_baseline * dots - ZPL_CAP_SHARE * size)
            lines.append(f"^FO{text_x},{top}^A0N,{size},{size}^FB{text_w},1,0,C,0^FH_^FD{zpl_escape(text)}^FS")
    if layout.qr is not None:
        size, _ = _qr_runs(label.tag)
        magnification = max(1, min(10, int(layout.qr.width * dots) // size))
        x = round(layout.qr.x * dots) + QR_BORDER_MODULES * magnification
        y = round(layout.qr.y * dots) + QR_BORDER_MODULES * magnification
        lines.append(f"^FO{x},{y}^BQN,2,{magnification}^FDMA,{label.tag}^FS")
    lines.append("^PQ1")
    lines.append("^XZ")
    return "\n".join(lines) + "\n"
