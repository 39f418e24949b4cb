"""Label rendering: every output is rasterised and read back by a real decoder (zxing-cpp)."""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pypdfium2
import pypdfium2.raw as pdfium_c
import pytest
import zxingcpp
from PIL import Image, ImageDraw

from asset_tracker.labels.code128 import LabelError, barcode_modules, code128_values, decode_values
from asset_tracker.labels.render import LabelData, render_pdf, render_png, render_svg, render_zpl
from asset_tracker.labels.templates import Template, load_templates
from asset_tracker.tags import format_tag

LABELS_DIR = Path(__file__).resolve().parents[2] / "labels"
TEMPLATES = load_templates(LABELS_DIR)
PDF_TEMPLATES = sorted(n for n, t in TEMPLATES.items() if t.kind in ("sheet", "roll"))
DPI = 300
# Sequences starting with 99 and prefixes ending in 9 are where Code 128 subset switching goes wrong.
TRICKY_TAGS = [
    format_tag("RB", 990001),
    format_tag("RB", 999999),
    format_tag("RB", 99),
    format_tag("R9", 990001),
    format_tag("R9", 4217),
    format_tag("R99", 9),
    format_tag("RB", 4217),
]
CODE128 = zxingcpp.BarcodeFormat.Code128
QR = zxingcpp.BarcodeFormat.QRCode


def tags(count: int, start: int = 990000) -> list[str]:
    return (TRICKY_TAGS + [format_tag("RB", start + i) for i in range(count)])[:count]


def decode(image: Image.Image, fmt=CODE128) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image, formats=fmt)]


def pdf_pages(pdf: bytes, dpi: int = DPI) -> list[Image.Image]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [page.render(scale=dpi / 72).to_pil().convert("L") for page in document]
    finally:
        document.close()


def cell(page: Image.Image, template: Template, position: int, dpi: int = DPI) -> Image.Image:
    """The pixels of the label at ``position`` on a rasterised page."""
    x, y = template.label_origin(position)
    scale = dpi / 25.4
    return page.crop((round(x * scale), round(y * scale),
                      round((x + template.label_width) * scale), round((y + template.label_height) * scale)))


def is_blank(image: Image.Image) -> bool:
    return image.getextrema() == (255, 255)


def rasterise_svg(svg: str, dpi: int = DPI) -> Image.Image:
    """Draw the SVG's filled rectangles (bars and QR modules) as the SVG geometry places them."""
    root = ET.fromstring(svg)
    width, height = (float(v) for v in root.get("viewBox").split()[2:])
    scale = dpi / 25.4
    image = Image.new("L", (round(width * scale), round(height * scale)), 255)
    draw = ImageDraw.Draw(image)
    for path in root.iter("{http://www.w3.org/2000/svg}path"):
        for x, y, w, h in re.findall(r"M([\d.]+) ([\d.]+)h([\d.]+)v([\d.]+)h-[\d.]+z", path.get("d")):
            x0, y0 = float(x) * scale, float(y) * scale
            draw.rectangle((round(x0), round(y0), round(x0 + float(w) * scale) - 1,
                            round(y0 + float(h) * scale) - 1), fill=0)
    return image


# --- Code 128 encoding --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["990001", "99", "9912AB", "RB-990001-4", "R9-990001-X", "R99-000009-1", "9-99"])
def test_code128_values_read_back_as_the_text_even_when_it_opens_with_99(text):
    assert decode_values(code128_values(text)) == text


def test_a_value_opening_with_99_keeps_its_first_digits_in_the_printed_bars():
    png = render_png(TEMPLATES["roll-62x29"], LabelData("990001"))

    assert decode(Image.open(io.BytesIO(png))) == ["990001"]


def test_the_encoding_uses_subset_c_for_the_digit_run_of_a_tag():
    values = code128_values("RB-004217-0")

    assert values[0] == 104  # Start B for the letters
    assert 99 in values  # switch to C for the digits: 11 symbols instead of 14
    assert len(barcode_modules("RB-004217-0")) == (len(values) + 1) * 11 + 13


@pytest.mark.parametrize("tag", ["rb-004217-0", "RB 004217", "RB<1>", "RB-0042^XZ", ""])
def test_a_tag_outside_the_tag_alphabet_is_refused_by_every_renderer(tag):
    label = LabelData(tag)
    for render in (lambda: render_pdf(TEMPLATES["roll-62x29"], [label]),
                   lambda: render_svg(TEMPLATES["roll-62x29"], label),
                   lambda: render_zpl(TEMPLATES["zpl-2x1-203dpi"], [label])):
        with pytest.raises(LabelError):
            render()


# --- PDF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PDF_TEMPLATES)
def test_every_label_of_a_pdf_scans_as_its_own_tag(name):
    template = TEMPLATES[name]
    expected = tags(template.per_page + 3 if template.per_page > 1 else len(TRICKY_TAGS))
    labels = [LabelData(tag, "Portable · Lenovo ThinkPad T480") for tag in expected]

    pages = pdf_pages(render_pdf(template, labels))

    assert len(pages) == -(-len(labels) // template.per_page)
    for index, tag in enumerate(expected):
        page, position = divmod(index, template.per_page)
        assert decode(cell(pages[page], template, position)) == [tag], f"label {index} on {name}"


def test_a_start_position_skips_the_used_cells_of_the_first_sheet():
    template = TEMPLATES["a4-3x7-63x38"]
    expected = tags(5, start=123)
    labels = [LabelData(tag, "Ordinateur portable") for tag in expected]

    first, second = pdf_pages(render_pdf(template, labels, start_position=19))

    assert all(is_blank(cell(first, template, position)) for position in range(19))
    assert decode(cell(first, template, 19)) == [expected[0]]
    assert decode(cell(first, template, 20)) == [expected[1]]
    assert [decode(cell(second, template, p)) for p in range(3)] == [[t] for t in expected[2:]]
    assert all(is_blank(cell(second, template, position)) for position in range(3, 21))


@pytest.mark.parametrize("start", [-1, 21])
def test_a_start_position_off_the_sheet_is_refused(start):
    with pytest.raises(LabelError, match="start position"):
        render_pdf(TEMPLATES["a4-3x7-63x38"], [LabelData("RB-004217-0")], start_position=start)


def test_an_empty_print_is_refused():
    with pytest.raises(LabelError, match="no labels"):
        render_pdf(TEMPLATES["a4-3x7-63x38"], [])


def test_the_pdf_draws_barcodes_as_vectors_not_images():
    document = pypdfium2.PdfDocument(render_pdf(TEMPLATES["a4-3x7-63x38"], [LabelData("RB-004217-0", qr=True)]))
    try:
        kinds = {obj.type for obj in document[0].get_objects()}
    finally:
        document.close()

    assert pdfium_c.FPDF_PAGEOBJ_PATH in kinds
    assert pdfium_c.FPDF_PAGEOBJ_IMAGE not in kinds


def test_accented_free_text_reaches_the_pdf_intact():
    pdf = render_pdf(TEMPLATES["roll-62x29"], [LabelData("RB-004217-0", "Élève · Collège Jean-Macé")])
    document = pypdfium2.PdfDocument(pdf)
    try:
        text = document[0].get_textpage().get_text_range()
    finally:
        document.close()

    assert "RB-004217-0" in text
    assert "Élève · Collège Jean-Macé" in text


@pytest.mark.parametrize("name", ["a4-3x7-63x38", "roll-62x29"])
def test_an_optional_qr_code_carries_the_tag_too(name):
    template = TEMPLATES[name]
    labels = [LabelData(tag, "Kit famille", qr=True) for tag in TRICKY_TAGS[:3]]

    pages = pdf_pages(render_pdf(template, labels))

    for index, tag in enumerate(TRICKY_TAGS[:3]):
        page, position = divmod(index, template.per_page)
        image = cell(pages[page], template, position)
        assert decode(image, QR) == [tag]
        assert decode(image, CODE128) == [tag]


def test_a_template_without_qr_ignores_the_request_for_one():
    template = TEMPLATES["a4-5x13-38x21"]
    page = pdf_pages(render_pdf(template, [LabelData("RB-004217-0", qr=True)]))[0]

    assert decode(cell(page, template, 0), QR) == []
    assert decode(cell(page, template, 0)) == ["RB-004217-0"]


# --- PNG and SVG --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_the_png_of_one_label_scans_for_every_template(name):
    template = TEMPLATES[name]
    for tag in TRICKY_TAGS:
        image = Image.open(io.BytesIO(render_png(template, LabelData(tag, "Tablette · Samsung Tab A"))))
        width, height = (size / 25.4 * DPI for size in (template.label_width, template.label_height))
        assert image.size == (round(width), round(height))
        assert decode(image) == [tag]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_the_svg_geometry_scans_for_every_template(name):
    template = TEMPLATES[name]
    for tag in TRICKY_TAGS:
        svg = render_svg(template, LabelData(tag, "Téléphone", qr=True))
        image = rasterise_svg(svg)
        assert decode(image) == [tag]
        if template.shows("qr"):
            assert decode(image, QR) == [tag]


def test_the_svg_keeps_markup_in_free_text_as_text():
    line = '<script>alert("x")</script> & </text><text>'
    svg = render_svg(TEMPLATES["a4-3x8-70x37"], LabelData("RB-004217-0", line))

    root = ET.fromstring(svg)  # still one well-formed document
    ns = "{http://www.w3.org/2000/svg}"
    assert not list(root.iter(f"{ns}script"))
    texts = [element.text for element in root.iter(f"{ns}text")]
    assert texts[0] == "RB-004217-0"
    assert texts[1] in line or texts[1].endswith("…") and line.startswith(texts[1][:-1])
    assert "<script>" not in svg


def test_a_long_line_is_cut_with_an_ellipsis_and_control_characters_are_dropped():
    line = "Portable\u202e\x00 Lenovo ThinkPad T480 — programme Cités éducatives, collège Jean Macé, Vénissieux"
    svg = render_svg(TEMPLATES["a4-5x13-38x21"], LabelData("RB-004217-0", line))

    text = [e.text for e in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")][1]
    assert text.startswith("Portable Lenovo")
    assert text.endswith("…")
    assert len(text) < len(line)


# --- ZPL ----------------------------------------------------------------------------------------

ZPL_START = {">9": "A", ">:": "B", ">;": "C"}
ZPL_SWITCH = {">5": "C", ">6": "B", ">7": "A"}


def read_zpl_code128(data: str) -> str:
    """What a Zebra prints for ^BC mode N field data with subset invocation codes."""
    subset, rest = ZPL_START[data[:2]], data[2:]
    text = []
    while rest:
        if rest[:2] in ZPL_SWITCH:
            subset, rest = ZPL_SWITCH[rest[:2]], rest[2:]
        elif subset == "C":
            assert rest[:2].isdigit(), f"subset C needs digit pairs, got {rest!r}"
            text.append(rest[:2])
            rest = rest[2:]
        else:
            assert rest[0] != ">"
            text.append(rest[0])
            rest = rest[1:]
    return "".join(text)


def unescape_zpl(field: str) -> str:
    """Undo ^FH_ hex escapes and ^FB's doubled backslash."""
    text = re.sub(r"_([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), field)
    return text.replace("\\\\", "\\")


def zpl_formats(zpl: str) -> list[str]:
    return re.findall(r"\^XA.*?\^XZ", zpl, flags=re.S)


def test_zpl_has_one_utf8_format_per_label_with_a_code128_of_the_tag():
    template = TEMPLATES["zpl-2x1-203dpi"]
    zpl = render_zpl(template, [LabelData(tag, "Portable") for tag in TRICKY_TAGS])

    formats = zpl_formats(zpl)
    assert len(formats) == len(TRICKY_TAGS) == zpl.count("^XA") == zpl.count("^XZ")
    for tag, fmt in zip(TRICKY_TAGS, formats, strict=False):
        assert "^CI28" in fmt and "^PW406" in fmt and "^LL203" in fmt
        x, module, data = re.search(r"\^FO(\d+),\d+\^BY(\d+)\^BCN,\d+,N,N,N,N\^FD(.+?)\^FS", fmt).groups()
        assert read_zpl_code128(data) == tag
        width = len(barcode_modules(tag)) * int(module)
        # Quiet zones of ten modules fit on the 406-dot label on both sides.
        assert int(x) >= 10 * int(module) and int(x) + width + 10 * int(module) <= 406
        assert f"^FD{tag}^FS" in fmt


def test_zpl_free_text_cannot_inject_commands():
    line = "^XZ^XA^GB9,9,9^FS~JA_\\&"
    zpl = render_zpl(TEMPLATES["zpl-2x1-203dpi"], [LabelData("RB-004217-0", line)])

    assert zpl.count("^XA") == 1 and zpl.count("^XZ") == 1
    assert "~" not in zpl and "^GB" not in zpl
    field = re.search(r"\^FH_\^FD(.*?)\^FS", zpl).group(1)
    assert "^" not in field
    assert unescape_zpl(field) == line


def test_zpl_prints_accents_as_utf8():
    zpl = render_zpl(TEMPLATES["zpl-2x1-203dpi"], [LabelData("RB-004217-0", "Élève — Collège Jean-Macé")])

    field = re.search(r"\^FH_\^FD(.*?)\^FS", zpl).group(1)
    assert unescape_zpl(field) == "Élève — Collège Jean-Macé"
    assert "Élève".encode() in zpl.encode("utf-8")


def test_zpl_is_refused_for_a_template_without_a_print_head_resolution():
    with pytest.raises(LabelError, match="not a ZPL template"):
        render_zpl(TEMPLATES["roll-62x29"], [LabelData("RB-004217-0")])



@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_the_bars_keep_a_quiet_zone_of_ten_modules_on_both_sides(name):
    template = TEMPLATES[name]
    tag = format_tag("R9", 990001)
    image = Image.open(io.BytesIO(render_png(template, LabelData(tag, qr=True))))
    box = template.layout(with_qr=True).barcode
    row = [image.getpixel((x, round((box.y + box.height / 2) / 25.4 * DPI))) < 128 for x in range(image.width)]
    modules = barcode_modules(tag)
    first = row.index(True)
    module = (row.index(False, first) - first) / len(re.match("1+", modules).group())
    end = first + round(len(modules) * module)  # first pixel after the stop pattern
    following = row.index(True, end) if True in row[end:] else image.width  # QR code or label edge

    assert first >= 10 * module
    assert following - end >= 10 * module
