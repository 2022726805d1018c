"""Lifecycle events: what an organisation is told, written where the change happens. No Flask.

:func:`emit` queues one event in instance.db's webhook outbox inside the caller's
instance transaction, so the event exists exactly when the change it reports
committed (the worker delivers it later, see :mod:`vault.grants.webhooks`). The
body is small JSON without record contents: ``id``, ``type``, ``occurred_at``,
``client_id`` and ``grant_id`` (or ``request_uri`` for request events), plus
``data`` (who revoked, the new details of a narrowed grant...).

Also here, because the same places change them: the state of a pushed request
after a vault bound it (``GET /api/v1/requests/status``) and why a grant token
stopped working (``token_fates``, filled by a trigger whenever a grant slot is
deleted, refined by :func:`emit`), which the 401 of a dead token tells.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from vault.clock import now_iso
from vault.storage import db

REQUEST_APPROVED = "request.approved"
REQUEST_REFUSED = "request.refused"
REQUEST_EXPIRED = "request.expired"
GRANT_NARROWED = "grant.narrowed"
GRANT_REVOKED = "grant.revoked"
GRANT_EXPIRED = "grant.expired"
GRANT_USED_UP = "grant.used_up"
RECORDS_UPDATED = "records.updated"

EVENT_TYPES = (REQUEST_APPROVED, REQUEST_REFUSED, REQUEST_EXPIRED, GRANT_NARROWED,
               GRANT_REVOKED, GRANT_EXPIRED, GRANT_USED_UP, RECORDS_UPDATED)

def emit(tx: db.Connection, type: str, *, client_id: str, grant_id: str | None = None,
         request_uri: str | None = None, data: dict[str, Any] | None = None) -> str:
    """Queue event ``type`` for organisation ``client_id`` in the caller's instance
    transaction; returns the event id (the receiver's idempotency key)."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    event_id = str(uuid.uuid4())
    at = now_iso()
    body: dict[str, Any] = {"id": event_id, "type": type, "occurred_at": at,
                            "client_id": client_id}
    if grant_id is not None:
        body["grant_id"] = grant_id
    if request_uri is not None:
        body["request_uri"] = request_uri
    if data:
        body["data"] = data
    tx.execute(
        "INSERT INTO webhook_events (id, client_id, type, body, created_at, next_attempt_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (event_id, client_id, type, json.dumps(body, sort_keys=True, separators=(",", ":")),
         at, at))
    # A narrowed grant stays active with its token (vault.grants.narrowing): it does not end.
    if type == GRANT_REVOKED and grant_id:
        grant_ended(tx, grant_id)
        by = (data or {}).get("by")
        tx.execute("UPDATE token_fates SET by_whom = ? WHERE grant_id = ? AND reason = 'revoked'",
                   (by, grant_id))
    return event_id


# -- why a token is dead -------------------------------------------------------------------


@dataclass(frozen=True)
class TokenFate:
    """Why a grant token stopped working: ``revoked`` (``by`` person or organisation),
    ``expired``, ``used_up`` or ``narrowed`` (``detail``: the new authorization details)."""

    reason: str
    at: str
    grant_id: str | None = None
    by: str | None = None
    detail: dict[str, Any] | None = None

    def describe(self) -> str:
        if self.reason == "revoked":
            who = {"person": "the person", "organisation": "the organisation"}.get(
                self.by or "", "the person")
            return f"the grant was revoked by {who}"
        if self.reason == "expired":
            return "the grant expired"
        if self.reason == "used_up":
            return "the grant is used up"
        return "the grant was narrowed; ask for a new token"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reason": self.reason, "at": self.at}
        if self.grant_id:
            out["grant_id"] = self.grant_id
        if self.by:
            out["revoked_by"] = self.by
        if self.detail is not None:
            out["authorization_details"] = self.detail.get("authorization_details")
        return out


def token_fate(conn: db.Connection, token_hash: str) -> TokenFate | None:
    row = conn.execute("SELECT * FROM token_fates WHERE token_hash = ?",
                       (token_hash,)).fetchone()
    if row is None:
        return None
    by = row["by_whom"]
    reason = row["reason"]
    if reason == "revoked" and by is None and row["grant_id"]:
        # The trigger guessed from SQLite's clock; a revocation always says who (emit), so
        # an unclaimed one past the grant's expiry is the expiry.
        watch = conn.execute("SELECT expires_at FROM grant_watch WHERE grant_id = ?",
                             (row["grant_id"],)).fetchone()
        if watch is not None and watch["expires_at"] <= now_iso():
            reason = "expired"
    return TokenFate(reason, row["at"], row["grant_id"],
                     "organisation" if by and by.startswith("org") else by,
                     json.loads(row["detail"]) if row["detail"] else None)


def inactive(conn: db.Connection, token_hash: str, client_id: str) -> dict[str, Any] | None:
    """Why a token whose slot is gone is inactive, when known.

    The reason is told to the organisation the grant was for only (the fate of a grant
    whose organisation never was told is the trigger's, without a client: told to any
    holder of the token, who had it anyway).
    """
    fate = token_fate(conn, token_hash)
    if fate is None:
        return None
    if fate.grant_id:
        row = conn.execute("SELECT client_id FROM grant_watch WHERE grant_id = ?",
                           (fate.grant_id,)).fetchone()
        if row is not None and row["client_id"] != client_id:
            return None
    return fate.to_dict()


def inactive_grant(status: str, grant: Any) -> dict[str, Any]:
    """Why a grant that is there is no longer active (used up, expired, revoked)."""
    reason = {"used-up": "used_up", "expired": "expired", "revoked": "revoked"}.get(
        status, status.replace("-", "_"))
    fate: dict[str, Any] = {"reason": reason, "grant_id": grant.id}
    if reason == "revoked" and grant.revoked_by:
        fate["revoked_by"] = "organisation" if grant.revoked_by.startswith("org:") else "person"
    return fate


# -- the state of a pushed request ---------------------------------------------------------


def request_pushed(tx: db.Connection, *, ref_hash: str, client_id: str, created_at: str,
                   expires_at: str) -> None:
    tx.execute(
        "INSERT INTO request_states (ref_hash, client_id, created_at, expires_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (ref_hash, client_id, created_at, expires_at, created_at))


def request_opened(tx: db.Connection, ref_hash: str, request_uri: str) -> None:
    """A vault bound the request: its ``request_uri`` no longer opens anything, so it is kept
    from now on (to name the request in its events)."""
    tx.execute("UPDATE request_states SET opened_at = coalesce(opened_at, ?), request_uri = ?"
               " WHERE ref_hash = ?", (now_iso(), request_uri, ref_hash))


def remember_request(vtx: db.Connection, *, request_id: str, ref_hash: str,
                     client_id: str) -> None:
    """Inside the vault: the request ``request_id`` came from the pushed request ``ref_hash``."""
    vtx.execute("INSERT OR REPLACE INTO request_refs (request_id, ref_hash, client_id)"
                " VALUES (?, ?, ?)", (request_id, ref_hash, client_id))


def request_decided(vconn: db.Connection, itx: db.Connection, request_id: str, *,
                    approved: bool, grant_id: str | None = None) -> None:
    """The owner decided: move the pushed request's state and queue its event (once)."""
    ref = vconn.execute("SELECT ref_hash FROM request_refs WHERE request_id = ?",
                        (request_id,)).fetchone()
    if ref is None:
        return
    row = itx.execute("SELECT * FROM request_states WHERE ref_hash = ?",
                      (ref["ref_hash"],)).fetchone()
    if row is None:
        return
    status = "approved" if approved else "refused"
    at = now_iso()
    changed = itx.execute(
        "UPDATE request_states SET status = ?, decided_at = ?, updated_at = ?"
        " WHERE ref_hash = ? AND status = 'pending'",
        (status, at, at, row["ref_hash"])).rowcount
    if changed:
        emit(itx, REQUEST_APPROVED if approved else REQUEST_REFUSED,
             client_id=row["client_id"], grant_id=grant_id if approved else None,
             request_uri=row["request_uri"], data={"request_ref_sha256": row["ref_hash"]})


def request_status(conn: db.Connection, ref_hash: str, client_id: str) -> dict[str, Any] | None:
    """The state of the pushed request, for its own organisation only."""
    row = conn.execute("SELECT * FROM request_states WHERE ref_hash = ? AND client_id = ?",
                       (ref_hash, client_id)).fetchone()
    if row is None:
        return None
    status = row["status"]
    if status == "pending" and row["expires_at"] <= now_iso():
        status = "expired"
    return {"status": status, "created_at": row["created_at"], "expires_at": row["expires_at"],
            "opened_at": row["opened_at"], "decided_at": row["decided_at"]}


def expire_requests(tx: db.Connection) -> int:
    """Mark pending requests past their expiry expired and queue ``request.expired``."""
    now = now_iso()
    rows = tx.execute("SELECT ref_hash, client_id, request_uri FROM request_states"
                      " WHERE status = 'pending' AND expires_at <= ?", (now,)).fetchall()
    for row in rows:
        tx.execute("UPDATE request_states SET status = 'expired', updated_at = ?"
                   " WHERE ref_hash = ?", (now, row["ref_hash"]))
        emit(tx, REQUEST_EXPIRED, client_id=row["client_id"], request_uri=row["request_uri"],
             data={"request_ref_sha256": row["ref_hash"]})
    return len(rows)


# -- grants the worker watches for expiry --------------------------------------------------


def grant_created(itx: db.Connection, *, grant_id: str, client_id: str, vault_id: str,
                  expires_at: str) -> None:
    itx.execute("INSERT INTO grant_watch (grant_id, client_id, vault_id, expires_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (grant_id, client_id, vault_id, expires_at))


def grant_ended(itx: db.Connection, grant_id: str) -> None:
    itx.execute("UPDATE grant_watch SET ended_at = coalesce(ended_at, ?) WHERE grant_id = ?",
                (now_iso(), grant_id))


def used_up(itx: db.Connection, *, token_hash: str, grant_id: str, client_id: str) -> bool:
    """A read met the usage limit: note it and queue ``grant.used_up`` the first time."""
    first = itx.execute("INSERT INTO token_fates (token_hash, grant_id, reason, at)"
                        " VALUES (?, ?, 'used_up', ?) ON CONFLICT DO NOTHING",
                        (token_hash, grant_id, now_iso())).rowcount
    if first:
        grant_ended(itx, grant_id)
        emit(itx, GRANT_USED_UP, client_id=client_id, grant_id=grant_id)
    return bool(first)


def expire_grants(tx: db.Connection) -> int:
    """Queue ``grant.expired`` for every watched grant past its expiry, once."""
    now = now_iso()
    rows = tx.execute("SELECT grant_id, client_id FROM grant_watch"
                      " WHERE ended_at IS NULL AND expires_at <= ?", (now,)).fetchall()
    for row in rows:
        tx.execute("UPDATE grant_watch SET ended_at = ? WHERE grant_id = ?",
                   (now, row["grant_id"]))
        emit(tx, GRANT_EXPIRED, client_id=row["client_id"], grant_id=row["grant_id"])
    return len(rows)
