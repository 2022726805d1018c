"""Key slots: the data key of a vault wrapped under a key derived from one secret.

A slot is the only way to open a vault. Each slot wraps the vault's data key
(DEK) with AES-256-GCM under a key-encryption key (KEK) derived from one
secret: a password or recovery code (Argon2id), a 256-bit token (HKDF), or the output of
a passkey's WebAuthn PRF extension (HKDF).
The associated data binds the ciphertext to the slot id, the vault id and the
slot kind, so a slot cannot be moved to another vault or relabelled.

A short check value (HMAC of the KEK) lets us tell a wrong secret
(:class:`WrongKey`) from a modified slot (:class:`TamperedSlot`). It reveals
no more than the GCM tag already does: both confirm a guess.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.crypto.errors import TamperedSlot, WrongKey
from vault.crypto.kdf import Argon2Params, argon2id, hkdf

PASSWORD = "password"  # noqa: S105 - a slot kind, not a secret
RECOVERY = "recovery"
APP_TOKEN = "app-token"  # noqa: S105 - a slot kind, not a secret
GRANT = "grant"
PASSKEY = "passkey"
KINDS = (PASSWORD, RECOVERY, APP_TOKEN, GRANT, PASSKEY)
HUMAN_KINDS = (PASSWORD, RECOVERY)
TOKEN_KINDS = (APP_TOKEN, GRANT)


@dataclass
class KeySlot:
    """One wrapped copy of a vault's data key. Stored in instance.db as is."""

    id: str
    vault_id: str
    kind: str
    kdf: str  # "argon2id" or "hkdf-sha256"
    params: dict[str, Any] = field(default_factory=dict)
    salt: bytes = b""
    nonce: bytes = b""
    wrapped: bytes = b""
    check: bytes = b""
    token_hash: str | None = None
    label: str = ""
    grant_id: str | None = None
    created_at: str = ""
    expires_at: str | None = None

    def aad(self) -> bytes:
        return f"kluis-slot:v1:{self.id}:{self.vault_id}:{self.kind}:{self.kdf}".encode()

    @property
    def argon2_params(self) -> Argon2Params:
        return Argon2Params.from_dict(self.params)


def new_slot_id() -> str:
    return os.urandom(12).hex()


PRF_KDF = "webauthn-prf-hkdf-sha256"
_PRF_INFO = b"kluis passkey slot v1"


def derive_kek(slot: KeySlot, secret: str | bytes) -> bytes:
    if slot.kdf == PRF_KDF:
        if not isinstance(secret, bytes) or len(secret) < 32:
            raise WrongKey("a passkey slot opens only with a 32-byte PRF output")
        return hkdf(secret, info=_PRF_INFO, salt=slot.salt)
    if isinstance(secret, bytes):
        raise WrongKey("this slot opens with a text secret")
    if slot.kdf == "argon2id":
        return argon2id(secret, slot.salt, slot.argon2_params)
    if slot.kdf == "hkdf-sha256":
        return hkdf(secret.encode("utf-8"), info=b"kluis token slot v1", salt=slot.salt)
    raise TamperedSlot(f"unknown KDF {slot.kdf!r}")


def _check_value(kek: bytes, slot: KeySlot) -> bytes:
    return hmac.new(kek, b"kluis-slot-check:" + slot.aad(), hashlib.sha256).digest()[:16]


def _seal(slot: KeySlot, kek: bytes, dek: bytes) -> KeySlot:
    slot.nonce = os.urandom(12)
    slot.wrapped = AESGCM(kek).encrypt(slot.nonce, dek, slot.aad())
    slot.check = _check_value(kek, slot)
    return slot


def wrap_human(
    dek: bytes,
    secret: str,
    *,
    vault_id: str,
    kind: str,
    params: Argon2Params,
    slot_id: str | None = None,
    label: str = "",
    created_at: str = "",
) -> KeySlot:
    """Wrap ``dek`` under Argon2id(secret) in a new password or recovery slot."""
    if kind not in HUMAN_KINDS:
        raise ValueError(f"{kind} slots are not derived from a human secret")
    slot = KeySlot(
        id=slot_id or new_slot_id(),
        vault_id=vault_id,
        kind=kind,
        kdf="argon2id",
        params=params.to_dict(),
        salt=os.urandom(16),
        label=label,
        created_at=created_at,
    )
    return _seal(slot, argon2id(secret, slot.salt, params), dek)


def wrap_token(
    dek: bytes,
    token: str,
    *,
    vault_id: str,
    kind: str,
    token_hash: str,
    slot_id: str | None = None,
    label: str = "",
    grant_id: str | None = None,
    created_at: str = "",
    expires_at: str | None = None,
) -> KeySlot:
    """Wrap ``dek`` under HKDF(token) in a new app-token or grant slot."""
    if kind not in TOKEN_KINDS:
        raise ValueError(f"{kind} slots are not derived from a token")
    slot = KeySlot(
        id=slot_id or new_slot_id(),
        vault_id=vault_id,
        kind=kind,
        kdf="hkdf-sha256",
        params={},
        salt=os.urandom(16),
        token_hash=token_hash,
        label=label,
        grant_id=grant_id,
        created_at=created_at,
        expires_at=expires_at,
    )
    kek = hkdf(token.encode("utf-8"), info=b"kluis token slot v1", salt=slot.salt)
    return _seal(slot, kek, dek)


def wrap_prf(
    dek: bytes,
    prf_output: bytes,
    *,
    vault_id: str,
    slot_id: str | None = None,
    label: str = "",
    created_at: str = "",
) -> KeySlot:
    """Wrap ``dek`` in a new passkey slot: KEK = HKDF-SHA256(PRF output, random salt).

    ``prf_output`` is what the authenticator's WebAuthn PRF extension returned for the
    passkey (32 bytes, secret to whoever holds the authenticator)."""
    if len(prf_output) < 32:
        raise ValueError("a PRF output has 32 bytes")
    slot = KeySlot(
        id=slot_id or new_slot_id(),
        vault_id=vault_id,
        kind=PASSKEY,
        kdf=PRF_KDF,
        params={},
        salt=os.urandom(16),
        label=label,
        created_at=created_at,
    )
    return _seal(slot, hkdf(prf_output, info=_PRF_INFO, salt=slot.salt), dek)


def unwrap(slot: KeySlot, secret: str | bytes) -> bytes:
    """Return the data key in ``slot``.

    Raises :class:`WrongKey` when ``secret`` is not the slot's secret and
    :class:`TamperedSlot` when the slot was modified.
    """
    try:
        kek = derive_kek(slot, secret)
    except (KeyError, ValueError, TypeError) as exc:
        raise TamperedSlot("slot parameters are not valid") from exc
    if not hmac.compare_digest(_check_value(kek, slot), slot.check):
        raise WrongKey("the secret does not open this slot")
    try:
        dek = AESGCM(kek).decrypt(slot.nonce, slot.wrapped, slot.aad())
    except (InvalidTag, ValueError) as exc:
        raise TamperedSlot("the slot does not authenticate") from exc
    if len(dek) != 32:
        raise TamperedSlot("the slot holds no 256-bit key")
    return dek


def params_json(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))
