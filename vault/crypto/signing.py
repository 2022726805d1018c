"""JWS signing with the instance signing key (ES256, RFC 7515 JSON serialization).

Consent receipts and export bundles are signed here. Keys are JWKs; the
storage layer persists them inside instance.db and publishes the public halves
at ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import json
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

from vault.crypto.errors import SignatureError
from vault.crypto.keys import b64d

ALGORITHM = "ES256"


def new_signing_key() -> dict[str, Any]:
    """A fresh P-256 private JWK whose ``kid`` is its RFC 7638 thumbprint."""
    key = ECKey.generate_key("P-256")
    kid = key.thumbprint()
    data = key.as_dict(private=True)
    data.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
    return data


def public_jwk(private_jwk: dict[str, Any]) -> dict[str, Any]:
    key = ECKey.import_key(private_jwk)
    data = key.as_dict(private=False)
    data.update({"kid": private_jwk["kid"], "alg": ALGORITHM, "use": "sig"})
    return data


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_json(payload: Any, private_jwk: dict[str, Any], *, typ: str = "JOSE+JSON") -> dict[str, Any]:
    """Sign ``payload`` (any JSON value) as a general JWS JSON serialization."""
    key = ECKey.import_key(private_jwk)
    member: jws.HeaderDict = {"protected": {"alg": ALGORITHM, "kid": private_jwk["kid"], "typ": typ}}
    return dict(jws.serialize_json([member], canonical_json(payload), key, algorithms=[ALGORITHM]))


def sign_compact(payload: Any, private_jwk: dict[str, Any], *, typ: str = "JWT") -> str:
    key = ECKey.import_key(private_jwk)
    header = {"alg": ALGORITHM, "kid": private_jwk["kid"], "typ": typ}
    return jws.serialize_compact(header, canonical_json(payload), key, algorithms=[ALGORITHM])


def verify_json(document: dict[str, Any], public_jwks: list[dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """Verify a JWS JSON serialization against ``public_jwks``.

    Returns ``(payload, protected_header)``. Raises :class:`SignatureError`
    with reason ``malformed``, ``unknown-key`` or ``bad-signature``.
    """
    if not isinstance(document, dict) or not isinstance(document.get("payload"), str):
        raise SignatureError("malformed", "not a JWS JSON serialization")
    signatures = document.get("signatures")
    if signatures is None and "signature" in document:
        signatures = [{"protected": document.get("protected"), "signature": document["signature"]}]
    if not isinstance(signatures, list) or not signatures:
        raise SignatureError("malformed", "the document carries no signature")
    try:
        header = json.loads(b64d(signatures[0]["protected"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise SignatureError("malformed", "the protected header is not readable") from exc
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM:
        raise SignatureError("malformed", f"unsupported algorithm {header.get('alg')!r}")
    matching = [k for k in public_jwks if k.get("kid") == kid]
    if not matching:
        raise SignatureError("unknown-key", f"no known key has kid {kid!r}")
    keyset = KeySet.import_key_set({"keys": matching})
    try:
        # The general serialization of what came in (a flattened one becomes one signature).
        value: jws.GeneralJSONSerialization = {"payload": document["payload"], "signatures": signatures}
        result = jws.deserialize_json(value, keyset, algorithms=[ALGORITHM])
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise SignatureError("bad-signature", "the signature does not match the content") from exc
    try:
        payload = json.loads(result.payload)
    except ValueError as exc:
        raise SignatureError("malformed", "the signed payload is not JSON") from exc
    return payload, header

