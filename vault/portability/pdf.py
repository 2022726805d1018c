"""A readable PDF of a certified bundle, in Dutch or English (fpdf2, text stays extractable).

One section per record type; each record lists its fields with their labels,
then its provenance. The first page states the issuer, the vault, the time of
export and the bundle's digest, with a QR code holding the verification URL
and the digest. The PDF is a rendering: the signed JSON bundle is the proof.

Font: Lato (SIL OFL), shipped inside the ``fontpkg-lato`` wheel, so the euro
sign and Dutch diacritics render without any system font package.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import segno
from fpdf import FPDF

from vault import formats
from vault.records.catalogue import CATEGORIES, RECORD_TYPES, RecordType, get_type
from vault.records.display import field_label, format_value

FONT = "Lato"
ATTACHMENT = "kluis-bundle.json"

TEXT = {
    "title": {"nl": "Gewaarmerkt overzicht van mijn gegevens",
              "en": "Certified copy of my data"},
    "intro": {
        "nl": "Dit document is een leesbare weergave van een digitaal ondertekende export uit "
              "Kluis. Controleer de echtheid met het JSON-bestand: kluis verify, of via de "
              "link in de QR-code.",
        "en": "This document is a readable rendering of a digitally signed export from Kluis. "
              "Check its authenticity with the JSON file: kluis verify, or via the link in "
              "the QR code.",
    },
    "issuer": {"nl": "Uitgegeven door", "en": "Issued by"},
    "vault": {"nl": "Kluis", "en": "Vault"},
    "exported_at": {"nl": "Moment van export", "en": "Exported at"},
    "kid": {"nl": "Sleutel (kid)", "en": "Key (kid)"},
    "digest": {"nl": "Vingerafdruk van de bundel (SHA-256)",
               "en": "Bundle digest (SHA-256)"},
    "verify_url": {"nl": "Controleren", "en": "Verify at"},
    "records": {"nl": "Aantal gegevens", "en": "Number of records"},
    "provenance": {"nl": "Herkomst", "en": "Provenance"},
    "source": {"nl": "Bron", "en": "Source"},
    "fetched_at": {"nl": "Opgehaald op", "en": "Fetched at"},
    "version": {"nl": "Versie", "en": "Version"},
    "record_digest": {"nl": "Vingerafdruk", "en": "Digest"},
    "evidence": {"nl": "Bewijs", "en": "Evidence"},
    "documents": {"nl": "Bijgevoegde documenten", "en": "Included documents"},
    "page": {"nl": "Pagina", "en": "Page"},
    "none": {"nl": "Geen gegevens gekozen.", "en": "No records chosen."},
}

SOURCES = {
    "manual": {"nl": "zelf ingevoerd", "en": "entered by the owner"},
    "upload": {"nl": "geüpload", "en": "uploaded"},
    "finance": {"nl": "afgeleid uit de banktransacties", "en": "derived from the bank transactions"},
}


def text_in(table: dict[str, dict[str, str]], key: str, lang: str) -> str:
    """``table[key]`` in ``lang``, English when the entry has no such language."""
    entry = table[key]
    return entry.get(lang) or entry["en"]


def _t(key: str, lang: str) -> str:
    return text_in(TEXT, key, lang)


@cache
def font_files() -> dict[str, str]:
    """Paths of the regular and bold TTFs (the Lato wheel; Debian's DejaVu as a fallback)."""
    try:
        import fontpkg_lato

        root = Path(fontpkg_lato.ROOT) / "files"
        found = {"": root / "Lato-Regular.ttf", "B": root / "Lato-Bold.ttf"}
    except ImportError:
        root = Path("/usr/share/fonts/truetype/dejavu")
        found = {"": root / "DejaVuSans.ttf", "B": root / "DejaVuSans-Bold.ttf"}
    missing = [str(p) for p in found.values() if not p.exists()]
    if missing:
        raise RuntimeError(f"PDF fonts are missing: {', '.join(missing)}")
    return {style: str(path) for style, path in found.items()}


# -- values -------------------------------------------------------------------------------------


def record_rows(record_type: RecordType, data: dict, lang: str) -> list[tuple[str, str]]:
    """``(label, value)`` for every field the record holds, in schema order."""
    rows = []
    fields = record_type.fields()
    for name, field in fields.items():
        if name in data and data[name] is not None:
            rows.append((field_label(field, name, lang),
                         format_value(field, data[name], lang, with_code=True)))
    for name in data:
        if name not in fields:  # an older schema's field: still shown
            rows.append((name, str(data[name])))
    return rows


def source_label(source: str, lang: str) -> str:
    """How a record came in, in ``lang`` ("zelf ingevoerd"); a connector's id as it is."""
    entry = SOURCES.get(source)
    return text_in(SOURCES, source, lang) if entry else source


def _signed_moment(iso: Any, lang: str) -> str:
    """A signed moment as a person reads it in local time, with the exact signed value
    beside it: ``1 december 2026 12:39 CET (2026-12-01T11:39:13.492695Z)``."""
    if not iso:
        return ""
    return f"{formats.moment(str(iso), lang, zone=True)} ({iso})"


def verification_url(issuer_url: str, digest: str) -> str:
    return f"{issuer_url.rstrip('/')}/verify?digest={quote('sha256:' + digest)}"


# -- rendering ----------------------------------------------------------------------------------


class _Doc(FPDF):
    lang = "nl"
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 7)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"{self.footer_text}   {_t('page', self.lang)} {self.page_no()}",
                  align="C")
        self.set_text_color(0, 0, 0)


def new_document(lang: str, *, title: str, footer: str) -> _Doc:
    """An A4 document in Kluis's layout (Lato, margins, footer), its first page begun."""
    pdf = _Doc(format="A4")
    pdf.lang = lang
    pdf.footer_text = footer
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=18)
    fonts = font_files()
    pdf.add_font(FONT, "", fonts[""])
    pdf.add_font(FONT, "B", fonts["B"])
    pdf.set_title(title)
    pdf.set_creator("Kluis")
    pdf.set_lang(lang)
    pdf.add_page()
    return pdf


def render_pdf(payload: dict[str, Any], digest: str, language: str = "nl",
               bundle_json: bytes | None = None) -> bytes:
    """The PDF of a bundle's ``payload`` whose digest is ``digest`` (hex).

    ``bundle_json`` (the signed bundle) is embedded as the attachment
    ``kluis-bundle.json``, so the PDF carries its own proof.
    """
    lang = language if language in ("nl", "en") else "nl"
    pdf = new_document(lang, title=_t("title", lang), footer=f"SHA-256 {digest}")

    issuer = payload.get("issuer", {})
    url = verification_url(issuer.get("url", ""), digest)

    pdf.set_font(FONT, "B", 17)
    pdf.multi_cell(0, 9, _t("title", lang), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font(FONT, "", 9.5)
    pdf.multi_cell(125, 5, _t("intro", lang), new_x="LMARGIN", new_y="NEXT")
    qr_top = 15
    qr = segno.make(f"{url}", error="m")
    buf = io.BytesIO()
    qr.save(buf, kind="png", scale=6, border=2)
    buf.seek(0)
    pdf.image(buf, x=155, y=qr_top, w=40, h=40)
    pdf.ln(3)
    pdf.set_y(max(pdf.get_y(), qr_top + 44))

    facts = [
        (_t("issuer", lang), issuer.get("url", "")),
        (_t("vault", lang), payload.get("vault", "")),
        (_t("exported_at", lang), _signed_moment(payload.get("exported_at"), lang)),
        (_t("kid", lang), issuer.get("kid", "")),
        (_t("records", lang), str(len(payload.get("records", [])))),
        (_t("digest", lang), f"sha256:{digest}"),
        (_t("verify_url", lang), url),
    ]
    _table(pdf, facts, label_width=55)

    by_type: dict[str, list[dict]] = {}
    for record in payload.get("records", []):
        by_type.setdefault(record["type"], []).append(record)
    if not by_type:
        pdf.ln(4)
        pdf.set_font(FONT, "", 10)
        pdf.cell(0, 6, _t("none", lang), new_x="LMARGIN", new_y="NEXT")
    ordered = [t for t in RECORD_TYPES if t in by_type] + [t for t in by_type
                                                           if t not in RECORD_TYPES]
    for type_id in ordered:
        _section(pdf, type_id, by_type[type_id], lang)

    documents = payload.get("documents", [])
    if documents:
        pdf.ln(4)
        pdf.set_font(FONT, "B", 13)
        pdf.multi_cell(0, 7, _t("documents", lang), new_x="LMARGIN", new_y="NEXT")
        doc_type = get_type("document")
        for doc in documents:
            rows = [
                (doc_type.field_label("sha256", lang), doc["sha256"]),
                (doc_type.field_label("media_type", lang), doc["media_type"]),
                (doc_type.field_label("size", lang), str(doc["size"])),
            ]
            _table(pdf, rows, label_width=55)
            pdf.ln(2)
    if bundle_json is not None:
        pdf.embed_file(bytes=bundle_json, basename=ATTACHMENT, mime_type="application/json",
                       desc="Signed Kluis bundle (JWS JSON); check it with kluis verify")
    return bytes(pdf.output())


def _section(pdf: FPDF, type_id: str, items: list[dict], lang: str) -> None:
    record_type = RECORD_TYPES.get(type_id)
    pdf.ln(5)
    pdf.set_font(FONT, "B", 14)
    title = record_type.label(lang) if record_type else type_id
    if record_type:
        category = CATEGORIES.get(record_type.category, {}).get(lang)
        if category:
            title = f"{title} · {category}"
    pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(180, 180, 180)
    pdf.line(15, pdf.get_y(), 195, pdf.get_y())
    for record in items:
        pdf.ln(2)
        data = record.get("data", {})
        if record_type:
            rows = record_rows(record_type, data, lang)
        else:
            rows = [(k, str(v)) for k, v in data.items()]
        _table(pdf, rows, label_width=60)
        prov = record.get("provenance", {})
        pdf.set_font(FONT, "B", 8.5)
        pdf.set_text_color(70, 70, 70)
        pdf.cell(0, 5, _t("provenance", lang), new_x="LMARGIN", new_y="NEXT")
        evidence = prov.get("evidence") or {}
        prov_rows = [
            (_t("source", lang), source_label(str(prov.get("source", "")), lang)),
            (_t("fetched_at", lang), _signed_moment(prov.get("fetched_at"), lang)),
            (_t("version", lang), str(record.get("version", ""))),
            (_t("record_digest", lang), f"sha256:{record.get('digest', '')}"),
        ]
        for key, value in evidence.items():
            prov_rows.append((f"{_t('evidence', lang)}: {key}", _evidence_text(value)))
        _table(pdf, prov_rows, label_width=60, size=8)
        pdf.set_text_color(0, 0, 0)


def _evidence_text(value: Any) -> str:
    if isinstance(value, str | int | float):
        return str(value)
    import json

    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _table(pdf: FPDF, rows: list[tuple[str, str]], *, label_width: float,
           size: float = 9.5) -> None:
    value_width = 180 - label_width
    for label, value in rows:
        # Start the row on a new page when the next line would not fit.
        if pdf.get_y() > pdf.h - 30:
            pdf.add_page()
        line = size * 0.5
        pdf.set_font(FONT, "B", size)
        # With output="LINES" fpdf returns the list of lines; its annotation is every output's union.
        label_lines = cast(list[str], pdf.multi_cell(label_width - 2, line, label, dry_run=True,
                                                     output="LINES"))
        top = pdf.get_y()
        pdf.multi_cell(label_width - 2, line, label, new_x="RIGHT", new_y="TOP")
        pdf.set_xy(15 + label_width, top)
        pdf.set_font(FONT, "", size)
        pdf.multi_cell(value_width, line, value or "-", new_x="LMARGIN", new_y="NEXT")
        if pdf.get_y() >= top:  # no page break inside the value
            pdf.set_y(max(pdf.get_y(), top + len(label_lines) * line))
        pdf.set_y(pdf.get_y() + 0.8)
