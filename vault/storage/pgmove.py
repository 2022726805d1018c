"""Moving a file vault into PostgreSQL: the first time a key slot opens it with
``KLUIS_DATABASE_URL`` set.

Nobody but the holder of a key slot can read a vault, so no operator command can move one:
the first open with any key slot (the owner's login, an app token, an organisation's read
under its grant) after the URL was set does it, inside :func:`vault.storage.vaults.open_vault`:

1. take the vault's move lock, a PostgreSQL advisory lock held until the transaction ends,
   so that two processes (or nodes) opening the vault at once move it once: the second
   waits, then finds the vault in the database and opens it there;
2. open the file as any file open does (migrated, checked against its log commitment, so
   an older copy of the file is refused as a rollback and nothing moves), and read the
   access journal file's rows not yet merged into the vault's log;
3. in **one** PostgreSQL transaction: the vault's row, every row of every table sealed as
   the vault's first version (:func:`vault.storage.pgvault.insert`), and the journal's
   pending rows as the first rows of the vault's PostgreSQL journal, so they are merged
   into the log by the next merge (the owner's open, an organisation viewing its grant)
   with their access counts, as they would have been from the file;
4. commit; then remove the journal file and the vault file (with their ``-wal``/``-shm``).

Which copy is authoritative needs no marker: the vault's row in ``kluis_vaults``. It exists
only once the transaction of step 3 committed, with every row; until then the file is the
vault and is left as it was (a move killed before the commit rolls back with the connection
and leaves nothing in the database). After the commit the database is the vault, and any
file of it still there (a process killed between the commit and the removal) is removed by
the next open (:func:`tidy`), never read again. The rollback commitment in instance.db
(:mod:`vault.storage.heads`) carries over untouched: the log's events move with their
sequence numbers and hashes, so the commitment matches the moved vault, and a database put
back from before later writes is refused as a file put back would be.

Only the rows are copied, never the file's bytes: a vault still at an older schema is
migrated in its file first (step 2), as any open does.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vault.crypto.rowseal import JournalKeys
from vault.storage import db, journal, pgvault
from vault.storage.cache import CONNECTIONS
from vault.storage.instance import Instance
from vault.storage.vaults import VaultDB, open_vault_file

log = logging.getLogger("kluis.storage")

# The advisory lock's first key ("kmov" in ASCII); the second is from the vault id.
_MOVE_LOCK = 0x6B6D6F76

FILE = "file"
POSTGRESQL = "postgresql"
MISSING = "missing"

#: Every file of a vault, by suffix of its path (the vault, its journal, their WAL/shm).
SUFFIXES = (journal.SUFFIX + "-wal", journal.SUFFIX + "-shm", journal.SUFFIX,
            "-wal", "-shm", "")

#: Called with the name of each step of a move as it is reached ("locked", "read",
#: "written", "committed", "journal-removed", "done"): the interrupted-move tests stop a
#: process there. None (always, outside those tests): nothing is called.
on_step: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if on_step is not None:
        on_step(name)


def lock_key(vault_id: str) -> int:
    """The second key of the vault's move lock (a signed 32-bit number)."""
    return int.from_bytes(hashlib.sha256(vault_id.encode()).digest()[:4], "big", signed=True)


def move(instance: Instance, vault_id: str, dek: bytes, *, check_head: bool = True) -> bool:
    """Move the file vault ``vault_id`` into PostgreSQL (see the module's text); returns
    False when another process moved it meanwhile. ``FileNotFoundError`` when it is in
    neither place; the file open's own errors (``VaultDamaged``, ``VaultRolledBack``)
    leave the file as it was."""
    database = instance.pg
    if database is None:
        raise ValueError("the instance has no PostgreSQL database (KLUIS_DATABASE_URL)")
    path = str(instance.vault_path(vault_id))
    with instance.hold.shared():  # a backup copying files waits for the move
        with database.connection() as pgc:
            pgc.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_MOVE_LOCK, lock_key(vault_id)))
            _step("locked")
            if pgvault.exists_in(pgc, vault_id):
                moved = False  # another process moved it while this one waited
            else:
                if not os.path.exists(path):
                    raise FileNotFoundError(f"vault {vault_id} has no file and no rows")
                mirror, pending, journal_key = _read(instance, vault_id, dek, path,
                                                     check_head=check_head)
                _step("read")
                try:
                    pgvault.insert(pgc, mirror)
                    if pending:
                        _insert_journal(pgc, vault_id, journal_key, pending)
                finally:
                    mirror.close()
                _step("written")
                pgc.commit()
                moved = True
        _step("committed")
        if moved:
            log.info("vault %s: moved from its file into PostgreSQL (%d access events"
                     " pending)", vault_id, len(pending))
        _remove_files(path)
    _step("done")
    return moved


@dataclass(frozen=True)
class Pending:
    """An access journal row not merged into the vault's log yet."""

    at: str
    actor: str
    action: str
    grant_id: str | None
    detail: str  # as stored
    canonical: str  # as the chain hashes it


def _read(instance: Instance, vault_id: str, dek: bytes, path: str, *,
          check_head: bool) -> tuple[pgvault.Mirror, list[Pending], bytes | None]:
    """The file vault copied into a mirror, its journal's unmerged rows, its journal key."""
    CONNECTIONS.forget(vault_id)  # nothing of this process reads the file beside this
    vault = open_vault_file(instance, vault_id, dek, path=path, check_head=check_head)
    try:
        pending = _pending(vault, path)
        key = vault.get_meta("journal_key")
        mirror = pgvault.copy_of(vault_id, dek, vault.conn)
    finally:
        vault.close()
    return mirror, pending, (bytes(key) if key is not None else None)


def _pending(vault: VaultDB, path: str) -> list[Pending]:
    """The rows of the vault's journal file it has not merged; a journal that does not open
    is moved aside and the loss written to the (file's) log first, as an open would."""
    journal_path = journal.path_for(path)
    key = vault.get_meta("journal_key")
    if key is None or not os.path.exists(journal_path):
        return []
    ref = journal.JournalRef(vault.id, journal_path, bytes(key))
    if not journal._healthy(ref):
        journal.recover(vault, ref)
        return []
    conn = db.connect(journal_path, bytes(key))
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'entries'").fetchone() is None:
            return []
        journal_id, rows = journal.snapshot(conn)
    finally:
        conn.close()
    upto = journal._merged_upto(vault.get_meta("journal_merged"), str(journal_id))
    return [Pending(r["at"], r["actor"], r["action"], r["grant_id"], r["detail"],
                    r["canonical"]) for r in rows if r["seq"] > upto]


def _insert_journal(pgc: Any, vault_id: str, journal_key: bytes | None,
                    pending: list[Pending]) -> None:
    """The pending rows as rows 1..n of the vault's PostgreSQL journal (sealed as
    :class:`vault.storage.journal.PgJournal` seals them). The vault's merge mark names the
    file's journal, so none of them counts as merged: the next merge moves all of them."""
    assert journal_key is not None  # noqa: S101 - a journal file has its key in the vault
    keys = JournalKeys(journal_key, vault_id)
    rows = []
    for seq, p in enumerate(pending, start=1):
        body = json.dumps([p.at, p.actor, p.action, p.grant_id, p.detail, p.canonical],
                          ensure_ascii=False).encode("utf-8")
        rows.append((vault_id, seq, keys.seal(seq, body)))
    with pgc.cursor() as cur:
        cur.executemany("INSERT INTO kluis_journal (vault_id, seq, sealed) VALUES (%s, %s, %s)",
                        rows)
    pgc.execute("UPDATE kluis_journal_heads SET last = %s WHERE vault_id = %s",
                (len(rows), vault_id))


def _remove_files(path: str) -> None:
    """Remove the vault's files (the journal first: a vault file never stays without it)."""
    removed = False
    for suffix in SUFFIXES:
        try:
            os.unlink(path + suffix)
            removed = True
        except FileNotFoundError:
            continue
        if suffix == journal.SUFFIX:
            _step("journal-removed")
    if removed:
        _sync_dir(os.path.dirname(path))


def _sync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def tidy(instance: Instance, vault_id: str) -> None:
    """Remove what a move killed after its commit left of the vault's files (the vault is in
    the database: they are never read again). Costs a few ``stat`` calls when there are none."""
    path = str(instance.vault_path(vault_id))
    if any(os.path.exists(path + suffix) for suffix in SUFFIXES):
        CONNECTIONS.forget(vault_id)
        with instance.hold.shared():
            _remove_files(path)
        log.info("vault %s: removed its file left over from its move into PostgreSQL",
                 vault_id)


# -- where vaults live (no vault opened) ---------------------------------------------------


def locations(instance: Instance) -> dict[str, str]:
    """Each vault of the instance (by id, from instance.db) and where it lives: ``file``,
    ``postgresql`` or ``missing`` (neither), from instance.db, the vaults directory and
    ``kluis_vaults`` only: no vault is opened, no key needed."""
    ids = [str(r[0]) for r in instance.conn.execute("SELECT id FROM vaults ORDER BY created_at")]
    in_pg: set[str] = set()
    database = instance.pg
    if database is not None and ids:
        with database.connection() as pgc:
            in_pg = {str(r[0]) for r in pgc.execute(
                "SELECT vault_id FROM kluis_vaults WHERE vault_id = ANY(%s)", (ids,))}
    out: dict[str, str] = {}
    for vault_id in ids:
        if vault_id in in_pg:
            out[vault_id] = POSTGRESQL
        elif instance.vault_path(vault_id).exists():
            out[vault_id] = FILE
        else:
            out[vault_id] = MISSING
    return out


def leftover(instance: Instance, vault_id: str) -> bool:
    """Whether files of a vault that lives in PostgreSQL are still there (removed at its
    next open)."""
    path = str(instance.vault_path(vault_id))
    return any(os.path.exists(path + suffix) for suffix in SUFFIXES)
