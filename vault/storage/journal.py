"""A vault's access journal: access events committed without the vault's write lock.

Every organisation read must leave a committed access event before any data
is returned. Writing that event into the vault file itself means a write
transaction on the vault for every read: five or six pages encrypted and
synced, and every other process's cached pages of that vault made stale. So a
read appends one row to the vault's journal instead: a small SQLCipher file
next to the vault (``vaults/<id>.db.access``), keyed with a random key kept in
the vault's own meta (only a holder of the vault's data key can open it), and
committed at the configured ``KLUIS_SQLITE_SYNCHRONOUS`` level before the
response leaves (FULL: on disk).

:func:`merge` moves journal rows into the vault's hash-chained log, oldest
first, and hands them to the caller's ``on_merged`` inside the same vault
transaction (the grants package adds them to the grants' access counts there:
:func:`vault.grants.repository.add_reads`; storage knows no grant table). It runs whenever the owner
opens the vault (``Accounts.open``), before an organisation views its grant,
and on the read path after every :data:`MERGE_EVERY` th row. A merge commits
the rows to the vault together with the journal's id and last row
(``meta.journal_merged``), and only then deletes them from the journal, so a
crash between the two commits moves nothing twice; readers are held up only by
the delete. Lock order is always journal, then vault.

The event's ``at`` is when the read happened; its place in the chain is when
it was merged.

A journal that does not open with its key (damaged, or a vault file restored without its
matching journal) must never lock the owner out or stop organisation reads: :func:`opened`
moves it aside (``<id>.db.access.damaged-<time>``), starts a new one and appends an
``access-journal.damaged`` event to the vault's log saying what is known of the loss: reads
after the newest one merged into the log, until the damage was found; how many cannot be
known, since the rows are unreadable. Every write here takes the instance's write hold
(:mod:`vault.storage.hold`) before its SQLite lock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vault.clock import now_iso
from vault.config import Settings
from vault.crypto.errors import WrongKey
from vault.crypto.rowseal import JournalKeys
from vault.storage import db, hold
from vault.storage.cache import CONNECTIONS
from vault.storage.vaults import EventDetail, VaultDB

if TYPE_CHECKING:
    from vault.storage.pg import Connection as PgConnection
    from vault.storage.pg import Database

log = logging.getLogger("kluis.storage")

MERGE_EVERY = 64
OnMerged = Callable[[db.Connection, Sequence[Any]], None]
"""Called inside the vault transaction of a merge with the rows it moved (oldest first)."""


def no_derived_rows(_tx: db.Connection, _rows: Sequence[Any]) -> None:
    """An :data:`OnMerged` that adds nothing (the merge moves the events only)."""
SUFFIX = ".access"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entries ("
    " seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
    " grant_id TEXT, detail TEXT NOT NULL, canonical TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS journal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


def path_for(vault_path: str) -> str:
    return vault_path + SUFFIX


@dataclass(frozen=True)
class JournalRef:
    """Where a vault's journal is and how to open it (kept by a grant handle)."""

    vault_id: str
    path: str
    key: bytes
    # The vault id first, so forgetting a vault's cached connections forgets this one.
    cache_key: tuple[str, bytes] = field(init=False)

    def __post_init__(self) -> None:
        digest = hmac.new(self.key, b"kluis-access-journal", hashlib.sha256).digest()
        object.__setattr__(self, "cache_key", (self.vault_id, digest))


class PgJournal:
    """A vault's access journal in PostgreSQL (``KLUIS_DATABASE_URL``): table
    ``kluis_journal``, one row per event, AES-GCM under a key derived from the journal key
    (which only a holder of the vault's data key reads), bound to vault id and row number.

    Rows are numbered by ``kluis_journal_heads.last``: taking a number locks the vault's
    journal until the commit, so rows commit in the order of their numbers (a merge that
    saw row n saw every row before it), as SQLite's write lock orders a journal file. The
    numbers never start again, so the journal's id is always :data:`ID`. Every commit is
    durable (``synchronous_commit = on``) before the read that wrote it is answered.
    """

    ID = "pg"
    in_transaction = False

    def __init__(self, database: Database, journal: JournalRef) -> None:
        self.database = database
        self.vault_id = journal.vault_id
        self.keys = JournalKeys(journal.key, journal.vault_id)
        self._locked: PgConnection | None = None
        #: Row numbers that did not open with the journal's key at the last :meth:`entries`
        #: (damaged in the database): skipped there, and dropped by the next merge, which
        #: says so in the vault's log (:func:`to_vault`), as a damaged journal file is.
        self.unreadable: list[int] = []

    @contextmanager
    def locked(self) -> Iterator[None]:
        """The journal's write lock, for counting and appending as one."""
        with self.database.connection() as pgc:
            pgc.execute("SELECT last FROM kluis_journal_heads WHERE vault_id = %s FOR UPDATE",
                        (self.vault_id,))
            self._locked = pgc
            try:
                yield
            finally:
                self._locked = None

    def append(self, at: str, actor: str, action: str, grant_id: str | None,
               detail: EventDetail) -> int:
        body = json.dumps([at, actor, action, grant_id, detail.stored, detail.canonical],
                          ensure_ascii=False).encode("utf-8")
        if self._locked is not None:
            return self._append(self._locked, body)
        with self.database.connection() as pgc:
            return self._append(pgc, body)

    def _append(self, pgc: PgConnection, body: bytes) -> int:
        row = pgc.execute("UPDATE kluis_journal_heads SET last = last + 1 WHERE vault_id = %s"
                          " RETURNING last", (self.vault_id,)).fetchone()
        if row is None:
            raise FileNotFoundError(f"vault {self.vault_id} is not in the database")
        seq = int(row[0])
        pgc.execute("INSERT INTO kluis_journal (vault_id, seq, sealed) VALUES (%s, %s, %s)",
                    (self.vault_id, seq, self.keys.seal(seq, body)))
        return seq

    def entries(self, after: int = 0) -> list[dict[str, Any]]:
        """The rows numbered above ``after``, oldest first, decrypted; a row that does not
        open with the key is left out and noted in :attr:`unreadable`."""
        with self.database.connection() as pgc:
            rows = pgc.execute("SELECT seq, sealed FROM kluis_journal WHERE vault_id = %s"
                               " AND seq > %s ORDER BY seq", (self.vault_id, after)).fetchall()
        out: list[dict[str, Any]] = []
        self.unreadable = []
        for seq, sealed in rows:
            seq = int(seq)
            try:
                plain = self.keys.open(seq, bytes(sealed))
            except WrongKey:
                self.unreadable.append(seq)
                continue
            at, actor, action, grant_id, stored, canonical = json.loads(plain)
            out.append({"seq": seq, "at": at, "actor": actor, "action": action,
                        "grant_id": grant_id, "detail": stored, "canonical": canonical})
        return out

    def forget(self, last: int) -> None:
        with self.database.connection() as pgc:
            pgc.execute("DELETE FROM kluis_journal WHERE vault_id = %s AND seq <= %s",
                        (self.vault_id, last))

    def has_rows(self) -> bool:
        with self.database.connection() as pgc:
            return pgc.execute("SELECT 1 FROM kluis_journal WHERE vault_id = %s LIMIT 1",
                               (self.vault_id,)).fetchone() is not None


#: An open journal: a SQLCipher connection to its file, or the PostgreSQL one.
Journal = db.Connection | PgJournal


def locked(conn: Journal) -> AbstractContextManager[Any]:
    """The journal's write lock held for the block (a SQLite write transaction on a file)."""
    if isinstance(conn, PgJournal):
        return conn.locked()
    return db.transaction(conn)


def ref(vault: VaultDB, vault_path: str) -> JournalRef:
    """The vault's journal; its key is made (in the vault's meta) on first use."""
    key = vault.get_meta("journal_key")
    if key is None:
        with vault.transaction() as tx:
            key = tx.execute("SELECT value FROM meta WHERE key = 'journal_key'").fetchone()
            key = key[0] if key else os.urandom(32)
            vault.set_meta(tx, "journal_key", key)
    return JournalRef(vault.id, path_for(vault_path), bytes(key))


@contextmanager
def opened(journal: JournalRef, settings: Settings, *,
           vault: VaultDB | None = None) -> Iterator[Journal]:
    """A connection to the journal, from the per-process connection cache when possible.

    With ``vault`` (the journal's vault, open), a journal that does not open with its key is
    moved aside and replaced, and the vault's log says so (:func:`recover`).
    """
    if settings.database_url:
        from vault.storage import pg

        yield PgJournal(pg.database(settings.database_url), journal)
        return
    conn = CONNECTIONS.get(journal.cache_key, settings)
    if conn is None:
        try:
            conn = _connect(journal, settings)
        except (WrongKey, db.DatabaseError) as exc:
            if vault is None or not db.is_damage(exc):
                raise
            recover(vault, journal)
            conn = _connect(journal, settings)
    try:
        yield conn
    finally:
        if conn.in_transaction or not os.path.exists(journal.path):
            conn.close()
        else:
            CONNECTIONS.put(journal.cache_key, conn, settings)


def _connect(journal: JournalRef, settings: Settings) -> db.Connection:
    with hold.for_home(settings.home_path).shared():
        conn = db.connect(journal.path, journal.key, synchronous=settings.sqlite_synchronous)
        try:
            with db.transaction(conn):
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute("INSERT INTO journal_meta (key, value) VALUES ('id', ?)"
                             " ON CONFLICT(key) DO NOTHING", (os.urandom(8).hex(),))
        except BaseException:
            conn.close()
            raise
    return conn


def recover(vault: VaultDB, journal: JournalRef) -> str | None:
    """Move a journal that does not open (or read) aside and say in the vault's log what was
    lost.

    Returns the name it was moved to (None: another process had already replaced it).
    Recoverers of one vault take turns on the vault's write lock.
    """
    with vault.transaction() as tx:
        if _healthy(journal):
            return None  # it opens now: another process moved the damaged one aside
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = f"{journal.path}.damaged-{stamp}"
        n = 1
        while os.path.exists(aside):
            n += 1
            aside = f"{journal.path}.damaged-{stamp}-{n}"
        os.replace(journal.path, aside)
        if os.path.exists(journal.path + "-wal"):
            os.replace(journal.path + "-wal", aside + "-wal")
        if os.path.exists(journal.path + "-shm"):
            os.unlink(journal.path + "-shm")
        merged_at = vault.get_meta("journal_merged_at")
        if merged_at is None:
            row = tx.execute("SELECT at FROM events WHERE action = 'grant.read'"
                             " ORDER BY seq DESC LIMIT 1").fetchone()
            merged_at = row["at"] if row else None
        vault.append_event(tx, actor="system", action="access-journal.damaged", detail={
            "moved_to": os.path.basename(aside),
            "reads_lost": None,  # the rows are unreadable: how many is not known
            "lost_after": merged_at,  # the newest read already in this log (None: none)
            "lost_until": now_iso(),
            "explanation": (
                "The access journal (organisation reads not yet added to this log) could not "
                "be opened or read: it was damaged, or the vault was restored without it. Reads "
                "after lost_after until lost_until may be missing from this log, and from "
                "the grants' access counts; how many is not known. A new journal was "
                "started; the old file was kept as moved_to."),
        })
    log.error("vault %s: its access journal did not open; moved aside to %s and replaced",
              vault.id, os.path.basename(aside))
    return os.path.basename(aside)


def _healthy(journal: JournalRef) -> bool:
    """Whether the journal opens with its key and every page of it reads (it is small)."""
    if not os.path.exists(journal.path):
        return True  # nothing there: the next open starts a new one
    try:
        conn = db.connect(journal.path, journal.key)
    except (WrongKey, db.DatabaseError) as exc:
        if db.is_damage(exc):
            return False
        raise
    try:
        return bool(conn.execute("PRAGMA quick_check").fetchone()[0] == "ok")
    except db.DatabaseError as exc:
        if db.is_damage(exc):
            return False
        raise
    finally:
        conn.close()


def append(conn: Journal, *, at: str, actor: str, action: str, grant_id: str | None,
           detail: EventDetail) -> int:
    """Add one event inside the caller's journal transaction; returns its row number."""
    if isinstance(conn, PgJournal):
        return conn.append(at, actor, action, grant_id, detail)
    cur = conn.execute(
        "INSERT INTO entries (at, actor, action, grant_id, detail, canonical)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (at, actor, action, grant_id, detail.stored, detail.canonical))
    return db.inserted_id(cur)


def pending_reads(conn: Journal, grant_id: str, merged: str | None) -> int:
    """Uses (reads and document downloads) under ``grant_id`` in the journal and not yet in
    the vault, given the vault's ``journal_merged`` mark as read in the same vault snapshot
    as its access count. Call
    inside the journal's write transaction: a merge deletes rows only under that lock and
    only after its vault commit, so no row is counted twice or missed."""
    if isinstance(conn, PgJournal):
        return sum(1 for r in conn.entries(_merged_upto(merged, conn.ID))
                   if r["grant_id"] == grant_id and r["action"] in ("grant.read", "grant.download"))
    journal_id = conn.execute("SELECT value FROM journal_meta WHERE key = 'id'").fetchone()[0]
    return int(conn.execute(
        "SELECT count(*) FROM entries WHERE grant_id = ?"
        " AND action IN ('grant.read', 'grant.download') AND seq > ?",
        (grant_id, _merged_upto(merged, journal_id))).fetchone()[0])


def _merged_upto(merged: str | None, journal_id: str) -> int:
    """The last row of journal ``journal_id`` already in the vault (0: none)."""
    done_id, _, done_seq = (merged or "").partition(":")
    return int(done_seq) if done_id == journal_id and done_seq.isdigit() else 0


def merge(vault: VaultDB, conn: Journal, *, on_merged: OnMerged) -> int:
    """Move the journal's rows into the vault's log; returns how many were moved.

    Readers keep appending meanwhile: the rows are read from a snapshot, committed to
    the vault together with the mark ``<journal id>:<last row>``, and only then deleted,
    under the journal's write lock, for as long as a delete takes. Mergers of one vault
    take turns on the vault's write lock; inside it, a merger whose snapshot is stale
    (rows already marked, or the journal emptied and renamed since) moves nothing.
    ``on_merged`` gets the moved rows inside that vault commit.
    """
    journal_id, rows = snapshot(conn)
    lost = _unreadable(conn)
    if not rows and not lost:
        return 0
    moved = to_vault(vault, conn, journal_id, rows, on_merged=on_merged)
    with vault.instance.hold.shared():
        forget(conn, journal_id, max([r["seq"] for r in rows] + lost))
    return moved


def _unreadable(conn: Journal) -> list[int]:
    """Rows of a PostgreSQL journal that did not open at its last read (a journal file that
    does not open is moved aside instead: :func:`recover`)."""
    return list(conn.unreadable) if isinstance(conn, PgJournal) else []


def snapshot(conn: Journal) -> tuple[str, Sequence[Any]]:
    """The journal's id and rows, from one read snapshot."""
    if isinstance(conn, PgJournal):
        return conn.ID, conn.entries()
    with db.transaction(conn, immediate=False):
        rows = conn.execute("SELECT * FROM entries ORDER BY seq").fetchall()
        journal_id = conn.execute("SELECT value FROM journal_meta WHERE key = 'id'").fetchone()[0]
    return journal_id, rows


def _journal_id(conn: Journal) -> str:
    if isinstance(conn, PgJournal):
        return conn.ID
    return str(conn.execute("SELECT value FROM journal_meta WHERE key = 'id'").fetchone()[0])


def to_vault(vault: VaultDB, conn: Journal, journal_id: str, rows: Sequence[Any], *,
             on_merged: OnMerged) -> int:
    """Append the rows not merged yet to the vault's log, with the new mark, in one commit;
    ``on_merged`` adds what it derives from them (access counts) to that same commit."""
    unreadable = _unreadable(conn)
    with vault.transaction() as tx:  # mergers of this vault take turns here
        if _journal_id(conn) != journal_id:
            return 0  # another merger moved these rows and emptied the journal meanwhile
        upto = _merged_upto(vault.get_meta("journal_merged"), journal_id)
        fresh = [r for r in rows if r["seq"] > upto]
        lost = [seq for seq in unreadable if seq > upto]
        if not fresh and not lost:
            return 0
        if fresh:
            vault.append_events(tx, [(r["at"], r["actor"], r["action"], r["grant_id"],
                                      r["canonical"], r["detail"]) for r in fresh])
            on_merged(tx, fresh)
        if lost:
            _say_rows_lost(vault, tx, lost)
        last = max([r["seq"] for r in fresh] + lost)
        vault.set_meta(tx, "journal_merged", f"{journal_id}:{last}")
        if fresh:
            vault.set_meta(tx, "journal_merged_at", fresh[-1]["at"])
    return len(fresh)


def _say_rows_lost(vault: VaultDB, tx: db.Connection, lost: list[int]) -> None:
    """The log's ``access-journal.damaged`` event for PostgreSQL journal rows that do not
    open with the journal's key (changed in the database): merged as lost, then deleted."""
    vault.append_event(tx, actor="system", action="access-journal.damaged", detail={
        "journal_rows": lost,
        "reads_lost": len(lost),  # each row was one read or download; whose is not known
        "lost_after": vault.get_meta("journal_merged_at"),
        "lost_until": now_iso(),
        "explanation": (
            "Rows of the access journal (organisation reads not yet added to this log) did "
            "not open with the journal's key: they were changed in the database. Those reads "
            "are missing from this log and from the grants' access counts; which organisation "
            "made them is not known. The rows were removed; every other read was kept."),
    })
    log.error("vault %s: %d access journal rows in PostgreSQL did not open; merged as lost",
              vault.id, len(lost))


def forget(conn: Journal, journal_id: str, last: int) -> None:
    """Delete rows up to ``last``, which the vault already holds (its mark says so)."""
    if isinstance(conn, PgJournal):
        conn.forget(last)
        return
    with db.transaction(conn):
        current = conn.execute("SELECT value FROM journal_meta WHERE key = 'id'").fetchone()[0]
        if current != journal_id:
            return  # another merger already emptied it
        conn.execute("DELETE FROM entries WHERE seq <= ?", (last,))
        if conn.execute("SELECT 1 FROM entries LIMIT 1").fetchone() is None:
            # Empty (the lock is held): a new id, so row numbers may start again at 1.
            conn.execute("UPDATE journal_meta SET value = ? WHERE key = 'id'",
                         (os.urandom(8).hex(),))


def merge_pending(vault: VaultDB, vault_path: str, settings: Settings, *,
                  on_merged: OnMerged) -> int:
    """Merge the vault's journal if it has one (the owner's open calls this)."""
    if settings.database_url:
        if vault.get_meta("journal_key") is None:
            return 0  # never read by an organisation: no journal
        with opened(ref(vault, vault_path), settings) as pgj:
            return merge(vault, pgj, on_merged=on_merged)
    if not os.path.exists(path_for(vault_path)):
        return 0
    journal = ref(vault, vault_path)
    with opened(journal, settings, vault=vault) as conn:
        try:
            return merge(vault, conn, on_merged=on_merged)
        except db.DatabaseError as exc:
            if not db.is_damage(exc):
                raise
            # It opened, but a page of it does not read: the same as one that does not open.
    CONNECTIONS.forget(vault.id)  # close the cached connection to the file moved aside
    recover(vault, journal)
    return 0
