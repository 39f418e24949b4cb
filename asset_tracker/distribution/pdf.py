"""Hand-over receipt and recycling certificate as PDF (reportlab), in the reader's language; free text is
XML-escaped. Both identify the parties (legal name, address, SIRET), name people by their name and title (never
an e-mail address), carry their reference and "page n/N" on every page, and keep the signature block with the last
rows of their table so it never opens a page alone."""
from __future__ import annotations

import io
from xml.sax.saxutils import escape

from flask_babel import force_locale
from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select

from ..auth.models import User
from ..custody.models import CustodyEvent
from ..devices.models import DEVICE_TYPE_LABELS
from ..extensions import db
from ..i18n import current_language
from ..organisations.models import LEGAL_NATURE_LABELS, Organisation
from ..pdfpages import PageMarker, document_styles, keep_last_rows, numbered_canvas, with_tail_header
from .models import ACCESSORY_LABELS

CATEGORY_LABELS = {
    "pupil": {"fr": "Élève", "en": "Pupil"},
    "scholarship_student": {"fr": "Étudiant·e boursier·e", "en": "Scholarship student"},
    "young_solidarity_income": {"fr": "Jeune (revenu de solidarité)", "en": "Young person on solidarity income"},
    "family": {"fr": "Famille", "en": "Family"},
}


def category_label(value: str, locale: str = "fr") -> str:
    return CATEGORY_LABELS.get(value, {}).get(locale[:2], value)


def _lang(lang: str | None) -> str:
    lang = (lang or current_language() or "fr")[:2]
    return lang if lang in ("fr", "en") else "fr"


def _styles():
    base = document_styles()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontSize=16, spaceAfter=4 * mm),
        "h": ParagraphStyle("h", parent=base["Heading3"], spaceBefore=4 * mm, spaceAfter=2 * mm),
        "p": ParagraphStyle("p", parent=base["BodyText"], fontSize=10, leading=13),
        "small": ParagraphStyle("s", parent=base["BodyText"], fontSize=8, leading=10, textColor=colors.grey),
    }


def _p(text, style) -> Paragraph:
    return Paragraph(escape(str(text if text is not None else "—")).replace("\n", "<br/>"), style)


def _table(rows, widths, styles, header: bool = True) -> Table:
    table = Table([[_p(c, styles["p"]) for c in row] for row in rows], colWidths=widths,
                  repeatRows=1 if header else 0)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]
                              + ([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EAF0"))] if header else [])))
    return table


def _split_table(rows, widths, styles, keep: int, tail_header: bool, seen: dict) -> tuple[list, list]:
    """(flowables of the table's body, flowables of its tail): the tail travels with the signatures."""
    body, tail = keep_last_rows(rows, keep=keep)
    head = [_table(body, widths, styles), PageMarker(seen, "body")] if body else []
    with_header = tail_header or not body
    return head, [PageMarker(seen, "tail"), _table(rows[:1] + tail if with_header else tail, widths, styles,
                                                   header=with_header)]


def _facts(rows, styles) -> Table:
    table = Table([[_p(k, styles["p"]), _p(v, styles["p"])] for k, v in rows], colWidths=[55 * mm, 115 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey)]))
    return table


def _date(d, lang: str = "fr") -> str:
    return d.strftime("%d/%m/%Y" if lang == "fr" else "%Y-%m-%d") if d else "—"


def _siret(siret: str | None) -> str:
    if not siret or len(siret) != 14:
        return siret or "—"
    return f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"


def _identity(org: Organisation | None, lang: str) -> list[tuple[str, str]]:
    """Legal name, address, SIRET and legal nature of a party."""
    if org is None:
        return [(_("Legal name"), "—")]
    rows = [(_("Legal name"), org.official_name), (_("Address"), org.address or "—"),
            (_("SIRET"), _siret(org.siret))]
    if org.legal_nature:
        rows.append((_("Legal nature"), LEGAL_NATURE_LABELS[org.legal_nature][lang]))
    return rows


def _person(user_id: int | None, fallback: str | None) -> tuple[str, str]:
    """(name, job title) of a user for a document: the display name, never the e-mail when a name is set."""
    user = db.session.get(User, user_id) if user_id else None
    if user is None:
        return fallback or "—", ""
    return user.display_name, user.job_title or ""


def _signatures(left_label: str, left_who: str, right_label: str, right_who: str, styles) -> Table:
    cell = lambda label, who: [_p(label, styles["p"]), _p(who, styles["small"]),  # noqa: E731
                               _p(_("Date and signature"), styles["small"])]
    sig = Table([[cell(left_label, left_who), cell(right_label, right_who)], ["", ""]],
                colWidths=[85 * mm, 85 * mm], rowHeights=[None, 28 * mm])
    sig.setStyle(TableStyle([("BOX", (0, 0), (0, -1), 0.5, colors.black), ("BOX", (1, 0), (1, -1), 0.5, colors.black),
                             ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return sig


def _build(story, title: str, reference: str) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=f"{title} — {reference}", author="Reboot Tracker")
    doc.build(story, canvasmaker=numbered_canvas(reference, _("page %(page)s/%(pages)s")))
    return buf.getvalue()


def handover_receipt(handover, device, reference: str | None, lang: str | None = None) -> bytes:
    """The receipt the partner prints for the beneficiary (or their guardian) and the partner to sign."""
    lang = _lang(lang)

    def build(tail_header: bool, seen: dict) -> bytes:
        with force_locale(lang):
            return _receipt(handover, device, reference, lang, tail_header, seen)

    return with_tail_header(build)


def _receipt(handover, device, reference, lang, tail_header, seen) -> bytes:
    s = _styles()
    doc_ref = _("Hand-over no. %(id)s — %(tag)s", id=handover.id, tag=device.tag)
    title = _("Digital equipment hand-over receipt")
    by_name, by_title = _person(handover.handed_over_by_user_id, handover.handed_over_by_name)
    story = [Paragraph(escape(title), s["title"]),
             _facts([(_("Reference"), doc_ref), (_("Programme"), handover.programme.name),
                     (_("Date of hand-over"), _date(handover.handed_over_on, lang))], s),
             Paragraph(escape(_("The partner handing over")), s["h"]),
             _facts(_identity(handover.partner, lang)
                    + [(_("Handed over by"), ", ".join(x for x in (by_name, by_title) if x))], s),
             Paragraph(escape(_("The beneficiary")), s["h"]),
             _facts([(_("Reference (pseudonym)"), reference or _("erased")),
                     (_("Category"), category_label(handover.beneficiary_category, lang))], s),
             _p(_("No name or contact detail of the beneficiary is recorded in the service: the link between the "
                  "reference and the person stays with the partner."), s["small"]),
             Paragraph(escape(_("Equipment")), s["h"]),
             _facts([(_("Tag"), device.tag),
                     (_("Type"), DEVICE_TYPE_LABELS[device.type][lang]),
                     (_("Model"), f"{device.brand or ''} {device.model or ''}".strip() or "—"),
                     (_("Serial number"), device.serial or "—"),
                     (_("Condition (grade)"), device.grade.value if device.grade else "—")], s),
             Paragraph(escape(_("Contents of the kit")), s["h"])]
    rows = [(_("Item"), _("Tag / serial number"), _("IMEI"), _("ICCID"))]
    rows.append((DEVICE_TYPE_LABELS[device.type][lang], device.tag, device.imei or "—", "—"))
    for item in handover.items:
        a = item.accessory
        rows.append((ACCESSORY_LABELS[a.kind][lang] + (f" — {a.description}" if a.description else ""),
                     a.tag or a.serial or "—", a.imei or "—", a.iccid or "—"))
    widths = [50 * mm, 45 * mm, 37 * mm, 38 * mm]
    head, tail = _split_table(rows, widths, s, 2, tail_header, seen)
    story += head
    if handover.loan:
        conditions = _("Loan: the equipment remains the property of the programme and must be returned complete "
                       "to the partner by %(date)s at the latest.", date=_date(handover.expected_return_on, lang))
    else:
        conditions = _("Gift: the equipment is given to the beneficiary for good. It can be brought back to the "
                       "partner for repair, reuse or recycling.")
    closing = tail + [Paragraph(escape(_("Conditions")), s["h"]), _p(conditions, s["p"]),
               _p(_("The data of previous users was erased following NIST SP 800-88 before the hand-over."),
                  s["p"])]
    if handover.conditions:
        closing.append(_p(handover.conditions, s["p"]))
    closing += [Paragraph(escape(_("Signatures")), s["h"]),
                _signatures(_("For the partner"), f"{handover.partner.official_name} — "
                            + ", ".join(x for x in (by_name, by_title) if x),
                            _("The beneficiary or their legal guardian"), reference or "—", s)]
    story.append(KeepTogether(closing))
    return _build(story, title, doc_ref)


def _recorders(recyclings) -> dict[int, tuple]:
    """Device id -> (workshop organisation, user id, name) of the custody event that sent it to recycling."""
    ids = [r.device_id for r in recyclings]
    rows = db.session.execute(select(CustodyEvent.device_id, CustodyEvent.actor_organisation_id,
                                     CustodyEvent.actor_user_id, CustodyEvent.actor_name)
                              .where(CustodyEvent.device_id.in_(ids), CustodyEvent.state_after == "recycled")
                              .order_by(CustodyEvent.seq)).all()
    orgs = {o.id: o for o in db.session.execute(select(Organisation).where(
        Organisation.id.in_({r[1] for r in rows if r[1]}))).scalars()} if rows else {}
    return {device_id: (orgs.get(org_id), user_id, name) for device_id, org_id, user_id, name in rows}


def recycling_certificate(recyclings, devices_by_id: dict, title_ref: str, lang: str | None = None) -> bytes:
    """Certificate that the listed devices were handed to a recycler (one device or one shipment): the workshop
    and the recycler identified, every device with its disposal reference, both signatures."""
    lang = _lang(lang)
    recorded = _recorders(recyclings)

    def build(tail_header: bool, seen: dict) -> bytes:
        with force_locale(lang):
            return _recycling(recyclings, devices_by_id, title_ref, lang, recorded, tail_header, seen)

    return with_tail_header(build)


def _recycling(recyclings, devices_by_id, title_ref, lang, recorded, tail_header, seen) -> bytes:
    s = _styles()
    recycler = recyclings[0].recycler
    first = recorded.get(recyclings[0].device_id, (None, None, recyclings[0].recorded_by_name))
    workshop = first[0]
    name, job = _person(first[1], first[2])
    title = _("Certificate of hand-over for recycling (WEEE)")
    doc_ref = _("Recycling %(ref)s", ref=title_ref)
    disposals = sorted({r.disposal_reference for r in recyclings if r.disposal_reference})
    story = [Paragraph(escape(title), s["title"]),
             _facts([(_("Reference"), doc_ref),
                     (_("Disposal reference"), ", ".join(disposals) or "—"),
                     (_("Date"), _date(max(r.created_at for r in recyclings), lang))], s),
             Paragraph(escape(_("The workshop")), s["h"]),
             _facts(_identity(workshop, lang)
                    + [(_("Recorded by"), ", ".join(x for x in (name, job) if x))], s),
             Paragraph(escape(_("The recycler")), s["h"]),
             _facts(_identity(recycler, lang), s),
             Paragraph(escape(_("Equipment")), s["h"])]
    rows = [(_("Tag"), _("Type / model"), _("Serial number"), _("Disposal reference"), _("Parts harvested"))]
    for r in recyclings:
        d = devices_by_id[r.device_id]
        rows.append((d.tag, f"{DEVICE_TYPE_LABELS[d.type][lang]} {d.brand or ''} {d.model or ''}".strip(),
                     d.serial or "—", r.disposal_reference, ", ".join(r.parts_harvested or []) or "—"))
    widths = [28 * mm, 42 * mm, 30 * mm, 35 * mm, 35 * mm]
    head, tail = _split_table(rows, widths, s, 3, tail_header, seen)
    story += head
    closing = tail + [Spacer(1, 4 * mm),
               _p(_("%(count)s device(s). The storage media were erased or destroyed before the hand-over to the "
                    "recycler (see the certificates of sanitisation).", count=len(recyclings)), s["p"]),
               Paragraph(escape(_("Signatures")), s["h"]),
               _signatures(_("For the workshop"), ", ".join(
                   x for x in ((workshop.official_name if workshop else ""), name, job) if x),
                   _("For the recycler"), recycler.official_name + " — " + _("name and title"), s)]
    story.append(KeepTogether(closing))
    return _build(story, title, doc_ref)
