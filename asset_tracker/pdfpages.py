"""What every signed document shares: the reference and "page n/N" on every page, drawn once the page count is
known (reportlab canvases learn it only at the end, so pages are kept and stamped on save), and one embedded
Unicode typeface, so a name written in any European script prints as written instead of "?" (the PDF base-14
fonts only know Windows-1252)."""
from __future__ import annotations

import functools
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.fonts import addMapping
from reportlab.lib.styles import StyleSheet1, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import Flowable

# DejaVu (Bitstream Vera licence, asset_tracker/fonts/LICENSE), embedded as subsets by reportlab.
FONT, FONT_BOLD, FONT_ITALIC, FONT_BOLD_ITALIC, FONT_MONO = (
    "DocSans", "DocSans-Bold", "DocSans-Oblique", "DocSans-BoldOblique", "DocMono")
_FONT_FILES = {FONT: "DejaVuSansCondensed.ttf", FONT_BOLD: "DejaVuSansCondensed-Bold.ttf",
               FONT_ITALIC: "DejaVuSansCondensed-Oblique.ttf",
               FONT_BOLD_ITALIC: "DejaVuSansCondensed-BoldOblique.ttf", FONT_MONO: "DejaVuSansMono.ttf"}
_FONT_DIR = Path(__file__).resolve().parent / "fonts"
# reportlab's sample styles name the base-14 fonts; each is replaced by its embedded counterpart.
_REPLACES = {"Helvetica": FONT, "Helvetica-Bold": FONT_BOLD, "Helvetica-Oblique": FONT_ITALIC,
             "Helvetica-BoldOblique": FONT_BOLD_ITALIC, "Times-Roman": FONT, "Times-Bold": FONT_BOLD,
             "Times-Italic": FONT_ITALIC, "Times-BoldItalic": FONT_BOLD_ITALIC, "Courier": FONT_MONO}


@functools.cache
def register_fonts() -> None:
    """Register the document typeface once per process; <b> and <i> in paragraphs map to its faces."""
    for name, filename in _FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(_FONT_DIR / filename)))
    for bold, italic, name in ((0, 0, FONT), (1, 0, FONT_BOLD), (0, 1, FONT_ITALIC), (1, 1, FONT_BOLD_ITALIC)):
        addMapping(FONT, bold, italic, name)


def document_styles() -> StyleSheet1:
    """reportlab's sample style sheet with every style set in the embedded typeface."""
    register_fonts()
    sheet = getSampleStyleSheet()
    for style in sheet.byName.values():
        if hasattr(style, "fontName"):
            style.fontName = _REPLACES.get(style.fontName, FONT)
        if hasattr(style, "bulletFontName"):
            style.bulletFontName = _REPLACES.get(style.bulletFontName, FONT)
    return sheet


def numbered_canvas(reference: str, page_label: str = "page %(page)s/%(pages)s"):
    """A canvas class that writes ``reference`` and ``page n/N`` at the top and the bottom of each page.

    ``page_label`` is the translated pattern (``%(page)s`` and ``%(pages)s``)."""

    register_fonts()

    class NumberedCanvas(rl_canvas.Canvas):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self):  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._stamp(total)
                super().showPage()
            super().save()

        def _stamp(self, total: int) -> None:
            width, height = self._pagesize
            label = page_label % {"page": self._pageNumber, "pages": total}
            self.saveState()
            self.setFont(FONT, 8)
            self.setFillColor(colors.HexColor("#444444"))
            self.drawString(18 * mm, height - 10 * mm, reference)
            self.drawRightString(width - 18 * mm, height - 10 * mm, label)
            self.setStrokeColor(colors.lightgrey)
            self.line(18 * mm, 12 * mm, width - 18 * mm, 12 * mm)
            self.drawString(18 * mm, 8 * mm, reference)
            self.drawRightString(width - 18 * mm, 8 * mm, label)
            self.restoreState()

    return NumberedCanvas


def keep_last_rows(rows: list, keep: int = 3) -> tuple[list, list]:
    """Split table rows (the first one a header) so the last ``keep`` rows can travel with what follows them
    (totals, signatures): a signature block then never opens a page alone. Returns (body, tail); the body keeps
    the header, the tail has none (see ``with_tail_header``)."""
    header, data = rows[:1], rows[1:]
    if len(data) <= keep:
        return [], data
    return header + data[:-keep], data[-keep:]


class PageMarker(Flowable):
    """Takes no room; notes on which page it was drawn (``seen[key]``)."""

    def __init__(self, seen: dict, key: str):
        super().__init__()
        self.seen, self.key = seen, key

    def wrap(self, available_width, available_height):
        return 0, 0

    def draw(self):
        self.seen[self.key] = self.canv.getPageNumber()


def with_tail_header(build) -> bytes:
    """Build a document whose table ends in a tail kept with the signatures.

    ``build(tail_header, seen)`` lays the document out, with a ``PageMarker(seen, "body")`` after the body
    of the table and a ``PageMarker(seen, "tail")`` before its tail. The tail goes without a header row when it
    follows the body on the same page; when it had to open a new page, the document is laid out again with the
    header repeated above the tail, so every page of the table has its column names."""
    seen: dict = {}
    data = build(False, seen)
    if "body" in seen and "tail" in seen and seen["body"] != seen["tail"]:
        data = build(True, {})
    return data
