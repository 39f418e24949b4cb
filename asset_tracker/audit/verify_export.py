"""Standalone check of a custody export against the signed checkpoints, with the public key alone.

Needs Python 3.9+ and the `cryptography` package, nothing else (no access to the service or its database):

    python3 verify_export.py events.jsonl checkpoints.jsonl public.pem
    python -m asset_tracker.audit.verify_export events.jsonl checkpoints.jsonl public.pem

It recomputes the SHA-256 of every event, checks that each event links to the one before it, checks
every checkpoint's Ed25519 signature, and that the exported event at each checkpoint's position has the
signed hash. Exit status 0 when everything holds, 1 otherwise (the first problem is named).
A filtered export (one device, a date range) has gaps: pass --partial to check what it holds.
The export's last line is its trailer, {"trailer": {"export": "events", "rows": N, "complete": true}}: an
export without it, or whose count differs, was cut short (--no-trailer reads exports made before trailers).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GENESIS = "0" * 64
# The hashed fields of an event, in canonical order (asset_tracker.custody.services.HASHED).
HASHED = (
    "seq", "type", "device_id", "device_tag", "actor_user_id", "actor_name", "actor_organisation_id",
    "actor_organisation_name", "state_before", "state_after", "custodian_before_id", "custodian_after_id",
    "server_time", "client_time", "station", "note", "details", "request_id", "prev_hash",
)
MESSAGE_PREFIX = "reboot-tracker-checkpoint-v1"


def event_digest(event: dict) -> str:
    payload = [event[k] for k in HASHED]
    return hashlib.sha256(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")).hexdigest()


def checkpoint_message(cp: dict) -> bytes:
    body = {"head_hash": cp["head_hash"], "key_id": cp["key_id"], "prefix": MESSAGE_PREFIX, "seq": cp["seq"],
            "signed_at": cp["signed_at"]}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def load_public_key(pem: bytes):
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key, hashlib.sha256(raw).hexdigest()[:16]


def _read_checkpoints(checkpoint_lines, key, key_id: str, problems: list[str]) -> dict[int, dict]:
    """The checkpoints whose signature verifies with this key, by sequence number; the others are problems."""
    checkpoints = {}
    for n, line in enumerate(checkpoint_lines, start=1):
        if not line.strip():
            continue
        try:
            cp = json.loads(line)
            cp = {"seq": int(cp["seq"]), "head_hash": cp["head_hash"], "signed_at": cp["signed_at"],
                  "key_id": cp["key_id"], "signature": cp["signature"]}
        except (ValueError, KeyError, TypeError):
            problems.append(f"checkpoint line {n} is malformed")
            continue
        if cp["key_id"] != key_id:
            problems.append(f"checkpoint #{cp['seq']} was signed with key {cp['key_id']}, not this key ({key_id})")
            continue
        try:
            key.verify(base64.b64decode(cp["signature"], validate=True), checkpoint_message(cp))
        except (InvalidSignature, ValueError):
            problems.append(f"checkpoint #{cp['seq']}: the signature does not verify (forged or altered)")
            continue
        checkpoints[cp["seq"]] = cp
    return checkpoints


class _Walk:
    """Reads the export's events in order, each chained to the previous one and to its checkpoint."""

    def __init__(self, checkpoints: dict[int, dict], partial: bool):
        self.checkpoints, self.partial = checkpoints, partial
        self.matched: set[int] = set()
        self.count, self.first_seq, self.last_seq, self.last_hash = 0, None, None, None
        self.trailer = None

    def run(self, events_lines) -> str | None:
        """The first problem met (reading stops there), or None."""
        for n, line in enumerate(events_lines, start=1):
            if not line.strip():
                continue
            if self.trailer is not None:
                return f"line {n} comes after the trailer line"
            problem = self.line(n, line)
            if problem:
                return problem
        return None

    def line(self, n: int, line: str) -> str | None:
        try:
            event = json.loads(line)
            if isinstance(event, dict) and "trailer" in event:
                self.trailer = event["trailer"]
                if not isinstance(self.trailer, dict) or not isinstance(self.trailer.get("rows"), int):
                    return f"trailer line {n} is malformed"
                return None
            seq = int(event["seq"])
            digest = event_digest(event)
        except (ValueError, KeyError, TypeError):
            return f"event line {n} is malformed"
        if digest != event["hash"]:
            return f"event #{seq} (line {n}) was altered: its content does not give its hash"
        problem = self.link(event, seq, n) or self.checkpoint(seq, digest)
        if problem:
            return problem
        self.count, self.last_seq, self.last_hash = self.count + 1, seq, digest
        return None

    def link(self, event: dict, seq: int, n: int) -> str | None:
        """The event follows the previous one (gaps allowed in a partial export)."""
        last_seq = self.last_seq
        if last_seq is None:
            self.first_seq = seq
            if seq == 1 and event["prev_hash"] != GENESIS:
                return "event #1 does not start from the genesis hash"
            if seq != 1 and not self.partial:
                return f"the export starts at event #{seq}, not #1 (use --partial for a filtered export)"
        elif seq <= last_seq:
            return f"event #{seq} (line {n}) is out of order after #{last_seq}"
        elif seq == last_seq + 1:
            if event["prev_hash"] != self.last_hash:
                return f"event #{seq} does not follow event #{last_seq} (prev_hash mismatch)"
        elif not self.partial:
            return f"events #{last_seq + 1} to #{seq - 1} are missing from the export"
        return None

    def checkpoint(self, seq: int, digest: str) -> str | None:
        cp = self.checkpoints.get(seq)
        if cp is None:
            return None
        if cp["head_hash"] != digest:
            return (f"checkpoint #{seq} of {cp['signed_at']}: the exported event has another hash "
                    "(the log was rewritten after it was signed)")
        self.matched.add(seq)
        return None

    def end_problem(self, trailer_required: bool) -> str | None:
        """A missing trailer, or one that counts another number of events."""
        if self.trailer is None and trailer_required:
            return (f"the export ends after {self.count} events without its trailer line: it was truncated "
                    "(the transfer was cut short)")
        if self.trailer is not None and self.trailer["rows"] != self.count:
            return (f"the trailer counts {self.trailer['rows']} events but the export holds {self.count}: "
                    "it was truncated or altered")
        return None

    def uncovered(self, report: list[str], problems: list[str]) -> None:
        """Checkpoints the export does not reach: a truncation, unless the export is partial."""
        for seq, cp in sorted(self.checkpoints.items()):
            if seq in self.matched:
                continue
            if (self.last_seq is None or seq > self.last_seq) and not self.partial:
                problems.append(f"checkpoint #{seq} of {cp['signed_at']} is beyond the export's last event "
                                f"#{self.last_seq or 0}: the log was truncated (or the export is incomplete)")
                break
            report.append(f"checkpoint #{seq}: not covered by this export")


def verify(events_lines, checkpoint_lines, public_pem: bytes, *, partial: bool = False,
           trailer_required: bool = True) -> tuple[bool, list[str]]:
    """(ok, report lines). ``events_lines`` may be any iterable of JSON lines (a file is read as it goes)."""
    key, key_id = load_public_key(public_pem)
    report: list[str] = []
    problems: list[str] = []
    checkpoints = _read_checkpoints(checkpoint_lines, key, key_id, problems)
    walk = _Walk(checkpoints, partial)
    problem = walk.run(events_lines)
    if problem:
        problems.append(problem)
    if not problems:
        problem = walk.end_problem(trailer_required)
        if problem:
            problems.append(problem)
    if not problems:
        walk.uncovered(report, problems)
    report.insert(0, f"{walk.count} events checked (#{walk.first_seq or 0} to #{walk.last_seq or 0}), "
                     f"{len(walk.matched)} of {len(checkpoints)} valid checkpoints matched, key {key_id}")
    if problems:
        return False, report + ["FAILED: " + problems[0]] + problems[1:]
    if not walk.matched and not partial:
        return False, report + ["FAILED: no checkpoint vouches for this export"]
    return True, report + ["OK: the export matches the signed checkpoints"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Verify a custody export (JSON Lines) against signed checkpoints.")
    parser.add_argument("events", help="events.jsonl exported from the service")
    parser.add_argument("checkpoints", help="checkpoints.jsonl downloaded from the service")
    parser.add_argument("public_key", help="the checkpoints' Ed25519 public key (PEM), from your own copy")
    parser.add_argument("--partial", action="store_true", help="the export is filtered: allow gaps")
    parser.add_argument("--no-trailer", action="store_true",
                        help="the export was made before exports ended with a trailer line")
    args = parser.parse_args(argv)
    with open(args.public_key, "rb") as f:
        pem = f.read()
    with open(args.events, encoding="utf-8") as events, open(args.checkpoints, encoding="utf-8") as cps:
        ok, lines = verify(events, cps, pem, partial=args.partial, trailer_required=not args.no_trailer)
    for line in lines:
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
