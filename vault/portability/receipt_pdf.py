"""A consent receipt for people: the rows a person reads, and a PDF of them (nl/en).

The signed receipt (a JWS over a Kantara Consent Receipt v1.1 with the ISO/IEC TS
27560 fields, :mod:`vault.grants.receipts`) is the proof; this is its rendering, made
from the receipt's payload alone, so the owner's copy and the organisation's copy read
the same. The HTML page (``vault/ui``) shows the same :func:`receipt_rows`. The PDF
embeds the signed receipt as an attachment and says how to check it (``kluis verify``
and the key id).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from vault import formats
from vault.portability.pdf import FONT, _table, new_document, text_in
from vault.records.catalogue import RECORD_TYPES
from vault.records.display import format_day

ATTACHMENT = "kluis-consent-receipt.json"

TEXT: dict[str, dict[str, str]] = {
    "title": {"nl": "Ontvangstbewijs van je toestemming", "en": "Receipt of your consent"},
    "intro": {
        "nl": "Je gaf deze organisatie toegang tot de gegevens hieronder, voor het genoemde doel "
              "en de genoemde tijd. Dit is een leesbare weergave van het ondertekende "
              "ontvangstbewijs (Kantara Consent Receipt v1.1, ISO/IEC TS 27560).",
        "en": "You gave this organisation access to the data below, for the stated purpose and "
              "time. This is a readable rendering of the signed receipt (Kantara Consent "
              "Receipt v1.1, ISO/IEC TS 27560).",
    },
    "organisation": {"nl": "Organisatie", "en": "Organisation"},
    "contact": {"nl": "Contact", "en": "Contact"},
    "address": {"nl": "Adres", "en": "Address"},
    "policy": {"nl": "Privacyverklaring", "en": "Privacy policy"},
    "purpose": {"nl": "Doel", "en": "Purpose"},
    "shared": {"nl": "Gedeeld", "en": "Shared"},
    "later": {"nl": "ook wat later wordt toegevoegd", "en": "also what is added later"},
    "nothing": {"nl": "niets", "en": "nothing"},
    "given": {"nl": "Toestemming gegeven op", "en": "Consent given on"},
    "access_until": {"nl": "Toegang tot", "en": "Access until"},
    "max_uses": {"nl": "Hooguit zo vaak lezen", "en": "At most this many reads"},
    "retention": {"nl": "Bewaren hooguit tot", "en": "Kept at most until"},
    "jurisdiction": {"nl": "Rechtsgebied", "en": "Jurisdiction"},
    "how_given": {"nl": "Zo gaf je toestemming", "en": "How consent was given"},
    "given_oauth": {"nl": "Je keurde het verzoek van de organisatie goed in je Kluis.",
                    "en": "You approved the organisation's request in your Kluis."},
    "given_owner": {"nl": "Je gaf deze toestemming zelf, in je Kluis.",
                    "en": "You created this grant yourself, in your Kluis."},
    "withdraw_how": {
        "nl": "Trek de toestemming in op de pagina Toestemmingen van je Kluis (één klik), via de "
              "API van je kluis (DELETE /api/v1/grants/{grant_id}), of vraag de organisatie "
              "haar token in te trekken (RFC 7009).",
        "en": "Revoke the grant on the grants page of your Kluis vault (one click), through its "
              "owner API (DELETE /api/v1/grants/{grant_id}), or ask the organisation to revoke "
              "its token (RFC 7009).",
    },
    "withdraw": {"nl": "Intrekken", "en": "Withdrawing"},
    "receipt_id": {"nl": "Nummer van het ontvangstbewijs", "en": "Receipt number"},
    "kid": {"nl": "Ondertekend met sleutel (kid)", "en": "Signed with key (kid)"},
    "verify": {"nl": "Controleren", "en": "How to verify"},
    "verify_how": {
        "nl": "kluis verify kluis-consent-receipt.json --instance {issuer} (het ondertekende "
              "bestand zit als bijlage in deze PDF), of controleer de JWS met {issuer}"
              "/.well-known/jwks.json.",
        "en": "kluis verify kluis-consent-receipt.json --instance {issuer} (the signed file is "
              "attached to this PDF), or check the JWS against {issuer}/.well-known/jwks.json.",
    },
    "page": {"nl": "Pagina", "en": "Page"},
}


def _t(key: str, lang: str) -> str:
    return text_in(TEXT, key, lang)


def _type_label(type_id: str, lang: str) -> str:
    record_type = RECORD_TYPES.get(type_id)
    return record_type.label(lang) if record_type else type_id


def _field_labels(type_id: str, fields: list[str], lang: str) -> str:
    record_type = RECORD_TYPES.get(type_id)
    if record_type is None:
        return ", ".join(fields)
    names = record_type.field_names()
    return ", ".join(record_type.field_label(f, lang) if f in names else f for f in fields)


def receipt_rows(payload: dict[str, Any], kid: str | None, lang: str, *,
                 purpose_label: Callable[[str, str], str] | None = None,
                 ) -> list[tuple[str, str]]:
    """``(label, value)`` rows of a receipt as a person reads it, in ``lang``. With
    ``purpose_label(code, lang)`` a purpose the receipt names by its label (no own
    description) reads in ``lang`` too, whatever language the receipt was made in."""
    record = payload.get("consentRecord") or {}
    controller = (payload.get("piiControllers") or [{}])[0]
    purpose = ((payload.get("services") or [{}])[0].get("purposes") or [{}])[0]
    kluis = payload.get("kluis") or {}
    issuer = str(kluis.get("issuer", ""))
    grant_id = str(kluis.get("grant_id") or "")
    origin = kluis.get("origin")  # receipts before it have only the collectionMethod text
    rows = [
        (_t("organisation", lang), f"{controller.get('piiController', '')} "
                                   f"({controller.get('piiControllerUrl', '')})"),
        (_t("contact", lang), str(controller.get("contact", ""))),
    ]
    address = controller.get("address") or {}
    if address:
        rows.append((_t("address", lang), ", ".join(str(v) for v in address.values())))
    rows += [
        (_t("policy", lang), str(payload.get("policyUrl", ""))),
        (_t("purpose", lang), _purpose(payload, purpose, lang, purpose_label)),
    ]
    for entry in record.get("piiCategories") or []:
        type_id = entry.get("recordType", "")
        titles = entry.get("recordTitles")
        what = "; ".join(titles) if titles else (_t("nothing", lang) if titles == [] else "")
        if entry.get("includeLater"):
            what = f"{what} ({_t('later', lang)})" if what else _t("later", lang)
        rows.append((f"{_t('shared', lang)}: {_type_label(type_id, lang)}",
                     f"{what} — {_field_labels(type_id, entry.get('fields') or [], lang)}"))
    validity = record.get("validity") or {}
    retention = record.get("retention") or {}
    rows += [
        (_t("given", lang), format_day(record.get("eventTime"), lang)),
        (_t("access_until", lang), format_day(validity.get("expiresAt"), lang)),
    ]
    if validity.get("maxUses"):
        rows.append((_t("max_uses", lang), str(validity["maxUses"])))
    rows += [
        (_t("retention", lang), f"{format_day(retention.get('until'), lang)} "
                                f"({formats.duration(str(retention.get('duration', '')), lang)})"),
        (_t("how_given", lang), _t(f"given_{origin}", lang) if origin in ("oauth", "owner")
         else str(payload.get("collectionMethod", ""))),
        (_t("jurisdiction", lang), str(payload.get("jurisdiction", ""))),
        (_t("withdraw", lang), _t("withdraw_how", lang).format(grant_id=grant_id) if grant_id
         else str(record.get("withdrawalMethod", ""))),
        (_t("receipt_id", lang), str(payload.get("consentReceiptID", ""))),
        (_t("kid", lang), kid or "-"),
        (_t("verify", lang), _t("verify_how", lang).format(issuer=issuer)),
    ]
    return rows


def _purpose(payload: dict[str, Any], purpose: dict[str, Any], lang: str,
             label: Callable[[str, str], str] | None) -> str:
    text = str(purpose.get("purpose", ""))
    codes = purpose.get("purposeCategory") or []
    if label is None or not codes:
        return text
    made_in = str(payload.get("language") or "nl")
    return label(str(codes[0]), lang) if text == label(str(codes[0]), made_in) else text


def render_receipt_pdf(document: dict[str, Any], payload: dict[str, Any], kid: str | None,
                       language: str = "nl", *,
                       purpose_label: Callable[[str, str], str] | None = None) -> bytes:
    """The PDF of a signed receipt ``document`` (its ``payload`` given), with the signed
    receipt attached as ``kluis-consent-receipt.json``."""
    lang = language if language in ("nl", "en") else "nl"
    pdf = new_document(lang, title=_t("title", lang),
                       footer=f"{_t('receipt_id', lang)} {payload.get('consentReceiptID', '')}")
    pdf.set_font(FONT, "B", 17)
    pdf.multi_cell(0, 9, _t("title", lang), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)
    pdf.set_font(FONT, "", 9.5)
    pdf.multi_cell(0, 5, _t("intro", lang), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _table(pdf, receipt_rows(payload, kid, lang, purpose_label=purpose_label), label_width=55)
    pdf.embed_file(bytes=json.dumps(document, indent=2).encode(), basename=ATTACHMENT,
                   mime_type="application/json",
                   desc="Signed Kluis consent receipt (JWS JSON); check it with kluis verify")
    return bytes(pdf.output())
