"""Catalogs: a checkout compiles stale .po files and says when it cannot; an installed package never writes."""
from __future__ import annotations

import logging
import os
import shutil

from asset_tracker.i18n import PACKAGE_DIR, compile_catalogs, is_checkout

PO = os.path.join(PACKAGE_DIR, "translations", "fr", "LC_MESSAGES", "messages.po")


def _catalog(tmp_path):
    directory = tmp_path / "translations"
    (directory / "fr" / "LC_MESSAGES").mkdir(parents=True)
    shutil.copy(PO, directory / "fr" / "LC_MESSAGES" / "messages.po")
    return str(directory), directory / "fr" / "LC_MESSAGES" / "messages.mo"


def test_this_tree_is_a_checkout():
    assert is_checkout()


def test_a_checkout_compiles_a_stale_catalog_once(tmp_path):
    directory, mo = _catalog(tmp_path)
    assert compile_catalogs([directory], checkout=True) == [str(mo)]
    assert mo.stat().st_size > 1000
    assert compile_catalogs([directory], checkout=True) == []  # up to date: nothing written


def test_a_failed_compile_is_logged_not_swallowed(tmp_path, caplog):
    directory, mo = _catalog(tmp_path)
    mo.mkdir()  # the .mo path cannot be written (and looks stale)
    os.utime(mo, (0, 0))
    with caplog.at_level(logging.ERROR, logger="asset_tracker.i18n"):
        assert compile_catalogs([directory], checkout=True) == []
    assert any("cannot compile" in r.getMessage() and r.exc_info for r in caplog.records)


def test_an_installed_package_never_writes_and_names_a_missing_catalog(tmp_path, caplog):
    directory, mo = _catalog(tmp_path)
    with caplog.at_level(logging.ERROR, logger="asset_tracker.i18n"):
        assert compile_catalogs([directory], checkout=False) == []
    assert not mo.exists()
    assert any("translations missing" in r.getMessage() for r in caplog.records)
    caplog.clear()
    mo.write_bytes(b"")  # built at packaging time (even if older than the .po): left alone, nothing logged
    os.utime(mo, (0, 0))
    assert compile_catalogs([directory], checkout=False) == []
    assert mo.read_bytes() == b"" and not caplog.records
