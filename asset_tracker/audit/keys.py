"""The Ed25519 checkpoint key: created once, kept on disk outside the database, never in a backup of it."""
from __future__ import annotations

import base64
import hashlib
import json
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MESSAGE_PREFIX = "reboot-tracker-checkpoint-v1"


class KeyMissing(Exception):
    pass


def public_path(private_path: str) -> str:
    root, _ = os.path.splitext(private_path)
    return root + ".pub.pem"


def generate(private_path: str, *, overwrite: bool = False) -> tuple[str, str]:
    """Write a new key pair as PEM (private key mode 0600); returns (private path, public path)."""
    if os.path.exists(private_path) and not overwrite:
        raise FileExistsError(private_path)
    os.makedirs(os.path.dirname(os.path.abspath(private_path)), exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    if overwrite and os.path.exists(private_path):
        os.remove(private_path)
    # Created 0600 from the start: the key never exists on disk with wider permissions.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub = public_path(private_path)
    with open(pub, "wb") as f:
        f.write(public_pem(key.public_key()))
    return private_path, pub


def load_private(path: str | None) -> Ed25519PrivateKey:
    if not path or not os.path.exists(path):
        raise KeyMissing(path or "")
    with open(path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def load_public(path: str) -> Ed25519PublicKey:
    with open(path, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw public key: names the key in every checkpoint."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def checkpoint_message(seq: int, head_hash: str, signed_at: str, key_id: str) -> bytes:
    """The exact bytes signed: canonical JSON, the same in the service and the standalone verifier."""
    body = {"head_hash": head_hash, "key_id": key_id, "prefix": MESSAGE_PREFIX, "seq": seq, "signed_at": signed_at}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message)).decode("ascii")
