"""AES-256-GCM for small secrets at rest (session-wrapped keys, source credentials)."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.crypto.errors import WrongKey

_VERSION = b"\x01"


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """``version || nonce || ciphertext`` under ``key`` bound to ``aad``."""
    nonce = os.urandom(12)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Inverse of :func:`encrypt`; :class:`WrongKey` when the key or data do not match."""
    if len(blob) < 1 + 12 + 16 or blob[:1] != _VERSION:
        raise WrongKey("not an encrypted blob")
    try:
        return AESGCM(key).decrypt(blob[1:13], blob[13:], aad)
    except InvalidTag as exc:
        raise WrongKey("the key does not open this blob, or it was modified") from exc
