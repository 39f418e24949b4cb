"""Label templates: the shipped files load, fit their page, and malformed files are refused with a reason."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from asset_tracker.labels.templates import Template, TemplateError, load_template, load_templates

LABELS_DIR = Path(__file__).resolve().parents[2] / "labels"
SHIPPED = {
    "a4-3x7-63x38": ("sheet", 63.5, 38.1, 3, 7),
    "a4-5x13-38x21": ("sheet", 38.1, 21.2, 5, 13),
    "a4-3x8-70x37": ("sheet", 70, 37, 3, 8),
    "roll-62x29": ("roll", 62, 29, 1, 1),
    "roll-57x32": ("roll", 57, 32, 1, 1),
    "zpl-2x1-203dpi": ("zpl", 50.8, 25.4, 1, 1),
}


@pytest.fixture(scope="module")
def templates() -> dict[str, Template]:
    return load_templates(LABELS_DIR)


def test_every_shipped_template_loads_under_its_file_name(templates):
    assert set(templates) == set(SHIPPED)
    for name, (kind, width, height, columns, rows) in SHIPPED.items():
        template = templates[name]
        assert (template.kind, template.label_width, template.label_height) == (kind, width, height)
        assert (template.columns, template.rows) == (columns, rows)
        assert template.title["fr"] and template.title["en"]


@pytest.mark.parametrize("name", [n for n, spec in SHIPPED.items() if spec[0] == "sheet"])
def test_the_last_label_of_a_sheet_ends_inside_the_a4_page(templates, name):
    template = templates[name]
    x, y = template.label_origin(template.per_page - 1)
    assert (template.page_width, template.page_height) == (210, 297)
    assert x + template.label_width <= 210.05
    assert y + template.label_height <= 297.05


@pytest.mark.parametrize("name", ["roll-62x29", "roll-57x32", "zpl-2x1-203dpi"])
def test_rolls_and_zpl_print_one_label_per_page_of_the_label_size(templates, name):
    template = templates[name]
    assert template.per_page == 1
    assert (template.page_width, template.page_height) == (template.label_width, template.label_height)


def test_the_zebra_template_is_two_by_one_inch_at_203_dpi(templates):
    template = templates["zpl-2x1-203dpi"]
    assert template.dpi == 203
    assert round(template.label_width / 25.4 * 203) == 406
    assert round(template.label_height / 25.4 * 203) == 203


def _shipped(name: str = "a4-3x7-63x38") -> dict:
    return json.loads((LABELS_DIR / f"{name}.json").read_text(encoding="utf-8"))


def _without(key: str) -> Callable[[dict], None]:
    return lambda data: data.pop(key)


def _set(key: str, value) -> Callable[[dict], None]:
    return lambda data: data.__setitem__(key, value)


def _as_roll(data: dict, kind: str) -> None:
    for key in ("page_mm", "columns", "rows", "margins_mm", "gaps_mm"):
        data.pop(key)
    data["kind"] = kind


MALFORMED = {
    "missing key": (_without("label_mm"), "missing key 'label_mm'"),
    "labels wider than the page": (_set("columns", 4), "labels are wider than the page"),
    "labels taller than the page": (_set("rows", 8), "labels are taller than the page"),
    "unknown kind": (_set("kind", "laser"), "unknown kind 'laser'"),
    "misspelt key": (_set("colums", 3), "unknown key 'colums'"),
    "size given as text": (
        _set("label_mm", {"width": "63.5", "height": 38.1}),
        "'label_mm.width' must be a positive number",
    ),
    "barcode taller than the label": (_set("barcode", {"height_mm": 40, "module_mm": 0.33}), "of height"),
    "unknown field": (_set("fields", ["barcode", "tag", "logo"]), "unknown field 'logo'"),
    "no barcode": (_set("fields", ["tag", "line"]), "must include 'barcode'"),
    "qr without a size": (_without("qr_mm"), "missing key 'qr_mm'"),
    "roll with a sheet grid": (_set("kind", "roll"), "one label per page"),
    "zpl without a resolution": (lambda d: _as_roll(d, kind="zpl"), "missing key 'dpi'"),
    "title in one language": (_set("title", {"fr": "Planche"}), "missing key 'en'"),
    "label too narrow for a barcode": (
        lambda d: d.update(label_mm={"width": 25, "height": 38.1}, qr_mm=10),
        "does not fit",
    ),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_a_malformed_template_is_refused_naming_the_file_and_the_problem(tmp_path, case):
    change, problem = MALFORMED[case]
    data = _shipped()
    change(data)
    path = tmp_path / "a4-3x7-63x38.json"
    path.write_text(json.dumps(data), encoding="utf-8")

    with pytest.raises(TemplateError) as error:
        load_template(path)

    assert "a4-3x7-63x38.json" in str(error.value)
    assert problem in str(error.value)


def test_a_copy_of_a_valid_template_loads(tmp_path):
    path = tmp_path / "a4-3x7-63x38.json"
    path.write_text(json.dumps(_shipped()), encoding="utf-8")

    assert load_template(path).name == "a4-3x7-63x38"


def test_a_file_that_is_not_json_is_refused(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"name": "broken",', encoding="utf-8")

    with pytest.raises(TemplateError, match=r"broken\.json: not valid JSON"):
        load_template(path)


def test_a_template_must_be_named_after_its_file(tmp_path):
    path = tmp_path / "my-copy.json"
    path.write_text(json.dumps(_shipped()), encoding="utf-8")

    with pytest.raises(TemplateError, match="must match the file name 'my-copy'"):
        load_template(path)


def test_one_bad_file_stops_loading_the_directory(tmp_path):
    (tmp_path / "a4-3x7-63x38.json").write_text(json.dumps(_shipped()), encoding="utf-8")
    bad = _shipped("roll-62x29")
    bad["kind"] = "cassette"
    (tmp_path / "roll-62x29.json").write_text(json.dumps(bad), encoding="utf-8")

    with pytest.raises(TemplateError, match=r"roll-62x29\.json: unknown kind 'cassette'"):
        load_templates(tmp_path)


def test_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(TemplateError, match="does not exist"):
        load_templates(tmp_path / "nowhere")
