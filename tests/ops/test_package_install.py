"""`pip install .` into a fresh virtualenv, then the `reboot-tracker` command serves /healthz and French pages
from catalogs compiled at build time, writing nothing into its installed package."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _snapshot(directory: str) -> dict[str, tuple[int, float]]:
    out = {}
    for base, _dirs, files in os.walk(directory):
        for name in files:
            path = os.path.join(base, name)
            out[os.path.relpath(path, directory)] = (os.path.getsize(path), os.path.getmtime(path))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, **headers) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.status, resp.read().decode("utf-8")


@pytest.mark.slow
def test_pip_install_then_the_entry_point_serves_healthz(tmp_path):
    if os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("the package does not depend on the test database: installed once, on the SQLite run")
    source = tmp_path / "source"  # a copy: the build never writes into the working tree
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "instance", "build", "*.egg-info", "__pycache__", "*.mo", "node_modules", "bench"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(source)], capture_output=True,
                         text=True, timeout=900)
    assert pip.returncode == 0, pip.stderr[-3000:]

    site = subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import asset_tracker, os; print(os.path.dirname(asset_tracker.__file__))"],
                          capture_output=True, text=True, check=True, cwd=tmp_path).stdout.strip()
    assert site.startswith(str(venv))
    mo_files = [p for p in _snapshot(site) if p.endswith(".mo")]
    assert len(mo_files) == len([p for p in _snapshot(site) if p.endswith(".po")]) >= 9
    assert os.path.isfile(os.path.join(site, "_data", "migrations", "env.py"))
    assert os.path.isfile(os.path.join(site, "_data", "labels", "a4-3x7-63x38.json"))
    subprocess.run(["chmod", "-R", "a-w", site], check=True)  # a read-only site-packages
    before = _snapshot(site)

    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSET_TRACKER_") and k != "DATABASE_URL"}
    env.update(ASSET_TRACKER_ENV="development", ASSET_TRACKER_SCHEDULER_ENABLED="False")
    upgrade = subprocess.run([str(venv / "bin" / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=work, env=env,
                             capture_output=True, text=True, timeout=300)
    assert upgrade.returncode == 0, upgrade.stderr[-3000:]
    assert (work / "instance" / "asset_tracker.db").is_file()

    port = _free_port()
    server = subprocess.Popen([str(venv / "bin" / "reboot-tracker", ), "--port", str(port)], cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, status, body = time.monotonic() + 60, None, ""
        while time.monotonic() < deadline:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.3)
        assert status == 200 and '"status":"ok"' in body.replace(" ", ""), server.poll()
        status, page = _get(f"http://127.0.0.1:{port}/login", **{"Accept-Language": "fr"})
        assert status == 200 and "Mot de passe" in page
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
    assert f"links in e-mails point to http://127.0.0.1:{port}" in output
    assert "translations missing" not in output and "cannot compile" not in output
    assert _snapshot(site) == before
    subprocess.run(["chmod", "-R", "u+w", site], check=True)
