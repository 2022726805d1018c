"""Open vault connections kept for a short while in one process (``KLUIS_VAULT_CACHE_*``).

See :class:`ConnectionCache`. Vaults (:mod:`vault.storage.vaults`) and access journals
(:mod:`vault.storage.journal`) share the one :data:`CONNECTIONS`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from vault.config import Settings
from vault.storage import db

if TYPE_CHECKING:
    from vault.storage.pgvault import Mirror


class _Closable(Protocol):
    def close(self) -> None: ...


T = TypeVar("T", bound=_Closable)


class ConnectionCache(Generic[T]):
    """Open vault connections kept for a short while in one process.

    Opening a SQLCipher file is cheap, but closing the last connection of a WAL
    database checkpoints and deletes the WAL, which costs about 1.5 ms: more
    than the rest of an organisation's read. So a closed :class:`VaultDB` hands
    its connection back here, for ``KLUIS_VAULT_CACHE_SECONDS``.

    A connection is only ever handed out again to a caller that presents the
    same data key (the cache key holds an HMAC of it), and callers get the data
    key only by unwrapping a key slot: a revoked grant or app token still opens
    nothing. The cost, written down in docs/threat-model.md: the memory of a web
    worker holds the keys of recently used vaults for that long.
    """

    def __init__(self) -> None:
        self._idle: OrderedDict[tuple[str, bytes], list[tuple[float, T]]] = (
            OrderedDict()
        )
        self._count = 0
        self._swept = 0.0
        self._lock = threading.Lock()
        self._pid = os.getpid()

    @staticmethod
    def key(vault_id: str, dek: bytes) -> tuple[str, bytes]:
        return vault_id, hmac.new(dek, b"kluis-connection-cache", hashlib.sha256).digest()

    def get(self, key: tuple[str, bytes], settings: Settings) -> T | None:
        if settings.vault_cache_seconds <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            self._after_fork()
            self._sweep(now, settings)
            stack = self._idle.get(key)
            while stack:
                since, conn = stack.pop()
                self._count -= 1
                if not stack:
                    del self._idle[key]
                if since >= now - settings.vault_cache_seconds:
                    return conn
                conn.close()
            return None

    def put(self, key: tuple[str, bytes], conn: T, settings: Settings) -> None:
        if settings.vault_cache_seconds <= 0:
            conn.close()
            return
        now = time.monotonic()
        with self._lock:
            self._after_fork()
            stack = self._idle.get(key)
            if stack is None:
                stack = self._idle[key] = []
            else:
                self._idle.move_to_end(key)
            stack.append((now, conn))
            self._count += 1
            while self._count > settings.vault_cache_size:
                _, oldest = self._idle.popitem(last=False)
                self._count -= len(oldest)
                for _, old in oldest:
                    old.close()
            self._sweep(now, settings)

    def forget(self, vault_id: str) -> None:
        """Close every cached connection of ``vault_id`` (before its file is removed)."""
        with self._lock:
            for key in [k for k in self._idle if k[0] == vault_id]:
                for _, conn in self._idle.pop(key):
                    self._count -= 1
                    conn.close()

    def clear(self) -> None:
        with self._lock:
            for stack in self._idle.values():
                for _, conn in stack:
                    conn.close()
            self._idle.clear()
            self._count = 0

    def _sweep(self, now: float, settings: Settings) -> None:
        """Close connections idle for longer than the cache time (at most once a second)."""
        if now - self._swept < 1.0:
            return
        self._swept = now
        deadline = now - settings.vault_cache_seconds
        for key in list(self._idle):
            stack = self._idle[key]
            keep = [(t, c) for t, c in stack if t >= deadline]
            for t, conn in stack:
                if t < deadline:
                    conn.close()
            self._count -= len(stack) - len(keep)
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]

    def _after_fork(self) -> None:
        # A forked child (rq work horse) must not share its parent's SQLite handles.
        if os.getpid() != self._pid:
            self._idle = OrderedDict()
            self._count = 0
            self._pid = os.getpid()


# vault connections, and access journals' (vault.storage.journal)
CONNECTIONS: ConnectionCache[db.Connection] = ConnectionCache()
# With the PostgreSQL backend: vaults decrypted into memory (vault.storage.pgvault), kept and
# handed out on the same terms, and caught up with the database on every open.
MIRRORS: ConnectionCache[Mirror] = ConnectionCache()


def forget_cached(vault_id: str) -> None:
    CONNECTIONS.forget(vault_id)
    MIRRORS.forget(vault_id)
