"""Hand-over receipt and recycling certificate, in French, as PDF (reportlab); free text is XML-escaped."""
from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..devices.models import DEVICE_TYPE_LABELS
from .models import ACCESSORY_LABELS

CATEGORY_LABELS = {
    "pupil": {"fr": "Élève", "en": "Pupil"},
    "scholarship_student": {"fr": "Étudiant·e boursier·e", "en": "Scholarship student"},
    "young_solidarity_income": {"fr": "Jeune (revenu de solidarité)", "en": "Young person on solidarity income"},
    "family": {"fr": "Famille", "en": "Family"},
}


def category_label(value: str, locale: str = "fr") -> str:
    return CATEGORY_LABELS.get(value, {}).get(locale[:2], value)


def _styles():
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontSize=16, spaceAfter=4 * mm),
        "h": ParagraphStyle("h", parent=base["Heading3"], spaceBefore=4 * mm, spaceAfter=2 * mm),
        "p": ParagraphStyle("p", parent=base["BodyText"], fontSize=10, leading=13),
        "small": ParagraphStyle("s", parent=base["BodyText"], fontSize=8, leading=10, textColor=colors.grey),
    }


def _p(text, style) -> Paragraph:
    return Paragraph(escape(str(text if text is not None else "—")), style)


def _table(rows, widths, styles) -> Table:
    table = Table([[_p(c, styles["p"]) for c in row] for row in rows], colWidths=widths)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EAF0")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return table


def _facts(rows, styles) -> Table:
    table = Table([[_p(k, styles["p"]), _p(v, styles["p"])] for k, v in rows], colWidths=[55 * mm, 115 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey)]))
    return table


def _date(d) -> str:
    return d.strftime("%d/%m/%Y") if d else "—"


def _build(story, title: str) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
                            bottomMargin=18 * mm, title=title, author="Reboot Tracker")
    doc.build(story)
    return buf.getvalue()


def handover_receipt(handover, device, reference: str | None) -> bytes:
    """The receipt the partner prints for the beneficiary (or their guardian) and the partner to sign."""
    s = _styles()
    story = [Paragraph("Récépissé de remise d'équipement numérique", s["title"]),
             _p(f"Programme : {handover.programme.name} — Partenaire : {handover.partner.name}", s["p"]),
             _p(f"Remise n° {handover.id} du {_date(handover.handed_over_on)}", s["p"]),
             Paragraph("Bénéficiaire", s["h"]),
             _facts([("Référence (pseudonyme)", reference or "effacée"),
                     ("Catégorie", category_label(handover.beneficiary_category))], s),
             _p("Aucun nom ni coordonnée du bénéficiaire n'est enregistré dans le service : la correspondance "
                "entre la référence et la personne reste chez le partenaire.", s["small"]),
             Paragraph("Équipement", s["h"]),
             _facts([("Étiquette", device.tag),
                     ("Type", DEVICE_TYPE_LABELS[device.type]["fr"]),
                     ("Modèle", f"{device.brand or ''} {device.model or ''}".strip() or "—"),
                     ("N° de série", device.serial or "—"),
                     ("État (grade)", device.grade.value if device.grade else "—")], s)]
    items = handover.items
    story.append(Paragraph("Contenu du kit", s["h"]))
    rows = [("Élément", "Étiquette / n° de série", "IMEI", "ICCID")]
    rows.append((DEVICE_TYPE_LABELS[device.type]["fr"], device.tag, device.imei or "—", "—"))
    for item in items:
        a = item.accessory
        rows.append((ACCESSORY_LABELS[a.kind]["fr"] + (f" — {a.description}" if a.description else ""),
                     a.tag or a.serial or "—", a.imei or "—", a.iccid or "—"))
    story.append(_table(rows, [50 * mm, 45 * mm, 37 * mm, 38 * mm], s))
    story.append(Paragraph("Conditions", s["h"]))
    if handover.loan:
        conditions = (f"Prêt : l'équipement reste la propriété du programme et doit être restitué complet au "
                      f"partenaire au plus tard le {_date(handover.expected_return_on)}.")
    else:
        conditions = ("Don : l'équipement est remis définitivement au bénéficiaire. Il peut être rapporté au "
                      "partenaire pour réparation, réemploi ou recyclage.")
    story.append(_p(conditions, s["p"]))
    story.append(_p("Les données des précédents utilisateurs ont été effacées selon la norme NIST SP 800-88 avant "
                    "la remise.", s["p"]))
    if handover.conditions:
        story.append(_p(handover.conditions, s["p"]))
    story.append(Paragraph("Signatures", s["h"]))
    sig = Table([[_p("Pour le partenaire\n(nom, date, signature)", s["p"]),
                  _p("Le bénéficiaire ou son représentant légal\n(date, signature)", s["p"])],
                 ["", ""]], colWidths=[85 * mm, 85 * mm], rowHeights=[10 * mm, 30 * mm])
    sig.setStyle(TableStyle([("BOX", (0, 1), (0, 1), 0.5, colors.black), ("BOX", (1, 1), (1, 1), 0.5, colors.black)]))
    story += [sig, Spacer(1, 4 * mm),
              _p(f"Remis par {handover.handed_over_by_name} pour {handover.partner.name}.", s["small"])]
    return _build(story, f"Récépissé de remise {device.tag}")


def recycling_certificate(recyclings, devices_by_id: dict, title_ref: str) -> bytes:
    """Certificate that the listed devices were handed to a recycler (one device or one shipment)."""
    s = _styles()
    recycler = recyclings[0].recycler
    story = [Paragraph("Certificat de remise au recyclage (DEEE)", s["title"]),
             _p(f"Référence : {title_ref}", s["p"]),
             _p(f"Recycleur : {recycler.name}", s["p"]),
             _p(f"Date : {_date(max(r.created_at for r in recyclings))}", s["p"]),
             Paragraph("Équipements", s["h"])]
    rows = [("Étiquette", "Type / modèle", "N° de série", "Bordereau d'élimination", "Pièces prélevées")]
    for r in recyclings:
        d = devices_by_id[r.device_id]
        rows.append((d.tag, f"{DEVICE_TYPE_LABELS[d.type]['fr']} {d.brand or ''} {d.model or ''}".strip(),
                     d.serial or "—", r.disposal_reference, ", ".join(r.parts_harvested or []) or "—"))
    story.append(_table(rows, [28 * mm, 42 * mm, 30 * mm, 35 * mm, 35 * mm], s))
    story.append(Spacer(1, 4 * mm))
    story.append(_p(f"{len(recyclings)} équipement(s). Les supports de stockage ont été effacés ou détruits avant la "
                    "remise au recycleur (voir les certificats d'effacement).", s["p"]))
    story.append(Paragraph("Signatures", s["h"]))
    sig = Table([[_p("Pour l'atelier", s["p"]), _p("Pour le recycleur", s["p"])], ["", ""]],
                colWidths=[85 * mm, 85 * mm], rowHeights=[8 * mm, 28 * mm])
    sig.setStyle(TableStyle([("BOX", (0, 1), (0, 1), 0.5, colors.black), ("BOX", (1, 1), (1, 1), 0.5, colors.black)]))
    story.append(sig)
    return _build(story, f"Certificat de recyclage {title_ref}")
