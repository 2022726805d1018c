"""Passkeys (WebAuthn) through the maintained ``webauthn`` library (py_webauthn). No Flask.

A passkey is always a second factor after the password. Where its authenticator supports
the WebAuthn PRF extension, it is also a passwordless login: the PRF output for a fixed
input (:data:`PRF_INPUT`) is turned into a key-encryption key with HKDF-SHA256
(:func:`vault.crypto.slots.wrap_prf`) that wraps the vault's data key in the passkey's own
key slot. Without PRF there is no secret to derive a key from, so the passkey cannot open
the vault on its own and stays a second factor only; the security page says which.

The credential (id, COSE public key, signature counter) is public material and lives in
instance.db (table ``passkeys``), so a passwordless login can find it before a vault opens.
Removing a passkey deletes its key slot in the same transaction.

:class:`PasskeyOps` is part of :class:`vault.accounts.service.Accounts`; challenges are the
caller's to keep (the web layer keeps them in the signed session cookie) and to pass back.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import webauthn
from webauthn.helpers import options_to_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from vault.accounts.errors import PasskeyInvalid, PasskeySecondFactorOnly
from vault.clock import now_iso
from vault.config import Settings
from vault.crypto import slots
from vault.crypto.errors import CryptoError
from vault.storage import db
from vault.storage.instance import Instance
from vault.storage.vaults import VaultDB

#: The PRF input every Kluis passkey is asked to evaluate (the browser hashes it again with
#: the "WebAuthn PRF" context). Not secret: the secret is the authenticator's per-credential key.
PRF_INPUT = hashlib.sha256(b"kluis passkey vault key v1").digest()

RP_NAME = "Kluis"
MAX_LABEL = 80


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    """Bytes from base64url with or without padding; raises :class:`PasskeyInvalid`."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise PasskeyInvalid("The passkey response is not valid.") from None


@dataclass(frozen=True)
class Passkey:
    id: str
    vault_id: str
    credential_id: str
    label: str
    unlocks: bool  # True: has a PRF key slot (passwordless login); False: second factor only
    created_at: str
    last_used_at: str | None


@dataclass(frozen=True)
class Relying:
    """The relying party as WebAuthn checks it: id (host name) and origin of the public URL."""

    rp_id: str
    origin: str

    @classmethod
    def of(cls, settings: Settings) -> Relying:
        parts = urlsplit(settings.public_url)
        return cls(parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}")


def _prf_output(credential: Mapping[str, Any]) -> bytes | None:
    """The PRF result the browser put in ``clientExtensionResults`` (base64url), if any."""
    results = credential.get("clientExtensionResults")
    if not isinstance(results, Mapping):
        return None
    prf = results.get("prf")
    first = prf.get("results", {}).get("first") if isinstance(prf, Mapping) else None
    if not isinstance(first, str) or not first:
        return None
    output = from_b64url(first)
    if len(output) != 32:
        raise PasskeyInvalid("The passkey's PRF output is not 32 bytes.")
    return output


def _prf_enabled(credential: Mapping[str, Any]) -> bool:
    results = credential.get("clientExtensionResults")
    prf = results.get("prf") if isinstance(results, Mapping) else None
    return bool(isinstance(prf, Mapping) and (prf.get("enabled") or prf.get("results")))


def _with_prf(options_json: str) -> dict[str, Any]:
    options: dict[str, Any] = json.loads(options_json)
    options["extensions"] = {"prf": {"eval": {"first": b64url(PRF_INPUT)}}}
    return options


class PasskeyOps:
    """The passkey operations of :class:`~vault.accounts.service.Accounts`."""

    instance: Instance
    settings: Settings

    def open(self, vault_id: str, dek: bytes) -> VaultDB:  # provided by Accounts
        raise NotImplementedError

    @property
    def relying(self) -> Relying:
        return Relying.of(self.settings)

    # -- listing ----------------------------------------------------------------------------

    def passkeys(self, vault_id: str) -> list[Passkey]:
        rows = self.instance.conn.execute(
            "SELECT * FROM passkeys WHERE vault_id = ? ORDER BY created_at", (vault_id,)
        ).fetchall()
        return [_passkey(row) for row in rows]

    def has_passkeys(self, vault_id: str) -> bool:
        return self.instance.conn.execute(
            "SELECT 1 FROM passkeys WHERE vault_id = ? LIMIT 1", (vault_id,)
        ).fetchone() is not None

    # -- registration -----------------------------------------------------------------------

    def passkey_registration_options(self, vault_id: str, username: str
                                     ) -> tuple[dict[str, Any], bytes]:
        """``(options for navigator.credentials.create(), challenge)``: a discoverable
        credential with user verification, asking for the PRF extension."""
        options = webauthn.generate_registration_options(
            rp_id=self.relying.rp_id, rp_name=RP_NAME, user_name=username or "kluis",
            user_id=vault_id.encode(),
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                user_verification=UserVerificationRequirement.REQUIRED),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=from_b64url(p.credential_id))
                                 for p in self.passkeys(vault_id)],
        )
        return _with_prf(options_to_json(options)), options.challenge

    def add_passkey(self, vault_id: str, dek: bytes, credential: dict[str, Any],
                    challenge: bytes, label: str = "") -> tuple[Passkey, bool]:
        """Verify a registration and keep the passkey. Returns ``(passkey, prf_pending)``:
        when the authenticator said it supports PRF but gave no output at creation (most do
        so only on a login), ``prf_pending`` is True and :meth:`add_passkey_slot` with one
        assertion finishes the key slot."""
        relying = self.relying
        try:
            verified = webauthn.verify_registration_response(
                credential=credential, expected_challenge=challenge,
                expected_rp_id=relying.rp_id, expected_origin=relying.origin,
                require_user_verification=True)
        except (WebAuthnException, ValueError, KeyError, TypeError):
            raise PasskeyInvalid("The passkey could not be registered.") from None
        prf = _prf_output(credential)
        label = (label or "").strip()[:MAX_LABEL] or "Passkey"
        passkey_id = os.urandom(12).hex()
        created = now_iso()
        slot = (slots.wrap_prf(dek, prf, vault_id=vault_id, label=label, created_at=created)
                if prf is not None else None)
        credential_id = b64url(verified.credential_id)
        with self.instance.transaction() as tx:
            if tx.execute("SELECT 1 FROM passkeys WHERE credential_id = ?",
                          (credential_id,)).fetchone():
                raise PasskeyInvalid("This passkey is registered already.")
            if slot is not None:
                self.instance.put_slot(tx, slot)
            tx.execute(
                "INSERT INTO passkeys (id, vault_id, credential_id, public_key, sign_count,"
                " label, slot_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (passkey_id, vault_id, credential_id, verified.credential_public_key,
                 verified.sign_count, label, slot.id if slot else None, created))
        with self.open(vault_id, dek) as vault, vault.transaction() as vtx:
            vault.append_event(vtx, actor="owner", action="passkey.added",
                               detail={"passkey": passkey_id, "name": label,
                                       "unlocks": slot is not None})
        passkey = Passkey(passkey_id, vault_id, credential_id, label, slot is not None,
                          created, None)
        return passkey, slot is None and _prf_enabled(credential)

    def add_passkey_slot(self, vault_id: str, dek: bytes, passkey_id: str,
                         credential: dict[str, Any], challenge: bytes) -> bool:
        """Give a registered passkey its key slot from one verified assertion that carries a
        PRF output. Returns False when the authenticator gave none (second factor only)."""
        passkey, prf = self.verify_passkey(credential, challenge, vault_id=vault_id)
        if passkey.id != passkey_id:
            raise PasskeyInvalid("That is another passkey.")
        if prf is None or passkey.unlocks:
            return passkey.unlocks
        slot = slots.wrap_prf(dek, prf, vault_id=vault_id, label=passkey.label,
                              created_at=now_iso())
        with self.instance.transaction() as tx:
            self.instance.put_slot(tx, slot)
            tx.execute("UPDATE passkeys SET slot_id = ? WHERE id = ?", (slot.id, passkey.id))
        with self.open(vault_id, dek) as vault, vault.transaction() as vtx:
            vault.append_event(vtx, actor="owner", action="passkey.unlocks",
                               detail={"passkey": passkey.id, "name": passkey.label})
        return True

    def remove_passkey(self, vault_id: str, dek: bytes, passkey_id: str) -> bool:
        """Remove a passkey and its key slot (one transaction). False if there is none."""
        row = self.instance.conn.execute(
            "SELECT * FROM passkeys WHERE id = ? AND vault_id = ?", (passkey_id, vault_id)
        ).fetchone()
        if row is None:
            return False
        with self.instance.transaction() as tx:
            tx.execute("DELETE FROM passkeys WHERE id = ?", (passkey_id,))
            if row["slot_id"]:
                self.instance.delete_slot(tx, row["slot_id"])
        with self.open(vault_id, dek) as vault, vault.transaction() as vtx:
            vault.append_event(vtx, actor="owner", action="passkey.removed",
                               detail={"passkey": passkey_id, "name": row["label"]})
        return True

    # -- authentication ---------------------------------------------------------------------

    def passkey_login_options(self, vault_id: str | None = None) -> tuple[dict[str, Any], bytes]:
        """``(options for navigator.credentials.get(), challenge)``: any discoverable Kluis
        passkey (passwordless), or only ``vault_id``'s (the second step after a password)."""
        allow = ([PublicKeyCredentialDescriptor(id=from_b64url(p.credential_id))
                  for p in self.passkeys(vault_id)] if vault_id else None)
        options = webauthn.generate_authentication_options(
            rp_id=self.relying.rp_id, allow_credentials=allow,
            user_verification=UserVerificationRequirement.REQUIRED)
        return _with_prf(options_to_json(options)), options.challenge

    def verify_passkey(self, credential: dict[str, Any], challenge: bytes, *,
                       vault_id: str | None = None) -> tuple[Passkey, bytes | None]:
        """Verify an assertion (signature, challenge, origin, user verification, counter)
        and note its use. Returns the passkey and the PRF output, if the browser sent one."""
        raw_id = credential.get("rawId") or credential.get("id")
        if not isinstance(raw_id, str):
            raise PasskeyInvalid("The passkey response is not valid.")
        credential_id = b64url(from_b64url(raw_id))
        row = self.instance.conn.execute(
            "SELECT * FROM passkeys WHERE credential_id = ?", (credential_id,)).fetchone()
        if row is None or (vault_id is not None and row["vault_id"] != vault_id):
            raise PasskeyInvalid("This passkey is not known here.")
        relying = self.relying
        try:
            verified = webauthn.verify_authentication_response(
                credential=credential, expected_challenge=challenge,
                expected_rp_id=relying.rp_id, expected_origin=relying.origin,
                credential_public_key=bytes(row["public_key"]),
                credential_current_sign_count=int(row["sign_count"]),
                require_user_verification=True)
        except (WebAuthnException, ValueError, KeyError, TypeError):
            raise PasskeyInvalid("The passkey could not be verified.") from None
        used = now_iso()
        with self.instance.transaction() as tx:
            tx.execute("UPDATE passkeys SET sign_count = ?, last_used_at = ? WHERE id = ?",
                       (verified.new_sign_count, used, row["id"]))
        return _passkey(row, last_used_at=used), _prf_output(credential)

    def unlock_passkey(self, credential: dict[str, Any], challenge: bytes) -> tuple[str, bytes]:
        """Passwordless login: verify the assertion, open the passkey's key slot with its PRF
        output. Returns ``(vault_id, data key)``; :class:`PasskeyInvalid` otherwise."""
        passkey, prf = self.verify_passkey(credential, challenge)
        slot_id = self.instance.conn.execute(
            "SELECT slot_id FROM passkeys WHERE id = ?", (passkey.id,)).fetchone()["slot_id"]
        slot = self.instance.slot(slot_id) if slot_id else None
        if slot is None or prf is None:
            raise PasskeySecondFactorOnly(
                "This passkey is a second factor only: log in with your password first.")
        try:
            dek = slots.unwrap(slot, prf)
        except CryptoError:
            raise PasskeyInvalid("This passkey could not open the vault.") from None
        return passkey.vault_id, dek


def _passkey(row: db.Row, *, last_used_at: str | None = None) -> Passkey:
    return Passkey(row["id"], row["vault_id"], row["credential_id"], row["label"],
                   bool(row["slot_id"]), row["created_at"], last_used_at or row["last_used_at"])
