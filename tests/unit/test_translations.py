"""Every user-facing string has its French translation: templates, gettext calls and domain errors."""
from __future__ import annotations

import ast
import glob
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
ERRORS = {"Conflict", "Invalid", "NotFound", "Forbidden", "Unauthorized", "DomainError"}


def _french() -> set[str]:
    have = set()
    for path in glob.glob(str(ROOT / "asset_tracker" / "**" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"),
                          recursive=True):
        with open(path, "rb") as f:
            for message in read_po(f):
                translated = message.string if isinstance(message.string, tuple) else (message.string,)
                if message.id and all(translated):
                    have.add(message.id[0] if isinstance(message.id, tuple) else message.id)
    return have


def test_every_extracted_string_has_a_french_translation(tmp_path):
    cfg = tmp_path / "babel.cfg"
    cfg.write_text("[python: asset_tracker/**.py]\n[jinja2: asset_tracker/templates/**.html]\n")
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", str(cfg), "-k", "N_",
                    "-k", "lazy_gettext", "-o", str(pot), "."], cwd=ROOT, check=True, capture_output=True)
    with open(pot, "rb") as f:
        extracted = [m for m in read_po(f) if m.id]
    assert len(extracted) > 500
    have = _french()
    missing = [m.id for m in extracted if (m.id[0] if isinstance(m.id, tuple) else m.id) not in have]
    assert missing == []


def test_every_domain_error_message_has_a_french_translation():
    have, missing, seen = _french(), [], 0
    for path in (ROOT / "asset_tracker").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str) \
                    and (getattr(node.func, "id", None) or getattr(node.func, "attr", None)) in ERRORS:
                seen += 1
                if node.args[0].value not in have:
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert seen > 100
    assert missing == []
