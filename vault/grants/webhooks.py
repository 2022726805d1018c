"""Delivering lifecycle events to organisations: signed webhooks. No Flask.

An event (queued by :func:`vault.grants.events.emit`) is POSTed as its JSON body
to every ``kluis_webhook_uris`` endpoint of its organisation, with

- ``Content-Digest`` (RFC 9530, ``sha-256``) of the body,
- ``Date``,
- ``Signature-Input`` / ``Signature`` (RFC 9421, label ``kluis``) covering
  ``@method``, ``@target-uri``, ``content-digest`` and ``date``, signed with the
  instance's ES256 key (``ecdsa-p256-sha256``) whose ``keyid`` is the ``kid`` of a
  key in ``/.well-known/jwks.json``,
- ``Kluis-Event-Id`` (the receiver's idempotency key: a retry repeats it).

Signing is the maintained ``http-message-signatures`` library. Targets pass the same
outbound URL checks as connectors and metadata documents (:mod:`vault.urlsafety`:
https, public addresses only, unless ``KLUIS_ALLOW_PRIVATE_URLS=1``); the connection
goes to the checked address, redirects are not followed.

:func:`deliver` is the core the worker's job calls (:mod:`vault.grants.jobs`): it
claims the event, tries every endpoint not yet answered with 2xx, records each
attempt, and either marks the event delivered or sets the next attempt after the
configured backoff. Safe to run twice: a claimed or delivered event is skipped, and
the receiver dedupes by event id.
"""

from __future__ import annotations

import email.utils
import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import urllib3
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms
from joserfc.jwk import ECKey

from vault import urlsafety
from vault.clock import from_iso, now_iso, to_iso, utcnow
from vault.config import Settings
from vault.storage import db
from vault.storage.instance import Instance

log = logging.getLogger("kluis.webhooks")

SIGNATURE_LABEL = "kluis"
COVERED = ("@method", "@target-uri", "content-digest", "date")
LEASE = timedelta(seconds=60)


def webhook_uri_errors(uris: Any, settings: Settings) -> dict[str, list[str]]:
    """Errors of a ``kluis_webhook_uris`` member (https only, unless private URLs are allowed)."""
    errors: dict[str, list[str]] = {}
    for i, uri in enumerate(uris or []):
        parts = urlsplit(uri)
        ok = parts.hostname and not parts.fragment and not parts.username and (
            parts.scheme == "https" or (settings.allow_private_urls and parts.scheme == "http"))
        if not ok:
            errors[f"kluis_webhook_uris.{i}"] = ["A webhook endpoint must be an https URL."]
    return errors


# -- signing --------------------------------------------------------------------------------


@dataclass
class OutgoingRequest:
    """What the signing library reads and writes: method, url, headers."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


class _InstanceKey(HTTPSignatureKeyResolver):
    """The ``key_resolver`` of the signer: the instance's current private signing JWK."""

    def __init__(self, private_jwk: dict[str, Any]) -> None:
        self.kid = private_jwk["kid"]
        self.key = ECKey.import_key(private_jwk).private_key

    def resolve_private_key(self, key_id: str) -> Any:
        if key_id != self.kid:
            raise KeyError(key_id)
        return self.key

    def resolve_public_key(self, key_id: str) -> Any:  # pragma: no cover - signer only
        raise KeyError(key_id)


def signed_request(url: str, body: bytes, private_jwk: dict[str, Any], event_id: str
                   ) -> OutgoingRequest:
    """The POST of ``body`` to ``url`` with Content-Digest, Date and the RFC 9421 signature."""
    message = OutgoingRequest("POST", url, {
        "Content-Type": "application/json",
        "Date": email.utils.formatdate(utcnow().timestamp(), usegmt=True),
        "Kluis-Event-Id": event_id,
        "User-Agent": "kluis-webhooks/0.1",
    })
    resolver = _InstanceKey(private_jwk)
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ECDSA_P256_SHA256,
                               key_resolver=resolver)
    signer.sign(message, key_id=resolver.kid, label=SIGNATURE_LABEL, created=utcnow(),
                covered_component_ids=COVERED, body=body)
    return message


# -- sending --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    url: str
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(message: OutgoingRequest, body: bytes, settings: Settings) -> Attempt:
    """Send one signed request to the checked address of its host; never follows redirects."""
    try:
        addresses = urlsafety.check_url(message.url, allow_private=settings.allow_private_urls)
    except urlsafety.UnsafeURL as exc:
        return Attempt(message.url, None, f"unsafe target: {exc}")
    parts = urlsplit(message.url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = urllib3.Timeout(total=settings.webhook_timeout_seconds)
    pool: urllib3.HTTPConnectionPool
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(addresses[0], port, server_hostname=host,
                                           assert_hostname=host, cert_reqs="CERT_REQUIRED",
                                           timeout=timeout, retries=False, maxsize=1)
    else:
        pool = urllib3.HTTPConnectionPool(addresses[0], port, timeout=timeout, retries=False,
                                          maxsize=1)
    headers = dict(message.headers)
    headers["Host"] = host if parts.port is None else f"{host}:{parts.port}"
    try:
        response = pool.urlopen("POST", path, body=body, headers=headers, redirect=False,
                                retries=False, preload_content=False)
        try:
            response.read(4096, decode_content=False)
            return Attempt(message.url, response.status, None if 200 <= response.status < 300
                           else f"answered {response.status}")
        finally:
            response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        return Attempt(message.url, None, f"could not connect: {type(exc).__name__}")
    finally:
        pool.close()


# -- the outbox -----------------------------------------------------------------------------


def endpoints(conn: db.Connection, client_id: str) -> list[str]:
    row = conn.execute("SELECT metadata, status FROM oauth_clients WHERE client_id = ?",
                       (client_id,)).fetchone()
    if row is None or row["status"] == "disabled":
        return []
    uris: list[str] = json.loads(row["metadata"]).get("kluis_webhook_uris") or []
    return uris


def due(conn: db.Connection, limit: int = 100) -> list[str]:
    """Ids of queued events whose next attempt is due, oldest first."""
    rows = conn.execute(
        "SELECT id FROM webhook_events WHERE status = 'queued' AND next_attempt_at <= ?"
        " ORDER BY created_at LIMIT ?", (now_iso(), limit)).fetchall()
    return [r["id"] for r in rows]


def retry_delay(attempt: int, settings: Settings) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    delays = settings.webhook_retry_delays
    return delays[min(attempt, len(delays)) - 1]


def deliver(instance: Instance, settings: Settings, event_id: str) -> str:
    """Try to deliver one event; returns its status afterwards. Safe to run twice."""
    now = utcnow()
    with instance.transaction() as tx:
        row = tx.execute("SELECT * FROM webhook_events WHERE id = ?", (event_id,)).fetchone()
        if row is None:
            return "gone"
        if row["status"] != "queued" or (row["next_attempt_at"] or "") > to_iso(now):
            return str(row["status"])
        # Claim: another worker running the same job waits for the lease to pass.
        tx.execute("UPDATE webhook_events SET next_attempt_at = ? WHERE id = ?",
                   (to_iso(now + LEASE), event_id))
        done = {r["url"] for r in tx.execute(
            "SELECT url FROM webhook_attempts WHERE event_id = ? AND ok = 1", (event_id,))}
    targets = [u for u in endpoints(instance.conn, row["client_id"]) if u not in done]
    attempt_no = int(row["attempts"]) + 1
    if not targets and not done:
        with instance.transaction() as tx:
            tx.execute("UPDATE webhook_events SET status = 'no-endpoint', next_attempt_at = NULL"
                       " WHERE id = ?", (event_id,))
        return "no-endpoint"
    body = row["body"].encode()
    key = instance.signing_key()
    results = [post(signed_request(url, body, key, event_id), body, settings)
               for url in targets]
    at = now_iso()
    failed = [r for r in results if not r.ok]
    with instance.transaction() as tx:
        for result in results:
            tx.execute("INSERT INTO webhook_attempts (event_id, url, attempt, at, status_code,"
                       " error, ok) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (event_id, result.url, attempt_no, at, result.status_code,
                        result.error, int(result.ok)))
        if not failed:
            tx.execute("UPDATE webhook_events SET status = 'delivered', attempts = ?,"
                       " delivered_at = ?, next_attempt_at = NULL, last_error = NULL"
                       " WHERE id = ?", (attempt_no, at, event_id))
            return "delivered"
        error = "; ".join(f"{r.url}: {r.error}" for r in failed)[:500]
        if attempt_no >= settings.webhook_max_attempts:
            tx.execute("UPDATE webhook_events SET status = 'failed', attempts = ?,"
                       " next_attempt_at = NULL, last_error = ? WHERE id = ?",
                       (attempt_no, error, event_id))
            log.warning("webhook event %s given up after %d attempts", event_id, attempt_no)
            return "failed"
        later = from_iso(at) + timedelta(seconds=retry_delay(attempt_no, settings))
        tx.execute("UPDATE webhook_events SET attempts = ?, next_attempt_at = ?,"
                   " last_error = ? WHERE id = ?", (attempt_no, to_iso(later), error, event_id))
        return "queued"


def deliveries(conn: db.Connection, client_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """The organisation's recent events, newest first, with their attempts."""
    limit = max(1, min(int(limit), 200))
    rows = conn.execute("SELECT * FROM webhook_events WHERE client_id = ?"
                        " ORDER BY created_at DESC LIMIT ?", (client_id, limit)).fetchall()
    out = []
    for row in rows:
        attempts = conn.execute(
            "SELECT url, attempt, at, status_code, error, ok FROM webhook_attempts"
            " WHERE event_id = ? ORDER BY id", (row["id"],)).fetchall()
        out.append({
            "id": row["id"], "type": row["type"], "created_at": row["created_at"],
            "status": row["status"], "attempts": int(row["attempts"]),
            "next_attempt_at": row["next_attempt_at"] if row["status"] == "queued" else None,
            "delivered_at": row["delivered_at"], "last_error": row["last_error"],
            "event": json.loads(row["body"]),
            "tries": [{"url": a["url"], "attempt": a["attempt"], "at": a["at"],
                       "status_code": a["status_code"], "error": a["error"],
                       "ok": bool(a["ok"])} for a in attempts],
        })
    return out


def purge_done(tx: db.Connection, before: str) -> int:
    """Delete the events queued before ``before`` that are done (delivered, failed, no
    endpoint), with their attempts; how many events. Queued ones stay until they are done."""
    tx.execute("DELETE FROM webhook_attempts WHERE event_id IN (SELECT id FROM webhook_events"
               " WHERE status <> 'queued' AND created_at < ?)", (before,))
    return int(tx.execute("DELETE FROM webhook_events WHERE status <> 'queued'"
                          " AND created_at < ?", (before,)).rowcount)


def counts(conn: db.Connection) -> dict[str, int]:
    """Events per status (the operator's view)."""
    return {r["status"]: int(r["n"]) for r in conn.execute(
        "SELECT status, count(*) AS n FROM webhook_events GROUP BY status")}
