"""The instance's data in PostgreSQL: a connection that runs instance.db's statements as they are.

With ``KLUIS_DATABASE_URL`` set, :attr:`vault.storage.instance.Instance.conn` is a
:class:`Connection` on the tables of ``migrations/postgresql/0002_instance.sql`` instead of a
SQLCipher connection on instance.db. It offers what the code uses of ``sqlite3.Connection``
(``execute``, ``executemany``, ``in_transaction``, rows by name and by index, ``rowcount``), so
every instance statement of every feature is one body of SQL for both backends. The statements
are written in SQL both engines accept (``INSERT ... ON CONFLICT``, ``RETURNING``); what is left
to translate here is only notation:

- placeholders: ``?`` becomes ``%s`` (and a literal ``%`` becomes ``%%``), outside and inside
  quotes as psycopg needs;
- ``BEGIN IMMEDIATE`` (SQLite's one writer at a time) becomes ``BEGIN`` plus a transaction-level
  advisory lock every instance writer takes: writers of one instance take turns across
  processes and machines as they take turns on instance.db, so every read-then-write
  transaction (the login lockout, single-use codes, the rollback commitments) keeps the
  all-or-nothing, one-at-a-time guarantee it has on SQLite. Reads outside a transaction are
  autocommit statements (READ COMMITTED), as on SQLite;
- ``True``/``False`` parameters are sent as 1/0 (the flag columns are integers, as in SQLite).

SQLite-only syntax (``INSERT OR IGNORE``/``OR REPLACE``, ``PRAGMA``) is refused with an error
rather than guessed at, so a new statement that only SQLite understands fails its test on the
PostgreSQL backend instead of doing something else there.

A lost session (a failover: :mod:`vault.storage.pg`) raises
:class:`~vault.storage.errors.DatabaseUnavailable`. What cannot have written anything is tried
once more on a fresh session: a ``SELECT`` outside a transaction, and a ``BEGIN``. A statement
that may have written (a write outside a transaction, anything inside one, a ``COMMIT``) is
not: its outcome is unknown, and doing it again could do it twice.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, cast

import psycopg
from psycopg_pool import ConnectionPool

from vault.storage import db, pg

# The advisory lock every instance write transaction takes ("kluisinst" in ASCII, < 2**63).
WRITE_LOCK = 0x6B6C756973696E
_BEGIN_IMMEDIATE = f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
_REFUSED = re.compile(r"^\s*(PRAGMA\b|INSERT\s+OR\s+|REPLACE\s+INTO\b)", re.IGNORECASE)


class Row(Sequence[Any]):
    """A result row read by column name or by position, like ``sqlite3.Row``."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = tuple(values)
        self._index = index

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Row):
            return self._values == other._values
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        return f"Row({self._values!r})"

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: psycopg.Cursor[Any]) -> Any:
    names = [c.name for c in cursor.description or ()]
    index = {name: i for i, name in enumerate(names)}

    def make(values: Sequence[Any]) -> Row:
        return Row(values, index)

    return make


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """``sql`` as written for SQLite, in psycopg's notation; SQLite-only syntax raises."""
    if _REFUSED.match(sql):
        raise NotImplementedError(
            f"not portable to PostgreSQL (write it as both accept): {sql.split()[0:3]}")
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if quote is not None:
            if char == quote:
                quote = None
            out.append("%%" if char == "%" else char)
        elif char in "'\"":
            quote = char
            out.append(char)
        elif char == "?":
            out.append("%s")
        elif char == "%":
            out.append("%%")
        else:
            out.append(char)
    return "".join(out)


def _params(params: Sequence[Any] | None) -> tuple[Any, ...]:
    if not params:
        return ()
    return tuple(int(p) if isinstance(p, bool) else p for p in params)


class Cursor:
    """The result of one statement (what the code uses of ``sqlite3.Cursor``), read whole
    before its session goes back to the pool."""

    lastrowid = None  # an INSERT that needs its new id says RETURNING id (both engines do)

    def __init__(self, cursor: psycopg.Cursor[Any] | None = None) -> None:
        self.rowcount = -1
        self.description: Any = None
        self._rows: list[Any] = []
        if cursor is not None:
            self.rowcount = cursor.rowcount
            self.description = cursor.description
            if cursor.description is not None:
                self._rows = cursor.fetchall()

    def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class Connection:
    """The instance's tables for every thread of a process, as one SQLite connection per
    thread is: autocommit statements, each on a session from a small pool, and transactions
    (:func:`vault.storage.db.transaction`: ``BEGIN IMMEDIATE`` ... ``COMMIT``) on one session
    the thread keeps until the transaction ends."""

    def __init__(self, url: str, *, max_size: int = 8) -> None:
        self.url = url
        self._local = threading.local()
        self.pool: ConnectionPool[psycopg.Connection[Any]] = pg.pool(
            url, "kluis-instance", max_size, autocommit=True, row_factory=_row_factory)

    def _pinned(self) -> psycopg.Connection[Any] | None:
        return cast("psycopg.Connection[Any] | None", getattr(self._local, "raw", None))

    @property
    def in_transaction(self) -> bool:
        return self._pinned() is not None

    def _begin(self, sql: str) -> None:
        if self._pinned() is not None:
            raise db.DatabaseError("cannot start a transaction within a transaction")
        for attempt in (1, 2):  # a BEGIN that failed began nothing: once more, on a new session
            raw = pg.checkout(self.pool)
            try:
                raw.execute(sql)
            except psycopg.OperationalError as exc:
                self.pool.putconn(raw)
                if attempt == 2 or not raw.broken:
                    raise pg.unavailable() from exc
                continue
            except BaseException:
                self.pool.putconn(raw)
                raise
            self._local.raw = raw
            return

    def _end(self, sql: str) -> None:
        raw = self._pinned()
        if raw is None:
            raise db.DatabaseError(f"cannot {sql.lower()} - no transaction is active")
        self._local.raw = None
        try:
            raw.execute(sql)
        except psycopg.OperationalError as exc:
            if sql == "ROLLBACK" and raw.broken:
                return  # the session is gone, and its transaction with it
            raise pg.unavailable() from exc  # a COMMIT without an answer: it may have happened
        finally:
            self.pool.putconn(raw)

    def _run(self, call: Callable[[psycopg.Connection[Any]], Cursor], *,
             read: bool = False) -> Cursor:
        raw = self._pinned()
        try:
            if raw is not None:
                return call(raw)
            for attempt in (1, 2):
                conn = pg.checkout(self.pool)
                try:
                    return call(conn)
                except psycopg.OperationalError:
                    if attempt == 2 or not read or not conn.broken:
                        raise
                finally:
                    self.pool.putconn(conn)
            raise AssertionError("unreachable")  # pragma: no cover
        except psycopg.IntegrityError as exc:
            raise db.IntegrityError(str(exc)) from exc
        except psycopg.OperationalError as exc:
            raise pg.unavailable() from exc

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Cursor:
        words = sql.strip().upper()
        if words == "BEGIN IMMEDIATE":
            self._begin(_BEGIN_IMMEDIATE)
            return Cursor()
        if words == "BEGIN":
            self._begin("BEGIN")
            return Cursor()
        if words in ("COMMIT", "ROLLBACK"):
            self._end(words)
            return Cursor()
        query, args = translate(sql), _params(params)
        return self._run(lambda raw: Cursor(raw.execute(query, args)),
                         read=words.startswith("SELECT"))

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> Cursor:
        query, many = translate(sql), [_params(p) for p in seq]

        def run(raw: psycopg.Connection[Any]) -> Cursor:
            cursor = raw.cursor()
            cursor.executemany(query, many)
            return Cursor(cursor)

        return self._run(run)

    def epoch(self) -> int:
        """The instance's revocation epoch (``kluis_instance_epoch``, moved by triggers with
        every key slot change and every inbox item)."""
        row = self.execute("SELECT value FROM kluis_instance_epoch WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def set_not_durable(self) -> None:
        """This transaction's commit does not wait for the disk (``synchronous_commit = off``
        for it alone), as ``PRAGMA synchronous = NORMAL`` does on SQLite."""
        self.execute("SET LOCAL synchronous_commit = off")

    def close(self) -> None:
        self.pool.close()
