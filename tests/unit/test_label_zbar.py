"""Every label kind scans with zbar too (zbarimg, Debian's zbar-tools), not only with zxing-cpp."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from asset_tracker.labels.render import LabelData, render_pdf, render_png
from asset_tracker.labels.templates import load_templates
from asset_tracker.tags import format_tag

LABELS_DIR = Path(__file__).resolve().parents[2] / "labels"
ZBARIMG = shutil.which("zbarimg")
pytestmark = pytest.mark.skipif(ZBARIMG is None, reason="zbarimg (zbar-tools) is installed by .ci/run")
TEMPLATES = {name: t for name, t in load_templates(LABELS_DIR).items() if t.kind != "zpl"}


def zbar(path: Path) -> list[str]:
    out = subprocess.run([ZBARIMG, "--raw", "-q", "-Sdisable", "-Scode128.enable", str(path)],
                         capture_output=True, text=True, timeout=60)
    return sorted(line for line in out.stdout.splitlines() if line)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_a_png_label_scans_with_zbar(name, tmp_path):
    tag = format_tag("RB", 990017)  # a sequence opening with 99: python-barcode's known trap
    path = tmp_path / "label.png"
    path.write_bytes(render_png(TEMPLATES[name], LabelData(tag, "Portable · Lenovo ThinkPad T480"), dpi=300))
    assert zbar(path) == [tag]


def test_a_sheet_pdf_scans_with_zbar_label_by_label(tmp_path):
    import pypdfium2

    template = TEMPLATES["a4-3x7-63x38"]
    tags = [format_tag("RB", n) for n in range(990000, 990021)]
    pdf = pypdfium2.PdfDocument(render_pdf(template, [LabelData(t, "Écran 22″") for t in tags]))
    image = pdf[0].render(scale=300 / 72).to_pil()
    path = tmp_path / "sheet.png"
    image.save(path)
    assert zbar(path) == sorted(tags)
