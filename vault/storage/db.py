"""Opening SQLCipher databases with raw 256-bit keys.

Raw keys (``PRAGMA key = "x'..'"``) skip SQLCipher's PBKDF2: an open costs
about 0.2 ms instead of about 126 ms, so a vault can be opened per request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import sqlcipher3

from vault.crypto.errors import WrongKey

if TYPE_CHECKING:
    # sqlcipher3 ships no type information. Its module is the standard library's sqlite3 (the
    # same C source) built against SQLCipher, so the standard library's types describe it.
    # ("import X as X" re-exports them for the modules that use db.Connection.)
    from sqlite3 import Connection as Connection
    from sqlite3 import Cursor as Cursor
    from sqlite3 import DatabaseError as DatabaseError
    from sqlite3 import IntegrityError as IntegrityError
    from sqlite3 import Row as Row
else:
    Connection = sqlcipher3.Connection
    Cursor = sqlcipher3.Cursor
    DatabaseError = sqlcipher3.DatabaseError
    IntegrityError = sqlcipher3.IntegrityError
    Row = sqlcipher3.Row


_quiet: list[bool] = []  # SQLCipher's log level is per process: set once


def connect(path: str | Path, key: bytes, *, synchronous: str = "FULL") -> Connection:
    """Open (or create) the SQLCipher database at ``path`` keyed with ``key`` (32 bytes).

    Raises :class:`WrongKey` when the file exists but ``key`` does not open it.
    The connection runs in autocommit mode: use :func:`transaction` for writes.
    """
    if len(key) != 32:
        raise ValueError("SQLCipher raw keys are 32 bytes")
    conn: Connection = sqlcipher3.connect(
        str(path), timeout=30, isolation_level=None, check_same_thread=False)
    if not _quiet:
        # SQLCipher logs its own lines to stderr when a key does not open a file ("hmac check
        # failed for pgno=1"); the callers say what that means (WrongKey, VaultDamaged).
        conn.execute("PRAGMA cipher_log_level = NONE")
        _quiet.append(True)
    try:
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
        # Reading the schema is the first operation that needs the key.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlcipher3.DatabaseError as exc:
        conn.close()
        raise WrongKey(f"the key does not open {Path(path).name}") from exc
    conn.row_factory = Row
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    # Freed pages are overwritten, so deleted records leave no plaintext behind in the file.
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("PRAGMA busy_timeout = 30000")
    return conn


_DAMAGE_CODES = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB (primary codes)


def is_damage(exc: BaseException) -> bool:
    """Whether ``exc`` (a :class:`WrongKey` from :func:`connect` or a database error) says the
    file is not a database under its key or is malformed, rather than busy or locked."""
    err: BaseException | None = exc.__cause__ if isinstance(exc, WrongKey) else exc
    code = getattr(err, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF in _DAMAGE_CODES


def inserted_id(cursor: Cursor) -> int:
    """The rowid an ``INSERT`` through ``cursor`` just created."""
    if cursor.lastrowid is None:
        raise RuntimeError("the statement inserted no row")
    return cursor.lastrowid


@contextlib.contextmanager
def transaction(conn: Connection, *, immediate: bool = True) -> Iterator[Connection]:
    """One all-or-nothing write: ``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def backup(conn: Connection, target: str | Path, key: bytes) -> None:
    """Copy a live database to ``target`` with the SQLite backup API, keyed with ``key``."""
    dest = connect(target, key)
    try:
        conn.backup(dest)
    finally:
        dest.close()
