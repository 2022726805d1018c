"""Requests and dossiers: from a template to a letter, a grant, the received data, and its
deletion with a signed statement.

States: ``new`` (letter made, nobody opened it), ``waiting`` (pushed to the applicant's vault),
``approved`` (data received), ``refused``, ``expired``, ``revoked``. Received records and
documents are AES-GCM-encrypted under the dossier's own data key (itself wrapped under the
portal key); :func:`delete_data` drops the items and the key and keeps a minimal trace.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from vault.clock import from_iso, now_iso, to_iso, utcnow
from vault.crypto import aead, keys
from vault.portal import templates_repo
from vault.portal.client import InstanceError, PortalClient
from vault.portal.store import Store

STATUSES = ("new", "waiting", "approved", "refused", "expired", "revoked")
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


class DossierError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _short_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))


def create(store: Store, template_id: str, *, applicant_name: str, reference: str,
           email: str = "", created_by: str) -> dict[str, Any]:
    """A new request for an applicant from a template (the template is copied into it)."""
    template = templates_repo.get(store, template_id)
    if template is None or not template["active"]:
        raise DossierError("template", "Kies een sjabloon.")
    applicant_name = (applicant_name or "").strip()
    reference = (reference or "").strip()
    email = (email or "").strip()
    errors = []
    if not 1 <= len(applicant_name) <= 200:
        errors.append("Vul de naam van de aanvrager in.")
    if not 1 <= len(reference) <= 100:
        errors.append("Vul uw kenmerk in.")
    if email and ("@" not in email or len(email) > 254):
        errors.append("Dit e-mailadres klopt niet.")
    if errors:
        raise DossierError("input", " ".join(errors))
    dossier_id = secrets.token_hex(8)
    with store.transaction() as tx:
        tx.execute("INSERT INTO dossiers (id, code, template_id, template, applicant_name,"
                   " reference, email, created_by, created_at, status)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'new')",
                   (dossier_id, _short_code(), template_id, json.dumps(template), applicant_name,
                    reference, email or None, created_by, now_iso()))
    return get(store, dossier_id)


def _out(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["template"] = json.loads(row["template"])
    for secret in ("wrapped_verifier", "wrapped_token", "data_key"):
        out.pop(secret, None)
    out["has_data"] = row["data_key"] is not None
    return out


def get(store: Store, dossier_id: str) -> dict[str, Any]:
    row = store.conn.execute("SELECT * FROM dossiers WHERE id = ?", (dossier_id,)).fetchone()
    if row is None:
        raise DossierError("not-found", "Dit dossier bestaat niet.")
    return _out(row)


def by_code(store: Store, code: str) -> dict[str, Any]:
    row = store.conn.execute("SELECT * FROM dossiers WHERE code = ?", (code,)).fetchone()
    if row is None:
        raise DossierError("not-found", "Deze link is onbekend.")
    return _out(row)


def list_all(store: Store, limit: int = 500) -> list[dict[str, Any]]:
    return [_out(r) for r in store.conn.execute(
        "SELECT * FROM dossiers ORDER BY created_at DESC LIMIT ?", (limit,))]


# -- asking -------------------------------------------------------------------------------------


def start(store: Store, client: PortalClient, code: str, instance_url: str) -> str:
    """Register at the applicant's instance if needed, push the request; the URL to send the
    applicant's browser to (the vault's consent screen)."""
    dossier = by_code(store, code)
    if dossier["status"] not in ("new", "waiting"):
        raise DossierError("state", "Dit verzoek is al afgehandeld.")
    reg = client.ensure_registered(instance_url)
    details = templates_repo.authorization_details(dossier["template"])
    pushed = client.push(reg, details)
    ref = pushed["request_uri"].rpartition(":")[2]
    with store.transaction() as tx:
        tx.execute("UPDATE dossiers SET status = 'waiting', issuer = ?, request_uri = ?,"
                   " request_ref_sha256 = ?, oauth_state = ?, wrapped_verifier = ?"
                   " WHERE id = ?",
                   (reg.issuer, pushed["request_uri"], hashlib.sha256(ref.encode()).hexdigest(),
                    pushed["state"],
                    store.wrap("verifier", pushed["code_verifier"].encode(), dossier["id"]),
                    dossier["id"]))
    return str(pushed["authorize_url"])


def _data_key(store: Store, dossier_id: str) -> bytes:
    row = store.conn.execute("SELECT data_key FROM dossiers WHERE id = ?",
                             (dossier_id,)).fetchone()
    if row is None or row["data_key"] is None:
        raise DossierError("deleted", "De gegevens van dit dossier zijn verwijderd.")
    return store.unwrap("dossier-key", bytes(row["data_key"]), dossier_id)


def finish(store: Store, client: PortalClient, state: str, *, code: str | None,
           error: str | None, iss: str | None) -> dict[str, Any]:
    """The vault's redirect back: exchange the code, read once, keep it encrypted."""
    row = store.conn.execute("SELECT * FROM dossiers WHERE oauth_state = ?",
                             (state or "",)).fetchone()
    if row is None or not state:
        raise DossierError("state", "Deze terugkeer hoort bij geen enkel verzoek.")
    dossier_id = row["id"]
    if iss and iss.rstrip("/") != row["issuer"]:
        raise DossierError("issuer", "Deze terugkeer komt van een andere Kluis.")
    if row["status"] != "waiting":
        return get(store, dossier_id)
    if error or not code:
        status = "refused" if error == "access_denied" else "waiting"
        with store.transaction() as tx:
            tx.execute("UPDATE dossiers SET status = ? WHERE id = ?", (status, dossier_id))
        return get(store, dossier_id)
    reg = client.registration(row["issuer"])
    if reg is None:
        raise DossierError("state", "Het portaal is niet aangemeld bij deze Kluis.")
    verifier = store.unwrap("verifier", bytes(row["wrapped_verifier"]), dossier_id).decode()
    token = client.exchange(reg, code, verifier)
    receive(store, client, dossier_id, token)
    return get(store, dossier_id)


def receive(store: Store, client: PortalClient, dossier_id: str, token: dict[str, Any]) -> None:
    """Read the granted records and documents now and store them under a new data key."""
    row = store.conn.execute("SELECT * FROM dossiers WHERE id = ?", (dossier_id,)).fetchone()
    reg = client.registration(row["issuer"])
    if reg is None:
        raise InstanceError("Het portaal is niet aangemeld bij deze Kluis.")
    access_token = str(token["access_token"])
    records, documents = client.read(reg, access_token)
    receipt = token.get("consent_receipt")
    verified = False
    if isinstance(receipt, dict):
        try:
            client.verify_receipt(reg.issuer, receipt)
            verified = True
        except Exception:  # noqa: BLE001 - an unverifiable receipt is shown as such
            verified = False
    details = (token.get("authorization_details") or [{}])[0]
    template = json.loads(row["template"])
    received = utcnow()
    retention_days = int(template["retention_days"])
    access_ends = details.get("expires_at") or to_iso(
        received + timedelta(days=int(template["duration_days"])))
    retention_ends = to_iso(received + timedelta(days=retention_days))
    data_key = keys.random_key()
    with store.transaction() as tx:
        tx.execute("DELETE FROM dossier_items WHERE dossier_id = ?", (dossier_id,))
        _keep_read(tx, data_key, dossier_id, records, documents)
        if isinstance(receipt, dict):
            tx.execute("INSERT INTO dossier_items (dossier_id, kind, blob)"
                       " VALUES (?, 'receipt', ?)",
                       (dossier_id, _seal(data_key, dossier_id, receipt)))
        tx.execute("INSERT INTO dossier_items (dossier_id, kind, blob) VALUES (?, 'details', ?)",
                   (dossier_id, _seal(data_key, dossier_id, details)))
        tx.execute("UPDATE dossiers SET status = 'approved', grant_id = ?, wrapped_token = ?,"
                   " received_at = ?, access_ends_at = ?, retention_ends_at = ?,"
                   " receipt_verified = ?, data_key = ? WHERE id = ?",
                   (token.get("grant_id"),
                    store.wrap("access-token", access_token.encode(), dossier_id),
                    to_iso(received), access_ends, retention_ends, int(verified),
                    store.wrap("dossier-key", data_key, dossier_id), dossier_id))


def _keep_read(tx: Any, data_key: bytes, dossier_id: str, records: list[dict[str, Any]],
               documents: dict[str, bytes]) -> None:
    """Store what one read gave: each record and each document's bytes, sealed."""
    for record in records:
        tx.execute("INSERT INTO dossier_items (dossier_id, kind, record_id, blob)"
                   " VALUES (?, 'record', ?, ?)",
                   (dossier_id, record.get("id"), _seal(data_key, dossier_id, record)))
    for record_id, content in documents.items():
        tx.execute("INSERT INTO dossier_items (dossier_id, kind, record_id, blob)"
                   " VALUES (?, 'document', ?, ?)",
                   (dossier_id, record_id,
                    aead.encrypt(data_key, content, f"{dossier_id}:document".encode())))


#: How often a dossier under a template that says ``refresh`` is read again.
REFRESH_EVERY = timedelta(days=1)


def refresh_due(store: Store, client: PortalClient, now: datetime | None = None) -> int:
    """Read again, with the grant's access token, every approved dossier whose template says
    ``refresh``, while its access lasts and at most once per :data:`REFRESH_EVERY` (counted
    from the last read); the records and documents read replace those kept (the receipt and
    the granted details stay; the retention still counts from the first receipt). A read the
    instance refuses (the grant ended) leaves the data as it was and asks where the grant
    stands (:func:`refresh_status`). How many were read again.

    Safe to run twice: a dossier read less than a day ago is skipped."""
    moment = now or utcnow()
    rows = store.conn.execute(
        "SELECT * FROM dossiers WHERE status = 'approved' AND data_key IS NOT NULL"
        " AND deleted_at IS NULL AND wrapped_token IS NOT NULL AND access_ends_at > ?"
        " AND coalesce(refreshed_at, received_at) <= ? ORDER BY received_at",
        (to_iso(moment), to_iso(moment - REFRESH_EVERY))).fetchall()
    done = 0
    for row in rows:
        if not json.loads(row["template"]).get("refresh"):
            continue
        reg = client.registration(row["issuer"])
        if reg is None:
            continue
        dossier_id = str(row["id"])
        token = store.unwrap("access-token", bytes(row["wrapped_token"]), dossier_id).decode()
        try:
            records, documents = client.read(reg, token)
        except InstanceError:
            refresh_status(store, client, dossier_id)
            continue
        data_key = _data_key(store, dossier_id)
        with store.transaction() as tx:
            current = tx.execute("SELECT data_key FROM dossiers WHERE id = ? AND status ="
                                 " 'approved' AND deleted_at IS NULL", (dossier_id,)).fetchone()
            if current is None or current["data_key"] is None:
                continue  # deleted or revoked meanwhile: keep nothing of this read
            tx.execute("DELETE FROM dossier_items WHERE dossier_id = ?"
                       " AND kind IN ('record', 'document')", (dossier_id,))
            _keep_read(tx, data_key, dossier_id, records, documents)
            tx.execute("UPDATE dossiers SET refreshed_at = ? WHERE id = ?",
                       (to_iso(moment), dossier_id))
        done += 1
    return done


def _seal(data_key: bytes, dossier_id: str, value: Any) -> bytes:
    return aead.encrypt(data_key, json.dumps(value).encode(), f"{dossier_id}:json".encode())


def contents(store: Store, dossier_id: str) -> dict[str, Any]:
    """The decrypted records, the receipt and the granted details of a dossier."""
    key = _data_key(store, dossier_id)
    out: dict[str, Any] = {"records": [], "receipt": None, "details": None, "documents": set()}
    for item in store.conn.execute("SELECT kind, record_id, blob FROM dossier_items"
                                   " WHERE dossier_id = ? ORDER BY id", (dossier_id,)):
        if item["kind"] == "document":
            out["documents"].add(item["record_id"])
            continue
        value = json.loads(aead.decrypt(key, bytes(item["blob"]), f"{dossier_id}:json".encode()))
        if item["kind"] == "record":
            out["records"].append(value)
        else:
            out[item["kind"]] = value
    return out


def document(store: Store, dossier_id: str, record_id: str) -> tuple[dict[str, Any], bytes]:
    """A received document: its record (name, media type, sha256) and its bytes."""
    key = _data_key(store, dossier_id)
    found = contents(store, dossier_id)
    record = next((r for r in found["records"] if r.get("id") == record_id
                   and r.get("type") == "document"), None)
    item = store.conn.execute("SELECT blob FROM dossier_items WHERE dossier_id = ?"
                              " AND kind = 'document' AND record_id = ?",
                              (dossier_id, record_id)).fetchone()
    if record is None or item is None:
        raise DossierError("not-found", "Dit document hoort niet bij dit dossier.")
    return record, aead.decrypt(key, bytes(item["blob"]), f"{dossier_id}:document".encode())


def receipt_pdf(receipt: dict[str, Any], lang: str = "nl") -> bytes:
    """The consent receipt kept in a dossier as a readable PDF (nl/en), rendered by the same
    code as the instance's copy (:mod:`vault.portability.receipt_pdf`), with the signed
    receipt attached."""
    from vault.grants import receipts
    from vault.portability.receipt_pdf import render_receipt_pdf

    return render_receipt_pdf(receipt, receipts.payload_of(receipt), receipts.key_id(receipt),
                              lang)


# -- lifecycle ----------------------------------------------------------------------------------


def mark(store: Store, dossier_id: str, status: str) -> None:
    if status not in STATUSES:
        raise ValueError(status)
    with store.transaction() as tx:
        tx.execute("UPDATE dossiers SET status = ?, revoked_at = CASE WHEN ? = 'revoked'"
                   " THEN ? ELSE revoked_at END WHERE id = ?",
                   (status, status, now_iso(), dossier_id))


def on_event(store: Store, client: PortalClient, issuer: str, event: dict[str, Any]) -> str | None:
    """Apply one verified webhook event; the dossier it concerned (``None``: none of ours).

    Safe to run twice: the event id is recorded once, a repeat changes nothing."""
    with store.transaction() as tx:
        seen = tx.execute("INSERT OR IGNORE INTO webhook_events (id, issuer, type, received_at)"
                          " VALUES (?, ?, ?, ?)",
                          (str(event.get("id")), issuer, str(event.get("type")), now_iso()))
        if seen.rowcount == 0:
            return None
    kind = str(event.get("type", ""))
    row = None
    if event.get("grant_id"):
        row = store.conn.execute("SELECT * FROM dossiers WHERE issuer = ? AND grant_id = ?",
                                 (issuer, event["grant_id"])).fetchone()
    if row is None and event.get("request_uri"):
        row = store.conn.execute("SELECT * FROM dossiers WHERE issuer = ? AND request_uri = ?",
                                 (issuer, event["request_uri"])).fetchone()
    ref = (event.get("data") or {}).get("request_ref_sha256")
    if row is None and ref:
        row = store.conn.execute("SELECT * FROM dossiers WHERE issuer = ?"
                                 " AND request_ref_sha256 = ?", (issuer, ref)).fetchone()
    if row is None:
        return None
    dossier_id = str(row["id"])
    if kind == "grant.revoked":
        mark(store, dossier_id, "revoked")
        template = json.loads(row["template"])
        if template.get("delete_on_revoke") and row["data_key"] is not None:
            delete_data(store, client, dossier_id, reason="revoked")
    elif kind in ("grant.expired", "grant.used_up") and row["status"] == "approved":
        mark(store, dossier_id, "expired")
    elif kind == "request.refused" and row["status"] in ("new", "waiting"):
        mark(store, dossier_id, "refused")
    elif kind == "request.expired" and row["status"] in ("new", "waiting"):
        mark(store, dossier_id, "expired")
    return dossier_id


def refresh_status(store: Store, client: PortalClient, dossier_id: str) -> None:
    """Ask the instance where a waiting request or an approved grant stands (status endpoint,
    introspection), for when a webhook did not arrive."""
    row = store.conn.execute("SELECT * FROM dossiers WHERE id = ?", (dossier_id,)).fetchone()
    if row is None or not row["issuer"]:
        return
    reg = client.registration(row["issuer"])
    if reg is None:
        return
    if row["status"] == "waiting" and row["request_uri"]:
        found = client.request_status(reg, row["request_uri"])
        if found and found.get("status") in ("refused", "expired"):
            mark(store, dossier_id, found["status"])
    elif row["status"] == "approved" and row["wrapped_token"]:
        token = store.unwrap("access-token", bytes(row["wrapped_token"]), dossier_id).decode()
        found = client.introspect(reg, token)
        if found is not None and not found.get("active"):
            revoked = "revoked" in found.get("_reason", "")
            mark(store, dossier_id, "revoked" if revoked else "expired")
            template = json.loads(row["template"])
            if revoked and template.get("delete_on_revoke") and row["data_key"] is not None:
                delete_data(store, client, dossier_id, reason="revoked")
    with store.transaction() as tx:
        tx.execute("UPDATE dossiers SET status_checked_at = ? WHERE id = ?",
                   (now_iso(), dossier_id))


#: How often :func:`poll` asks about one dossier (the sweep runs hourly).
POLL_EVERY = timedelta(minutes=50)


def poll(store: Store, client: PortalClient, now: datetime | None = None) -> int:
    """Ask the instances where every dossier still waiting or approved stands
    (:func:`refresh_status`: the request status, token introspection), each at most once per
    :data:`POLL_EVERY`, so an expired request, an expired grant or a revocation whose webhook
    never arrived shows, with nobody looking. How many were asked.

    Safe to run twice (and by several processes): asking again changes nothing new."""
    moment = now or utcnow()
    rows = store.conn.execute(
        "SELECT id FROM dossiers WHERE status IN ('waiting', 'approved')"
        " AND deleted_at IS NULL AND issuer IS NOT NULL"
        " AND (status_checked_at IS NULL OR status_checked_at <= ?) ORDER BY created_at",
        (to_iso(moment - POLL_EVERY),)).fetchall()
    for row in rows:
        refresh_status(store, client, str(row["id"]))
    return len(rows)


def delete_data(store: Store, client: PortalClient, dossier_id: str, *, reason: str) -> None:
    """Delete what was received (items, data key, token, the applicant's name and e-mail),
    keep that the dossier existed and when it was deleted, and send the deletion statement."""
    row = store.conn.execute("SELECT * FROM dossiers WHERE id = ?", (dossier_id,)).fetchone()
    if row is None or row["deleted_at"]:
        return
    with store.transaction() as tx:
        tx.execute("DELETE FROM dossier_items WHERE dossier_id = ?", (dossier_id,))
        tx.execute("UPDATE dossiers SET data_key = NULL, wrapped_token = NULL,"
                   " wrapped_verifier = NULL, applicant_name = NULL, email = NULL,"
                   " deleted_at = ?, deletion_reason = ? WHERE id = ?",
                   (now_iso(), reason, dossier_id))
    if row["grant_id"]:
        send_statement(store, client, dossier_id)


def send_statement(store: Store, client: PortalClient, dossier_id: str) -> str:
    """Sign and send the deletion statement; the outcome is kept for a later retry.

    The statement is the request's client authentication (a fresh ``iat``, a ``jti`` used
    once), so every attempt signs a new one, all with the day the data was deleted; the last
    one sent is kept."""
    row = store.conn.execute("SELECT * FROM dossiers WHERE id = ?", (dossier_id,)).fetchone()
    reg = client.registration(row["issuer"]) if row and row["issuer"] else None
    if row is None or reg is None or not row["grant_id"]:
        return "no-grant"
    deleted_on = str(row["deleted_at"] or now_iso())[:10]
    statement = client.deletion_statement(reg, row["grant_id"], deleted_on)
    outcome = client.send_deletion(reg, row["grant_id"], statement)
    with store.transaction() as tx:
        tx.execute("UPDATE dossiers SET deletion_statement = ?, deletion_status = ?,"
                   " deletion_sent_at = CASE WHEN ? = 'accepted' THEN ? ELSE deletion_sent_at"
                   " END WHERE id = ?",
                   (statement, outcome, outcome, now_iso(), dossier_id))
    return outcome


def due(store: Store, now: datetime | None = None) -> list[dict[str, Any]]:
    """Dossiers whose data is still kept, soonest deletion first (what will be deleted when)."""
    rows = store.conn.execute("SELECT * FROM dossiers WHERE data_key IS NOT NULL"
                              " ORDER BY retention_ends_at")
    moment = now or utcnow()
    out = []
    for row in rows:
        entry = _out(row)
        entry["overdue"] = bool(row["retention_ends_at"]) and \
            from_iso(row["retention_ends_at"]) <= moment
        out.append(entry)
    return out


def sweep(store: Store, client: PortalClient, now: datetime | None = None) -> dict[str, int]:
    """Delete every dossier whose retention ended, and retry unsent deletion statements.

    Safe to run twice (and by several processes): a deleted dossier is skipped."""
    moment = now or utcnow()
    deleted = 0
    for entry in due(store, moment):
        if entry["overdue"]:
            delete_data(store, client, entry["id"], reason="retention")
            deleted += 1
    retried = 0
    for row in store.conn.execute("SELECT id FROM dossiers WHERE deleted_at IS NOT NULL"
                                  " AND grant_id IS NOT NULL AND deletion_sent_at IS NULL"):
        send_statement(store, client, row["id"])
        retried += 1
    return {"deleted": deleted, "statements_retried": retried}
