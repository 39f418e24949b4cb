"""Certificates of sanitisation (PDF) per device and per batch, with the NIST SP 800-88 Appendix G fields."""
from __future__ import annotations

import base64
import hashlib
import io
import json
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from flask_babel import force_locale
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..audit import keys
from ..db import utcnow
from ..devices.models import DEVICE_TYPE_LABELS
from ..pdfpages import FONT, FONT_MONO, document_styles
from .certificate_data import DeviceEvidence

KIND_LABELS = {"hdd": "HDD", "ssd": "SSD", "nvme": "NVMe", "emmc": "eMMC", "other": "—"}
INK = "#1F2A44"
OUTCOME_COLOURS = {"sanitised": "#14532D", "no_media": "#14532D", "failed": "#B3261E", "pending": "#7A2E00",
                   "unverified": "#7A2E00"}


def _labels() -> dict:
    """Translated labels, read inside force_locale."""
    return {
        "outcome": {"sanitised": _("Sanitised"), "no_media": _("No storage media (technician's statement)"),
                    "failed": _("Failed: to be wiped again"), "pending": _("Pending: not wiped yet"),
                    "unverified": _("Overwritten, not verified")},
        "category": {"clear": _("Clear"), "purge": _("Purge"), "destroy": _("Destroy")},
        "result": {"passed": _("Passed"), "failed": _("Failed"), "aborted": _("Aborted")},
        "check": {"pending": _("picked, check pending"), "confirmed": _("confirmed by %(name)s"),
                  "failed": _("refused by %(name)s")},
        "mismatch": {"serial": _("serial number"), "size": _("size")},
        "confidentiality": {"low": _("Low"), "moderate": _("Moderate"), "high": _("High")},
        "technique": {"clear": _("Overwrite of every user-addressable sector"),
                      "purge": _("Sanitise command of the drive (block, cryptographic or secure erase)"),
                      "destroy": _("Physical destruction")},
        # nwipe's own labels, translated; the raw label follows in parentheses.
        "tool": {"Fill With Zeros": _("Fill with zeros"), "Fill With Ones": _("Fill with ones"),
                 "PRNG Stream": _("Pseudo-random stream"), "DoD Short": _("DoD short (3 passes)"),
                 "DoD 5220.22M": _("DoD 5220.22-M (7 passes)"), "Gutmann Wipe": _("Gutmann (35 passes)"),
                 "RCMP TSSIT OPS-II": _("RCMP TSSIT OPS-II (8 passes)"), "Secure Erase": _("Secure erase"),
                 "last pass: verified": _("last pass read back: verified"),
                 "all passes: verified": _("every pass read back: verified"),
                 "last pass: not verified": _("last pass: not verified"),
                 "last pass: verification failed": _("last pass read back: verification failed"),
                 "all passes: verification failed": _("every pass read back: verification failed"),
                 "last pass": _("last pass read back"), "none": _("none"),
                 "visual inspection": _("visual inspection"),
                 "shred": _("shredding"), "disintegrate": _("disintegration"), "drill": _("drilling"),
                 "crush": _("crushing"), "degauss_and_destroy": _("degaussing and destruction"),
                 "incinerate": _("incineration")},
    }


CERT_PREFIX = "reboot-tracker-certificate-v1"
KEYWORDS_PREFIX = "RT-CERT-V1 "


def printable(text) -> str:
    """What the certificate's font can show, so the printed text and the signed fields are the same characters."""
    text = " ".join(str(text if text is not None else "—").split())
    return text.encode("cp1252", "replace").decode("cp1252")


def confidentiality_of(donor_name: str, config: dict) -> str:
    """Pre-sanitisation confidentiality of a donor's data (low, moderate, high), per donor, else the default."""
    level = (config.get("WIPE_CONFIDENTIALITY_BY_DONOR") or {}).get(donor_name)
    return level or config.get("WIPE_CONFIDENTIALITY_DEFAULT", "moderate")


class Signer:
    """Collects the fields a certificate prints, and signs their digest with the audit checkpoint key."""

    def __init__(self, kind: str, private_key, issued_at: str, lang: str):
        self.kind, self.key, self.issued_at, self.lang = kind, private_key, issued_at, lang
        self.key_id = keys.key_id(private_key.public_key()) if private_key is not None else None
        self.fields: list[list[str]] = []

    def add(self, label: str, value) -> str:
        value = printable(value)
        if value not in ("", "—"):
            self.fields.append([printable(label), value])
        return value

    def payload(self) -> dict:
        return {"prefix": CERT_PREFIX, "kind": self.kind, "issued_at": self.issued_at, "lang": self.lang,
                "key_id": self.key_id, "fields": self.fields}

    def digest(self) -> str:
        return hashlib.sha256(canonical(self.payload())).hexdigest()

    def keywords(self) -> str:
        body = {"payload": self.payload(), "signature": keys.sign(self.key, canonical(self.payload()))}
        return KEYWORDS_PREFIX + base64.b64encode(json.dumps(body, ensure_ascii=False).encode("utf-8")).decode()


def canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class _Doc:
    """Styles and helpers shared by both certificates."""

    def __init__(self, lang: str, timezone: str, signer: Signer | None = None):
        self.lang = lang if lang in ("fr", "en") else "fr"
        self.zone = ZoneInfo(timezone)
        self.signer = signer
        styles = document_styles()
        self.title = styles["Title"].clone("cert-title", fontSize=17, leading=21, spaceAfter=2)
        self.h2 = styles["Heading2"].clone("cert-h2", fontSize=11.5, leading=14, spaceBefore=8, spaceAfter=4)
        self.body = styles["BodyText"].clone("cert-body", fontSize=9, leading=11.5)
        self.small = self.body.clone("cert-small", fontSize=7.5, leading=9.5)
        self.mono = self.small.clone("cert-mono", fontName=FONT_MONO, fontSize=7, leading=8.5)
        self.centre = self.small.clone("cert-centre", alignment=1, textColor="#555555")

    @staticmethod
    def e(text) -> str:
        return escape(printable(text))

    def s(self, label: str, value) -> str:
        """A field the signature covers: printed as is, and checked against the PDF's text by the verifier."""
        if self.signer is not None:
            self.signer.add(label, value)
        return self.e(value)

    def num(self, value: float, digits: int = 1) -> str:
        text = format_decimal(value, format="#,##0." + "0" * digits, locale="fr_FR" if self.lang == "fr" else "en_GB")
        return text.replace("\u202f", "\xa0")

    def size(self, n: int | None) -> str:
        """Decimal units as disks are sold: "1 000,2 Go" in French, "1,000.2 GB" in English."""
        if not n:
            return "—"
        for factor, fr, en in ((10**12, "To", "TB"), (10**9, "Go", "GB"), (10**6, "Mo", "MB")):
            if n >= factor:
                return f"{self.num(n / factor)}\xa0{fr if self.lang == 'fr' else en}"
        return f"{self.num(n, 0)}\xa0{'octets' if self.lang == 'fr' else 'bytes'}"

    def tool(self, L: dict, raw: str | None) -> str:
        """A tool's label in the reader's language with the tool's own words kept.

        E.g. "Remplissage de zéros (Fill With Zeros)".
        """
        if not raw:
            return "—"
        shown = L["tool"].get(raw)
        return raw if shown is None or shown == raw else f"{shown} ({raw})"

    def when(self, value, with_time: bool = True) -> str:
        if value is None:
            return "—"
        local = value.astimezone(self.zone)
        if self.lang == "fr":
            return local.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")
        return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")

    def p(self, text, style=None) -> object:
        return Paragraph(text, style or self.body)

    def facts(self, rows, widths=(48, 124)):
        t = Table([[self.p(f"<b>{self.e(k)}</b>", self.small), v if not isinstance(v, str) else self.p(v, self.small)]
                   for k, v in rows], colWidths=[widths[0] * mm, widths[1] * mm])
        t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.25,
                                                                     colors.HexColor("#D0D4DC")),
                               ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
        return t

    def signature(self, left: str, right: str):
        t = Table([[self.p(self.e(left), self.small), self.p(self.e(right), self.small)], ["", ""]],
                  colWidths=[86 * mm, 86 * mm], rowHeights=[None, 24 * mm])
        t.setStyle(TableStyle([("BOX", (0, 0), (0, -1), 0.6, colors.black), ("BOX", (1, 0), (1, -1), 0.6, colors.black),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return t

    def signature_block(self, story, *, verify_name: str) -> None:
        """The signed digest and how anyone checks it (the key's public half, offline)."""
        if self.signer is None or self.signer.key is None:
            return

        block = [self.p(self.e(_("Electronic seal")), self.h2), self.p(self.e(_(
            "The fields of this certificate are sealed with the programme's Ed25519 key %(key)s (the key that signs "
            "the custody chain's checkpoints). Digest of the sealed fields (SHA-256):", key=self.signer.key_id))),
            self.p(self.e(self.signer.digest()), self.mono),
            self.p(self.e(_("To check it offline with the public key alone:")), self.small),
            self.p(self.e(f"flask --app wsgi audit verify-certificate {verify_name}"), self.mono),
            self.p(self.e(f"python3 -m asset_tracker.audit.verify_certificate {verify_name} "
                          "audit_signing_key.pub.pem"), self.mono)]
        story.append(KeepTogether(block))

    def build(self, story, title: str, footer: str) -> bytes:
        def page(canvas, doc):
            canvas.saveState()
            canvas.setFont(FONT, 7)
            canvas.setFillColor("#555555")
            canvas.drawString(18 * mm, 9 * mm, footer)
            canvas.drawRightString(A4[0] - 18 * mm, 9 * mm, f"{doc.page}")
            canvas.restoreState()

        out = io.BytesIO()
        keywords = self.signer.keywords() if self.signer is not None and self.signer.key is not None else ""
        doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=15 * mm,
                                bottomMargin=16 * mm, title=title, author="Reboot Tracker",
                                subject="NIST SP 800-88 certificate of sanitisation", keywords=keywords)
        doc.build(story, onFirstPage=page, onLaterPages=page)
        return out.getvalue()


def _deciding_event(ev: DeviceEvidence):
    """The custody event the device's outcome rests on: its entry into `wiped`, else its latest wipe record."""
    if ev.wiped_event is not None:
        return ev.wiped_event
    recorded = [ev.events[r.id] for r in ev.records.values() if r.id in ev.events]
    return max(recorded, key=lambda e: e.seq) if recorded else ev.last_event


REUSE_STATES = ("refurbished", "ready", "reserved", "handed_over", "returned")


def _destination(d, outcome: str) -> str:
    if d.state.value == "recycled":
        name = d.recycler.name if d.recycler else "—"
        return _("Recycling facility: %(name)s", name=name)
    if outcome in ("sanitised", "no_media"):
        return _("External reuse: donated through a digital-inclusion programme")
    return _("Held at the workshop until sanitised")


def _short_destination(d, outcome: str) -> str:
    if d.state.value == "recycled":
        return _("Recycling: %(name)s", name=d.recycler.name if d.recycler else "—")
    return _("External reuse") if outcome in ("sanitised", "no_media") else _("Held at the workshop")


def _performer(r) -> str:
    org = r.operator_organisation.name if r.operator_organisation is not None else None
    return ", ".join(x for x in (r.operator_name, r.operator_title, org) if x)


def _verification(L: dict, doc: _Doc, r) -> tuple[str, str]:
    """(method, result) of the verification, in the reader's language."""
    method = doc.tool(L, r.verification) if r.verification else _("none")
    if r.nist_category.value == "destroy":
        return method, _("destruction observed")
    if r.result.value != "passed":
        return method, _("failed")
    if r.unverified:
        return method, _("not verified: the overwrite was not read back")
    return method, _("verified")


def _backup_statement() -> str:
    return _("No: the workshop makes and keeps no copy of the data; backing up before the donation is the "
             "donor's responsibility.")


def _heading(doc: _Doc, title: str) -> list:
    """Title and subtitle shared by both certificates."""
    return [doc.p(doc.e(title), doc.title),
            doc.p(doc.e(_("Media sanitisation record following NIST SP 800-88 Rev. 1, Appendix G")), doc.centre),
            Spacer(1, 4 * mm)]


def _closing(doc: _Doc, story: list, *, chain_line: str, verify_name: str, performer: str, validator: str) -> None:
    """The chain head line, the signature block and the hand-signature boxes shared by both certificates."""
    e = doc.e
    story.append(doc.p(e(chain_line), doc.small))
    doc.signature_block(story, verify_name=verify_name)
    story.append(Spacer(1, 6 * mm))
    story.append(KeepTogether([doc.p(e(_("Validation")), doc.h2), doc.signature(performer, validator)]))


# ---------------------------------------------------------------- device certificate


def _outcome_banner(doc: _Doc, L: dict, outcome: str):
    e, s = doc.e, doc.s
    banner = Table([[doc.p(f'<font color="#FFFFFF"><b>{e(_("Outcome"))}{e(" :" if doc.lang == "fr" else ":")} '
                           f'{s(_("Outcome"), L["outcome"][outcome])}</b></font>')]],
                   colWidths=[172 * mm])
    banner.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(OUTCOME_COLOURS[outcome])),
                                ("TOPPADDING", (0, 0), (-1, -1), 5), ("BOTTOMPADDING", (0, 0), (-1, -1), 5)]))
    return banner


def _device_facts(doc: _Doc, L: dict, ev: DeviceEvidence, outcome: str, config: dict,
                  workshop_name: str | None) -> list:
    e, s = doc.e, doc.s
    d = ev.device
    orgs = sorted({r.operator_organisation.name for r in ev.records.values() if r.operator_organisation})
    # Without records (a "no storage media" statement), the organisation that moved the device to `wiped`.
    sanitiser = ", ".join(orgs) or (ev.wiped_event.actor_organisation_name if ev.wiped_event else None) \
        or workshop_name or "—"
    level = confidentiality_of(d.donor.name, config)
    return [doc.p(e(_("Device")), doc.h2), doc.facts([
        (_("Asset tag"), f"<b>{s(_('Asset tag'), d.tag)}</b>"),
        (_("Type, make and model"), s(_("Type, make and model"),
                                      f"{DEVICE_TYPE_LABELS[d.type][doc.lang]} {d.brand or ''} {d.model or ''}")),
        (_("Manufacturer serial number"), s(_("Manufacturer serial number"), d.serial or d.imei or "—")),
        (_("Source: data owner (donor)"), s(_("Source: data owner (donor)"), d.donor.name)),
        (_("Sanitised by (organisation)"), s(_("Sanitised by (organisation)"), sanitiser)),
        (_("Pre-sanitisation confidentiality"), s(_("Pre-sanitisation confidentiality"),
                                                  L["confidentiality"].get(level, level))),
        (_("Post-sanitisation confidentiality"), s(_("Post-sanitisation confidentiality"), _(
            "Low: no data recoverable with the method used") if outcome in ("sanitised", "no_media")
            else _("Unchanged: not sanitised yet"))),
        (_("Post-sanitisation destination"), s(_("Post-sanitisation destination"), _destination(d, outcome))),
        (_("Data backup"), s(_("Data backup"), _backup_statement())),
    ])]


def _record_rows(doc: _Doc, L: dict, ev: DeviceEvidence, r) -> list:
    """Every Appendix G field of one wipe or destruction record."""
    e, s = doc.e, doc.s
    event = ev.events.get(r.id)
    vmethod, vresult = _verification(L, doc, r)
    result_colour = OUTCOME_COLOURS["sanitised" if r.result.value == "passed" else "failed"]
    rows = [
        (_("Sanitisation type (NIST SP 800-88)"),
         f"<b>{s(_('Sanitisation type (NIST SP 800-88)'), L['category'][r.nist_category.value])}</b>"),
        (_("Method and technique"), s(_("Method and technique"), doc.tool(L, r.method) + " — "
                                      + L["technique"][r.nist_category.value])),
        (_("Tool and version"), s(_("Tool and version"),
                                  " ".join(x for x in (r.tool, r.tool_version) if x) or "—")),
        (_("Passes / pattern"), e(" / ".join(str(x) for x in (r.passes, r.pattern) if x) or "—")),
        (_("Verification method"), s(_("Verification method"), vmethod)),
        (_("Verification result"), f"<b>{s(_('Verification result'), vresult)}</b>"),
        (_("Result"), f'<b><font color="{result_colour}">'
                      f'{s(_("Result"), L["result"][r.result.value])}</font></b>'),
        (_("Started / ended"), s(_("Started / ended"), f"{doc.when(r.started_at)} — {doc.when(r.ended_at)}")),
        (_("Performed by (name, title, organisation)"),
         s(_("Performed by (name, title, organisation)"), _performer(r))),
    ]
    if r.override_reason:
        what = ", ".join(L["mismatch"].get(x, x) for x in r.details.get("mismatches") or [])
        text = _("The log did not match the medium (%(what)s); recorded on the technician's written "
                 "reason: %(reason)s", what=what, reason=r.override_reason)
        rows.append((_("Override of a mismatch"),
                     f'<font color="#7A2E00"><b>{s(_("Override of a mismatch"), text)}</b></font>'))
    rows += [
        (_("Evidence file (SHA-256)"), doc.p(s(_("Evidence file (SHA-256)"),
                                               f"{r.evidence.filename}: {r.evidence.sha256}")
                                             if r.evidence else e("—"), doc.mono)),
        (_("Custody event"), doc.p(s(_("Custody event"), f"#{event.seq} {event.hash}") if event
                                   else "—", doc.mono)),
    ]
    return rows


def _medium_block(doc: _Doc, L: dict, ev: DeviceEvidence, n: int, m):
    e, s = doc.e, doc.s
    r = ev.records.get(m.id)
    block = [doc.p(e(_("Storage medium %(n)s of %(total)s", n=n, total=len(ev.media))), doc.h2)]
    disk_model = m.model or (r.details.get("disk_model") if r else None)
    rows = [
        (_("Media type"), s(_("Media type"), KIND_LABELS.get(m.kind.value, m.kind.value))),
        (_("Manufacturer"), s(_("Manufacturer"), (disk_model or "—").split(" ")[0])),
        (_("Model"), s(_("Model"), disk_model or "—")),
        (_("Serial number"), f"<b>{s(_('Serial number'), m.serial or '—')}</b>"),
        (_("Capacity"), s(_("Capacity"), doc.size(m.capacity_bytes))),
    ]
    if r is None:
        rows.append((_("Sanitisation"), f'<font color="#B3261E"><b>{e(_("not recorded yet"))}</b></font>'))
    else:
        rows += _record_rows(doc, L, ev, r)
    block.append(doc.facts(rows))
    return KeepTogether(block)


def _media_section(doc: _Doc, L: dict, ev: DeviceEvidence) -> list:
    e = doc.e
    if not ev.media:
        return [doc.p(e(_("Storage media")), doc.h2),
                doc.p(e(_("A technician stated on %(date)s that this device holds no storage medium.",
                          date=doc.when(ev.device.no_media_statement_at)) if ev.no_media
                        else _("No storage medium is recorded for this device yet.")))]
    return [_medium_block(doc, L, ev, n, m) for n, m in enumerate(ev.media, 1)]


def _second_person_section(doc: _Doc, L: dict, ev: DeviceEvidence) -> list:
    s = doc.s
    story = [doc.p(doc.e(_("Validation by a second person")), doc.h2)]
    if ev.check is not None:
        c = ev.check
        text = L["check"][c.status.value] % {"name": c.verified_by_name or "—"}
        story.append(doc.p(s(_("Validation by a second person"),
                             _("Drawn for a check by another technician on %(date)s: %(status)s, %(when)s.",
                               date=doc.when(c.selected_at), status=text,
                               when=doc.when(c.verified_at) if c.verified_at else "—"))))
    else:
        story.append(doc.p(s(_("Validation by a second person"),
                             _("Not drawn: checks are made on a random share of the devices."))))
    return story


def device_certificate_pdf(ev: DeviceEvidence, *, chain_head: tuple[int, str], lang: str = "fr",
                           timezone: str = "Europe/Paris", config: dict | None = None, signing_key=None,
                           workshop_name: str | None = None) -> bytes:
    """The device's certificate with every NIST SP 800-88 Rev. 1 Appendix G field, sealed when a key is given.

    Who sanitised is read from the wipe records (the organisation of the person who recorded them), never
    from the device's current custodian; ``workshop_name`` only names the workshop when no record does.
    """
    config = config or {}
    issued = utcnow()
    d = ev.device
    signer = Signer("device", signing_key, issued.isoformat(), lang)
    doc = _Doc(lang, timezone, signer)
    e, s = doc.e, doc.s
    with force_locale(doc.lang):
        L = _labels()
        title = _("Certificate of sanitisation")
        story = _heading(doc, title)
        outcome = ev.outcome
        story += [_outcome_banner(doc, L, outcome), Spacer(1, 3 * mm)]
        story += _device_facts(doc, L, ev, outcome, config, workshop_name)
        story += _media_section(doc, L, ev)
        story += _second_person_section(doc, L, ev)
        story.append(doc.p(e(_("Custody chain reference")), doc.h2))
        basis = _deciding_event(ev)
        story.append(doc.p(e(_("This certificate is based on custody event #%(seq)s of %(date)s, hash:",
                               seq=basis.seq if basis else "—", date=doc.when(basis.server_time) if basis else "—"))))
        story.append(doc.p(s(_("Custody event hash"), basis.hash if basis else "—"), doc.mono))
        _closing(doc, story, verify_name=f"certificat-effacement-{d.tag}.pdf",
                 chain_line=_("Chain head when issued: event #%(seq)s, hash %(hash)s. An auditor can check both "
                              "against the custody chain (flask audit verify).", seq=chain_head[0],
                              hash=chain_head[1]),
                 performer=_("Person performing the sanitisation — name, title, place, date and signature"),
                 validator=_("Person validating (data-protection officer or witness) — name, title, date and "
                             "signature"))
        footer = _("Issued %(date)s by Reboot Tracker · %(tag)s", date=doc.when(issued), tag=d.tag)
        return doc.build(story, title=f"{title} {d.tag}", footer=footer)


# ---------------------------------------------------------------- batch certificate


def _batch_counts(evidence: list[DeviceEvidence]) -> dict[str, int]:
    counts = {k: sum(1 for ev in evidence if ev.outcome == k)
              for k in ("sanitised", "no_media", "failed", "pending", "unverified")}
    counts["pending"] += counts.pop("unverified")  # not certified as sanitised: to be wiped again with verification
    return counts


def _batch_facts(doc: _Doc, L: dict, batch, evidence: list[DeviceEvidence], counts: dict[str, int],
                 config: dict):
    e, s = doc.e, doc.s
    done = counts["sanitised"] + counts["no_media"]
    records = [r for ev in evidence for r in ev.records.values()]
    orgs = sorted({r.operator_organisation.name for r in records if r.operator_organisation})
    people = sorted({", ".join(x for x in (r.operator_name, r.operator_title) if x) for r in records})
    level = confidentiality_of(batch.donor.name, config)
    return doc.facts([
        (_("Batch"), f"<b>{s(_('Batch'), batch.name)}</b> (n° {s(_('Batch number'), batch.id)})"),
        (_("Source: data owner (donor)"), s(_("Source: data owner (donor)"), batch.donor.name)),
        (_("Sanitised by (organisation)"), s(_("Sanitised by (organisation)"), ", ".join(orgs) or (
            batch.workshop.name if batch.workshop else "—"))),
        (_("Performed by (name, title)"), s(_("Performed by (name, title)"), "; ".join(people) or "—")),
        (_("Pickup date"), e(doc.when(batch.collected_at, False) if batch.collected_at
                             else (batch.pickup_date.strftime("%d/%m/%Y") if batch.pickup_date else "—"))),
        (_("Devices"), s(_("Devices"), _("%(total)s devices: %(done)s sanitised or without media, %(failed)s failed, "
                                         "%(pending)s pending.", total=len(evidence), done=done,
                                         failed=counts["failed"], pending=counts["pending"]))),
        (_("Pre-sanitisation confidentiality"), s(_("Pre-sanitisation confidentiality"),
                                                  L["confidentiality"].get(level, level))),
        (_("Post-sanitisation confidentiality"), s(_("Post-sanitisation confidentiality"), _(
            "Low: no data recoverable with the method used (sanitised devices)"))),
        (_("Post-sanitisation destination"), s(_("Post-sanitisation destination"), _(
            "External reuse through a digital-inclusion programme; recycling facility for devices beyond repair "
            "(per device below)"))),
        (_("Data backup"), s(_("Data backup"), _backup_statement())),
    ])


class _BatchRows:
    """The batch table's rows, with the evidence files and overrides its devices add on the way."""

    def __init__(self, doc: _Doc, L: dict):
        self.doc, self.L = doc, L
        head = [_("Tag"), _("Device"), _("Storage media (type, make, model, serial)"),
                _("Sanitisation type, method and technique, tool"), _("Verification method and result"),
                _("Date"), _("Outcome and destination"), _("Second person")]
        self.rows = [[doc.p(f"<b>{doc.e(h)}</b>", doc.small) for h in head]]
        self.styles: list = []
        self.evidence_rows: list[list[str]] = []
        self.overrides: list[str] = []

    def add(self, i: int, ev: DeviceEvidence) -> None:
        doc, L = self.doc, self.L
        e, s = doc.e, doc.s
        d = ev.device
        media, methods, checks, dates = self.media_cells(ev)
        outcome = ev.outcome
        check = "—"
        if ev.check is not None:
            check = (L["check"][ev.check.status.value] % {"name": ev.check.verified_by_name or "—"}
                     + (f", {doc.when(ev.check.verified_at, False)}" if ev.check.verified_at else ""))
        self.rows.append([
            doc.p(f"<b>{s(_('Asset tag'), d.tag)}</b>", doc.small),
            doc.p(e(f"{DEVICE_TYPE_LABELS[d.type][doc.lang]} {d.brand or ''} {d.model or ''}".strip())
                  + (f"<br/>{e(d.serial)}" if d.serial else ""), doc.small),
            doc.p("<br/>".join(media), doc.small),
            doc.p("<br/>".join(methods) or "—", doc.small),
            doc.p("<br/>".join(checks) or "—", doc.small),
            doc.p("<br/>".join(dates) or "—", doc.small),
            doc.p(f'<font color="{OUTCOME_COLOURS[outcome]}"><b>{e(L["outcome"][outcome])}</b></font><br/>'
                  + e(_short_destination(d, outcome)), doc.small),
            doc.p(s(_("Validation by a second person"), check) if ev.check else "—", doc.small),
        ])
        if outcome in ("failed", "pending", "unverified"):
            self.styles.append(("BACKGROUND", (0, i), (-1, i), colors.HexColor("#FFF4EC")))

    def media_cells(self, ev: DeviceEvidence) -> tuple[list, list, list, list]:
        doc, L = self.doc, self.L
        e, s = doc.e, doc.s
        d = ev.device
        media, methods, checks, dates = [], [], [], []
        for m in ev.media:
            r = ev.records.get(m.id)
            model = m.model or (r.details.get("disk_model") if r else None) or ""
            media.append(s(_("Serial number"),
                           f"{KIND_LABELS.get(m.kind.value)} {model} {m.serial or '—'}".replace("  ", " ")))
            if r is None:
                methods.append(e(_("not recorded")))
                continue
            methods.append(s(_("Method and technique"),
                             f"{L['category'][r.nist_category.value]}: {doc.tool(L, r.method)}"
                             + (f" ({' '.join(x for x in (r.tool, r.tool_version) if x)})" if r.tool else "")
                             + ("" if r.result.value == "passed" else f" — {L['result'][r.result.value]}")))
            vmethod, vresult = _verification(L, doc, r)
            checks.append(s(_("Verification result"), f"{vmethod}: {vresult}"))
            dates.append(e(doc.when(r.ended_at or r.recorded_at, False)))
            event = ev.events.get(r.id)
            self.evidence_rows.append([d.tag, m.serial or "—", r.evidence.sha256 if r.evidence else "—",
                                       f"#{event.seq} {event.hash}" if event else "—"])
            if r.override_reason:
                self.overrides.append(f"{d.tag} / {m.serial or '—'}: {r.override_reason}")
        if not ev.media:
            media.append(e(_("none (statement)") if ev.no_media else _("none recorded")))
        return media, methods, checks, dates

    def table(self):
        table = Table(self.rows, repeatRows=1, colWidths=[19 * mm, 21 * mm, 26 * mm, 32 * mm, 24 * mm, 17 * mm,
                                                          18 * mm, 15 * mm])
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#9AA3B5")),
                                   ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EAF0")),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
                                   ("RIGHTPADDING", (0, 0), (-1, -1), 2.5)] + self.styles))
        return table


def _evidence_table(doc: _Doc, evidence_rows: list[list[str]]):
    e, s = doc.e, doc.s
    head = (_("Tag"), _("Serial number"), _("Evidence file (SHA-256)"), _("Custody event hash"))
    ev_table = Table([[doc.p(f"<b>{e(h)}</b>", doc.small) for h in head]]
                     + [[doc.p(e(a), doc.small), doc.p(e(b), doc.small),
                         doc.p(s(_("Evidence file (SHA-256)"), c), doc.mono),
                         doc.p(s(_("Custody event hash"), h), doc.mono)] for a, b, c, h in evidence_rows],
                     repeatRows=1, colWidths=[22 * mm, 28 * mm, 61 * mm, 61 * mm])
    ev_table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#9AA3B5")),
                                  ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return ev_table


def batch_certificate_pdf(batch, evidence: list[DeviceEvidence], *, chain_head: tuple[int, str], lang: str = "fr",
                          timezone: str = "Europe/Paris", config: dict | None = None, signing_key=None) -> bytes:
    config = config or {}
    issued = utcnow()
    signer = Signer("batch", signing_key, issued.isoformat(), lang)
    doc = _Doc(lang, timezone, signer)
    e, s = doc.e, doc.s
    with force_locale(doc.lang):
        L = _labels()
        title = _("Certificate of sanitisation — collection batch")
        story = _heading(doc, title)
        counts = _batch_counts(evidence)
        story.append(_batch_facts(doc, L, batch, evidence, counts, config))
        if counts["failed"] or counts["pending"]:
            story.append(Spacer(1, 2 * mm))
            partial = _("This certificate is partial: the devices marked failed or pending are not sanitised yet. "
                        "A new certificate will list them once they are.")
            story.append(doc.p(f'<font color="#B3261E"><b>{e(partial)}</b></font>'))
        story.append(doc.p(e(_("Devices and storage media")), doc.h2))
        table = _BatchRows(doc, L)
        for i, ev in enumerate(evidence, 1):
            table.add(i, ev)
        story.append(table.table())
        story.append(Spacer(1, 3 * mm))
        story.append(doc.p(e(_(
            "Method types follow NIST SP 800-88 Rev. 1: Clear overwrites user-addressable storage; Purge uses the "
            "drive's own sanitise or secure-erase commands; Destroy renders the medium unusable (shredding, "
            "drilling). Each storage medium's raw evidence file is kept with its SHA-256; the device certificate "
            "gives every field of each record.")), doc.small))
        if table.overrides:
            story.append(doc.p(e(_("Overrides of a mismatch")), doc.h2))
            for line in table.overrides:
                story.append(doc.p(s(_("Override of a mismatch"), line), doc.small))
        if table.evidence_rows:
            story.append(doc.p(e(_("Evidence files and custody events")), doc.h2))
            story.append(_evidence_table(doc, table.evidence_rows))
        story.append(doc.p(e(_("Custody chain reference")), doc.h2))
        based = [b for b in (_deciding_event(ev) for ev in evidence) if b is not None]
        latest = max(based, key=lambda b: b.seq) if based else None
        story.append(doc.p(e(_("This certificate is based on the custody events listed per device; the latest is "
                               "#%(seq)s, hash:", seq=latest.seq if latest else "—"))))
        story.append(doc.p(s(_("Custody event hash"), latest.hash if latest else "—"), doc.mono))
        _closing(doc, story, verify_name=f"certificat-effacement-lot-{batch.id}.pdf",
                 chain_line=_("Chain head when issued: event #%(seq)s, hash %(hash)s. An auditor can check these "
                              "hashes against the custody chain (flask audit verify).", seq=chain_head[0],
                              hash=chain_head[1]),
                 performer=_("For the workshop — name, title, place, date and signature"),
                 validator=_("For the donor (data-protection officer) — name, title, date and signature"))
        footer = _("Issued %(date)s by Reboot Tracker · batch %(id)s", date=doc.when(issued), id=batch.id)
        return doc.build(story, title=f"{title} {batch.name}", footer=footer)
