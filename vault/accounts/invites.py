"""Invitation codes for ``KLUIS_REGISTRATION=invite``: made in bulk, listed, revoked. No Flask.

:class:`InviteOps` is part of :class:`vault.accounts.service.Accounts`; only a code's SHA-256
is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vault.clock import now_iso, to_iso, utcnow
from vault.crypto import keys
from vault.storage.instance import Instance


@dataclass(frozen=True)
class Invite:
    """An invitation code as the instance knows it: only its hash is kept."""

    id: str  # the first 12 hex digits of the code's SHA-256 (the code itself is not kept)
    note: str
    created_at: str
    expires_at: str
    used_at: str | None

    @property
    def state(self) -> str:
        if self.used_at:
            return "used"
        return "expired" if self.expires_at < now_iso() else "open"



class InviteOps:
    """The invitation operations of :class:`~vault.accounts.service.Accounts`."""

    instance: Instance

    def create_invite(self, note: str = "", days: int = 14) -> str:
        return self.create_invites(1, note, days)[0]

    def create_invites(self, count: int, note: str = "", days: int = 14) -> list[str]:
        """``count`` one-time invitation codes, written in one transaction (all or none)."""
        from datetime import timedelta

        if not 1 <= count <= 10_000:
            raise ValueError("make between 1 and 10000 invitation codes at a time")
        created, expires = now_iso(), to_iso(utcnow() + timedelta(days=days))
        codes = [keys.new_token("inv_") for _ in range(count)]
        with self.instance.transaction() as tx:
            tx.executemany(
                "INSERT INTO invites (code_hash, note, created_at, expires_at) VALUES (?, ?, ?, ?)",
                [(keys.token_hash(code), note, created, expires) for code in codes],
            )
        return codes

    def invites(self) -> list[Invite]:
        """Every invitation code the instance knows (by id; the codes are not kept)."""
        rows = self.instance.conn.execute(
            "SELECT code_hash, note, created_at, expires_at, used_at FROM invites"
            " ORDER BY created_at, code_hash").fetchall()
        return [Invite(r["code_hash"][:12], r["note"], r["created_at"], r["expires_at"],
                       r["used_at"]) for r in rows]

    def revoke_invite(self, code_or_id: str) -> bool:
        """Delete an unused invitation code, given the code or the id :meth:`invites` shows.
        False when there is no such unused code."""
        value = (code_or_id or "").strip()
        with self.instance.transaction() as tx:
            if re.fullmatch(r"[0-9a-f]{12}", value):
                cur = tx.execute("DELETE FROM invites WHERE substr(code_hash, 1, 12) = ?"
                                 " AND used_at IS NULL", (value,))
            else:
                cur = tx.execute("DELETE FROM invites WHERE code_hash = ? AND used_at IS NULL",
                                 (keys.token_hash(value),))
            return cur.rowcount > 0
