"""The batch donation slip (PDF): what a public donor and the workshop sign to transfer the equipment.

It identifies both parties (legal name, address, SIRET, legal nature, signatory), refers to the donor's disposal
decision, lists every device handed over (tag, donor inventory number, type, brand, model, serial), counts them by
type, prints a total value only when values were given and the legal basis the donor configured (nothing when it
has none). Every page carries the batch reference and "page n/N"; the signature block always travels with the last
rows of the table and the totals."""
from __future__ import annotations

import io
from collections import Counter
from xml.sax.saxutils import escape

from flask_babel import force_locale
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..db import utcnow
from ..devices.models import DEVICE_TYPE_LABELS, DeviceType
from ..organisations.models import LEGAL_NATURE_LABELS
from ..pdfpages import FONT, FONT_BOLD, PageMarker, document_styles, keep_last_rows, numbered_canvas, with_tail_header
from .models import BatchStatus
from .services import Reconciliation, slip_devices


def _money(cents: int | None, lang: str) -> str:
    if cents is None:
        return "—"
    text = f"{cents / 100:,.2f}"
    if lang == "fr":
        text = text.replace(",", "\u00a0").replace(".", ",")
    return f"{text}\u00a0€"


def _date(value, lang: str) -> str:
    if value is None:
        return "—"
    return value.strftime("%d/%m/%Y" if lang == "fr" else "%Y-%m-%d")


def format_siret(siret: str | None) -> str:
    """'13002526500013' -> '130 025 265 00013' (SIREN in threes, then the establishment's NIC)."""
    if not siret or len(siret) != 14:
        return siret or "—"
    return f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"


def batch_reference(batch, lang: str) -> str:
    with force_locale(lang):
        return _("Batch no. %(id)s — %(name)s", id=batch.id, name=batch.name)


def _unit_cents(device, batch) -> int | None:
    return device.unit_value_cents if device.unit_value_cents is not None else batch.unit_value_cents


def slip_pdf(rec: Reconciliation, lang: str = "fr") -> bytes:
    lang = "fr" if lang not in ("fr", "en") else lang
    batch = rec.batch
    own, others = slip_devices(rec)
    styles = document_styles()
    body = styles["BodyText"].clone("slipbody", fontSize=9, leading=11.5)
    small = styles["BodyText"].clone("slipsmall", fontSize=8, leading=10)
    heading = styles["Heading3"].clone("sliph", spaceBefore=3 * mm, spaceAfter=1.5 * mm)
    e = lambda text: escape(str(text if text is not None else ""))  # noqa: E731
    donor, workshop = batch.donor, batch.workshop

    def build(tail_header: bool, seen: dict) -> bytes:
        with force_locale(lang):
            return _layout(tail_header, seen)

    def _parties() -> list:
        # ---- the two parties
        def party(org, signatory_name, signatory_title) -> list[str]:
            if org is None:
                return ["—"] * 6
            nature = LEGAL_NATURE_LABELS[org.legal_nature][lang] if org.legal_nature else "—"
            return [f"<b>{e(org.official_name)}</b>",
                    e(org.address or "—").replace("\n", "<br/>"),
                    e(format_siret(org.siret)),
                    e(nature),
                    e(signatory_name or "—"),
                    e(signatory_title or "—")]

        left = party(donor, batch.donor_signatory_name, batch.donor_signatory_title)
        right = party(workshop, batch.workshop_signatory_name, batch.workshop_signatory_title)
        labels = [_("Legal name"), _("Address"), _("SIRET"), _("Legal nature"), _("Signatory"),
                  _("Signatory's title")]
        rows = [["", Paragraph(f"<b>{e(_('The donor'))}</b>", body),
                 Paragraph(f"<b>{e(_('The workshop (recipient)'))}</b>", body)]]
        rows += [[Paragraph(e(k), small), Paragraph(a, body), Paragraph(b, body)]
                 for k, a, b in zip(labels, left, right, strict=False)]
        parties = Table(rows, colWidths=[30 * mm, 72 * mm, 72 * mm])
        parties.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EAF0"))]))
        return [Paragraph(e(_("Parties")), heading), parties]

    def _transfer(reference: str) -> list:
        # ---- the transfer
        if batch.disposal_decision_ref:
            decision = (_("%(ref)s of %(date)s", ref=batch.disposal_decision_ref,
                          date=_date(batch.disposal_decision_date, lang))
                        if batch.disposal_decision_date else batch.disposal_decision_ref)
        else:
            decision = _("not given")
        facts = [
            (_("Batch"), reference),
            (_("Donor's disposal decision"), decision),
            (_("Pickup date"), _date(batch.collected_at or batch.pickup_date, lang)),
            (_("Date of this slip"), _date(batch.closed_at or utcnow(), lang)),
        ]
        t = Table([[Paragraph(f"<b>{e(k)}</b>", body), Paragraph(e(v), body)] for k, v in facts],
                  colWidths=[50 * mm, 124 * mm])
        t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey)]))
        story = [Paragraph(e(_("Transfer")), heading), t, Spacer(1, 2 * mm)]
        if donor is not None and donor.donation_legal_basis:
            basis = e(donor.donation_legal_basis)
            if donor.donation_legal_basis_ref:
                basis += f" ({e(donor.donation_legal_basis_ref)})"
            story.append(Paragraph(f"<b>{e(_('Legal basis'))}</b> : {basis}" if lang == "fr"
                                   else f"<b>{e(_('Legal basis'))}</b>: {basis}", body))
        story.append(Paragraph(e(_(
            "The devices below are handed over free of charge for reuse within a digital-inclusion programme, "
            "after certified data erasure.")), body))
        return story

    def _device_rows():
        valued = [d for d in own if _unit_cents(d, batch) is not None]
        show_values = bool(valued)
        header = [_("#"), _("Tag"), _("Donor inventory no."), _("Type"), _("Brand and model"),
                  _("Serial number / IMEI")] + ([_("Unit value")] if show_values else [])
        widths = ([8, 24, 30, 20, 38, 34] if show_values else [8, 28, 34, 22, 46, 36])
        widths = [w * mm for w in widths] + ([20 * mm] if show_values else [])
        table_rows = [[Paragraph(f"<b>{e(h)}</b>", small) for h in header]]
        for i, d in enumerate(own, 1):
            row = [str(i), d.tag, Paragraph(e(d.donor_inventory_number or "—"), small),
                   Paragraph(e(DEVICE_TYPE_LABELS[d.type][lang]), small),
                   Paragraph(e(f"{d.brand or ''} {d.model or ''}".strip() or "—"), small),
                   Paragraph(e(d.serial or d.imei or "—"), small)]
            if show_values:
                row.append(_money(_unit_cents(d, batch), lang))
            table_rows.append(row)
        return table_rows, widths, show_values, valued

    def _totals(valued: list, show_values: bool) -> list:
        # ---- counts and totals
        by_type = Counter(d.type for d in own)
        count_rows = [[_("Type"), _("Count")]]
        for kind in DeviceType:
            if by_type.get(kind):
                count_rows.append([DEVICE_TYPE_LABELS[kind][lang], str(by_type[kind])])
        count_rows.append([_("Total"), str(len(own))])
        counts = Table(count_rows, colWidths=[40 * mm, 20 * mm], hAlign="LEFT")
        counts.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("FONTSIZE", (0, 0), (-1, -1), 8),
                                    ("FONTNAME", (0, 0), (-1, -1), FONT),
                                    ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                                    ("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
                                    ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold")]))
        closing = [Paragraph(e(_("Devices handed over: %(count)s.", count=len(own))), body), counts]
        if show_values:
            total = sum(_unit_cents(d, batch) for d in valued)
            if len(valued) == len(own):
                line = _("Total value: %(total)s.", total=_money(total, lang))
            else:
                line = _("Total value of the %(valued)s devices with a declared value (of %(count)s): %(total)s.",
                         valued=len(valued), count=len(own), total=_money(total, lang))
            closing.append(Paragraph(e(line), body))
        if rec.missing:
            tags = ", ".join(line.device.tag for line in rec.missing)
            closing.append(Paragraph(e(_("Logged but not handed over (%(count)s): %(tags)s.",
                                         count=len(rec.missing), tags=tags)), small))
        if others:
            closing.append(Paragraph(e(_(
                "%(count)s device(s) of another donor or batch received with this batch are not part of this "
                "transfer: %(tags)s.", count=len(others), tags=", ".join(d.tag for d in others))), small))
        if batch.closing_note:
            closing.append(Paragraph(e(_("Note: %(note)s", note=batch.closing_note)), small))
        return closing

    def _signatures():
        def signature(label, org, name, job) -> list:
            who = ", ".join(x for x in (name, job) if x) or _("name and title")
            return [Paragraph(f"<b>{e(label)}</b> — {e(org.official_name if org else '—')}", small),
                    Paragraph(e(who), small),
                    Paragraph(e(_("Date, signature and stamp")), small)]

        left_sig = signature(_("For the donor"), donor, batch.donor_signatory_name, batch.donor_signatory_title)
        right_sig = signature(_("For the workshop"), workshop, batch.workshop_signatory_name,
                              batch.workshop_signatory_title)
        sign = Table([[left_sig, right_sig], ["", ""]], colWidths=[87 * mm, 87 * mm], rowHeights=[None, 28 * mm])
        sign.setStyle(TableStyle([("BOX", (0, 0), (0, -1), 0.6, colors.black),
                                  ("BOX", (1, 0), (1, -1), 0.6, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return sign

    def _layout(tail_header: bool, seen: dict) -> bytes:
        reference = batch_reference(batch, lang)
        story = []
        title = _("Equipment donation slip")
        if batch.status != BatchStatus.CLOSED:
            title += " — " + _("DRAFT: the batch is not closed")
        story.append(Paragraph(e(title), styles["Title"]))

        story += _parties()

        story += _transfer(reference)

        # ---- the devices
        table_rows, widths, show_values, valued = _device_rows()
        story.append(Paragraph(e(_("Devices handed over")), heading))
        body_rows, tail_rows = keep_last_rows(table_rows, keep=3)

        def grid(rows, with_header: bool) -> Table:
            table = Table(rows, repeatRows=1 if with_header else 0, colWidths=widths)
            table.setStyle(TableStyle([
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("FONTNAME", (0, 0), (-1, -1), FONT), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (-1, 1 if with_header else 0), (-1, -1), "RIGHT" if show_values else "LEFT")]
                + ([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EAF0"))] if with_header else [])))
            return table

        if body_rows:
            story += [grid(body_rows, True), PageMarker(seen, "body")]
        closing = [PageMarker(seen, "tail")]
        if tail_rows:
            with_header = tail_header or not body_rows
            closing.append(grid(table_rows[:1] + tail_rows if with_header else tail_rows, with_header))
        else:
            closing.append(Paragraph(e(_("No device was handed over with this batch.")), body))
        closing.append(Spacer(1, 3 * mm))

        closing += _totals(valued, show_values)
        closing.append(Spacer(1, 6 * mm))

        # ---- signatures, kept with the last rows and the totals
        closing.append(_signatures())
        story.append(KeepTogether(closing))

        out = io.BytesIO()
        doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                                bottomMargin=18 * mm, title=f"{title} — {reference}", author="Reboot Tracker")
        doc.build(story, canvasmaker=numbered_canvas(reference, _("page %(page)s/%(pages)s")))
        return out.getvalue()

    return with_tail_header(build)
