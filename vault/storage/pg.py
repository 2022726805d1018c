"""PostgreSQL, the second storage backend (``KLUIS_DATABASE_URL=postgresql://...``).

One :class:`Database` per URL and process: a psycopg 3 connection pool, and the
``migrations/postgresql`` files applied and tracked in ``kluis_migrations``. Every
connection commits with ``synchronous_commit = on``: a commit returns once its WAL is on the
server's disk, so an access event committed before an answer survives a crash of the server.

What lives in it: :mod:`vault.storage.pgvault` (vault rows, ciphertext only) and the access
journals (:mod:`vault.storage.journal`). instance.db stays a SQLCipher file in this version.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from vault.storage import migrations

KIND = "postgresql"
# The advisory lock migrators take turns on (any fixed number; "kluis" in ASCII).
_MIGRATION_LOCK = 0x6B6C756973

Connection = psycopg.Connection[tuple[Any, ...]]


class Database:
    """A connection pool to one PostgreSQL database, migrated on first use."""

    def __init__(self, url: str, *, max_size: int = 4) -> None:
        self.url = url
        # libpq's options: every session commits durably, whatever the server's default.
        self.pool: ConnectionPool[Connection] = ConnectionPool(
            url, min_size=1, max_size=max_size, open=True, name="kluis",
            kwargs={"options": "-c synchronous_commit=on", "application_name": "kluis"})
        self.migrated: list[str] = self.migrate()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection from the pool, in a transaction: committed when the block ends,
        rolled back when it raises."""
        with self.pool.connection() as conn:
            yield conn

    def migrate(self) -> list[str]:
        """Apply the PostgreSQL migrations not applied yet; return their names."""
        applied: list[str] = []
        with self.connection() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS kluis_migrations ("
                         " number integer PRIMARY KEY, name text NOT NULL,"
                         " applied_at timestamptz NOT NULL DEFAULT now())")
        for migration in migrations.load(KIND):
            with self.connection() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                done = conn.execute("SELECT 1 FROM kluis_migrations WHERE number = %s",
                                    (migration.number,)).fetchone()
                if done:
                    continue
                conn.execute(migration.sql.encode())
                conn.execute("INSERT INTO kluis_migrations (number, name) VALUES (%s, %s)",
                             (migration.number, migration.name))
            applied.append(migration.name)
        return applied

    def version(self) -> int:
        with self.connection() as conn:
            row = conn.execute("SELECT coalesce(max(number), 0) FROM kluis_migrations").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self.pool.close()


_databases: dict[tuple[int, str], Database] = {}
_lock = threading.Lock()


def database(url: str) -> Database:
    """This process's :class:`Database` for ``url`` (a forked child opens its own pool)."""
    key = (os.getpid(), url)
    found = _databases.get(key)
    if found is not None:
        return found
    with _lock:
        found = _databases.get(key)
        if found is None:
            found = _databases[key] = Database(url)
        return found


def close_all() -> None:
    """Close every pool of this process (tests, and the end of a CLI command)."""
    with _lock:
        for key in [k for k in _databases if k[0] == os.getpid()]:
            _databases.pop(key).close()
