"""Certificates of sanitisation (PDF) per device and per batch, with the NIST SP 800-88 Appendix G fields."""
from __future__ import annotations

import io
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from flask_babel import force_locale, gettext as _

from ..db import utcnow
from ..devices.models import DEVICE_TYPE_LABELS
from .services import DeviceEvidence

KIND_LABELS = {"hdd": "HDD", "ssd": "SSD", "nvme": "NVMe", "emmc": "eMMC", "other": "—"}
INK = "#1F2A44"
OUTCOME_COLOURS = {"sanitised": "#14532D", "no_media": "#14532D", "failed": "#B3261E", "pending": "#7A2E00"}


def _labels() -> dict:
    """Translated labels, read inside force_locale."""
    return {
        "outcome": {"sanitised": _("Sanitised"), "no_media": _("No storage media (technician's statement)"),
                    "failed": _("Failed: to be wiped again"), "pending": _("Pending: not wiped yet")},
        "category": {"clear": _("Clear"), "purge": _("Purge"), "destroy": _("Destroy")},
        "result": {"passed": _("Passed"), "failed": _("Failed"), "aborted": _("Aborted")},
        "check": {"pending": _("picked, check pending"), "confirmed": _("confirmed by %(name)s"),
                  "failed": _("refused by %(name)s")},
    }


class _Doc:
    """Styles and helpers shared by both certificates."""

    def __init__(self, lang: str, timezone: str):
        from reportlab.lib.styles import getSampleStyleSheet

        self.lang = lang if lang in ("fr", "en") else "fr"
        self.zone = ZoneInfo(timezone)
        styles = getSampleStyleSheet()
        self.title = styles["Title"].clone("cert-title", fontSize=17, leading=21, spaceAfter=2)
        self.h2 = styles["Heading2"].clone("cert-h2", fontSize=11.5, leading=14, spaceBefore=8, spaceAfter=4)
        self.body = styles["BodyText"].clone("cert-body", fontSize=9, leading=11.5)
        self.small = self.body.clone("cert-small", fontSize=7.5, leading=9.5)
        self.mono = self.small.clone("cert-mono", fontName="Courier", fontSize=7, leading=8.5)
        self.centre = self.small.clone("cert-centre", alignment=1, textColor="#555555")

    @staticmethod
    def e(text) -> str:
        return escape(str(text if text is not None else "—"))

    def when(self, value, with_time: bool = True) -> str:
        if value is None:
            return "—"
        local = value.astimezone(self.zone)
        if self.lang == "fr":
            return local.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")
        return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")

    def p(self, text, style=None) -> object:
        from reportlab.platypus import Paragraph

        return Paragraph(text, style or self.body)

    def facts(self, rows, widths=(48, 124)):
        from reportlab.lib import colors
        from reportlab.lib.units import mm
        from reportlab.platypus import Table, TableStyle

        t = Table([[self.p(f"<b>{self.e(k)}</b>", self.small), v if not isinstance(v, str) else self.p(v, self.small)]
                   for k, v in rows], colWidths=[widths[0] * mm, widths[1] * mm])
        t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.25,
                                                                     colors.HexColor("#D0D4DC")),
                               ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
        return t

    def signature(self, left: str, right: str):
        from reportlab.lib import colors
        from reportlab.lib.units import mm
        from reportlab.platypus import Table, TableStyle

        t = Table([[self.p(self.e(left), self.small), self.p(self.e(right), self.small)], ["", ""]],
                  colWidths=[86 * mm, 86 * mm], rowHeights=[None, 24 * mm])
        t.setStyle(TableStyle([("BOX", (0, 0), (0, -1), 0.6, colors.black), ("BOX", (1, 0), (1, -1), 0.6, colors.black),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return t

    def build(self, story, title: str, footer: str) -> bytes:
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.units import mm
        from reportlab.platypus import SimpleDocTemplate

        def page(canvas, doc):
            canvas.saveState()
            canvas.setFont("Helvetica", 7)
            canvas.setFillColor("#555555")
            canvas.drawString(18 * mm, 9 * mm, footer)
            canvas.drawRightString(A4[0] - 18 * mm, 9 * mm, f"{doc.page}")
            canvas.restoreState()

        out = io.BytesIO()
        doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=15 * mm,
                                bottomMargin=16 * mm, title=title, author="Reboot Tracker",
                                subject="NIST SP 800-88 certificate of sanitisation")
        doc.build(story, onFirstPage=page, onLaterPages=page)
        return out.getvalue()


def _deciding_event(ev: DeviceEvidence):
    """The custody event the device's outcome rests on: its entry into `wiped`, else its latest wipe record."""
    if ev.wiped_event is not None:
        return ev.wiped_event
    recorded = [ev.events[r.id] for r in ev.records.values() if r.id in ev.events]
    return max(recorded, key=lambda e: e.seq) if recorded else ev.last_event


def device_certificate_pdf(ev: DeviceEvidence, *, workshop_name: str | None, chain_head: tuple[int, str],
                           lang: str = "fr", timezone: str = "Europe/Paris") -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Spacer, Table, TableStyle

    doc = _Doc(lang, timezone)
    e = doc.e
    d = ev.device
    with force_locale(doc.lang):
        L = _labels()
        title = _("Certificate of sanitisation")
        story = [doc.p(e(title), doc.title),
                 doc.p(e(_("Media sanitisation record following NIST SP 800-88 Rev. 1, Appendix G")), doc.centre),
                 Spacer(1, 4 * mm)]
        outcome = ev.outcome
        banner = Table([[doc.p(f'<font color="#FFFFFF"><b>{e(_("Outcome"))}: {e(L["outcome"][outcome])}</b></font>')]],
                       colWidths=[172 * mm])
        banner.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, -1), colors.HexColor(OUTCOME_COLOURS[outcome])),
                                    ("TOPPADDING", (0, 0), (-1, -1), 5), ("BOTTOMPADDING", (0, 0), (-1, -1), 5)]))
        story += [banner, Spacer(1, 3 * mm)]
        story.append(doc.p(e(_("Device")), doc.h2))
        story.append(doc.facts([
            (_("Asset tag"), f"<b>{e(d.tag)}</b>"),
            (_("Type, make and model"), e(f"{DEVICE_TYPE_LABELS[d.type][doc.lang]} {d.brand or ''} {d.model or ''}")),
            (_("Manufacturer serial number"), e(d.serial or d.imei or "—")),
            (_("Data owner (donor)"), e(d.donor.name)),
            (_("Sanitised by (organisation)"), e(workshop_name or "—")),
            (_("Post-sanitisation destination"), e(_("Reuse through a digital-inclusion programme")
                                                  if outcome in ("sanitised", "no_media") else _("Held at the workshop"))),
        ]))
        if not ev.media:
            story.append(doc.p(e(_("Storage media")), doc.h2))
            story.append(doc.p(e(_("A technician stated on %(date)s that this device holds no storage medium.",
                                   date=doc.when(d.no_media_statement_at)) if ev.no_media
                                 else _("No storage medium is recorded for this device yet."))))
        for n, m in enumerate(ev.media, 1):
            r = ev.records.get(m.id)
            block = [doc.p(e(_("Storage medium %(n)s of %(total)s", n=n, total=len(ev.media))), doc.h2)]
            rows = [
                (_("Media type"), e(KIND_LABELS.get(m.kind.value, m.kind.value))),
                (_("Make / model"), e(m.model or (r.details.get("disk_model") if r else None) or "—")),
                (_("Serial number"), e(m.serial or "—")),
                (_("Capacity"), e(f"{m.capacity_bytes / 1e9:.1f} GB" if m.capacity_bytes else "—")),
            ]
            if r is None:
                rows.append((_("Sanitisation"), f'<font color="#B3261E"><b>{e(_("not recorded yet"))}</b></font>'))
            else:
                event = ev.events.get(r.id)
                rows += [
                    (_("Method type (NIST SP 800-88)"), f"<b>{e(L['category'][r.nist_category.value])}</b>"),
                    (_("Method used"), e(r.method)),
                    (_("Tool and version"), e(" ".join(x for x in (r.tool, r.tool_version) if x) or "—")),
                    (_("Passes / pattern"), e(" / ".join(str(x) for x in (r.passes, r.pattern) if x) or "—")),
                    (_("Verification"), e(r.verification or "—")),
                    (_("Result"), f'<b><font color="{OUTCOME_COLOURS["sanitised" if r.result.value == "passed" else "failed"]}">'
                                  f'{e(L["result"][r.result.value])}</font></b>'),
                    (_("Started / ended"), e(f"{doc.when(r.started_at)} — {doc.when(r.ended_at)}")),
                    (_("Performed by"), e(r.operator_name)),
                    (_("Evidence file (SHA-256)"), doc.p(e(f"{r.evidence.filename}: {r.evidence.sha256}")
                                                         if r.evidence else e("—"), doc.mono)),
                    (_("Custody event"), doc.p(e(f"#{event.seq} {event.hash}") if event else "—", doc.mono)),
                ]
            block.append(doc.facts(rows))
            story.append(KeepTogether(block))
        if ev.check is not None:
            c = ev.check
            text = L["check"][c.status.value] % {"name": c.verified_by_name or "—"}
            story.append(doc.p(e(_("Second-person check")), doc.h2))
            story.append(doc.p(e(_("Picked for verification by another technician on %(date)s: %(status)s.",
                                   date=doc.when(c.selected_at), status=text))))
        story.append(doc.p(e(_("Custody chain reference")), doc.h2))
        basis = _deciding_event(ev)
        story.append(doc.p(e(_("This certificate is based on custody event #%(seq)s of %(date)s, hash:",
                               seq=basis.seq if basis else "—", date=doc.when(basis.server_time) if basis else "—"))))
        story.append(doc.p(e(basis.hash if basis else "—"), doc.mono))
        story.append(doc.p(e(_("Chain head when issued: event #%(seq)s, hash %(hash)s. An auditor can check both "
                               "against the custody chain (flask audit verify).", seq=chain_head[0],
                               hash=chain_head[1])), doc.small))
        story.append(Spacer(1, 6 * mm))
        story.append(KeepTogether([doc.p(e(_("Validation")), doc.h2), doc.signature(
            _("Person performing the sanitisation — name, title, place, date and signature"),
            _("Person validating (data-protection officer or witness) — name, title, date and signature"))]))
        footer = _("Issued %(date)s by Reboot Tracker · %(tag)s", date=doc.when(utcnow()), tag=d.tag)
        return doc.build(story, title=f"{title} {d.tag}", footer=footer)


def batch_certificate_pdf(batch, evidence: list[DeviceEvidence], *, chain_head: tuple[int, str], lang: str = "fr",
                          timezone: str = "Europe/Paris") -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Spacer, Table, TableStyle

    doc = _Doc(lang, timezone)
    e = doc.e
    with force_locale(doc.lang):
        L = _labels()
        title = _("Certificate of sanitisation — collection batch")
        story = [doc.p(e(title), doc.title),
                 doc.p(e(_("Media sanitisation record following NIST SP 800-88 Rev. 1, Appendix G")), doc.centre),
                 Spacer(1, 4 * mm)]
        counts = {k: sum(1 for ev in evidence if ev.outcome == k) for k in ("sanitised", "no_media", "failed", "pending")}
        done = counts["sanitised"] + counts["no_media"]
        story.append(doc.facts([
            (_("Batch"), f"<b>{e(batch.name)}</b> (n° {batch.id})"),
            (_("Data owner (donor)"), e(batch.donor.name)),
            (_("Sanitised by (organisation)"), e(batch.workshop.name if batch.workshop else "—")),
            (_("Pickup date"), e(doc.when(batch.collected_at, False) if batch.collected_at
                                 else (batch.pickup_date.strftime("%d/%m/%Y") if batch.pickup_date else "—"))),
            (_("Devices"), e(_("%(total)s devices: %(done)s sanitised or without media, %(failed)s failed, "
                               "%(pending)s pending.", total=len(evidence), done=done, failed=counts["failed"],
                               pending=counts["pending"]))),
        ]))
        if counts["failed"] or counts["pending"]:
            story.append(Spacer(1, 2 * mm))
            story.append(doc.p(f'<font color="#B3261E"><b>{e(_("This certificate is partial: the devices marked failed or pending are not sanitised yet. A new certificate will list them once they are."))}</b></font>'))
        story.append(doc.p(e(_("Devices and storage media")), doc.h2))
        head = [_("Tag"), _("Device"), _("Storage media (type, serial)"), _("Method type and method, tool"),
                _("Verification"), _("Date"), _("Outcome"), _("Custody event")]
        rows = [[doc.p(f"<b>{e(h)}</b>", doc.small) for h in head]]
        styles = []
        for i, ev in enumerate(evidence, 1):
            d = ev.device
            media, methods, checks, dates = [], [], [], []
            for m in ev.media:
                r = ev.records.get(m.id)
                media.append(f"{KIND_LABELS.get(m.kind.value)} {m.serial or '—'}")
                if r is None:
                    methods.append(_("not recorded"))
                    continue
                methods.append(f"{L['category'][r.nist_category.value]}: {r.method}"
                               + (f" ({' '.join(x for x in (r.tool, r.tool_version) if x)})" if r.tool else "")
                               + ("" if r.result.value == "passed" else f" — {L['result'][r.result.value]}"))
                checks.append(r.verification or "—")
                dates.append(doc.when(r.ended_at or r.recorded_at, False))
            if not ev.media:
                media.append(_("none (statement)") if ev.no_media else _("none recorded"))
            basis = _deciding_event(ev)
            outcome = ev.outcome
            rows.append([
                doc.p(f"<b>{e(d.tag)}</b>", doc.small),
                doc.p(e(f"{DEVICE_TYPE_LABELS[d.type][doc.lang]} {d.brand or ''} {d.model or ''}".strip())
                      + (f"<br/>{e(d.serial)}" if d.serial else ""), doc.small),
                doc.p("<br/>".join(e(x) for x in media), doc.small),
                doc.p("<br/>".join(e(x) for x in methods) or "—", doc.small),
                doc.p("<br/>".join(e(x) for x in checks) or "—", doc.small),
                doc.p("<br/>".join(e(x) for x in dates) or "—", doc.small),
                doc.p(f'<font color="{OUTCOME_COLOURS[outcome]}"><b>{e(L["outcome"][outcome])}</b></font>', doc.small),
                doc.p(e(f"#{basis.seq} {basis.hash[:16]}…") if basis else "—", doc.mono),
            ])
            if outcome in ("failed", "pending"):
                styles.append(("BACKGROUND", (0, i), (-1, i), colors.HexColor("#FFF4EC")))
        table = Table(rows, repeatRows=1, colWidths=[21 * mm, 24 * mm, 26 * mm, 33 * mm, 17 * mm, 18 * mm, 18 * mm,
                                                     17 * mm])
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#9AA3B5")),
                                   ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EAF0")),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
                                   ("RIGHTPADDING", (0, 0), (-1, -1), 2.5)] + styles))
        story.append(table)
        story.append(Spacer(1, 3 * mm))
        story.append(doc.p(e(_(
            "Method types follow NIST SP 800-88 Rev. 1: Clear overwrites user-addressable storage; Purge uses the "
            "drive's own sanitise or secure-erase commands; Destroy renders the medium unusable (shredding, "
            "drilling). Each storage medium's raw evidence file is kept with its SHA-256; the device certificate "
            "gives every field of each record.")), doc.small))
        story.append(doc.p(e(_("Custody chain reference")), doc.h2))
        based = [b for b in (_deciding_event(ev) for ev in evidence) if b is not None]
        latest = max(based, key=lambda b: b.seq) if based else None
        story.append(doc.p(e(_("This certificate is based on the custody events listed per device; the latest is "
                               "#%(seq)s, hash:", seq=latest.seq if latest else "—"))))
        story.append(doc.p(e(latest.hash if latest else "—"), doc.mono))
        story.append(doc.p(e(_("Chain head when issued: event #%(seq)s, hash %(hash)s. An auditor can check these "
                               "hashes against the custody chain (flask audit verify).", seq=chain_head[0],
                               hash=chain_head[1])), doc.small))
        story.append(Spacer(1, 6 * mm))
        story.append(KeepTogether([doc.p(e(_("Validation")), doc.h2), doc.signature(
            _("For the workshop — name, title, place, date and signature"),
            _("For the donor (data-protection officer) — name, title, date and signature"))]))
        footer = _("Issued %(date)s by Reboot Tracker · batch %(id)s", date=doc.when(utcnow()), id=batch.id)
        return doc.build(story, title=f"{title} {batch.name}", footer=footer)
