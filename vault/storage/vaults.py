"""Vault files: one SQLCipher database per owner, keyed with the vault's data key.

A :class:`VaultDB` is an open vault. It is only ever obtained through a key
slot (see :mod:`vault.accounts.service` and :mod:`vault.grants`), never from
the instance key alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from vault.clock import now_iso
from vault.crypto import sealing
from vault.crypto.errors import SealError, WrongKey
from vault.storage import db, heads, migrations, pgvault
from vault.storage.cache import CONNECTIONS, MIRRORS, ConnectionCache
from vault.storage.errors import DatabaseUnavailable, VaultDamaged
from vault.storage.instance import Instance

GENESIS = "0" * 64

log = logging.getLogger("kluis.storage")

# A row of the events table: (seq, at, actor, action, grant_id, stored_detail, prev_hash, hash).
EventRow = tuple[int, str, str, str, str | None, str, str, str]


def new_vault_id() -> str:
    return os.urandom(16).hex()


@dataclass
class Event:
    seq: int
    at: str
    actor: str
    action: str
    grant_id: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


def canonical_json(value: Any) -> str:
    """The JSON an event's hash covers: sorted keys, no spaces, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_string = encode_basestring  # json.dumps(s, ensure_ascii=False) for a str s


def _chain_hash(prev_hash: str, seq: int, at: str, actor: str, action: str,
                grant_id: str | None, canonical_detail: str) -> str:
    # Exactly canonical_json([prev_hash, seq, at, actor, action, grant_id, detail]), with the
    # detail serialised once by the caller (the read path keeps it between reads). Strings go
    # through the encoder json.dumps itself uses for them with ensure_ascii=False.
    body = ",".join((_string(prev_hash), str(seq), _string(at), _string(actor), _string(action),
                     "null" if grant_id is None else _string(grant_id), canonical_detail))
    return hashlib.sha256(f"[{body}]".encode()).hexdigest()


def event_hash(prev_hash: str, seq: int, at: str, actor: str, action: str,
               grant_id: str | None, detail: dict[str, Any]) -> str:
    return _chain_hash(prev_hash, seq, at, actor, action, grant_id, canonical_json(detail))


@dataclass(frozen=True)
class EventDetail:
    """An event's detail, serialised once: for the hash chain and for the events table."""

    value: dict[str, Any]
    canonical: str
    stored: str

    @classmethod
    def of(cls, detail: dict[str, Any]) -> EventDetail:
        return cls(detail, canonical_json(detail), json.dumps(detail, sort_keys=True))


class VaultDB:
    """An open vault file."""

    def __init__(self, instance: Instance, vault_id: str, conn: db.Connection,
                 cache_key: tuple[str, bytes] | None = None, path: str | None = None, *,
                 mirror: pgvault.Mirror | None = None) -> None:
        self.instance = instance
        self.id = vault_id
        self.conn = conn
        self._cache_key = cache_key
        self._path = path
        #: With the PostgreSQL backend: the vault's rows, decrypted in memory (``conn`` is its
        #: connection); None for a vault file.
        self._mirror = mirror
        #: The newest ``(seq, hash)`` appended in the open transaction, if any.
        self._appended: tuple[int, str] | None = None

    def close(self) -> None:
        """Give the connection back to the per-process cache, or close it.

        A connection to a file that is gone (the vault was deleted by another
        process) is closed, not kept.
        """
        # None marks a closed VaultDB; every other use sees an open connection.
        conn, self.conn = self.conn, None  # type: ignore[assignment]
        if conn is None:
            return
        if self._mirror is not None:
            mirror, self._mirror = self._mirror, None
            if self._cache_key is not None and not conn.in_transaction:
                MIRRORS.put(self._cache_key, mirror, self.instance.settings)
            else:
                mirror.close()
            return
        if self._cache_key is not None and not conn.in_transaction:
            path = self._path or str(self.instance.vault_path(self.id))
            if os.path.exists(path):
                CONNECTIONS.put(self._cache_key, conn, self.instance.settings)
                return
        conn.close()

    def __enter__(self) -> VaultDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[db.Connection]:
        """One write to the vault, held off while a backup copies (:mod:`vault.storage.hold`).

        When it appended events, the instance's commitment to the log head moves forward
        after the vault committed (:mod:`vault.storage.heads`): a crash between the two
        leaves the vault ahead of it, which is accepted.
        """
        with self.instance.hold.shared():
            self._appended = None
            try:
                if self._mirror is not None:
                    with self._pg_transaction() as conn:
                        yield conn
                else:
                    with db.transaction(self.conn) as conn:
                        yield conn
            except BaseException:
                self._appended = None
                raise
            appended, self._appended = self._appended, None
            if appended is not None:
                try:
                    heads.advance(self.instance, self.id, *appended)
                except (db.DatabaseError, DatabaseUnavailable) as exc:
                    # The write is committed; the commitment catches up at the next open.
                    log.error("vault %s: the log commitment did not move (%s)",
                              self.id, type(exc).__name__)

    @contextmanager
    def _pg_transaction(self) -> Iterator[db.Connection]:
        """The PostgreSQL backend's write (:mod:`vault.storage.pgvault`): the vault's row
        locked, the mirror caught up under the lock, the block in a SQLite transaction on the
        mirror, its changed rows written to PostgreSQL, which commits first."""
        mirror, database = self._mirror, self.instance.pg
        assert mirror is not None and database is not None  # noqa: S101 - only called so
        with database.connection() as pgc:
            current = pgvault.head(pgc, self.id, lock=True)
            if int(current[0]) != mirror.version:
                fresh = pgvault.refresh(mirror, pgc, current)
                self._mirror, self.conn = fresh, fresh.conn
                mirror = fresh
            conn = mirror.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                done = pgvault.flush(mirror, pgc, int(current[0]))
                pgc.commit()
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            if done is not None:
                pgvault.applied(mirror, done)

    # -- meta -------------------------------------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else default

    def set_meta(self, conn: db.Connection, key: str, value: Any) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def delete_meta(self, conn: db.Connection, key: str) -> None:
        conn.execute("DELETE FROM meta WHERE key = ?", (key,))

    # -- event log (hash-chained) -----------------------------------------------------------

    def append_event(
        self,
        conn: db.Connection,
        *,
        actor: str,
        action: str,
        grant_id: str | None = None,
        detail: dict[str, Any] | EventDetail | None = None,
        at: str | None = None,
    ) -> Event:
        """Append one event inside the caller's transaction.

        The event's hash covers the previous hash, its sequence number and its
        content, so an edited, removed or reordered event breaks the chain. The
        head of the chain (``meta.log_head``, kept by a trigger) detects
        truncation.
        """
        if not isinstance(detail, EventDetail):
            detail = EventDetail.of(detail or {})
        at = at or now_iso()
        [(seq, *_, prev, digest)] = self.append_events(
            conn, [(at, actor, action, grant_id, detail.canonical, detail.stored)])
        return Event(seq, at, actor, action, grant_id, detail.value, prev, digest)

    def append_events(self, conn: db.Connection,
                      events: list[tuple[str, str, str, str | None, str, str]]) -> list[EventRow]:
        """Append many events at once, in order, inside the caller's transaction.

        Each is ``(at, actor, action, grant_id, canonical_detail, stored_detail)``
        with the detail already serialised (see :class:`EventDetail`). Returns the
        rows written: ``(seq, at, actor, action, grant_id, stored_detail, prev_hash, hash)``.
        """
        last = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        prev = last["hash"] if last else GENESIS
        seq = last["seq"] if last else 0
        rows: list[EventRow] = []
        for at, actor, action, grant_id, canonical, stored in events:
            seq += 1
            digest = _chain_hash(prev, seq, at, actor, action, grant_id, canonical)
            rows.append((seq, at, actor, action, grant_id, stored, prev, digest))
            prev = digest
        conn.executemany(
            "INSERT INTO events (seq, at, actor, action, grant_id, detail, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        if rows:
            self._appended = (seq, prev)
        return rows

    def events(
        self, *, grant_id: str | None = None, limit: int = 500, before: int | None = None,
        actors: Sequence[str] | None = None, actor_prefixes: Sequence[str] = (),
        actions: Sequence[str] | None = None, not_actions: Sequence[str] = (),
        since: str | None = None, until: str | None = None,
    ) -> list[Event]:
        """Newest first. Filters: ``actors`` (exact) or ``actor_prefixes`` (either matches),
        ``actions`` (one of) and ``not_actions`` (none of), ``since <= at < until``."""
        query = "SELECT * FROM events"
        clauses: list[str] = []
        args: list[str | int] = []
        if grant_id is not None:
            clauses.append("grant_id = ?")
            args.append(grant_id)
        if before is not None:
            clauses.append("seq < ?")
            args.append(before)
        if actors is not None or actor_prefixes:
            who = ["actor = ?"] * len(actors or ()) + ["actor LIKE ? ESCAPE '\\'"] * len(
                actor_prefixes)
            clauses.append("(" + (" OR ".join(who) or "0") + ")")
            args.extend(actors or ())
            args.extend(p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                        for p in actor_prefixes)
        if actions is not None:
            clauses.append(f"action IN ({', '.join('?' * len(actions))})" if actions else "0")
            args.extend(actions)
        if not_actions:
            clauses.append(f"action NOT IN ({', '.join('?' * len(not_actions))})")
            args.extend(not_actions)
        if since is not None:
            clauses.append("at >= ?")
            args.append(since)
        if until is not None:
            clauses.append("at < ?")
            args.append(until)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        query += " ORDER BY seq DESC LIMIT ?"
        args.append(limit)
        return [_event(row) for row in self.conn.execute(query, args).fetchall()]

    def verify_log(self) -> list[str]:
        """Check the hash chain; return the problems found (empty when intact)."""
        problems: list[str] = []
        prev = GENESIS
        expected_seq: int | None = None  # None until the first event
        for row in self.conn.execute("SELECT * FROM events ORDER BY seq"):
            event = _event(row)
            if expected_seq is not None and event.seq != expected_seq:
                problems.append(f"event {expected_seq} is missing before event {event.seq}")
            if event.prev_hash != prev:
                problems.append(f"event {event.seq} does not follow the event before it")
            digest = event_hash(
                event.prev_hash, event.seq, event.at, event.actor, event.action,
                event.grant_id, event.detail,
            )
            if digest != event.hash:
                problems.append(f"event {event.seq} was changed after it was written")
            prev = event.hash
            expected_seq = event.seq + 1
        head = self.get_meta("log_head")
        if head:
            head_seq, _, head_hash = str(head).partition(":")
            if expected_seq is None or int(head_seq) != expected_seq - 1 or head_hash != prev:
                problems.append("the newest events were removed")
        elif expected_seq is not None:
            problems.append("the log head is missing")
        return problems

    # -- inbox ------------------------------------------------------------------------------

    def inbox_private_key(self) -> bytes:
        return bytes(self.get_meta("inbox_private_key"))


def create_vault_file(instance: Instance, vault_id: str, dek: bytes) -> tuple[VaultDB, bytes]:
    """Create and migrate a new vault file; returns it and the inbox public key."""
    if instance.pg is not None:
        mirror = pgvault.create(instance.pg, vault_id, dek)
        vault = VaultDB(instance, vault_id, mirror.conn, mirror=mirror)
    else:
        path = instance.vault_path(vault_id)
        if path.exists():
            raise FileExistsError(f"vault {vault_id} exists")
        with instance.hold.shared():
            conn = db.connect(path, dek, synchronous=instance.settings.sqlite_synchronous)
            migrations.apply(conn, "vault")
        vault = VaultDB(instance, vault_id, conn)
    private, public = sealing.new_inbox_keypair()
    with vault.transaction() as tx:
        vault.set_meta(tx, "vault_id", vault_id)
        vault.set_meta(tx, "created_at", now_iso())
        vault.set_meta(tx, "inbox_private_key", private)
        vault.set_meta(tx, "inbox_public_key", public)
    return vault, public


_latest: dict[str, int] = {}


def open_vault(instance: Instance, vault_id: str, dek: bytes, *,
               cache_key: tuple[str, bytes] | None = None, path: str | None = None,
               check_head: bool = True) -> VaultDB:
    """Open an existing vault with its data key, migrating it if it is behind.

    ``cache_key`` (``ConnectionCache.key(vault_id, dek)``) and ``path`` may be
    given when the caller already has them. ``dek`` comes from a key slot (whose AES-GCM tag
    proved it), so a file it does not open is damaged: :class:`VaultDamaged`. A file opened
    afresh (not a cached connection) is checked against the instance's commitment to its
    log: :class:`VaultRolledBack` when it is an older copy (``check_head=False``: the
    owner's "accept this older state" path only). With the PostgreSQL backend, a vault
    still in its file is moved into the database first (:mod:`vault.storage.pgmove`).
    """
    cache_key = cache_key or ConnectionCache.key(vault_id, dek)
    if instance.pg is not None:
        return _open_rows(instance, vault_id, dek, cache_key, check_head=check_head)
    conn = CONNECTIONS.get(cache_key, instance.settings)
    if conn is not None:
        return VaultDB(instance, vault_id, conn, cache_key, path)
    return open_vault_file(instance, vault_id, dek, cache_key=cache_key, path=path,
                           check_head=check_head)


def open_vault_file(instance: Instance, vault_id: str, dek: bytes, *,
                    cache_key: tuple[str, bytes] | None = None, path: str | None = None,
                    check_head: bool = True) -> VaultDB:
    """The vault's SQLCipher file opened afresh, migrated and checked against its log
    commitment, whichever backend the instance uses (:func:`open_vault` for files; the
    move to PostgreSQL, :mod:`vault.storage.pgmove`, reads the file through it)."""
    path = path or str(instance.vault_path(vault_id))
    if not os.path.exists(path):
        raise FileNotFoundError(f"vault {vault_id} has no file")
    try:
        conn = db.connect(path, dek, synchronous=instance.settings.sqlite_synchronous)
    except WrongKey as exc:
        if not db.is_damage(exc):
            raise
        log.error("vault %s: its file does not open with its data key (damaged)", vault_id)
        raise VaultDamaged("This vault's file is damaged.") from None
    vault = VaultDB(instance, vault_id, conn, cache_key, path)
    try:
        if "vault" not in _latest:
            _latest["vault"] = max(m.number for m in migrations.load("vault"))
        if migrations.current_version(conn) < _latest["vault"]:
            with instance.hold.shared():
                migrations.apply(conn, "vault")
        if check_head:
            heads.check(instance, vault)
    except db.DatabaseError as exc:
        conn.close()
        if not db.is_damage(exc):
            raise
        log.error("vault %s: its file is malformed (damaged)", vault_id)
        raise VaultDamaged("This vault's file is damaged.") from None
    except BaseException:
        conn.close()
        raise
    return vault


def _open_rows(instance: Instance, vault_id: str, dek: bytes, cache_key: tuple[str, bytes], *,
               check_head: bool) -> VaultDB:
    """:func:`open_vault` for the PostgreSQL backend: the cached mirror caught up (one
    statement when nothing changed), or the vault's rows read and decrypted afresh."""
    assert instance.pg is not None  # noqa: S101 - the caller checked
    mirror = MIRRORS.get(cache_key, instance.settings)
    fresh = mirror is None
    # The rollback commitment is read before the rows: it moves only after a vault write has
    # committed, so the snapshot taken next is at least as new (the other way round, another
    # node's write in between would look like a rollback).
    known = heads.committed(instance, vault_id) if check_head else None
    try:
        if mirror is None:
            mirror = _load_or_move(instance, vault_id, dek, check_head=check_head)
        else:
            with instance.pg.connection() as pgc:
                pgc.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                current = pgvault.head(pgc, vault_id)
                if int(current[0]) != mirror.version:
                    mirror = pgvault.refresh(mirror, pgc, current)
                    fresh = True
    except BaseException:
        if mirror is not None:
            mirror.close()
        raise
    vault = VaultDB(instance, vault_id, mirror.conn, cache_key, mirror=mirror)
    try:
        if mirror.needs_flush:  # migrated in memory: its rows go to PostgreSQL now
            with vault.transaction():
                pass
        if check_head and fresh:
            heads.check(instance, vault, known)
    except BaseException:
        vault._mirror = None
        mirror.close()
        raise
    return vault


def _load_or_move(instance: Instance, vault_id: str, dek: bytes, *,
                  check_head: bool) -> pgvault.Mirror:
    """The vault's rows from PostgreSQL; a vault still in its file is moved there first
    (:mod:`vault.storage.pgmove`), and files a move left behind after its commit go."""
    from vault.storage.pgmove import move, tidy  # that module imports this one

    assert instance.pg is not None  # noqa: S101 - the caller checked
    try:
        mirror = pgvault.load(instance.pg, vault_id, dek)
    except FileNotFoundError:
        move(instance, vault_id, dek, check_head=check_head)  # FileNotFoundError: in neither
        mirror = pgvault.load(instance.pg, vault_id, dek)
    else:
        tidy(instance, vault_id)
    return mirror


def remove_vault_storage(instance: Instance, vault_id: str) -> int:
    """Delete a vault's rows in PostgreSQL and return how many went (nothing for the file
    backend: its files are removed by the caller)."""
    MIRRORS.forget(vault_id)
    if instance.pg is not None:
        return pgvault.erase(instance.pg, vault_id)
    return 0


def open_inbox(vault: VaultDB) -> list[tuple[int, str, dict[str, Any]]]:
    """Decrypt the vault's pending inbox items, oldest first.

    Returns ``(item_id, source, payload)``. Items that do not open (sealed to an
    older key, or corrupted) are skipped and reported as payload
    ``{"error": "unreadable"}`` so the caller can drop them and tell the owner.
    """
    items = vault.instance.inbox(vault.id)
    if not items:
        return []  # the common case: no key read, nothing to open
    private = vault.inbox_private_key()
    out: list[tuple[int, str, dict[str, Any]]] = []
    for item_id, source, _created, sealed in items:
        try:
            payload = json.loads(
                sealing.unseal(private, sealed, context=vault.id.encode()).decode("utf-8")
            )
        except (SealError, ValueError):
            payload = {"error": "unreadable"}
        out.append((item_id, source, payload))
    return out


def seal_for_vault(instance: Instance, vault_id: str, source: str, payload: dict[str, Any]) -> int:
    """Seal ``payload`` to ``vault_id``'s inbox key and store it. Needs no vault key."""
    public = instance.inbox_public_key(vault_id)
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return instance.deliver(vault_id, source, sealing.seal(public, body, context=vault_id.encode()))


def _event(row: db.Row) -> Event:
    return Event(
        seq=row["seq"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        grant_id=row["grant_id"],
        detail=json.loads(row["detail"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )
