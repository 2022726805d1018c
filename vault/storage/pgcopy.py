"""instance.db into PostgreSQL, once: the first start of an instance after the operator set
``KLUIS_DATABASE_URL``.

Unlike a vault (:mod:`vault.storage.pgmove`), instance.db is opened with the instance key,
which every node has, so it moves at once, at the first open of the instance tables
(:attr:`vault.storage.instance.Instance.conn`), not vault by vault:

1. take the instance write lock (the advisory lock of every instance write transaction,
   :mod:`vault.storage.pginstance`), so no node writes the instance tables meanwhile and two
   processes starting together copy once;
2. if the database's ``instance_meta`` has the copy marker (an HMAC of a fixed label under
   the instance key), the copy is done (this process was beaten to it, or an earlier one was
   killed after its commit): only the file is left to remove. A marker under another instance
   key, or instance tables that already hold an instance, stop the start with
   :class:`InstanceConflict`: nothing is merged into another instance's tables;
3. otherwise open instance.db (migrated to the newest schema first, as any open does) and, in
   **one** transaction, copy every row of every table, parents before children, set the
   identity sequences past the copied ids, seal the signing keys still in plaintext JSON
   (instance.db from before keys were sealed; in the database they are AES-GCM under an
   instance subkey, :meth:`Instance.signing_key`), tag the inbox keys still untagged
   (:meth:`Instance.inbox_public_key`), and write the marker;
4. commit; then remove instance.db and its ``-wal``/``-shm``.

Killed before the commit: the transaction rolls back with the connection, the database holds
nothing of it and the file is as it was, so the next start copies again. Killed after it: the
next start finds the marker and removes the file. The vault files are untouched: each moves
at its first open by a key slot, as before, and its rollback commitment (``vault_heads``)
came over with the rest.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from vault.clock import now_iso
from vault.config import ConfigError
from vault.storage import db, migrations

if TYPE_CHECKING:
    from vault.storage.pginstance import Connection

log = logging.getLogger("kluis.storage")

#: The ``instance_meta`` key of the copy marker.
MARKER = "instance_db_copied"
#: Tables a freshly started PostgreSQL instance may already hold rows in (a node without
#: instance.db that started first made a signing key): kept, their signing keys retired.
_SEEDED = {"signing_keys", "instance_meta", "counters"}

#: Called with each step's name ("locked", "written", "committed", "done"); the kill -9
#: tests stop a process there. None outside them.
on_step: Callable[[str], None] | None = None


class InstanceConflict(ConfigError):
    """instance.db and the database's instance tables belong to different instances (a
    setting to correct: ``kluis serve`` and the CLI say it in one line and stop)."""


def _step(name: str) -> None:
    if on_step is not None:
        on_step(name)


def marker(key: bytes) -> str:
    """The copy marker of the instance with ``key`` (nothing about the key is learnt from it)."""
    return hmac.new(key, b"kluis: instance.db copied into PostgreSQL", hashlib.sha256).hexdigest()


def copy_instance_db(path: Path, key: bytes, conn: Connection, *,
                     seal_jwk: Callable[[str, str], str],
                     inbox_tag: Callable[[str, bytes], bytes],
                     synchronous: str = "FULL") -> bool:
    """Copy the instance.db at ``path`` into the instance tables behind ``conn`` and remove
    the file. Returns True when this call copied, False when there was nothing to do."""
    if not path.exists():
        return False
    copied = False
    conn.execute("BEGIN IMMEDIATE")
    try:
        _step("locked")
        found = conn.execute("SELECT value FROM instance_meta WHERE key = ?",
                             (MARKER,)).fetchone()
        if found is not None and not hmac.compare_digest(str(found[0]), marker(key)):
            raise InstanceConflict(
                "KLUIS_DATABASE_URL's database holds another instance (copied from an "
                "instance.db under a different instance key); instance.db was not copied")
        if found is None and path.exists():
            rows = _copy(path, key, conn, seal_jwk, inbox_tag, synchronous)
            conn.execute("INSERT INTO instance_meta (key, value) VALUES (?, ?)",
                         (MARKER, marker(key)))
            _step("written")
            copied = True
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    _step("committed")
    if copied:
        log.info("instance.db copied into PostgreSQL (%d rows); removing the file", rows)
    for suffix in ("-wal", "-shm", ""):
        Path(str(path) + suffix).unlink(missing_ok=True)
    _step("done")
    return copied


def _copy(path: Path, key: bytes, conn: Connection, seal_jwk: Callable[[str, str], str],
          inbox_tag: Callable[[str, bytes], bytes], synchronous: str) -> int:
    source = db.connect(path, key, synchronous=synchronous)
    try:
        migrations.apply(source, "instance")
        tables = [r[0] for r in source.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        targets = _columns(conn)
        missing = sorted(set(tables) - set(targets))
        if missing:
            raise RuntimeError(f"instance tables without a PostgreSQL counterpart: {missing}"
                               " (a migrations/postgresql file is missing)")
        _refuse_if_taken(conn, tables)
        total = 0
        for table in _parents_first(conn, tables):
            columns = [r[1] for r in source.execute(f'PRAGMA table_info("{table}")')]
            extra = sorted(set(columns) - set(targets[table]))
            if extra:
                raise RuntimeError(f"{table}: columns without a PostgreSQL counterpart: {extra}")
            rows = [list(r) for r in source.execute(
                f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid")]
            if not rows:
                continue
            if table == "vaults" and "inbox_key_tag" in columns:
                # Tagged here, from instance.db (under the instance key): in the database a
                # missing tag is refused, never filled in (Instance.inbox_public_key).
                vid, pub, tag = (columns.index(c) for c in
                                 ("id", "inbox_public_key", "inbox_key_tag"))
                for row in rows:
                    if row[tag] is None:
                        row[tag] = inbox_tag(row[vid], bytes(row[pub]))
            if table == "signing_keys":
                kid, jwk = columns.index("kid"), columns.index("private_jwk")
                for row in rows:
                    row[jwk] = seal_jwk(row[kid], row[jwk])
                if any(r[columns.index("retired_at")] is None for r in rows):
                    conn.execute("UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL",
                                 (now_iso(),))
            names = ", ".join(columns)
            marks = ", ".join("?" for _ in columns)
            sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"
            if table in _SEEDED:
                primary = _primary_key(conn, table)
                updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in primary)
                sql += f" ON CONFLICT ({', '.join(primary)}) DO " + (
                    f"UPDATE SET {updates}" if updates else "NOTHING")
            conn.executemany(sql, rows)
            total += len(rows)
        for table, column in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND is_identity = 'YES'").fetchall():
            if table in tables:
                conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                             f" greatest((SELECT max({column}) FROM {table}), 1))")
        return total
    finally:
        source.close()


def _columns(conn: Connection) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() ORDER BY ordinal_position").fetchall():
        found.setdefault(table, []).append(column)
    return found


def _primary_key(conn: Connection, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
        " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = ?::regclass AND i.indisprimary", (table,)).fetchall()
    return [r[0] for r in rows]


def _refuse_if_taken(conn: Connection, tables: list[str]) -> None:
    """Stop when the database already holds an instance (rows beyond what a fresh start seeds)."""
    for table in tables:
        if table in _SEEDED:
            continue
        if conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
            raise InstanceConflict(
                f"KLUIS_DATABASE_URL's database already holds an instance ({table} has rows);"
                " instance.db was not copied into it. Point KLUIS_DATABASE_URL at an empty"
                " database, or move instance.db out of KLUIS_HOME to use the database's instance")


def _parents_first(conn: Connection, tables: list[str]) -> list[str]:
    """``tables`` ordered so that every table comes after the tables its foreign keys name."""
    parents: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in conn.execute(
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c"
            " WHERE c.contype = 'f'").fetchall():
        if child in parents and parent in parents and parent != child:
            parents[child].add(parent)
    ordered: list[str] = []
    placed: set[str] = set()
    while len(ordered) < len(tables):
        ready = [t for t in tables if t not in placed and parents[t] <= placed]
        if not ready:
            raise RuntimeError("the instance tables' foreign keys form a cycle")
        ordered.extend(ready)
        placed.update(ready)
    return ordered
