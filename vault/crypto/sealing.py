"""HPKE (RFC 9180) sealing to a vault's inbox key.

Connectors and organisations seal new records to the vault's public inbox key:
they can write to a vault, never read it. Suite: DHKEM(X25519, HKDF-SHA256),
HKDF-SHA256, AES-256-GCM, single-shot base mode.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from vault.crypto.errors import SealError

SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
INFO = b"kluis inbox v1"


def new_inbox_keypair() -> tuple[bytes, bytes]:
    """Return ``(private_raw, public_raw)``, 32 bytes each."""
    private = X25519PrivateKey.generate()
    private_raw = private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    public_raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return private_raw, public_raw


def seal(public_key: bytes, payload: bytes, *, context: bytes = b"") -> bytes:
    """Encrypt ``payload`` so that only the holder of the inbox private key can read it.

    ``context`` (for example the vault id) is bound into the HPKE info string.
    """
    try:
        recipient = X25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise SealError("not an X25519 public key") from exc
    return SUITE.encrypt(payload, recipient, info=INFO + b":" + context)


def unseal(private_key: bytes, sealed: bytes, *, context: bytes = b"") -> bytes:
    """Decrypt a payload produced by :func:`seal`; :class:`SealError` if it does not open."""
    try:
        key = X25519PrivateKey.from_private_bytes(private_key)
        return SUITE.decrypt(sealed, key, info=INFO + b":" + context)
    except Exception as exc:  # noqa: BLE001 - any failure means "does not open"
        raise SealError("the sealed payload does not open with this key") from exc
