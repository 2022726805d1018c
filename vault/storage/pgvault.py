"""Vaults as rows in PostgreSQL that hold only ciphertext, opened into in-memory SQLite.

With ``KLUIS_DATABASE_URL`` set, a vault is not a file: every row of every table of the vault
(``migrations/vault``) is one row of ``kluis_rows``, sealed with AES-GCM under a key derived
from the vault's data key (:class:`vault.crypto.rowseal.RowKeys`), its id an HMAC of table and
row number. Opening a vault decrypts its rows into an in-memory SQLite database built from the
same migrations (a :class:`Mirror`), so every query of every feature runs unchanged on both
backends: a feature cannot work on one and not on the other.

Writes: temporary triggers note every row a statement inserts, updates or deletes
(``temp.kluis_changes``). :meth:`vault.storage.vaults.VaultDB.transaction` locks the vault's
row in ``kluis_vaults`` (``SELECT ... FOR UPDATE``: writers of one vault take turns across
processes and machines, as SQLite's write lock makes them take turns on one machine), catches
the mirror up when another process wrote since (:func:`refresh`), runs the caller's block in a
SQLite transaction, and then :func:`flush` writes the changed rows, sealed for the new version,
and the new header in the same PostgreSQL transaction; SQLite commits only after PostgreSQL
did. A failure anywhere rolls both back. A version that moved under the lock (it cannot, unless
something bypasses the lock) is :class:`VaultConflict`, never a lost write.

Reads: opening a vault reads its version (one statement) and catches the cached mirror up
by the rows written since: rows carry the version that wrote them, deletions leave a
tombstone (``sealed`` NULL) until they are purged, after which an older mirror reloads whole.

Integrity: the header (sealed, bound to the vault's version) holds the schema level and a
keyed digest over every live row's (id, version); a row replaced by an older copy, removed or
resurrected does not add up and the vault is refused as damaged (:class:`VaultDamaged`). A
whole vault put back consistently from an older copy is the rollback that
:mod:`vault.storage.heads` detects, as for files.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlcipher3

from vault.crypto.errors import WrongKey
from vault.crypto.rowseal import RowKeys, add, remove
from vault.storage import db, migrations
from vault.storage.errors import StorageError, VaultDamaged

if TYPE_CHECKING:
    from vault.storage.pg import Connection, Database

log = logging.getLogger("kluis.storage")

#: Every this many versions, tombstones older than :data:`KEEP_TOMBSTONES` versions go.
PURGE_EVERY = 128
KEEP_TOMBSTONES = 64


class VaultConflict(StorageError):
    """Another writer changed the vault between its lock and this write (a retry helps)."""

    status = 409
    code = "vault-conflict"
    title = "The vault was changed at the same moment; try again"


@dataclass(frozen=True)
class Schema:
    """The vault schema at one migration level, as DDL to build an empty database."""

    version: int
    create: tuple[str, ...]  # tables and indexes, in creation order
    triggers: tuple[tuple[str, str], ...]  # (name, sql)
    columns: dict[str, tuple[str, ...]]  # table -> its columns
    alias: dict[str, str | None]  # table -> its INTEGER PRIMARY KEY column (the rowid), if any


_schemas: dict[int, Schema] = {}


def latest_schema() -> int:
    return max(m.number for m in migrations.load("vault"))


def schema(version: int) -> Schema:
    """The vault schema after migration ``version`` (built once per process)."""
    found = _schemas.get(version)
    if found is not None:
        return found
    conn = _memory()
    try:
        for migration in migrations.load("vault"):
            if migration.number <= version:
                for statement in migrations._split(migration.sql):
                    conn.execute(statement)
        create: list[str] = []
        triggers: list[tuple[str, str]] = []
        columns: dict[str, tuple[str, ...]] = {}
        alias: dict[str, str | None] = {}
        for kind, name, sql in conn.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
                " AND name NOT LIKE 'sqlite_%' ORDER BY rowid").fetchall():
            if kind == "trigger":
                triggers.append((name, sql))
                continue
            create.append(sql)
            if kind == "table":
                info = conn.execute(f'PRAGMA table_info("{name}")').fetchall()
                columns[name] = tuple(r[1] for r in info)
                pks = [r for r in info if r[5]]
                alias[name] = (pks[0][1] if len(pks) == 1 and str(pks[0][2]).upper() == "INTEGER"
                               else None)
    finally:
        conn.close()
    found = _schemas[version] = Schema(version, tuple(create), tuple(triggers), columns, alias)
    return found


def _memory() -> db.Connection:
    conn: db.Connection = sqlcipher3.connect(":memory:", isolation_level=None,
                                             check_same_thread=False)
    conn.row_factory = db.Row
    return conn


# -- rows as bytes -------------------------------------------------------------------------


def encode_row(table: str, rowid: int, names: Sequence[str], values: Sequence[Any]) -> bytes:
    """``len(head) || head || blobs``: head is JSON ``[table, rowid, columns]``, a blob column
    standing as ``[name, "b", length]`` with its bytes after the head, in order."""
    cols: list[list[Any]] = []
    blobs: list[bytes] = []
    for name, value in zip(names, values, strict=True):
        if isinstance(value, bytes | bytearray | memoryview):
            blob = bytes(value)
            cols.append([name, "b", len(blob)])
            blobs.append(blob)
        else:
            cols.append([name, value])
    head = json.dumps([table, rowid, cols], separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")
    return len(head).to_bytes(4, "big") + head + b"".join(blobs)


def decode_row(data: bytes) -> tuple[str, int, list[str], list[Any]]:
    size = int.from_bytes(data[:4], "big")
    table, rowid, cols = json.loads(data[4:4 + size].decode("utf-8"))
    offset = 4 + size
    names: list[str] = []
    values: list[Any] = []
    for col in cols:
        names.append(col[0])
        if len(col) == 3:
            values.append(data[offset:offset + col[2]])
            offset += col[2]
        else:
            values.append(col[1])
    return table, int(rowid), names, values


# -- the mirror ----------------------------------------------------------------------------


@dataclass
class Mirror:
    """One vault's rows, decrypted into an in-memory SQLite database (``conn``)."""

    vault_id: str
    keys: RowKeys
    conn: db.Connection
    schema: Schema
    version: int
    digest: int = 0
    #: live row id -> (table, rowid) and -> the version that wrote it
    where: dict[bytes, tuple[str, int]] = field(default_factory=dict)
    versions: dict[bytes, int] = field(default_factory=dict)
    #: Rows changed outside PostgreSQL (a migration on open): the next transaction writes them.
    needs_flush: bool = False

    def close(self) -> None:
        self.conn.close()

    @property
    def in_transaction(self) -> bool:
        return bool(self.conn.in_transaction)


def _damaged(vault_id: str, why: str) -> VaultDamaged:
    log.error("vault %s: its rows in PostgreSQL do not open with its data key (%s)",
              vault_id, why)
    return VaultDamaged("This vault's file is damaged.")


def _header(keys: RowKeys, vault_id: str, version: int, sealed: bytes) -> tuple[int, int]:
    try:
        header = json.loads(keys.open_header(version, bytes(sealed)))
    except WrongKey:
        raise _damaged(vault_id, "header") from None
    return int(header["schema"]), int(header["digest"], 16)


def _seal_header(keys: RowKeys, version: int, schema_version: int, digest: int) -> bytes:
    return keys.seal_header(version, json.dumps(
        {"schema": schema_version, "digest": f"{digest:064x}"}, sort_keys=True).encode())


def _open(keys: RowKeys, vault_id: str, sch: Schema, row_key: bytes, version: int,
          sealed: bytes) -> tuple[str, int, list[str], list[Any]]:
    try:
        table, rowid, names, values = decode_row(keys.open_row(row_key, version, sealed))
    except WrongKey:
        raise _damaged(vault_id, "a row") from None
    if keys.row_id(table, rowid) != row_key or table not in sch.columns \
            or not set(names) <= set(sch.columns[table]):
        raise _damaged(vault_id, "a row in the wrong place")
    return table, rowid, names, values


def _put(conn: db.Connection, sch: Schema, table: str, rowid: int, names: list[str],
         values: list[Any]) -> None:
    alias = sch.alias[table]
    pairs = [(n, v) for n, v in zip(names, values, strict=True) if n != alias]
    cols = ", ".join(['rowid'] + [f'"{n}"' for n, _ in pairs])
    marks = ", ".join("?" * (len(pairs) + 1))
    conn.execute(f'INSERT OR REPLACE INTO main."{table}" ({cols}) VALUES ({marks})',
                 (rowid, *(v for _, v in pairs)))


def _capture(conn: db.Connection, sch: Schema) -> None:
    """Temporary triggers that note every changed row in ``temp.kluis_changes``."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS kluis_changes (tbl TEXT NOT NULL,"
                 " rid INTEGER NOT NULL)")
    for table in sch.columns:
        for name, sql in _capture_triggers(table):
            conn.execute(f'DROP TRIGGER IF EXISTS temp."{name}"')
            conn.execute(sql)


def _capture_triggers(table: str) -> list[tuple[str, str]]:
    # No conflict clause inside: an outer INSERT OR ... would override it; duplicates are
    # folded when the changes are read.
    note = "INSERT INTO temp.kluis_changes (tbl, rid) VALUES ('{t}', {w}.rowid);"
    return [
        (f"kluis_ci_{table}", f'CREATE TEMP TRIGGER "kluis_ci_{table}" AFTER INSERT ON '
         f'main."{table}" BEGIN {note.format(t=table, w="NEW")} END'),
        (f"kluis_cu_{table}", f'CREATE TEMP TRIGGER "kluis_cu_{table}" AFTER UPDATE ON '
         f'main."{table}" BEGIN {note.format(t=table, w="OLD")} '
         f'{note.format(t=table, w="NEW")} END'),
        (f"kluis_cd_{table}", f'CREATE TEMP TRIGGER "kluis_cd_{table}" AFTER DELETE ON '
         f'main."{table}" BEGIN {note.format(t=table, w="OLD")} END'),
    ]


def _settle(conn: db.Connection) -> None:
    conn.execute("PRAGMA foreign_keys = ON")
    # REPLACE deletes the rows it replaces through the delete triggers too, so they are noted.
    conn.execute("PRAGMA recursive_triggers = ON")


def _build(vault_id: str, keys: RowKeys, version: int, sealed_header: bytes,
           rows: Sequence[tuple[Any, ...]]) -> Mirror:
    schema_version, digest = _header(keys, vault_id, version, sealed_header)
    sch = schema(schema_version)
    conn = _memory()
    mirror = Mirror(vault_id, keys, conn, sch, version)
    try:
        conn.execute("BEGIN")
        for statement in sch.create:
            conn.execute(statement)
        total = 0
        for row_key, row_version, sealed in rows:
            row_key = bytes(row_key)
            table, rowid, names, values = _open(keys, vault_id, sch, row_key, row_version,
                                                bytes(sealed))
            _put(conn, sch, table, rowid, names, values)
            mirror.where[row_key] = (table, rowid)
            mirror.versions[row_key] = row_version
            total = add(total, keys.element(row_key, row_version))
        if total != digest:
            raise _damaged(vault_id, "rows missing, added or from another version")
        for _, sql in sch.triggers:
            conn.execute(sql)
        conn.execute(f"PRAGMA user_version = {sch.version:d}")
        conn.execute("COMMIT")
        _settle(conn)
        _capture(conn, sch)
        mirror.digest = digest
        if sch.version < latest_schema():
            _migrate(mirror)
    except BaseException:
        conn.close()
        raise
    return mirror


def _migrate(mirror: Mirror) -> None:
    """Bring the mirror to the newest vault schema; every row is written at the next flush."""
    conn = mirror.conn
    for name in [n for t in mirror.schema.columns for n, _ in _capture_triggers(t)]:
        conn.execute(f'DROP TRIGGER IF EXISTS temp."{name}"')
    migrations.apply(conn, "vault")
    mirror.schema = schema(migrations.current_version(conn))
    _capture(conn, mirror.schema)
    _mark_everything(mirror)


def _mark_everything(mirror: Mirror) -> None:
    """Note every row (and every row known before) as changed: the next flush rewrites all."""
    conn = mirror.conn
    conn.execute("BEGIN")
    for table in mirror.schema.columns:
        conn.execute(f"INSERT INTO temp.kluis_changes (tbl, rid) SELECT '{table}', rowid"
                     f' FROM main."{table}"')
    conn.executemany("INSERT INTO temp.kluis_changes (tbl, rid) VALUES (?, ?)",
                     list(mirror.where.values()))
    conn.execute("COMMIT")
    mirror.needs_flush = True


# -- PostgreSQL ----------------------------------------------------------------------------


def create(database: Database, vault_id: str, dek: bytes) -> Mirror:
    """A new, empty vault at the newest schema; its rows are written by the first flush."""
    keys = RowKeys(dek, vault_id)
    conn = _memory()
    try:
        migrations.apply(conn, "vault")
        sch = schema(migrations.current_version(conn))
        _settle(conn)
        _capture(conn, sch)
        mirror = Mirror(vault_id, keys, conn, sch, 0)
        _mark_everything(mirror)
        with database.connection() as pgc:
            found = pgc.execute("SELECT 1 FROM kluis_vaults WHERE vault_id = %s",
                                (vault_id,)).fetchone()
            if found:
                raise FileExistsError(f"vault {vault_id} exists")
            pgc.execute("INSERT INTO kluis_vaults (vault_id, version, header) VALUES (%s, 0, %s)",
                        (vault_id, _seal_header(keys, 0, sch.version, 0)))
            pgc.execute("INSERT INTO kluis_journal_heads (vault_id) VALUES (%s)", (vault_id,))
    except BaseException:
        conn.close()
        raise
    return mirror


def copy_of(vault_id: str, dek: bytes, source: db.Connection) -> Mirror:
    """A mirror holding every row of ``source`` (an open vault file at the newest schema),
    every row noted as changed: :func:`insert` writes them all as the vault's first version.
    Rows keep their rowids, so the log's hash chain and every reference carry over as is."""
    sch = schema(migrations.current_version(source))
    if sch.version != latest_schema():
        raise ValueError("only a vault at the newest schema is copied")
    conn = _memory()
    mirror = Mirror(vault_id, RowKeys(dek, vault_id), conn, sch, 0)
    try:
        conn.execute("BEGIN")
        for statement in sch.create:
            conn.execute(statement)
        for table in sch.columns:
            cur = source.execute(f'SELECT rowid AS kluis_rowid, * FROM main."{table}"')
            names = [d[0] for d in cur.description][1:]
            for row in cur:
                _put(conn, sch, table, int(row[0]), names, list(row)[1:])
        for _, sql in sch.triggers:  # after the rows: they were kept by these already
            conn.execute(sql)
        conn.execute(f"PRAGMA user_version = {sch.version:d}")
        conn.execute("COMMIT")
        _settle(conn)
        _capture(conn, sch)
        _mark_everything(mirror)
    except BaseException:
        conn.close()
        raise
    return mirror


def insert(pgc: Connection, mirror: Mirror) -> None:
    """Inside the caller's PostgreSQL transaction: the vault ``mirror`` (from
    :func:`copy_of`) as a new vault, every row written at version 1. Raises
    ``FileExistsError`` when the vault is in the database already."""
    vault_id, keys = mirror.vault_id, mirror.keys
    if exists_in(pgc, vault_id):
        raise FileExistsError(f"vault {vault_id} exists")
    pgc.execute("INSERT INTO kluis_vaults (vault_id, version, header) VALUES (%s, 0, %s)",
                (vault_id, _seal_header(keys, 0, mirror.schema.version, 0)))
    pgc.execute("INSERT INTO kluis_journal_heads (vault_id) VALUES (%s)", (vault_id,))
    conn = mirror.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = flush(mirror, pgc, 0)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    if done is not None:
        applied(mirror, done)


def exists(database: Database, vault_id: str) -> bool:
    with database.connection() as pgc:
        return exists_in(pgc, vault_id)


def exists_in(pgc: Connection, vault_id: str) -> bool:
    return pgc.execute("SELECT 1 FROM kluis_vaults WHERE vault_id = %s",
                       (vault_id,)).fetchone() is not None


def erase(database: Database, vault_id: str) -> int:
    """Delete the vault's rows, journal and header; returns how many rows went."""
    with database.connection() as pgc:
        row = pgc.execute("SELECT count(*) FROM kluis_rows WHERE vault_id = %s",
                          (vault_id,)).fetchone()
        pgc.execute("DELETE FROM kluis_vaults WHERE vault_id = %s", (vault_id,))
    return int(row[0]) if row else 0


def head(pgc: Connection, vault_id: str, *, lock: bool = False) -> tuple[Any, ...]:
    """``(version, purged_upto, header)`` of the vault; FileNotFoundError when it has none."""
    row = pgc.execute("SELECT version, purged_upto, header FROM kluis_vaults WHERE vault_id = %s"
                      + (" FOR UPDATE" if lock else ""), (vault_id,)).fetchone()
    if row is None:
        raise FileNotFoundError(f"vault {vault_id} is not in the database")
    return row


def load(database: Database, vault_id: str, dek: bytes) -> Mirror:
    """Read every row of the vault from one snapshot and decrypt it into a new mirror."""
    keys = RowKeys(dek, vault_id)
    with database.connection() as pgc:
        pgc.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        version, _, sealed = head(pgc, vault_id)
        rows = _live_rows(pgc, vault_id)
    return _build(vault_id, keys, int(version), bytes(sealed), rows)


def _live_rows(pgc: Connection, vault_id: str) -> list[tuple[Any, ...]]:
    return pgc.execute("SELECT row_key, version, sealed FROM kluis_rows WHERE vault_id = %s"
                       " AND sealed IS NOT NULL", (vault_id,)).fetchall()


def refresh(mirror: Mirror, pgc: Connection, current: tuple[Any, ...]) -> Mirror:
    """Catch ``mirror`` up to the vault's version ``current`` (from :func:`head`, read in
    ``pgc``'s transaction, which must see the rows of that version: a REPEATABLE READ
    snapshot, or the vault's lock). Returns the mirror to use: the same one, caught up, or
    (after tombstones it needs were purged, or another schema) a new one, the old closed."""
    version, purged, sealed_header = int(current[0]), int(current[1]), bytes(current[2])
    if version == mirror.version:
        return mirror
    keys, vault_id = mirror.keys, mirror.vault_id
    schema_version, digest = _header(keys, vault_id, version, sealed_header)
    if purged > mirror.version or schema_version != mirror.schema.version \
            or mirror.needs_flush:
        fresh = _build(vault_id, keys, version, sealed_header, _live_rows(pgc, vault_id))
        mirror.close()
        return fresh
    changed = pgc.execute("SELECT row_key, version, sealed FROM kluis_rows WHERE vault_id = %s"
                          " AND version > %s", (vault_id, mirror.version)).fetchall()
    total = mirror.digest
    gone: list[bytes] = []
    puts: list[tuple[bytes, int, tuple[str, int, list[str], list[Any]]]] = []
    for row_key, row_version, sealed in changed:
        row_key = bytes(row_key)
        if row_key in mirror.versions:
            total = remove(total, keys.element(row_key, mirror.versions[row_key]))
        if sealed is None:
            if row_key in mirror.where:
                gone.append(row_key)
            continue
        opened = _open(keys, vault_id, mirror.schema, row_key, row_version, bytes(sealed))
        puts.append((row_key, row_version, opened))
        total = add(total, keys.element(row_key, row_version))
    if total != digest:
        raise _damaged(vault_id, "rows missing, added or from another version")
    conn, sch = mirror.conn, mirror.schema
    triggers = list(sch.triggers) + [t for table in sch.columns for t in _capture_triggers(table)]
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execute("BEGIN")
        try:
            for name, _ in triggers:
                conn.execute(f'DROP TRIGGER IF EXISTS "{name}"')
            for row_key in gone:
                table, rowid = mirror.where[row_key]
                conn.execute(f'DELETE FROM main."{table}" WHERE rowid = ?', (rowid,))
            for _, _, (table, rowid, names, values) in puts:
                _put(conn, sch, table, rowid, names, values)
            for _, sql in triggers:
                conn.execute(sql)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.execute("PRAGMA foreign_keys = ON")
    for row_key in gone:
        del mirror.where[row_key]
        del mirror.versions[row_key]
    for row_key, row_version, (table, rowid, _, _) in puts:
        mirror.where[row_key] = (table, rowid)
        mirror.versions[row_key] = row_version
    mirror.digest, mirror.version = digest, version
    return mirror


@dataclass
class Flushed:
    """What a flush wrote, applied to the mirror once both commits are done."""

    version: int
    digest: int
    written: dict[bytes, tuple[str, int]]
    gone: list[bytes]


def flush(mirror: Mirror, pgc: Connection, locked_version: int) -> Flushed | None:
    """Inside the caller's SQLite transaction on ``mirror.conn`` and PostgreSQL transaction
    ``pgc`` (holding the vault's lock at ``locked_version``): write every changed row, sealed
    for the next version, and the new header. None when nothing changed."""
    conn, keys = mirror.conn, mirror.keys
    noted = conn.execute("SELECT DISTINCT tbl, rid FROM temp.kluis_changes").fetchall()
    if not noted:
        return None
    version = locked_version + 1
    total = mirror.digest
    puts: list[tuple[str, bytes, int, bytes]] = []
    tombstones: list[tuple[int, str, bytes]] = []
    written: dict[bytes, tuple[str, int]] = {}
    gone: list[bytes] = []
    vault_id = mirror.vault_id
    for table, rowid in noted:
        row_key = keys.row_id(table, rowid)
        if row_key in mirror.versions:
            total = remove(total, keys.element(row_key, mirror.versions[row_key]))
        row = conn.execute(f'SELECT * FROM main."{table}" WHERE rowid = ?', (rowid,)).fetchone()
        if row is None:
            if row_key in mirror.versions:
                tombstones.append((version, vault_id, row_key))
                gone.append(row_key)
            continue
        plain = encode_row(table, rowid, row.keys(), tuple(row))
        puts.append((vault_id, row_key, version, keys.seal_row(row_key, version, plain)))
        written[row_key] = (table, rowid)
        total = add(total, keys.element(row_key, version))
    with pgc.cursor() as cur:
        if puts:
            cur.executemany(
                "INSERT INTO kluis_rows (vault_id, row_key, version, sealed)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (vault_id, row_key) DO UPDATE"
                " SET version = excluded.version, sealed = excluded.sealed", puts)
        if tombstones:
            cur.executemany("UPDATE kluis_rows SET version = %s, sealed = NULL"
                            " WHERE vault_id = %s AND row_key = %s", tombstones)
        purged = 0
        if version % PURGE_EVERY == 0:
            purged = version - KEEP_TOMBSTONES
            cur.execute("DELETE FROM kluis_rows WHERE vault_id = %s AND sealed IS NULL"
                        " AND version <= %s", (vault_id, purged))
        cur.execute("UPDATE kluis_vaults SET version = %s, header = %s,"
                    " purged_upto = greatest(purged_upto, %s)"
                    " WHERE vault_id = %s AND version = %s",
                    (version, _seal_header(keys, version, mirror.schema.version, total), purged,
                     vault_id, locked_version))
        if cur.rowcount != 1:
            raise VaultConflict("the vault changed while it was locked")
    conn.execute("DELETE FROM temp.kluis_changes")
    return Flushed(version, total, written, gone)


def applied(mirror: Mirror, done: Flushed) -> None:
    for row_key in done.gone:
        mirror.where.pop(row_key, None)
        mirror.versions.pop(row_key, None)
    for row_key, place in done.written.items():
        mirror.where[row_key] = place
        mirror.versions[row_key] = done.version
    mirror.digest, mirror.version = done.digest, done.version
    mirror.needs_flush = False
