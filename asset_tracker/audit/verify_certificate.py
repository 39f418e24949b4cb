"""Standalone check of a certificate of sanitisation (PDF) with the public key alone.

Needs Python 3.9+, `cryptography` and `pypdfium2`, nothing else (no access to the service or its database):

    python3 verify_certificate.py certificat.pdf audit_signing_key.pub.pem
    python -m asset_tracker.audit.verify_certificate certificat.pdf audit_signing_key.pub.pem

The certificate carries its sealed fields in the PDF's Keywords (the payload and its Ed25519 signature).
This checks the signature with the public key, then checks every sealed field against the text the PDF
actually shows: a certificate whose visible text was edited (one character of a serial number) is refused,
and so is one whose embedded fields were edited. Exit status 0 when it holds, 1 otherwise.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys

import pypdfium2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CERT_PREFIX = "reboot-tracker-certificate-v1"
KEYWORDS_PREFIX = "RT-CERT-V1 "


def canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def squash(text: str) -> str:
    """Text without any white space: line breaks and wrapping differ between a layout and its extraction."""
    return "".join(text.split())


def read_pdf(data: bytes) -> tuple[str, str]:
    """(Keywords metadata, visible text of every page)."""
    doc = pypdfium2.PdfDocument(data)
    try:
        keywords = doc.get_metadata_dict().get("Keywords", "")
        pages = []
        for page in doc:
            textpage = page.get_textpage()
            pages.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return keywords, "\n".join(pages)
    finally:
        doc.close()


def load_public_key(pem: bytes):
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key, hashlib.sha256(raw).hexdigest()[:16]


def verify(pdf: bytes, public_pem: bytes) -> tuple[bool, list[str]]:
    """(ok, report lines) for one certificate PDF."""
    key, key_id = load_public_key(public_pem)
    try:
        keywords, text = read_pdf(pdf)
    except Exception as exc:  # pypdfium2 raises its own error types for a file that is not a PDF
        return False, [f"FAILED: not a readable PDF ({exc})"]
    if not keywords.startswith(KEYWORDS_PREFIX):
        return False, ["FAILED: this PDF carries no sealed certificate fields"]
    try:
        body = json.loads(base64.b64decode(keywords[len(KEYWORDS_PREFIX):], validate=True))
        payload, signature = body["payload"], base64.b64decode(body["signature"], validate=True)
        fields = [(str(label), str(value)) for label, value in payload["fields"]]
    except (ValueError, KeyError, TypeError):
        return False, ["FAILED: the sealed fields are damaged"]
    if payload.get("prefix") != CERT_PREFIX:
        return False, ["FAILED: unknown certificate format"]
    if payload.get("key_id") != key_id:
        return False, [f"FAILED: sealed with key {payload.get('key_id')}, not with this key ({key_id})"]
    message = canonical(payload)
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False, ["FAILED: the seal does not verify: the sealed fields were altered or forged"]
    report = [f"{payload['kind']} certificate issued {payload['issued_at']}, sealed with key {key_id}",
              f"{len(fields)} sealed fields, digest {hashlib.sha256(message).hexdigest()}"]
    shown = squash(text)
    if squash(hashlib.sha256(message).hexdigest()) not in shown:
        return False, report + ["FAILED: the printed digest is not the digest of the sealed fields"]
    edited = [(label, value) for label, value in fields if squash(value) not in shown]
    if edited:
        return False, report + [f"FAILED: the printed text was edited: {label} no longer reads \"{value}\""
                                for label, value in edited]
    return True, report + ["OK: the seal holds and the printed text matches every sealed field"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Verify a Reboot Tracker certificate of sanitisation (PDF).")
    parser.add_argument("certificate", help="the certificate PDF as downloaded")
    parser.add_argument("public_key", help="the programme's Ed25519 public key (PEM), from your own copy")
    args = parser.parse_args(argv)
    with open(args.public_key, "rb") as f:
        pem = f.read()
    with open(args.certificate, "rb") as f:
        ok, lines = verify(f.read(), pem)
    for line in lines:
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
