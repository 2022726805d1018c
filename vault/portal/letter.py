"""The printable letter (PDF, Dutch) a caseworker hands or sends to an applicant: who asks,
what, why, for how long, the short link and a QR code of it."""

from __future__ import annotations

import io
from typing import Any

import segno

from vault.grants.models import PURPOSES
from vault.portability.pdf import FONT, new_document
from vault.records.catalogue import RECORD_TYPES
from vault.records.display import format_day

CATEGORY_NL = {"payslip": "loonstrook", "annual-statement": "jaaropgave", "uwv": "UWV-overzicht",
               "duo": "DUO-overzicht", "pension": "pensioenoverzicht",
               "identity": "identiteitsbewijs", "other": "overig document"}


def asked_lines(template: dict[str, Any], lang: str = "nl") -> list[str]:
    """What the template asks, one line a record type, in plain words."""
    lines = []
    for entry in template["records"]:
        record_type = RECORD_TYPES[entry["record_type"]]
        text = record_type.label(lang)
        if entry.get("categories"):
            text += ": " + ", ".join(CATEGORY_NL.get(c, c) if lang == "nl" else c
                                     for c in entry["categories"])
        if entry.get("years"):
            years = int(entry["years"])
            text += (f" (de laatste {years} jaar)" if lang == "nl" else f" (last {years} years)")
        if entry.get("evidence"):
            text += " met bewijsstukken" if lang == "nl" else " with evidence"
        lines.append(text)
    return lines


def render(*, organisation: str, dossier: dict[str, Any], link: str) -> bytes:
    """The letter for ``dossier`` with the short ``link``."""
    template = dossier["template"]
    pdf = new_document("nl", title=f"Verzoek om gegevens - {organisation}",
                       footer=f"{organisation} - kenmerk {dossier['reference']}")
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(130, 8, organisation, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(130, 5, f"Kenmerk: {dossier['reference']}\n"
                           f"Datum: {format_day(dossier['created_at'], 'nl')}",
                   new_x="LMARGIN", new_y="NEXT")
    qr = segno.make(link, error="m")
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=6, border=2)
    buf.seek(0)
    pdf.image(buf, x=155, y=15, w=40, h=40)
    pdf.set_y(max(pdf.get_y(), 60))
    pdf.set_font(FONT, "", 11)
    pdf.multi_cell(0, 6, f"Beste {dossier['applicant_name'] or 'aanvrager'},",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    purpose = PURPOSES.get(template["purpose"], {}).get("nl", template["purpose"])
    pdf.multi_cell(0, 6, f"Voor {template['name'].lower()} vragen wij u om gegevens uit uw "
                         f"Kluis te delen. Doel: {purpose}.", new_x="LMARGIN", new_y="NEXT")
    if template.get("purpose_text"):
        pdf.ln(1)
        pdf.multi_cell(0, 6, template["purpose_text"], new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(FONT, "B", 11)
    pdf.multi_cell(0, 6, "Wat wij vragen", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 11)
    for line in asked_lines(template):
        pdf.multi_cell(0, 6, f"- {line}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.multi_cell(0, 6, f"Wij kunnen uw gegevens {template['duration_days']} dagen inzien en "
                         f"bewaren ze hoogstens {template['retention_days']} dagen. Daarna "
                         "verwijderen wij ze en sturen wij u daarvan een ondertekende "
                         "verklaring.", new_x="LMARGIN", new_y="NEXT")
    if template.get("refresh"):
        pdf.multi_cell(0, 6, "Zolang wij toegang hebben, lezen wij uw gegevens hoogstens eens "
                             "per dag opnieuw, zodat een wijziging meekomt.",
                       new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(FONT, "B", 11)
    pdf.multi_cell(0, 6, "Zo deelt u uw gegevens", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 11)
    pdf.multi_cell(0, 6, "Scan de QR-code met uw telefoon of open deze link:",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 12)
    pdf.multi_cell(0, 7, link, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 11)
    pdf.multi_cell(0, 6, "U kiest daar zelf welke gegevens u deelt, en u kunt de toegang altijd "
                         "weer intrekken in uw Kluis.", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
