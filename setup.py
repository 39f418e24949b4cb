"""Build hook: the wheel carries compiled catalogs (.mo), the migrations and the label templates.

The metadata lives in pyproject.toml; this file only adds what `build_py` must do beyond copying sources,
so an installed package never writes into its own directory at start-up.
"""
import glob
import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildPyWithCatalogs(build_py):
    """Copy the sources, then compile every asset_tracker/**/translations/*.po and bundle migrations and labels."""

    def run(self):
        super().run()
        if self.dry_run:
            return
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        package = os.path.join(self.build_lib, "asset_tracker")
        for po_path in glob.glob(os.path.join(package, "**", "translations", "*", "LC_MESSAGES", "*.po"),
                                 recursive=True):
            with open(po_path, "rb") as f:
                catalog = read_po(f)
            with open(po_path[:-3] + ".mo", "wb") as f:
                write_mo(f, catalog)
        # Flask-Migrate and the label printer find these next to the checkout; an installed package uses its copies.
        for name in ("migrations", "labels"):
            target = os.path.join(package, "_data", name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(os.path.join(HERE, name), target,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildPyWithCatalogs})
