"""One-time codes: how an approval hands its access token to the token endpoint. No Flask.

The token endpoint runs while the owner is away, so it cannot reach the data
key. Therefore, at approval (the owner's session has the data key) the 256-bit
access token is generated, its grant slot created, and the token stored
encrypted under a key derived from the one-time authorization (or pickup)
code; the instance keeps only the code's SHA-256. The token endpoint decrypts
and hands out the token once, then deletes the row. The instance never stores a
usable token.

Approval (:mod:`vault.grants.consent`) seals; the token endpoint
(:mod:`vault.grants.oauth`) opens. This module is what both share.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from vault.crypto import aead
from vault.crypto.kdf import hkdf

ACCESS_TOKEN_PREFIX = "kluis_gt_"  # noqa: S105 - a prefix, not a secret
CODE_PREFIX = "kluis_ac_"
PICKUP_PREFIX = "kluis_pu_"
CODE_LIFETIME = timedelta(minutes=10)
PICKUP_LIFETIME = timedelta(days=7)


def _code_key(code: str) -> bytes:
    return hkdf(code.encode(), info=b"kluis one-time code v1")


def seal(code: str, code_hash: str, bundle: dict[str, Any]) -> bytes:
    """``bundle`` (the token and what the token endpoint answers) encrypted under ``code``."""
    return aead.encrypt(_code_key(code), json.dumps(bundle).encode(), code_hash.encode())


def unseal(code: str, code_hash: str, sealed: bytes) -> dict[str, Any]:
    """The bundle :func:`seal` stored. Raises ``CryptoError`` when ``code`` does not open it."""
    bundle: dict[str, Any] = json.loads(aead.decrypt(_code_key(code), sealed,
                                                     code_hash.encode()))
    return bundle
