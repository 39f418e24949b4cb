"""The batch hand-over slip (PDF): what a public donor signs to give its equipment away."""
from __future__ import annotations

import io
from collections import Counter
from xml.sax.saxutils import escape

from flask_babel import force_locale, gettext as _

from ..db import utcnow
from ..devices.models import DEVICE_TYPE_LABELS
from .models import BatchStatus
from .services import Reconciliation, slip_devices


def _money(cents: int | None, lang: str) -> str:
    if cents is None:
        return "—"
    text = f"{cents / 100:,.2f}"
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return f"{text} €"


def _date(value, lang: str) -> str:
    if value is None:
        return "—"
    return value.strftime("%d/%m/%Y" if lang == "fr" else "%Y-%m-%d")


def slip_pdf(rec: Reconciliation, lang: str = "fr") -> bytes:
    """Donor, workshop, date, the devices really handed over (tag, type, model, serial, value), counts,
    the CG3P mention and two signature places. Free text is escaped for reportlab's markup."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    lang = "fr" if lang not in ("fr", "en") else lang
    batch = rec.batch
    own, others = slip_devices(rec)
    styles = getSampleStyleSheet()
    body, small = styles["BodyText"], styles["BodyText"].clone("small", fontSize=8, leading=10)
    e = lambda text: escape(str(text or ""))  # noqa: E731

    with force_locale(lang):
        story = []
        title = _("Equipment hand-over slip")
        if batch.status != BatchStatus.CLOSED:
            title += " — " + _("DRAFT: the batch is not closed")
        story.append(Paragraph(e(title), styles["Title"]))
        slip_date = batch.closed_at or utcnow()
        facts = [
            (_("Batch"), f"{e(batch.name)} (n° {batch.id})"),
            (_("Donor"), e(batch.donor.name) + (f"<br/>{e(batch.donor.address)}" if batch.donor.address else "")),
            (_("Workshop"), e(batch.workshop.name if batch.workshop else "—")
             + (f"<br/>{e(batch.workshop.address)}" if batch.workshop and batch.workshop.address else "")),
            (_("Pickup date"), _date(batch.collected_at or batch.pickup_date, lang)),
            (_("Date of this slip"), _date(slip_date, lang)),
        ]
        t = Table([[Paragraph(f"<b>{e(k)}</b>", body), Paragraph(v, body)] for k, v in facts],
                  colWidths=[40 * mm, 130 * mm])
        t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
        story += [t, Spacer(1, 4 * mm)]
        story.append(Paragraph(e(_(
            "Free transfer of decommissioned movable property, under articles L3212-2 and L3212-3 of the French "
            "general code of public property (CG3P). The devices below are handed over for reuse, after certified "
            "data erasure, within a digital-inclusion programme.")), body))
        story.append(Spacer(1, 4 * mm))

        header = [_("#"), _("Tag"), _("Type"), _("Brand and model"), _("Serial number / IMEI"), _("Unit value")]
        rows = [[Paragraph(f"<b>{e(h)}</b>", small) for h in header]]
        total = 0
        for i, d in enumerate(own, 1):
            cents = d.unit_value_cents if d.unit_value_cents is not None else batch.unit_value_cents
            total += cents or 0
            rows.append([str(i), d.tag, DEVICE_TYPE_LABELS[d.type][lang],
                         Paragraph(e(f"{d.brand or ''} {d.model or ''}".strip()), small),
                         Paragraph(e(d.serial or d.imei or "—"), small), _money(cents, lang)])
        table = Table(rows, repeatRows=1, colWidths=[10 * mm, 30 * mm, 25 * mm, 45 * mm, 40 * mm, 22 * mm])
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EAF0")),
            ("FONTSIZE", (0, 0), (-1, -1), 8), ("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (-1, 1), (-1, -1), "RIGHT"),
        ]))
        story += [table, Spacer(1, 4 * mm)]

        by_type = Counter(d.type for d in own)
        counts = ", ".join(f"{DEVICE_TYPE_LABELS[t][lang]}: {n}" for t, n in sorted(by_type.items(), key=lambda x: x[0].value))
        story.append(Paragraph(e(_("Devices handed over: %(count)s (%(detail)s). Total value: %(total)s.",
                                   count=len(own), detail=counts or "—", total=_money(total, lang))), body))
        if rec.missing:
            tags = ", ".join(line.device.tag for line in rec.missing)
            story.append(Paragraph(e(_("Logged but not handed over (%(count)s): %(tags)s.", count=len(rec.missing),
                                       tags=tags)), small))
        if others:
            story.append(Paragraph(e(_(
                "%(count)s device(s) of another donor received with this batch are not part of this transfer: "
                "%(tags)s.", count=len(others), tags=", ".join(d.tag for d in others))), small))
        if batch.closing_note:
            story.append(Paragraph(e(_("Note: %(note)s", note=batch.closing_note)), small))
        story.append(Spacer(1, 10 * mm))

        sign = Table([[Paragraph(e(_("For the donor — name, position, date and signature")), small),
                       Paragraph(e(_("For the workshop — name, position, date and signature")), small)],
                      ["", ""]], colWidths=[85 * mm, 85 * mm], rowHeights=[None, 30 * mm])
        sign.setStyle(TableStyle([("BOX", (0, 0), (0, -1), 0.6, colors.black),
                                  ("BOX", (1, 0), (1, -1), 0.6, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        story.append(sign)

        out = io.BytesIO()
        doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                                bottomMargin=16 * mm, title=title, author="Reboot Tracker")
        doc.build(story)
    return out.getvalue()
