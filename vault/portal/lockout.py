"""Staff sign-in attempts: failures counted in portal.db (the portal has no Redis), per account
and per client address, with a temporary lockout.

:data:`ACCOUNT_LIMIT` failed passwords or codes for one username within :data:`WINDOW` lock that
username for :data:`LOCKOUT`; :data:`ADDRESS_LIMIT` from one address lock that address. Unknown
usernames are counted like known ones, so a lockout tells nothing about who exists. Each
failure is one ``BEGIN IMMEDIATE`` transaction (an upsert and the lock), so attempts made at
the same time by several threads or processes all count. Keys are kept as SHA-256 only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from vault.clock import from_iso, to_iso, utcnow
from vault.crypto import keys
from vault.portal.store import Store

ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)


def _keys(username: str, address: str) -> list[tuple[str, int]]:
    name = (username or "").strip().lower()
    return [(keys.token_hash(f"account:{name}"), ACCOUNT_LIMIT),
            (keys.token_hash(f"address:{address or '-'}"), ADDRESS_LIMIT)]


def remaining(store: Store, username: str, address: str, now: datetime | None = None) -> int:
    """Seconds until ``username`` from ``address`` may try again (0: it may now)."""
    moment = now or utcnow()
    longest = 0.0
    for key_hash, _limit in _keys(username, address):
        row = store.conn.execute("SELECT locked_until FROM login_failures WHERE key_hash = ?",
                                 (key_hash,)).fetchone()
        if row is not None and row["locked_until"]:
            longest = max(longest, (from_iso(row["locked_until"]) - moment).total_seconds())
    return max(int(longest + 0.999), 0)


def record_failure(store: Store, username: str, address: str,
                   now: datetime | None = None) -> None:
    """Count one failed password or code for ``username`` and ``address``; lock either that
    reached its limit within the window."""
    moment = now or utcnow()
    at, expired = to_iso(moment), to_iso(moment - WINDOW)
    with store.transaction() as tx:
        for key_hash, limit in _keys(username, address):
            count = tx.execute(
                "INSERT INTO login_failures (key_hash, failures, window_start) VALUES (?, 1, ?)"
                " ON CONFLICT(key_hash) DO UPDATE SET"
                " failures = CASE WHEN window_start <= ? THEN 1 ELSE failures + 1 END,"
                " window_start = CASE WHEN window_start <= ? THEN excluded.window_start"
                " ELSE window_start END,"
                " locked_until = CASE WHEN window_start <= ? THEN NULL ELSE locked_until END"
                " RETURNING failures", (key_hash, at, expired, expired, expired)).fetchone()[0]
            if count >= limit:
                tx.execute("UPDATE login_failures SET locked_until = ? WHERE key_hash = ?",
                           (to_iso(moment + LOCKOUT), key_hash))


def clear_account(store: Store, username: str) -> None:
    """Forget the failures of ``username`` (a successful sign-in, an administrator's reset)."""
    key_hash = _keys(username, "")[0][0]
    with store.transaction() as tx:
        tx.execute("DELETE FROM login_failures WHERE key_hash = ?", (key_hash,))
