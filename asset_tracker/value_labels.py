"""Words for stored values shown on pages: detail and specification keys, wipe results, methods and tools.

Pure data (English msgids, translated where shown). A tool's own label (an nwipe method, a verification
mode) keeps its raw form in parentheses after the translation, so it can be matched with the tool's report.
"""
from __future__ import annotations

from .lifecycle import N_

# Keys of event details and of device specifications.
KEYS = {
    "batch_id": N_("Batch"), "expected": N_("Expected in the batch"), "verdict": N_("Verdict"), "grade": N_("Grade"),
    "result": N_("Result"), "method": N_("Method"), "nist_category": N_("Method type (NIST SP 800-88)"),
    "verification": N_("Verification"), "tool": N_("Tool"), "tool_version": N_("Tool version"),
    "passes": N_("Passes"), "pattern": N_("Pattern"), "medium_id": N_("Storage medium"),
    "medium_serial": N_("Serial number of the medium"), "medium_kind": N_("Kind of medium"),
    "evidence_sha256": N_("Evidence file (SHA-256)"), "evidence_filename": N_("Evidence file"),
    "wipe_record_id": N_("Wipe record"), "wipe_check": N_("Wipe check"), "wipe_check_score": N_("Wipe check score"),
    "preprinted_tag": N_("Pre-printed label"), "reason": N_("Reason"), "disposal_reference": N_("Disposal reference"),
    "expected_return_on": N_("Expected return date"), "beneficiary_category": N_("Beneficiary category"),
    "programme_id": N_("Programme"), "partner_organisation_id": N_("Partner"),
    "recycler_organisation_id": N_("Recycler"), "custodian_organisation_id": N_("Workshop"),
    "beneficiary_ref_hmac": N_("Beneficiary reference (keyed hash)"), "beneficiary_ref": N_("Beneficiary reference"),
    "handover_id": N_("Hand-over"), "loan": N_("Loan"), "kit": N_("Kit"), "scan_id": N_("Scan"),
    "station": N_("Station"), "action": N_("Action"), "type": N_("Type"), "brand": N_("Brand"),
    "model": N_("Model"), "serial": N_("Serial number"), "imei": N_("IMEI"), "name": N_("Name"), "kind": N_("Kind"),
    "organisation_id": N_("Organisation"), "target_count": N_("Target"), "bytes_erased": N_("Bytes erased"),
    "started_at": N_("Started"), "ended_at": N_("Ended"), "source": N_("Source"), "changes": N_("Changes"),
    "fields": N_("Fields"), "role": N_("Role"), "email": N_("E-mail"), "undone_scan": N_("Scan undone"),
    # Device specifications.
    "ram_gb": N_("Memory (GB)"), "year": N_("Year of manufacture"), "cpu": N_("Processor"),
    "storage_gb": N_("Storage (GB)"), "screen": N_("Screen"), "screen_in": N_("Screen (inches)"),
    "os": N_("Operating system"),
}

# Values, by the key they are stored under (None: any key).
VALUES = {
    "result": {"passed": N_("passed"), "failed": N_("failed"), "aborted": N_("aborted")},
    "nist_category": {"clear": N_("Clear: overwrite"), "purge": N_("Purge: secure erase or sanitize"),
                      "destroy": N_("Destroy: physical destruction")},
    "verdict": {"refurbish": N_("Refurbish"), "parts": N_("Keep for parts"), "recycle": N_("Recycle")},
    "type": {"laptop": N_("Laptop"), "desktop": N_("Desktop"), "tablet": N_("Tablet"), "phone": N_("Phone"),
             "other": N_("Other")},
    "source": {"manual": N_("typed in"), "nwipe": N_("nwipe report"), "csv": N_("CSV import"),
               "destruction": N_("destruction")},
    "mail_status": {"sending": N_("being sent"), "sent": N_("sent"), "failed": N_("failed")},
    None: {True: N_("yes"), False: N_("no")},
}

# Labels a wiping tool prints (nwipe methods and verification modes): translated, raw form kept after it.
TOOL_VALUES = {
    "Fill With Zeros": N_("Overwrite with zeros"), "Zero Fill": N_("Overwrite with zeros"),
    "Fill With Ones": N_("Overwrite with ones"), "PRNG Stream": N_("Overwrite with random data"),
    "DoD Short": N_("Three-pass overwrite"), "DoD 5220.22-M": N_("Seven-pass overwrite"),
    "Gutmann Wipe": N_("35-pass overwrite"), "RCMP TSSIT OPS-II": N_("Eight-pass overwrite"),
    "HMG IS5 Enhanced": N_("Three-pass overwrite with verification"), "Verify Zeros": N_("Verification of zeros only"),
    "Verify Ones": N_("Verification of ones only"), "Secure Erase": N_("Drive secure erase"),
    "ATA Secure Erase": N_("Drive secure erase"), "Sanitize": N_("Drive sanitize"),
    "last pass": N_("last pass verified"), "all passes": N_("every pass verified"), "last": N_("last pass verified"),
    "all": N_("every pass verified"), "none": N_("not verified"), "off": N_("not verified"),
}


def key_msgid(key: str) -> str:
    """The msgid naming a detail or specification key ("ram_gb" -> "Memory (GB)"); unknown keys humanised."""
    return KEYS.get(key) or key.replace("_", " ").capitalize()


def value_msgid(value, key: str | None = None) -> tuple[str | None, str]:
    """(msgid or None, raw text) for a stored value; a tool value gives its msgid and keeps its raw form."""
    raw = getattr(value, "value", value)
    for table in (VALUES.get(key, {}), VALUES[None]):
        if isinstance(raw, (str, bool)) and raw in table:
            return table[raw], ""
    if isinstance(raw, str) and raw in TOOL_VALUES:
        return TOOL_VALUES[raw], raw
    return None, "—" if raw is None else str(raw)
