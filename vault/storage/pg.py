"""PostgreSQL, the second storage backend (``KLUIS_DATABASE_URL=postgresql://...``).

One :class:`Database` per URL and process: a psycopg 3 connection pool, and the
``migrations/postgresql`` files applied and tracked in ``kluis_migrations``. Every
connection commits with ``synchronous_commit = on``: a commit returns once its WAL is on the
server's disk, so an access event committed before an answer survives a crash of the server.

What lives in it: :mod:`vault.storage.pgvault` (vault rows, ciphertext only), the access
journals (:mod:`vault.storage.journal`) and the instance's tables
(:mod:`vault.storage.pginstance`, its own pool).

Failover. The URL may name several servers (``postgresql://kluis@db1:5432,db2:5432/kluis?
target_session_attrs=read-write``): libpq connects to the first that accepts writes, so once a
failover manager (Patroni) has promoted a standby, new sessions go to it. What the pools do
about the sessions of the old primary (:func:`checkout`, :func:`unavailable`):

- a session is checked when it leaves the pool: one ``poll()`` of its socket, a round trip only
  when the socket has something to read (a server that went away closes it); a dead one is
  dropped and the next taken, with no sleep in between;
- a session that fails in use is dropped by the pool (psycopg_pool discards a broken one and
  connects another); a failed connection attempt is retried for :data:`RECONNECT_SECONDS`,
  then again as soon as a request wants a session, so a promoted server is in use seconds
  after it accepts writes, however long the failover took;
- waiting for a session lasts at most :data:`WAIT_SECONDS`; what cannot be done in time, or
  fails on a lost session, is :class:`~vault.storage.errors.DatabaseUnavailable` (503
  problem+json), never retried here when it may have written: a commit that got no answer may
  or may not have happened, and repeating it could apply it twice. Reads outside a
  transaction are retried once on a fresh session (:mod:`vault.storage.pginstance`).
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from vault.storage import migrations
from vault.storage.errors import DatabaseUnavailable

KIND = "postgresql"
# The advisory lock migrators take turns on (any fixed number; "kluis" in ASCII).
_MIGRATION_LOCK = 0x6B6C756973

Connection = psycopg.Connection[tuple[Any, ...]]
C = TypeVar("C", bound="psycopg.Connection[Any]")

#: The longest a request waits for a session before it is answered 503.
WAIT_SECONDS = 5.0
#: How long the pool retries a lost session on its own (1, 2, then 2 s apart) before it waits
#: for the next request to try again: the longest a promoted server goes unused.
RECONNECT_SECONDS = 5.0
#: libpq's connect timeout per server when the URL sets none (libpq's own default is none: a
#: server that does not answer at all would hold a connection attempt, and the next host of a
#: multi-host URL, for as long as the network does).
CONNECT_TIMEOUT = 5
_NUDGE_SECONDS = 0.5


def session_options(url: str, **options: Any) -> dict[str, Any]:
    """The connection options of every Kluis session on ``url``: ``options``, its commits
    durable whatever the server's default, and a connect timeout unless the URL has one."""
    given = conninfo_to_dict(url)
    options.setdefault("application_name", "kluis")
    options["options"] = "-c synchronous_commit=on"
    if "connect_timeout" not in given:
        options["connect_timeout"] = CONNECT_TIMEOUT
    return options


def pool(url: str, name: str, max_size: int, **options: Any) -> ConnectionPool[Any]:
    """A pool of sessions on ``url`` as :func:`checkout` expects it."""
    return ConnectionPool(url, min_size=1, max_size=max_size, open=True, name=name,
                          timeout=WAIT_SECONDS, reconnect_timeout=RECONNECT_SECONDS,
                          kwargs=session_options(url, **options))


def _alive(conn: psycopg.Connection[Any]) -> bool:
    """Whether an idle session still has its server: nothing to read on its socket (an idle
    session receives nothing; a server that went away closed it), or else a round trip works."""
    if conn.closed or conn.broken:
        return False
    try:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN)
        if not poller.poll(0):
            return True
        ConnectionPool.check_connection(conn)
    except (OSError, ValueError, psycopg.Error):
        return False
    return True


def checkout(sessions: ConnectionPool[C]) -> C:
    """A live session from ``sessions`` (dead ones are closed and dropped, their places
    connected again by the pool); :class:`DatabaseUnavailable` after :data:`WAIT_SECONDS`."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        remaining = deadline - time.monotonic()
        try:
            conn = sessions.getconn(timeout=max(0.01, min(_NUDGE_SECONDS, remaining)))
        except PoolTimeout as exc:
            if remaining <= _NUDGE_SECONDS:
                raise unavailable() from exc
            # Still waiting: a pool whose reconnection attempts have given up tries again now
            # (check() grows a pool that has no session), not only when the next request comes.
            sessions.check()
            continue
        if _alive(conn):
            return conn
        conn.close()
        sessions.putconn(conn)  # closed: the pool discards it and connects a new one


def unavailable() -> DatabaseUnavailable:
    return DatabaseUnavailable("the database does not answer")


class Database:
    """A connection pool to one PostgreSQL database, migrated on first use."""

    def __init__(self, url: str, *, max_size: int = 4) -> None:
        self.url = url
        self.pool: ConnectionPool[Connection] = pool(url, "kluis", max_size)
        try:
            self.migrated: list[str] = self.migrate()
        except BaseException:
            self.pool.close()
            raise

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection from the pool, in a transaction: committed when the block ends,
        rolled back when it raises. A lost session, or none in time, raises
        :class:`DatabaseUnavailable`; whether a commit that raised it happened is unknown."""
        conn = checkout(self.pool)
        try:
            with conn:
                yield conn
        except psycopg.OperationalError as exc:
            raise unavailable() from exc
        finally:
            self.pool.putconn(conn)

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
