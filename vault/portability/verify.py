"""Offline verification of a certified bundle, or a consent receipt, against a JWKS.

The answer is either "valid, signed by <instance> at <time>" or exactly one
reason why not:

``malformed``        not a Kluis bundle (not JSON, no JWS, unreadable payload)
``altered-content``  the signed content was changed: its digest no longer matches the
                     digest the bundle (or the PDF) states, or a record or document no
                     longer matches its own digest
``unknown-key``      the bundle names a key (kid) that the given JWKS does not hold
``bad-signature``    the signature does not match the content and header
``expired-key``      the key had been retired before the time the bundle says it was signed

The JWKS comes from a file or from an instance (``/.well-known/jwks.json``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vault.clock import from_iso, to_iso
from vault.crypto import signing
from vault.crypto.errors import SignatureError
from vault.crypto.keys import b64d
from vault.portability.bundle import FORMAT, payload_digest
from vault.records.service import data_digest

MALFORMED = "malformed"
ALTERED = "altered-content"
UNKNOWN_KEY = "unknown-key"
BAD_SIGNATURE = "bad-signature"
EXPIRED_KEY = "expired-key"
REASONS = (MALFORMED, ALTERED, UNKNOWN_KEY, BAD_SIGNATURE, EXPIRED_KEY)
JWKS_PATH = "/.well-known/jwks.json"
# A Kantara consent receipt (vault.grants.receipts.VERSION) is checked the same way.
RECEIPT_VERSION = "KI-CR-v1.1.0"


class JwksError(ValueError):
    """The JWKS could not be read (file missing, not JSON, instance unreachable)."""


@dataclass(frozen=True)
class Verification:
    valid: bool
    reason: str | None
    message: str
    issuer: str | None = None
    signed_at: str | None = None
    kid: str | None = None
    digest: str | None = None
    vault: str | None = None
    records: int = 0
    documents: int = 0
    kind: str = "bundle"  # or "consent-receipt"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fail(reason: str, message: str, **known: Any) -> Verification:
    return Verification(False, reason, message, **known)


def parse_document(raw: bytes | str | dict) -> dict:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SignatureError(MALFORMED, "the bundle is not JSON") from exc
    if not isinstance(value, dict):
        raise SignatureError(MALFORMED, "the bundle is not a JSON object")
    return value


def verify_bundle(
    raw: bytes | str | dict,
    jwks: list[dict[str, Any]],
    *,
    expected_digest: str | None = None,
) -> Verification:
    """Check ``raw`` (a bundle's JSON) against the public keys in ``jwks``.

    ``expected_digest`` (hex, optionally ``sha256:``-prefixed), for example
    read from a PDF's QR code, must then match the signed content too.
    """
    try:
        document = parse_document(raw)
    except SignatureError as exc:
        return _fail(exc.reason, str(exc))
    payload_text = document.get("payload")
    if not isinstance(payload_text, str):
        return _fail(MALFORMED, "the bundle is not a JWS JSON serialization")
    try:
        payload_bytes = b64d(payload_text)
    except (ValueError, binascii.Error):
        return _fail(ALTERED, "the signed content is not readable any more")
    digest = payload_digest(payload_bytes)
    stated = document.get("kluis_digest")
    if isinstance(stated, str) and _strip(stated) != digest:
        return _fail(ALTERED, "the content was changed after it was signed", digest=digest)
    if expected_digest and _strip(expected_digest) != digest:
        return _fail(ALTERED, "the content does not match the expected digest", digest=digest)

    try:
        payload, header = signing.verify_json(document, jwks)
    except SignatureError as exc:
        message = {
            UNKNOWN_KEY: "the bundle was signed with a key this JWKS does not know",
            BAD_SIGNATURE: "the signature does not match the content",
        }.get(exc.reason, str(exc))
        if exc.reason == BAD_SIGNATURE and not isinstance(stated, str):
            # Without a stated digest we cannot tell which part changed.
            message = "the signature does not match the content (or the content was changed)"
        return _fail(exc.reason, message, digest=digest)
    if isinstance(payload, dict) and payload.get("version") == RECEIPT_VERSION:
        return _receipt_result(payload, header, jwks, digest)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        return _fail(MALFORMED, "the signed content is not a Kluis bundle", digest=digest)

    kid = header.get("kid")
    issuer = (payload.get("issuer") or {}).get("url")
    signed_at = payload.get("exported_at")
    known: dict[str, Any] = {"issuer": issuer, "signed_at": signed_at, "kid": kid, "digest": digest,
             "vault": payload.get("vault")}

    problem = _content_problem(payload)
    if problem:
        return _fail(ALTERED, problem, **known)

    key = next(k for k in jwks if k.get("kid") == kid)
    expired = _key_expired(key, signed_at)
    if expired:
        return _fail(EXPIRED_KEY, expired, **known)

    recs = payload.get("records") or []
    docs = payload.get("documents") or []
    return Verification(
        True, None, f"valid, signed by {issuer} at {signed_at}",
        records=len(recs), documents=len(docs), **known,
    )


def _receipt_result(payload: dict, header: dict, jwks: list[dict[str, Any]],
                    digest: str) -> Verification:
    """A consent receipt whose signature checked out: who signed it, when, for whom."""
    kid = header.get("kid")
    kluis: dict[str, Any] = payload["kluis"] if isinstance(payload.get("kluis"), dict) else {}
    record: dict[str, Any] = (payload["consentRecord"]
                              if isinstance(payload.get("consentRecord"), dict) else {})
    issuer = kluis.get("issuer")
    signed_at = record.get("eventTime")
    controllers = payload.get("piiControllers") or [{}]
    first = controllers[0] if isinstance(controllers, list) and controllers else {}
    organisation = first.get("piiController", "") if isinstance(first, dict) else ""
    key = next(k for k in jwks if k.get("kid") == kid)
    expired = _key_expired(key, signed_at)
    if expired:
        return Verification(False, EXPIRED_KEY, expired, issuer=issuer, signed_at=signed_at,
                            kid=kid, digest=digest, kind="consent-receipt")
    return Verification(
        True, None, f"valid consent receipt {payload.get('consentReceiptID', '')} for "
                    f"{organisation}, signed by {issuer} at {signed_at}",
        issuer=issuer, signed_at=signed_at, kid=kid, digest=digest, kind="consent-receipt")


def _strip(digest: str) -> str:
    digest = digest.strip().lower()
    return digest[len("sha256:"):] if digest.startswith("sha256:") else digest


def _content_problem(payload: dict) -> str | None:
    """Each record must match its digest and each document its sha256."""
    records = payload.get("records")
    documents = payload.get("documents")
    if not isinstance(records, list) or not isinstance(documents, list):
        return "the bundle has no record list"
    for record in records:
        try:
            if data_digest(record["type"], record["data"]) != record["digest"]:
                return f"record {record.get('id')} does not match its digest"
        except (KeyError, TypeError):
            return "a record in the bundle is incomplete"
    for doc in documents:
        try:
            content = base64.b64decode(doc["content"], validate=True)
        except (KeyError, TypeError, ValueError, binascii.Error):
            return "a document in the bundle is not readable"
        if hashlib.sha256(content).hexdigest() != doc.get("sha256") or len(content) != doc.get(
            "size"
        ):
            return f"document {doc.get('sha256')} does not match its SHA-256"
    return None


def _key_expired(key: dict, signed_at: Any) -> str | None:
    """A key retired (``kluis_retired_at``) or expired (``exp``) before ``signed_at``."""
    try:
        moment = from_iso(str(signed_at))
    except ValueError:
        return "the bundle does not say when it was signed"
    retired = key.get("kluis_retired_at")
    if retired:
        try:
            if moment >= from_iso(str(retired)):
                return f"the key was retired at {retired}, before this bundle was signed"
        except ValueError:
            return "the key's retirement time is not readable"
    exp = key.get("exp")
    if isinstance(exp, int | float):
        end = datetime.fromtimestamp(exp, UTC)
        if moment >= end:
            return f"the key expired at {to_iso(end)}, before this bundle was signed"
    return None


# -- JWKS sources -------------------------------------------------------------------------------


def jwks_from_json(value: Any) -> list[dict[str, Any]]:
    keys = value.get("keys") if isinstance(value, dict) else value
    if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
        raise JwksError('a JWKS is a JSON object with a "keys" list')
    return keys


def load_jwks_file(path: str | Path) -> list[dict[str, Any]]:
    try:
        return jwks_from_json(json.loads(Path(path).read_text("utf-8")))
    except OSError as exc:
        raise JwksError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        if isinstance(exc, JwksError):
            raise
        raise JwksError(f"{path} is not JSON") from exc


def jwks_url(instance_url: str) -> str:
    url = instance_url.rstrip("/")
    return url if url.endswith(".json") else url + JWKS_PATH


def fetch_jwks(instance_url: str, *, timeout: float = 10.0) -> list[dict[str, Any]]:
    """GET ``<instance>/.well-known/jwks.json`` (or the JWKS URL given)."""
    import requests

    url = jwks_url(instance_url)
    if not url.startswith(("https://", "http://")):
        raise JwksError("the instance URL must start with https:// or http://")
    try:
        resp = requests.get(url, timeout=timeout, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise JwksError(f"cannot reach {url}: {type(exc).__name__}") from exc
    if resp.status_code != 200:
        raise JwksError(f"{url} answered {resp.status_code}")
    try:
        return jwks_from_json(resp.json())
    except ValueError as exc:
        if isinstance(exc, JwksError):
            raise
        raise JwksError(f"{url} did not return JSON") from exc


def issuer_of(raw: bytes | str | dict) -> str | None:
    """The issuer URL a bundle claims (unverified), to know where to fetch its JWKS."""
    try:
        document = parse_document(raw)
        payload = json.loads(b64d(document["payload"]))
        url = (payload["kluis"]["issuer"] if payload.get("version") == RECEIPT_VERSION
               else payload["issuer"]["url"])
    except (SignatureError, KeyError, TypeError, ValueError, binascii.Error):
        return None
    return url if isinstance(url, str) else None
