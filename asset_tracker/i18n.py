"""Languages: locale selection, catalogs from every capability (compiled on start in a checkout when stale)."""
from __future__ import annotations

import glob
import logging
import os

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, request, session
from flask_babel import format_decimal, get_locale, gettext
from flask_login import current_user

from . import lifecycle, value_labels
from .devices.models import DEVICE_TYPE_LABELS, DeviceType
from .extensions import babel

PACKAGE_DIR = os.path.dirname(__file__)
log = logging.getLogger(__name__)


def translation_directories() -> list[str]:
    """The main catalog plus one per capability (asset_tracker/<capability>/translations)."""
    dirs = [os.path.join(PACKAGE_DIR, "translations")]
    dirs += sorted(glob.glob(os.path.join(PACKAGE_DIR, "*", "translations")))
    return [d for d in dirs if os.path.isdir(d)]


def is_checkout() -> bool:
    """True in a source checkout (pyproject.toml beside the package), False in an installed package."""
    return os.path.isfile(os.path.join(os.path.dirname(PACKAGE_DIR), "pyproject.toml"))


def compile_catalogs(directories: list[str], *, checkout: bool | None = None) -> list[str]:
    """In a checkout, compile .po to .mo when the .mo is missing or older and the folder is writable.

    An installed package never writes into its own directory: its .mo files were compiled when the package
    was built (setup.py). A catalog that cannot be compiled, or an installed one without its .mo, is logged
    as an error (the pages then show English for that catalog). Returns the .mo files written.
    """
    checkout = is_checkout() if checkout is None else checkout
    written = []
    for directory in directories:
        for po_path in glob.glob(os.path.join(directory, "*", "LC_MESSAGES", "*.po")):
            mo_path = po_path[:-3] + ".mo"
            present = os.path.exists(mo_path)
            if not checkout:
                if not present:
                    log.error("translations missing: %s has no compiled %s (rebuild the package)", po_path, mo_path)
                continue
            if present and os.path.getmtime(mo_path) >= os.path.getmtime(po_path):
                continue
            if not os.access(os.path.dirname(po_path), os.W_OK):
                log.error("cannot compile %s: its folder is read-only (run `pybabel compile` as its owner)", po_path)
                continue
            try:
                with open(po_path, "rb") as f:
                    catalog = read_po(f)
                with open(mo_path, "wb") as f:
                    write_mo(f, catalog)
            except Exception:
                log.exception("cannot compile %s to %s", po_path, mo_path)
                continue
            written.append(mo_path)
    return written


def select_locale() -> str:
    languages = _languages()
    lang = request.args.get("lang") if request else None
    if lang in languages:
        return lang
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale in languages:
        return current_user.locale
    if session.get("lang") in languages:
        return session["lang"]
    return request.accept_languages.best_match(languages) or languages[0]


def _languages() -> list[str]:
    # Locale selection runs per request, at the boundary: it reads the configuration like a route.
    return current_app.config["LANGUAGES"]


def current_language() -> str:
    return str(get_locale() or "fr")[:2]


def decimal(value, digits: int = 1) -> str:
    """A number in the page's language: "9,3" in French, "9.3" in English; "—" for nothing."""
    if value is None:
        return "—"
    return format_decimal(value, format="#,##0." + "#" * digits)


def percent(value, digits: int = 1) -> str:
    """A percentage already multiplied by 100: "3,8 %" in French (narrow no-break space), "3.8%" in English."""
    if value is None:
        return "—"
    return decimal(value, digits) + ("\u202f%" if current_language() == "fr" else "%")


def init_i18n(app: Flask) -> None:
    dirs = translation_directories()
    compile_catalogs(dirs)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(dirs)
    babel.init_app(app, locale_selector=select_locale)

    @app.template_filter("state_label")
    def _state_label(state):
        return lifecycle.label(state, current_language())

    app.add_template_filter(decimal, "decimal")
    app.add_template_filter(percent, "percent")

    @app.template_filter("key_label")
    def _key_label(key):
        return gettext(value_labels.key_msgid(str(key)))

    @app.template_filter("value_label")
    def _value_label(value, key=None):
        """A stored value in words; a tool's own label keeps its raw form: "Overwrite with zeros (Fill With Zeros)"."""
        msgid, raw = value_labels.value_msgid(value, key)
        if msgid is None:
            return raw
        return f"{gettext(msgid)} ({raw})" if raw else gettext(msgid)

    @app.template_filter("type_label")
    def _type_label(value):
        value = DeviceType(getattr(value, "value", value))
        return DEVICE_TYPE_LABELS[value].get(current_language(), value.value)

    @app.context_processor
    def _i18n_context():
        return {"current_language": current_language, "LANGUAGES": app.config["LANGUAGES"]}
