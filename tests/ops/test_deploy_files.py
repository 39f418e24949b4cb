"""The deployment examples are real: nginx accepts the site file, systemd the units."""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(ROOT, "deploy")


def _self_signed(directory) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reboot.example.org")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(directory, "fullchain.pem"), os.path.join(directory, "privkey.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


def test_nginx_accepts_the_example_site(tmp_path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None:
        pytest.skip("nginx is not installed (.ci/run installs nginx-light)")
    cert, key = _self_signed(tmp_path)
    proxy = tmp_path / "reboot-tracker-proxy.conf"
    shutil.copy(os.path.join(DEPLOY, "nginx", "reboot-tracker-proxy.conf"), proxy)
    with open(os.path.join(DEPLOY, "nginx", "reboot-tracker.conf"), encoding="utf-8") as f:
        site = f.read()
    assert "/etc/letsencrypt/live/reboot.example.org/fullchain.pem" in site
    site = (site.replace("/etc/letsencrypt/live/reboot.example.org/fullchain.pem", cert)
            .replace("/etc/letsencrypt/live/reboot.example.org/privkey.pem", key)
            .replace("/etc/nginx/reboot-tracker-proxy.conf", str(proxy)))
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/site.conf;\n}}\n", encoding="utf-8")
    done = subprocess.run([nginx, "-t", "-e", str(tmp_path / "error.log"), "-p", str(tmp_path), "-c",
                           str(tmp_path / "nginx.conf")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "test is successful" in done.stderr


def test_the_units_name_the_commands_of_the_deploy_guide():
    units = {name: open(os.path.join(DEPLOY, "systemd", name), encoding="utf-8").read()
             for name in os.listdir(os.path.join(DEPLOY, "systemd"))}
    assert "gunicorn" in units["reboot-tracker-web.service"] and "wsgi:app" in units["reboot-tracker-web.service"]
    assert "reminders scheduler" in units["reboot-tracker-scheduler.service"]
    assert "backup create" in units["reboot-tracker-backup.service"]
    assert "audit verify" in units["reboot-tracker-verify.service"]
    for name, text in units.items():
        section = "[Timer]" if name.endswith(".timer") else "[Service]"
        assert "[Unit]" in text and section in text, name
