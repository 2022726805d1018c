"""Failed and refused sign-ins, logged for the owner although their vault is closed. No Flask.

A wrong password (or TOTP code, or recovery code) cannot be written into the vault: the
vault is not open, that is the point. So the attempt is sealed to the vault's inbox public
key (:func:`vault.storage.vaults.seal_for_vault`), like a connector's run: only the owner's
next open can read it, and the inbox merge (:func:`merge_item`, registered by the composition
root) appends it to the hash-chained log with the time it happened. The sealed item holds the
time and the kind of failure, never the password or code tried, nor the client address.
What instance.db shows in the clear is what every inbox item shows: the vault, the source
``kluis`` and when the item arrived.

An attacker must not be able to fill the inbox: wrong secrets are already capped by the
attempt limiter (a lock after ``login_max_failures``); while a lock lasts, refused attempts
are noted once per lock (a Redis key with the lock's lifetime).
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Any

from redis import Redis

from vault.clock import now_iso
from vault.storage import db
from vault.storage.instance import Instance
from vault.storage.vaults import VaultDB, seal_for_vault

log = logging.getLogger("kluis.accounts")

KIND = "kluis.sign-in-attempt"
SOURCE = "kluis"
#: What went wrong: the secret that was wrong, or ``locked-out`` (refused while locked).
REASONS = ("password", "totp", "recovery-code", "locked-out")


def note(instance: Instance, redis: Redis, vault_id: str | None, reason: str, *,
         lock_seconds: int = 0) -> bool:
    """Seal one failed (or, with ``reason="locked-out"``, refused) attempt for ``vault_id``'s
    owner. Returns whether an item was deposited. Never raises: a sign-in must not fail
    because its failure could not be noted (the reason is logged without the vault id)."""
    if not vault_id or reason not in REASONS:
        return False
    try:
        if reason == "locked-out":
            digest = hashlib.sha256(vault_id.encode()).hexdigest()[:32]
            if not redis.set(f"kluis:lockout-noted:{digest}", "1", nx=True,
                             ex=max(int(lock_seconds), 1)):
                return False  # this lock was noted already
        seal_for_vault(instance, vault_id, SOURCE, {
            "kind": KIND, "item_key": f"sign-in:{os.urandom(12).hex()}",
            "at": now_iso(), "reason": reason,
        })
    except Exception as exc:  # noqa: BLE001 - the attempt's answer must not change
        log.error("a failed sign-in could not be noted for its owner (%s)", type(exc).__name__)
        return False
    return True


def merge_item(vault: VaultDB, tx: db.Connection, payload: dict[str, Any], summary: Any) -> None:
    """Inbox handler (kind :data:`KIND`): the attempt becomes an event of the owner's log, at
    the time it happened."""
    reason = str(payload.get("reason") or "")
    if reason not in REASONS:
        reason = "password"
    at = str(payload.get("at") or now_iso())
    if reason == "locked-out":
        vault.append_event(tx, actor="system", action="owner.sign-in-locked", at=at, detail={})
    else:
        vault.append_event(tx, actor="system", action="owner.sign-in-failed", at=at,
                           detail={"reason": reason})
