"""Owner app tokens: each with its own key slot, listed, revoked, ended at logout. No Flask.

:class:`AppTokenOps` is part of :class:`vault.accounts.service.Accounts` (its methods need the
instance and the owner's vault); it lives here so the accounts service stays readable.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vault.accounts.errors import InvalidCredentials
from vault.clock import now_iso
from vault.crypto import keys, slots
from vault.storage import db
from vault.storage.instance import Instance
from vault.storage.vaults import VaultDB

if TYPE_CHECKING:
    pass

APP_TOKEN_PREFIX = "kluis_at_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True)
class AppToken:
    id: str
    name: str
    created_at: str



class AppTokenOps:
    """The app-token operations of :class:`~vault.accounts.service.Accounts`."""

    instance: Instance

    def open(self, vault_id: str, dek: bytes) -> VaultDB:  # provided by Accounts
        raise NotImplementedError

    def unlock_token(self, token: str, *, kind: str | None = None
                     ) -> tuple[slots.KeySlot, bytes]:  # provided by Accounts
        raise NotImplementedError

    def create_app_token(self, vault_id: str, dek: bytes, name: str = "") -> tuple[AppToken, str]:
        """A new owner API token with its own key slot. The token is returned once."""
        name = (name or "").strip()[:100] or "API token"
        token = keys.new_token(APP_TOKEN_PREFIX)
        slot = slots.wrap_token(
            dek, token, vault_id=vault_id, kind=slots.APP_TOKEN,
            token_hash=keys.token_hash(token), label=name, created_at=now_iso(),
        )
        with self.instance.transaction() as tx:
            self.instance.put_slot(tx, slot)
        with self.open(vault_id, dek) as vault, vault.transaction() as tx:
            vault.append_event(tx, actor="owner", action="app-token.created",
                               detail={"token": slot.id, "name": name})
        return AppToken(slot.id, name, slot.created_at), token

    def app_tokens(self, vault_id: str) -> list[AppToken]:
        return [AppToken(s.id, s.label, s.created_at)
                for s in self.instance.slots(vault_id, slots.APP_TOKEN)]

    def app_token_id(self, token: str) -> str | None:
        """The id of the app token ``token`` (a live one), or None."""
        slot = self.instance.slot_by_token_hash(keys.token_hash(token or ""))
        return slot.id if slot is not None and slot.kind == slots.APP_TOKEN else None

    def revoke_app_token(self, vault_id: str, dek: bytes, token_id: str, *,
                         reason: str | None = None) -> bool:
        slot = self.instance.slot(token_id)
        if slot is None or slot.vault_id != vault_id or slot.kind != slots.APP_TOKEN:
            return False
        with self.instance.transaction() as tx:
            if not self.instance.delete_slot(tx, token_id):
                return False
        detail: dict[str, str] = {"token": token_id, "name": slot.label}
        if reason:
            detail["reason"] = reason
        with self.open(vault_id, dek) as vault, vault.transaction() as tx:
            vault.append_event(tx, actor="owner", action="app-token.revoked", detail=detail)
        return True

    def log_out_token(self, token: str) -> AppToken:
        """``POST /api/v1/logout`` with an app token: that token is revoked (its slot goes).

        Raises :class:`InvalidCredentials` for a token that is not a live app token.
        """
        slot, dek = self.unlock_token(token, kind=slots.APP_TOKEN)
        if not self.revoke_app_token(slot.vault_id, dek, slot.id, reason="logout"):
            raise InvalidCredentials("The token is not valid.")
        return AppToken(slot.id, slot.label, slot.created_at)

    def _revoke_app_tokens(self, tx: db.Connection, vault_id: str, *,
                           keep: Collection[str] = ()) -> list[AppToken]:
        """Inside an instance transaction: delete the vault's app-token slots not in ``keep``."""
        revoked = []
        for slot in self.instance.slots(vault_id, slots.APP_TOKEN):
            if slot.id not in keep and self.instance.delete_slot(tx, slot.id):
                revoked.append(AppToken(slot.id, slot.label, slot.created_at))
        return revoked


def _token_detail(revoked: Sequence[AppToken], *, kept: Collection[str] = ()
                  ) -> dict[str, list[dict[str, str]] | list[str]]:
    detail: dict[str, list[dict[str, str]] | list[str]] = {
        "app_tokens_revoked": [{"id": t.id, "name": t.name} for t in revoked]}
    if kept:
        detail["app_tokens_kept"] = sorted(kept)
    return detail


def _log_tokens_revoked(vault: VaultDB, tx: db.Connection, revoked: Sequence[AppToken], *,
                        reason: str) -> None:
    """One ``app-token.revoked`` event per token a password change or reset ended."""
    for token in revoked:
        vault.append_event(tx, actor="owner", action="app-token.revoked",
                           detail={"token": token.id, "name": token.name, "reason": reason})
