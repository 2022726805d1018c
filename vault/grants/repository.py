"""Every SQL statement of the grants feature, in instance.db and in the vaults. Imports no Flask.

instance.db holds what the token endpoint needs while the owner is away:
pushed requests (RFC 9126), one-time codes and the record of redeemed codes
(to catch a replay), all keyed by a SHA-256. Key
slots are the storage layer's (:class:`vault.storage.instance.Instance`); only
the purge of expired grant slots is written here. A vault holds the requests
bound to it and its grants. Functions take the connection (or the transaction)
to run on, so the caller decides what commits together; rows come back as the
models of :mod:`vault.grants.models`, or as plain rows where the caller needs
only a column or two.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from vault.clock import now_iso
from vault.grants.models import (
    Condition,
    DataRequest,
    Grant,
    condition_from_dict,
    condition_to_dict,
)
from vault.grants.schemas import parse_authorization_details
from vault.storage import db

Row = Any
"""A row of a query (``sqlcipher3.Row``: columns by name or by position)."""

# -- instance.db: pushed requests -------------------------------------------------------------


def insert_pushed_request(tx: db.Connection, *, ref_hash: str, client_id: str,
                          params: dict[str, Any], created_at: str, expires_at: str) -> None:
    tx.execute(
        "INSERT INTO oauth_pushed_requests (ref_hash, client_id, params, created_at,"
        " expires_at) VALUES (?, ?, ?, ?, ?)",
        (ref_hash, client_id, json.dumps(params), created_at, expires_at),
    )


def pushed_request(conn: db.Connection, ref_hash: str) -> Row | None:
    """The pushed request's row (``client_id``, ``params`` as JSON, ``expires_at``...)."""
    return conn.execute(
        "SELECT * FROM oauth_pushed_requests WHERE ref_hash = ?", (ref_hash,)).fetchone()


def delete_pushed_request(tx: db.Connection, ref_hash: str) -> None:
    tx.execute("DELETE FROM oauth_pushed_requests WHERE ref_hash = ?", (ref_hash,))


# -- instance.db: one-time codes --------------------------------------------------------------


def insert_code(tx: db.Connection, *, code_hash: str, kind: str, client_id: str,
                redirect_uri: str | None, code_challenge: str | None, sealed: bytes,
                created_at: str, expires_at: str) -> None:
    tx.execute(
        "INSERT INTO oauth_codes (code_hash, kind, client_id, redirect_uri,"
        " code_challenge, sealed, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (code_hash, kind, client_id, redirect_uri, code_challenge, sealed, created_at,
         expires_at),
    )


def code(conn: db.Connection, code_hash: str, kind: str) -> Row | None:
    """The code's row (``client_id``, ``redirect_uri``, ``code_challenge``, ``sealed``...)."""
    return conn.execute("SELECT * FROM oauth_codes WHERE code_hash = ? AND kind = ?",
                        (code_hash, kind)).fetchone()


def delete_code(tx: db.Connection, code_hash: str) -> None:
    tx.execute("DELETE FROM oauth_codes WHERE code_hash = ?", (code_hash,))


def insert_used_code(tx: db.Connection, *, code_hash: str, grant_id: str, slot_id: str,
                     used_at: str, expires_at: str) -> None:
    """Remember a redeemed code (its hash and what it issued) until ``expires_at``."""
    tx.execute(
        "INSERT INTO oauth_used_codes (code_hash, grant_id, slot_id, used_at,"
        " expires_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (code_hash, grant_id, slot_id, used_at, expires_at),
    )


def used_code(conn: db.Connection, code_hash: str) -> Row | None:
    """A redeemed code's row (``grant_id``, ``slot_id``, ``expires_at``, ``replayed_at``)."""
    return conn.execute("SELECT * FROM oauth_used_codes WHERE code_hash = ?",
                        (code_hash,)).fetchone()


def mark_code_replayed(tx: db.Connection, code_hash: str, at: str) -> None:
    tx.execute("UPDATE oauth_used_codes SET replayed_at = coalesce(replayed_at, ?)"
               " WHERE code_hash = ?", (at, code_hash))


def replayed_codes(conn: db.Connection) -> list[Row]:
    """Replayed codes whose grant is still to be marked revoked in its vault."""
    return conn.execute("SELECT code_hash, grant_id, replayed_at FROM oauth_used_codes"
                        " WHERE replayed_at IS NOT NULL").fetchall()


def forget_replayed(tx: db.Connection, code_hash: str) -> None:
    """The replay's grant is marked in its vault: keep refusing the code, nothing more to do."""
    tx.execute("UPDATE oauth_used_codes SET replayed_at = NULL, grant_id = '', slot_id = ''"
               " WHERE code_hash = ?", (code_hash,))


def purge_expired(tx: db.Connection, now: str) -> dict[str, int]:
    """Delete grant slots, codes, used-code records and pushed requests expired at ``now``;
    how many of each."""
    slots_gone = tx.execute(
        "DELETE FROM key_slots WHERE kind = 'grant' AND expires_at IS NOT NULL"
        " AND expires_at <= ?", (now,)).rowcount
    codes_gone = tx.execute("DELETE FROM oauth_codes WHERE expires_at <= ?", (now,)).rowcount
    pushed_gone = tx.execute("DELETE FROM oauth_pushed_requests WHERE expires_at <= ?",
                             (now,)).rowcount
    # By then a grant whose code was replayed reads as expired in its vault anyway.
    used_gone = tx.execute("DELETE FROM oauth_used_codes WHERE expires_at <= ?",
                           (now,)).rowcount
    return {"slots": int(slots_gone), "codes": int(codes_gone), "requests": int(pushed_gone),
            "used_codes": int(used_gone)}


# -- vault: data requests ---------------------------------------------------------------------


def insert_oauth_request(tx: db.Connection, *, request_id: str, organisation: dict[str, Any],
                         details: dict[str, Any], redirect_uri: str, state: str | None,
                         code_challenge: str, received_at: str, expires_at: str) -> None:
    """A request an organisation sent, waiting for the owner."""
    tx.execute(
        "INSERT INTO data_requests (id, origin, organisation, details, redirect_uri,"
        " state, code_challenge, received_at, expires_at) VALUES"
        " (?, 'oauth', ?, ?, ?, ?, ?, ?, ?)",
        (request_id, json.dumps(organisation), json.dumps(details), redirect_uri, state,
         code_challenge, received_at, expires_at),
    )


def insert_owner_request(tx: db.Connection, *, request_id: str, organisation: dict[str, Any],
                         details: dict[str, Any], at: str, expires_at: str,
                         grant_id: str) -> None:
    """The request behind a grant the owner made directly: approved as it is written."""
    tx.execute(
        "INSERT INTO data_requests (id, origin, organisation, details, received_at,"
        " expires_at, status, decided_at, grant_id) VALUES"
        " (?, 'owner', ?, ?, ?, ?, 'approved', ?, ?)",
        (request_id, json.dumps(organisation), json.dumps(details), at, expires_at, at,
         grant_id),
    )


def data_request(conn: db.Connection, request_id: str) -> DataRequest | None:
    row = conn.execute("SELECT * FROM data_requests WHERE id = ?", (request_id,)).fetchone()
    return _request(row) if row is not None else None


def data_requests(conn: db.Connection) -> list[DataRequest]:
    """All requests of the vault, newest first."""
    rows = conn.execute("SELECT * FROM data_requests ORDER BY received_at DESC").fetchall()
    return [_request(r) for r in rows]


def deny_request(tx: db.Connection, request_id: str, at: str) -> None:
    tx.execute("UPDATE data_requests SET status = 'denied', decided_at = ? WHERE id = ?",
               (at, request_id))


def approve_request(tx: db.Connection, request_id: str, grant_id: str, at: str) -> bool:
    """Mark a pending request approved with its grant; False if it was decided already."""
    changed = tx.execute(
        "UPDATE data_requests SET status = 'approved', decided_at = ?, grant_id = ?"
        " WHERE id = ? AND status = 'pending'", (at, grant_id, request_id),
    ).rowcount
    return bool(changed)


def _request(row: Row) -> DataRequest:
    detail = json.loads(row["details"])
    requested = parse_authorization_details([detail])
    status = row["status"]
    if status == "pending" and row["expires_at"] <= now_iso():
        status = "expired"
    return DataRequest(
        id=row["id"], organisation=json.loads(row["organisation"]), requested=requested,
        redirect_uri=row["redirect_uri"], state=row["state"],
        code_challenge=row["code_challenge"], received_at=row["received_at"],
        expires_at=row["expires_at"], status=status, decided_at=row["decided_at"],
        grant_id=row["grant_id"], origin=row["origin"],
    )


# -- vault: grants ----------------------------------------------------------------------------


def insert_grant(tx: db.Connection, grant: Grant, *, conditions: Sequence[Condition],
                 not_before: str, expires_at: str, slot_id: str,
                 receipt: dict[str, Any]) -> None:
    """A new active grant (``grant`` gives its id, request, organisation and wording)."""
    tx.execute(
        "INSERT INTO grants (id, request_id, origin, client_id, organisation, purpose,"
        " purpose_description, retention, conditions, not_before, expires_at,"
        " created_at, status, slot_id, receipt_id, receipt) VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)",
        (grant.id, grant.request_id, grant.origin, grant.organisation["client_id"],
         json.dumps(grant.organisation), grant.purpose, grant.purpose_description,
         grant.retention, json.dumps([condition_to_dict(c) for c in conditions]),
         not_before, expires_at, grant.created_at, slot_id, grant.receipt_id,
         json.dumps(receipt)),
    )


def grant(conn: db.Connection, grant_id: str) -> Grant | None:
    """The grant, parsed. Raises ``UnknownCondition`` (or ``KeyError``/``TypeError``) for
    a stored condition this version cannot read."""
    row = conn.execute("SELECT * FROM grants WHERE id = ?", (grant_id,)).fetchone()
    return _grant(row) if row else None


def grants(conn: db.Connection) -> list[Grant]:
    """All grants of the vault, newest first."""
    rows = conn.execute("SELECT * FROM grants ORDER BY created_at DESC").fetchall()
    return [_grant(r) for r in rows]


def mark_revoked(tx: db.Connection, grant_id: str, *, at: str, by: str) -> bool:
    """Mark an active grant revoked; False if it was not active (any more)."""
    changed = tx.execute(
        "UPDATE grants SET status = 'revoked', revoked_at = ?, revoked_by = ?"
        " WHERE id = ? AND status = 'active'", (at, by, grant_id),
    ).rowcount
    return bool(changed)


def set_conditions(tx: db.Connection, grant_id: str, conditions: Sequence[Condition],
                   receipt: dict[str, Any], receipt_id: str) -> bool:
    """Replace an active grant's conditions (the owner narrowed it) and its receipt; False
    if it is not active (any more). A trigger moves ``records_rev`` with it, so cached
    answers of the grant are rebuilt (migrations/vault/0007_record_changes.sql)."""
    changed = tx.execute(
        "UPDATE grants SET conditions = ?, receipt = ?, receipt_id = ?"
        " WHERE id = ? AND status = 'active'",
        (json.dumps([condition_to_dict(c) for c in conditions]), json.dumps(receipt),
         receipt_id, grant_id)).rowcount
    return bool(changed)


def mark_picked_up(tx: db.Connection, grant_id: str) -> None:
    """The organisation collected the grant's token at the token endpoint."""
    tx.execute("UPDATE grants SET picked_up = 1 WHERE id = ?", (grant_id,))


USES = ("grant.read", "grant.download")
"""Journal actions that are a use of a grant: each counts toward its ``max_uses``."""

READ_STATE = (
    "SELECT access_count, (SELECT value FROM meta WHERE key = 'records_rev'),"
    " (SELECT value FROM meta WHERE key = 'journal_merged')"
    " FROM grants WHERE id = ? AND status = 'active'"
)
"""The read path's one statement: an active grant's access count, the records revision
and the journal mark, by position; no row when the grant is not active. The read path
runs it on the vault connection itself (see :mod:`vault.grants.redemption`)."""


def add_reads(tx: db.Connection, rows: Sequence[Row]) -> None:
    """Add access journal rows (being merged into the log) to their grants' access counts:
    reads and document downloads alike (both count toward ``max_uses``).

    The ``on_merged`` of :func:`vault.storage.journal.merge`: it runs inside the vault
    transaction that moves the rows, so counts and log commit together.
    """
    reads: dict[str, tuple[int, str]] = {}
    for row in rows:
        if row["action"] in USES and row["grant_id"]:
            count, latest = reads.get(row["grant_id"], (0, ""))
            reads[row["grant_id"]] = (count + 1, max(latest, row["at"]))
    for grant_id, (count, latest) in reads.items():
        tx.execute(
            "UPDATE grants SET access_count = access_count + ?,"
            " last_access_at = max(coalesce(last_access_at, ''), ?) WHERE id = ?",
            (count, latest, grant_id))


def _grant(row: Row) -> Grant:
    return Grant(
        id=row["id"],
        organisation=json.loads(row["organisation"]),
        purpose=row["purpose"],
        purpose_description=row["purpose_description"],
        retention=row["retention"],
        conditions=[condition_from_dict(c) for c in json.loads(row["conditions"])],
        created_at=row["created_at"],
        status=row["status"],
        slot_id=row["slot_id"],
        request_id=row["request_id"],
        origin=row["origin"],
        revoked_at=row["revoked_at"],
        revoked_by=row["revoked_by"],
        access_count=row["access_count"],
        last_access_at=row["last_access_at"],
        receipt=json.loads(row["receipt"]) if row["receipt"] else None,
        receipt_id=row["receipt_id"],
        picked_up=bool(row["picked_up"]),
    )
