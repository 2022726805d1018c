"""Consent receipts: Kantara Consent Receipt v1.1 documents signed as JWS by the instance key.

The owner downloads every receipt; the organisation gets its copy with the
token. Anyone can check a receipt against ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from vault.clock import from_iso
from vault.crypto import signing
from vault.grants.models import Grant, purpose_label

VERSION = "KI-CR-v1.1.0"
JURISDICTION = "NL"
TYP = "kluis-consent-receipt+json"
SENSITIVE_FIELDS = {"bsn": "national identification number (BSN)"}
COLLECTION_METHODS = {
    "oauth": "The person approved the organisation's request on the consent screen of their "
             "Kluis vault.",
    "owner": "The person created this grant themselves in their Kluis vault.",
}


def principal_id(vault_id: str, client_id: str) -> str:
    """A pairwise identifier: the same for one vault and one organisation, unlinkable across."""
    digest = hashlib.sha256(f"kluis-principal:{vault_id}:{client_id}".encode()).hexdigest()
    return "urn:kluis:principal:" + digest[:32]


def build(grant: Grant, *, vault_id: str, issuer: str, lang: str = "nl") -> dict[str, Any]:
    """The receipt document for ``grant`` (unsigned)."""
    org = grant.organisation
    contacts = org.get("contacts") or []
    emails = [c for c in contacts if "@" in c]
    granted = grant.fields.as_dict()
    spi = sorted({label for fields in granted.values() for f in fields
                  for name, label in SENSITIVE_FIELDS.items() if f == name})
    exp = grant.expiry
    termination = (
        f"Access ends at {exp.expires_at} or when the person revokes it, whichever is first; "
        f"the organisation keeps the data at most {grant.retention} after receiving it."
    )
    return {
        "version": VERSION,
        "jurisdiction": JURISDICTION,
        "consentTimestamp": int(from_iso(grant.created_at).timestamp()),
        "collectionMethod": COLLECTION_METHODS.get(grant.origin, COLLECTION_METHODS["oauth"]),
        "consentReceiptID": grant.receipt_id or str(uuid.uuid4()),
        "language": lang,
        "piiPrincipalId": principal_id(vault_id, grant.client_id),
        "piiControllers": [{
            "piiController": org.get("name", ""),
            "onBehalf": False,
            "contact": ", ".join(contacts) or org.get("name", ""),
            "address": "",
            "email": emails[0] if emails else "",
            "phone": "",
            "piiControllerUrl": org.get("home_url", ""),
        }],
        "policyUrl": org.get("policy_url") or org.get("home_url", ""),
        "services": [{
            "service": "Kluis: " + purpose_label(grant.purpose, "en"),
            "purposes": [{
                "purpose": grant.purpose_description or purpose_label(grant.purpose, lang),
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
        # Kluis extension: the exact grant, machine-readable.
        "kluis": {
            "issuer": issuer,
            "grant_id": grant.id,
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
