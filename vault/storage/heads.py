"""Rollback detection: a keyed commitment to each vault's newest log event, in instance.db.

A vault's hash chain proves that no event was edited or removed *within* the file, but a whole
file put back from an older copy still verifies: records, grants and events written since are
silently gone. So the instance keeps, outside the vault, ``(seq, hash)`` of each vault's newest
event with an HMAC under a subkey of the instance key (table ``vault_heads``), and:

- every vault transaction that appended events moves it forward *after* the vault committed
  (:meth:`vault.storage.vaults.VaultDB.transaction`), never backward. A crash between the two
  commits leaves the vault ahead of its commitment, which is accepted (and caught up);
- opening a vault file afresh (:func:`vault.storage.vaults.open_vault`, not a cached
  connection) compares: a log that ends before the committed event, or holds another event
  at that place, raises :class:`VaultRolledBack`; nothing is opened;
- :func:`accept` (the owner, with their password: ``kluis vault accept-older-state``) makes
  the vault's current head the commitment, after a deliberate restore of one vault.

Organisation reads write to the access journal, not the log, so the read path does not touch
the commitment; it moves when the journal is merged (a vault transaction like any other).

``kluis backup`` copies instance.db and every vault while every write is held
(:mod:`vault.storage.hold`), so each vault in a backup is at (or, after a crash between the
two commits, ahead of) its commitment: a whole-instance restore opens. A vault without a
commitment (made before migration 0004) gets one when it is first opened.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vault.clock import now_iso
from vault.storage import db
from vault.storage.errors import VaultRolledBack

if TYPE_CHECKING:
    from vault.storage.instance import Instance
    from vault.storage.vaults import VaultDB

PURPOSE = "vault-log-head"
GENESIS = "0" * 64

log = logging.getLogger("kluis.storage")


@dataclass(frozen=True)
class Commitment:
    seq: int
    head: str
    updated_at: str
    valid: bool  # the MAC verifies


def _mac(instance: Instance, vault_id: str, seq: int, head: str) -> bytes:
    return hmac.new(instance.head_key, f"{vault_id}:{seq}:{head}".encode(),
                    hashlib.sha256).digest()


def committed(instance: Instance, vault_id: str) -> Commitment | None:
    """The instance's commitment to ``vault_id``'s log, or None."""
    row = instance.conn.execute(
        "SELECT seq, head, mac, updated_at FROM vault_heads WHERE vault_id = ?", (vault_id,)
    ).fetchone()
    if row is None:
        return None
    valid = hmac.compare_digest(bytes(row["mac"]),
                                _mac(instance, vault_id, row["seq"], row["head"]))
    return Commitment(row["seq"], row["head"], row["updated_at"], valid)


def advance(instance: Instance, vault_id: str, seq: int, head: str) -> None:
    """Move the commitment forward to ``(seq, head)``; a lower ``seq`` changes nothing.

    Inside a transaction this thread holds on instance.db, it is part of it (rolled back
    with it: the vault is then ahead, which is accepted); otherwise its own transaction.
    Its own transaction commits without waiting for the disk (``synchronous = NORMAL``):
    the vault's commit it follows is already on disk, and a commitment lost with a power
    cut only leaves the vault ahead of it, which is accepted. So a vault write gains one
    instance.db commit without an ``fsync`` (about 0.1 ms); on PostgreSQL the same transaction
    commits with ``synchronous_commit = off``.
    """
    args = (vault_id, seq, head, _mac(instance, vault_id, seq, head), now_iso())
    conn = instance.conn
    if conn.in_transaction:
        conn.execute(_ADVANCE, args)
        return
    with instance.transaction(durable=False) as tx:
        tx.execute(_ADVANCE, args)


_ADVANCE = (
    "INSERT INTO vault_heads (vault_id, seq, head, mac, updated_at)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT(vault_id) DO UPDATE SET seq = excluded.seq,"
    " head = excluded.head, mac = excluded.mac, updated_at = excluded.updated_at"
    " WHERE excluded.seq > vault_heads.seq")


def _force(instance: Instance, tx: db.Connection, vault_id: str, seq: int, head: str) -> None:
    tx.execute(
        "INSERT INTO vault_heads (vault_id, seq, head, mac, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (vault_id) DO UPDATE SET seq = excluded.seq, head = excluded.head,"
        " mac = excluded.mac, updated_at = excluded.updated_at",
        (vault_id, seq, head, _mac(instance, vault_id, seq, head), now_iso()))


def log_head(vault: VaultDB) -> tuple[int, str]:
    """The vault's newest event ``(seq, hash)``; ``(0, GENESIS)`` for an empty log."""
    value = vault.get_meta("log_head")
    if not value:
        row = vault.conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
                                 ).fetchone()
        return (row["seq"], row["hash"]) if row else (0, GENESIS)
    seq, _, digest = str(value).partition(":")
    return int(seq), digest


#: :func:`check`'s default: read the commitment now.
READ_NOW: Any = object()


def check(instance: Instance, vault: VaultDB, known: Any = READ_NOW) -> None:
    """Refuse a vault whose log is behind (or beside) the instance's commitment.

    Raises :class:`VaultRolledBack`. A vault ahead of its commitment is accepted and the
    commitment caught up; a vault without one gets one. ``known``: the commitment as read
    *before* the vault's state was (:func:`committed`), for a vault read as a snapshot.
    """
    # The commitment first: it only ever moves after the vault committed, so the vault read
    # next is at least as new (read the other way round, a write committing in between by
    # another process would look like a rollback). A snapshot of the vault (the PostgreSQL
    # backend's mirror) passes the commitment it read before taking the snapshot.
    if known is READ_NOW:
        known = committed(instance, vault.id)
    seq, head = log_head(vault)
    if known is None:
        if seq > 0:
            advance(instance, vault.id, seq, head)
        return
    if known.valid and seq == known.seq and head == known.head:
        return  # the common case: nothing more to read
    problem: str | None = None
    if not known.valid:
        problem = "This instance's record of the vault's log does not verify."
    elif seq < known.seq:
        problem = (f"The vault's log ends at event {seq}, but this instance saw event "
                   f"{known.seq} (at {known.updated_at}): the file is an older copy.")
    else:
        row = vault.conn.execute("SELECT hash FROM events WHERE seq = ?", (known.seq,)
                                 ).fetchone()
        if row is None or row["hash"] != known.head:
            problem = (f"The vault's log differs from what this instance saw at event "
                       f"{known.seq} (at {known.updated_at}): the file was replaced by another "
                       "copy.")
    if problem is not None:
        log.error("vault %s refused: %s", vault.id, problem)
        raise VaultRolledBack(problem, vault_seq=seq, known_seq=known.seq,
                              known_at=known.updated_at)
    advance(instance, vault.id, seq, head)


def accept(instance: Instance, vault: VaultDB) -> dict[str, object]:
    """The owner accepts the vault as it is: its head becomes the commitment, and the log
    says what was lost. Returns the event's detail."""
    seq, head = log_head(vault)
    known = committed(instance, vault.id)
    detail: dict[str, object] = {
        "log_seq_now": seq,
        "log_seq_known": known.seq if known else None,
        "known_at": known.updated_at if known else None,
        "events_missing": max(0, known.seq - seq) if known and known.valid else None,
    }
    with instance.transaction() as tx:
        _force(instance, tx, vault.id, seq, head)
    with vault.transaction() as tx:
        vault.append_event(tx, actor="owner", action="vault.older-state-accepted",
                           detail=detail)
    log.warning("vault %s: the owner accepted an older state (log at %s, known %s)",
                vault.id, seq, detail["log_seq_known"])
    return detail
