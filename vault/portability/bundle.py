"""Certified bundles: chosen records with provenance, signed as a JWS by the instance key.

A bundle is a JWS in the general JSON serialization (RFC 7515 section 7.2.1)::

    {"payload": "<base64url of the canonical JSON below>",
     "signatures": [{"protected": "<{alg: ES256, kid, typ}>", "signature": "..."}],
     "kluis_digest": "sha256:<hex of the payload bytes>"}

``kluis_digest`` is an extra member (RFC 7515 lets readers ignore it): the
bundle's digest as printed on the PDF and in its QR code. It is not trusted
by itself; verification recomputes it and then checks the signature.

The payload::

    {"format": "kluis-bundle/v1", "issuer": {"url", "kid"}, "vault": "<public id>",
     "exported_at": "...", "types": [...] | "all", "language": "nl",
     "records": [{"id", "type", "version", "data", "digest", "provenance",
                  "created_at", "updated_at"}],
     "documents": [{"sha256", "media_type", "size", "content"}]}

``content`` is the document's bytes in standard base64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from vault.clock import now_iso
from vault.crypto import signing
from vault.crypto.keys import b64d
from vault.errors import KluisError
from vault.records import service as records
from vault.records.catalogue import LANGUAGES, RECORD_TYPES
from vault.storage.instance import Instance
from vault.storage.vaults import VaultDB

FORMAT = "kluis-bundle/v1"
TYPE = "kluis-bundle+json"
ALL = "all"
FORMATS = ("json", "pdf")
# A bundle carries document bytes; keep one export within what a browser and a mail can carry.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024


class ExportError(KluisError, ValueError):
    """The export request is not valid. ``errors`` maps field paths to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("the export request is not valid")
        self.errors = errors


@dataclass(frozen=True)
class Bundle:
    """A signed bundle: the JWS document, its decoded payload and its digest (hex)."""

    document: dict[str, Any]
    payload: dict[str, Any]
    digest: str

    def to_json(self) -> bytes:
        return json.dumps(self.document, indent=2, sort_keys=True).encode() + b"\n"

    @property
    def kid(self) -> str:
        return self.payload["issuer"]["kid"]


def vault_public_id(instance: Instance, vault_id: str) -> str:
    """A stable public name for a vault that does not reveal its internal id or file name."""
    key = instance.subkey("vault-public-id")
    mac = hmac.new(key, vault_id.encode(), hashlib.sha256).hexdigest()[:32]
    return f"urn:kluis:vault:{mac}"


def payload_digest(payload_bytes: bytes) -> str:
    return hashlib.sha256(payload_bytes).hexdigest()


def parse_request(types: Any, fmt: Any = "json", language: Any = "nl") -> tuple[list[str] | None,
                                                                                str, str]:
    """Check ``types`` ("all" or a list of type ids), ``format`` and ``language``.

    Returns ``(types or None for all, format, language)``; raises :class:`ExportError`.
    """
    errors: dict[str, list[str]] = {}
    chosen: list[str] | None = None
    if types == ALL:
        chosen = None
    elif types is None or types == []:
        # Nothing chosen is an error, never "everything": the owner says what leaves.
        errors["types"] = ['Choose what to export: "all" or at least one record type.']
    elif isinstance(types, list) and types and all(isinstance(t, str) for t in types):
        unknown = [t for t in types if t not in RECORD_TYPES]
        if unknown:
            errors["types"] = [f"Unknown record type(s): {', '.join(sorted(set(unknown)))}."]
        chosen = list(dict.fromkeys(types))
    else:
        errors["types"] = ['Give "all" or a non-empty list of record types.']
    if fmt not in FORMATS:
        errors["format"] = [f"Choose one of: {', '.join(FORMATS)}."]
    if language not in LANGUAGES:
        errors["language"] = [f"Choose one of: {', '.join(LANGUAGES)}."]
    if errors:
        raise ExportError(errors)
    return chosen, str(fmt), str(language)


def build_payload(
    vault: VaultDB,
    *,
    issuer_url: str,
    kid: str,
    vault_id: str,
    types: list[str] | None,
    language: str = "nl",
) -> dict[str, Any]:
    """The unsigned payload for ``types`` (None: all) of ``vault``'s current records."""
    chosen = records.list_records(vault, types)
    out_records = []
    wanted_docs: list[str] = []
    for record in chosen:
        out_records.append({
            "id": record.id,
            "type": record.type,
            "version": record.version,
            "data": record.data,
            "digest": records.data_digest(record.type, record.data),
            "provenance": record.provenance.to_dict(),
            "created_at": record.created_at,
            "updated_at": record.updated_at,
        })
        for name, value in record.data.items():
            if (name == "sha256" and record.type == "document") or name == "document_sha256":
                if isinstance(value, str) and value not in wanted_docs:
                    wanted_docs.append(value)
    documents = []
    size = 0
    for sha in wanted_docs:
        try:
            content, media_type = records.document_content(vault, sha)
        except records.RecordNotFound:
            continue  # a supporting-document hash whose file was never uploaded
        size += len(content)
        if size > MAX_DOCUMENT_BYTES:
            raise ExportError({"types": [
                f"The chosen documents hold more than {MAX_DOCUMENT_BYTES // 2**20} MiB;"
                " export fewer types at a time."]})
        documents.append({
            "sha256": sha,
            "media_type": media_type,
            "size": len(content),
            "content": base64.b64encode(content).decode("ascii"),
        })
    return {
        "format": FORMAT,
        "issuer": {"url": issuer_url, "kid": kid},
        "vault": vault_id,
        "exported_at": now_iso(),
        "types": ALL if types is None else list(types),
        "language": language,
        "records": out_records,
        "documents": documents,
    }


def sign_payload(payload: dict[str, Any], private_jwk: dict[str, Any]) -> Bundle:
    document = signing.sign_json(payload, private_jwk, typ=TYPE)
    digest = payload_digest(b64d(document["payload"]))
    document["kluis_digest"] = f"sha256:{digest}"
    return Bundle(document, payload, digest)


def export_bundle(
    instance: Instance,
    vault: VaultDB,
    *,
    types: list[str] | None,
    language: str = "nl",
) -> Bundle:
    """Build, sign and log one certified export of ``vault``.

    The owner's log gets an ``export.created`` event naming the types and the
    digest (never the values).
    """
    key = instance.signing_key()
    payload = build_payload(
        vault,
        issuer_url=instance.settings.public_url,
        kid=key["kid"],
        vault_id=vault_public_id(instance, vault.id),
        types=types,
        language=language,
    )
    bundle = sign_payload(payload, key)
    with vault.transaction() as tx:
        vault.append_event(
            tx, actor="owner", action="export.created",
            detail={"types": payload["types"], "records": len(payload["records"]),
                    "documents": len(payload["documents"]), "digest": bundle.digest},
        )
    return bundle
