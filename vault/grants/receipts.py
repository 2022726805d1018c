"""Consent receipts: Kantara Consent Receipt v1.1 documents signed as JWS by the instance key.

The owner downloads every receipt; the organisation gets its copy with the
token. Anyone can check a receipt against ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from vault import formats
from vault.clock import from_iso, to_iso
from vault.crypto import signing
from vault.grants.models import Grant, parse_duration, purpose_label

VERSION = "KI-CR-v1.1.0"
JURISDICTION = "NL"
TYP = "kluis-consent-receipt+json"
SENSITIVE_FIELDS = {"bsn": "national identification number (BSN)"}
#: How consent was given (``collectionMethod``), per grant origin, in the receipt's language.
COLLECTION_METHODS = {
    "oauth": {"en": "The person approved the organisation's request on the consent screen of "
                    "their Kluis vault.",
              "nl": "De persoon keurde het verzoek van de organisatie goed op het "
                    "toestemmingsscherm van de eigen Kluis."},
    "owner": {"en": "The person created this grant themselves in their Kluis vault.",
              "nl": "De persoon gaf deze toestemming zelf, in de eigen Kluis."},
}


def principal_id(vault_id: str, client_id: str) -> str:
    """A pairwise identifier: the same for one vault and one organisation, unlinkable across."""
    digest = hashlib.sha256(f"kluis-principal:{vault_id}:{client_id}".encode()).hexdigest()
    return "urn:kluis:principal:" + digest[:32]


WITHDRAWAL = {
    "en": "Revoke the grant on the grants page of your Kluis vault (one click), through its "
          "owner API (DELETE /api/v1/grants/{grant_id}), or ask the organisation to revoke its "
          "token (RFC 7009).",
    "nl": "Trek de toestemming in op de pagina Toestemmingen van je Kluis (één klik), via de "
          "API van je kluis (DELETE /api/v1/grants/{grant_id}), of vraag de organisatie haar "
          "token in te trekken (RFC 7009).",
}
TERMINATION = {
    "en": "Access ends on {expires} or when the person revokes it, whichever is first; the "
          "organisation keeps the data at most {retention} after receiving it (until {until} "
          "at the latest).",
    "nl": "De toegang eindigt op {expires} of eerder als de persoon hem intrekt; de "
          "organisatie bewaart de gegevens hooguit {retention} na ontvangst (uiterlijk tot "
          "{until}).",
}


def _in(table: dict[str, str], lang: str) -> str:
    return table.get(lang) or table["en"]


def collection_method(origin: str, lang: str) -> str:
    """How consent was given, in ``lang`` (``origin``: ``oauth`` or ``owner``)."""
    return _in(COLLECTION_METHODS.get(origin, COLLECTION_METHODS["oauth"]), lang)


def withdrawal_method(grant_id: str, lang: str) -> str:
    return _in(WITHDRAWAL, lang).format(grant_id=grant_id)
DPV_27560 = "https://w3id.org/dpv/guides/dpv-27560"


def retention_end(grant: Grant) -> str:
    """The latest moment the organisation may keep the data: the end of access plus the
    promised retention."""
    return to_iso(from_iso(grant.expiry.expires_at) + parse_duration(grant.retention))


def build(grant: Grant, *, vault_id: str, issuer: str, lang: str = "nl",
          shared: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The receipt document for ``grant`` (unsigned): a Kantara Consent Receipt v1.1 with
    the ISO/IEC TS 27560 consent record fields (after W3C DPV's ``dpv-27560`` mapping) in
    ``consentRecord`` and the exact grant in ``kluis``. ``shared`` is what the grant shares
    as :func:`vault.grants.consent.shared_records` describes it (record titles)."""
    org = grant.organisation
    contacts = org.get("contacts") or []
    emails = [c for c in contacts if "@" in c]
    granted = grant.fields.as_dict()
    spi = sorted({label for fields in granted.values() for f in fields
                  for name, label in SENSITIVE_FIELDS.items() if f == name})
    exp = grant.expiry
    until = retention_end(grant)
    termination = _in(TERMINATION, lang).format(
        expires=formats.moment(exp.expires_at, lang, zone=True),
        retention=formats.duration(grant.retention, lang),
        until=formats.moment(until, lang, zone=True))
    bound = grant.records
    categories = []
    for type_id, fields in granted.items():
        entry: dict[str, Any] = {"recordType": type_id, "fields": list(fields)}
        titles = next((s["records"] for s in shared or [] if s["record_type"] == type_id), None)
        if bound is not None:
            # What is shared now: the chosen records and, for documents, the evidence cited.
            entry["recordIds"] = ([r["id"] for r in titles] if titles is not None
                                  else list(bound.ids(type_id)))
            entry["includeLater"] = type_id in bound.include_later_types
            if type_id in bound.evidence_types:
                entry["evidence"] = True
        if titles is not None:
            entry["recordTitles"] = [r["title"] for r in titles]
        categories.append(entry)
    controller_address: dict[str, Any] = dict(org.get("address") or {})
    purpose_text = grant.purpose_description or purpose_label(grant.purpose, lang)
    return {
        "version": VERSION,
        "jurisdiction": JURISDICTION,
        "consentTimestamp": int(from_iso(grant.created_at).timestamp()),
        "collectionMethod": collection_method(grant.origin, lang),
        "consentReceiptID": grant.receipt_id or str(uuid.uuid4()),
        "language": lang,
        "piiPrincipalId": principal_id(vault_id, grant.client_id),
        "piiControllers": [{
            "piiController": org.get("name", ""),
            "onBehalf": False,
            "contact": ", ".join(contacts) or org.get("name", ""),
            "address": controller_address,
            "email": emails[0] if emails else "",
            "phone": "",
            "piiControllerUrl": org.get("home_url", ""),
        }],
        "policyUrl": org.get("policy_url") or org.get("home_url", ""),
        "services": [{
            "service": "Kluis: " + purpose_label(grant.purpose, "en"),
            "purposes": [{
                "purpose": purpose_text,
                "purposeCategory": [grant.purpose],
                "consentType": "EXPLICIT",
                "piiCategory": [f"{t}: {', '.join(f)}" for t, f in granted.items()],
                "primaryPurpose": True,
                "termination": termination,
                "thirdPartyDisclosure": False,
            }],
        }],
        "sensitive": bool(spi),
        "spiCat": spi,
        # ISO/IEC TS 27560 consent record (W3C DPV dpv-27560 mapping).
        "consentRecord": {
            "profile": DPV_27560,
            "recordId": grant.receipt_id,
            "eventTime": grant.created_at,
            "state": "dpv:ConsentGiven",
            "legalBasis": "dpv:Consent (GDPR art. 6(1)(a))",
            "purposes": [{"code": grant.purpose, "label": purpose_label(grant.purpose, "en"),
                          "description": purpose_text}],
            "piiCategories": categories,
            "controllers": [{
                "name": org.get("name", ""),
                "url": org.get("home_url", ""),
                "address": controller_address,
                "contact": {"emails": emails, "other": [c for c in contacts if "@" not in c],
                            "policyUrl": org.get("policy_url") or ""},
            }],
            "validity": {"notBefore": exp.not_before, "expiresAt": exp.expires_at,
                         "maxUses": grant.usage_limit},
            "retention": {"duration": grant.retention, "until": until},
            "jurisdiction": JURISDICTION,
            "withdrawalMethod": withdrawal_method(grant.id, lang),
            "processor": {"name": "Kluis", "url": issuer},
        },
        # Kluis extension: the exact grant, machine-readable.
        "kluis": {
            "issuer": issuer,
            "grant_id": grant.id,
            "origin": grant.origin,
            "client_id": grant.client_id,
            "authorization_details": grant.authorization_details(),
        },
    }


def sign(receipt: dict[str, Any], private_jwk: dict[str, Any]) -> dict[str, Any]:
    """The receipt as a JWS (general JSON serialization)."""
    return signing.sign_json(receipt, private_jwk, typ=TYP)


def verify(document: dict[str, Any], public_jwks: list[dict[str, Any]]) -> dict[str, Any]:
    """The receipt inside a signed document; raises :class:`vault.crypto.SignatureError`."""
    payload: dict[str, Any]
    payload, _header = signing.verify_json(document, public_jwks)
    return payload


def key_id(document: dict[str, Any]) -> str | None:
    """The ``kid`` of the signature over a signed receipt (unverified), to show with it."""
    import json

    from vault.crypto.keys import b64d

    try:
        header = json.loads(b64d(document["signatures"][0]["protected"]))
        kid = header.get("kid")
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None
    return kid if isinstance(kid, str) else None


def payload_of(document: dict[str, Any]) -> dict[str, Any]:
    """The receipt inside a signed document, unverified (for display; the owner's own copy
    from her vault)."""
    import json

    from vault.crypto.keys import b64d

    payload: dict[str, Any] = json.loads(b64d(document["payload"]))
    return payload
