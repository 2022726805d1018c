"""The owner's notifications, and the optional e-mail about them. No Flask.

Kinds (:data:`KINDS`): a new request waiting, a read or download by an
organisation (folded per grant per day, so a busy grant gives one notification a
day), a grant expiring within 7 days, a connector needing attention, a deletion
statement received or overdue. Notifications live inside the vault
(``notifications``), written in the vault transaction of what caused them.

E-mail is opt-in per kind, to an address the owner confirmed (double opt-in: a code
is mailed to the new address and must come back). The address and the choices are
kept inside the vault (``notification_settings``), never in instance.db at rest: a
mail to send is queued in instance.db's ``mail_outbox`` encrypted under an instance
subkey, and its payload is wiped once sent. A mail says who did what to which kind
of record ("Woonstichting De Kern las je inkomen"), never a record value. The worker
sends it over SMTP (``KLUIS_SMTP_URL``, STARTTLS, see :func:`send`).
"""

from __future__ import annotations

import json
import smtplib
import ssl
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from vault.clock import from_iso, now_iso, utcnow
from vault.config import Settings
from vault.crypto import aead, keys
from vault.grants.errors import InvalidInput
from vault.records.catalogue import RECORD_TYPES
from vault.storage import db
from vault.storage.instance import Instance
from vault.storage.vaults import VaultDB

REQUEST_WAITING = "request.waiting"
GRANT_READ = "grant.read"
GRANT_EXPIRING = "grant.expiring"
CONNECTOR_ATTENTION = "connector.attention"
DELETION_RECEIVED = "deletion.received"
DELETION_OVERDUE = "deletion.overdue"
KINDS = (REQUEST_WAITING, GRANT_READ, GRANT_EXPIRING, CONNECTOR_ATTENTION, DELETION_RECEIVED,
         DELETION_OVERDUE)
CONFIRM_KIND = "email.confirm"
_MAIL_AAD = b"kluis mail outbox v1"


def _types(detail: dict[str, Any], lang: str) -> str:
    labels = [RECORD_TYPES[t].label(lang).lower() if t in RECORD_TYPES else t
              for t in detail.get("types") or []]
    if lang == "en":
        return "your " + " and ".join(labels) if labels else "your data"
    return "je " + " en ".join(labels) if labels else "je gegevens"


#: One sentence per kind, without any record value: Dutch (also for mail) and English.
TEXTS = {
    "nl": {GRANT_READ: "{org} las {types}", REQUEST_WAITING: "{org} vraagt om je gegevens",
           GRANT_EXPIRING: "De toestemming voor {org} verloopt binnenkort",
           CONNECTOR_ATTENTION: "De koppeling met {connector} vraagt je aandacht",
           DELETION_RECEIVED: "{org} verklaarde je gegevens te hebben verwijderd",
           DELETION_OVERDUE: "{org} verklaarde niet op tijd je gegevens te hebben verwijderd"},
    "en": {GRANT_READ: "{org} read {types}", REQUEST_WAITING: "{org} asks for your data",
           GRANT_EXPIRING: "The grant for {org} ends soon",
           CONNECTOR_ATTENTION: "The connection with {connector} needs your attention",
           DELETION_RECEIVED: "{org} declared that it deleted your data",
           DELETION_OVERDUE: "{org} did not declare in time that it deleted your data"},
}
_SOMEONE = {"nl": ("Een organisatie", "een bron"), "en": ("An organisation", "a source")}


def text(kind: str, detail: dict[str, Any], lang: str = "nl") -> str:
    """The notification in one sentence in ``lang`` (nl or en), without any record value."""
    lang = lang if lang in TEXTS else "nl"
    template = TEXTS[lang].get(kind)
    if template is None:
        return kind
    org, source = _SOMEONE[lang]
    return template.format(org=detail.get("organisation") or org, types=_types(detail, lang),
                           connector=detail.get("connector", source))


def notify(instance: Instance, tx: db.Connection, *, kind: str, group_key: str,
           grant_id: str | None = None, detail: dict[str, Any] | None = None,
           count: int = 1) -> bool:
    """Add (or fold into ``group_key``'s) notification inside the vault transaction ``tx``;
    a new one is mailed when the owner chose mail for ``kind``. True when it was new."""
    if kind not in KINDS:
        raise ValueError(kind)
    now = now_iso()
    detail = detail or {}
    existing = tx.execute("SELECT id FROM notifications WHERE group_key = ?",
                          (group_key,)).fetchone()
    if existing is not None:
        tx.execute("UPDATE notifications SET count = count + ?, updated_at = ?, read_at = NULL"
                   " WHERE id = ?", (count, now, existing["id"]))
        return False
    tx.execute("INSERT INTO notifications (id, kind, group_key, grant_id, detail, count,"
               " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
               (uuid.uuid4().hex, kind, group_key, grant_id, json.dumps(detail), count, now,
                now))
    prefs = _settings(tx)
    if prefs["email"] and kind in prefs["mail_kinds"]:
        sentence = text(kind, detail)
        queue_mail(instance, kind=kind, to=prefs["email"],
                   subject=f"Kluis: {sentence}",
                   body=f"{sentence}; bekijk het in je kluis.\n\n"
                        f"{instance.settings.public_url}/notifications\n")
    return True


def reads_merged(instance: Instance, tx: db.Connection, rows: Sequence[Any]) -> None:
    """After access journal rows moved into the log: one notification per grant per day, for
    its reads and document downloads together."""
    seen: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
    for row in rows:
        if row["action"] not in ("grant.read", "grant.download") or not row["grant_id"]:
            continue
        try:
            detail = json.loads(row["detail"]) if row["detail"] else {}
        except (TypeError, ValueError):
            detail = {}
        key = (row["grant_id"], str(row["at"])[:10])
        count, before = seen.get(key, (0, {"types": []}))
        types = detail.get("types") or (["document"] if row["action"] == "grant.download"
                                        else [])
        seen[key] = (count + 1, {"organisation": detail.get("organisation"),
                                 "types": list(dict.fromkeys(before["types"] + types))})
    for (grant_id, day), (count, detail) in seen.items():
        notify(instance, tx, kind=GRANT_READ, group_key=f"{GRANT_READ}:{grant_id}:{day}",
               grant_id=grant_id, detail=detail, count=count)


def on_merged(add_reads: Callable[[db.Connection, Sequence[Any]], None], instance: Instance
              ) -> Callable[[db.Connection, Sequence[Any]], None]:
    """An ``on_merged`` for the access journal: the counts, then the read notifications."""

    def merged(tx: db.Connection, rows: Sequence[Any]) -> None:
        add_reads(tx, rows)
        reads_merged(instance, tx, rows)

    return merged


EXPIRING_WITHIN = timedelta(days=7)


def due(instance: Instance, vault: VaultDB, *,
        attention: Sequence[tuple[str, str, str]] = ()) -> int:
    """Create, once each, the notifications that come due with time; return how many are new.

    - a grant that is active and ends within :data:`EXPIRING_WITHIN`;
    - a grant whose promised retention has passed without a deletion statement;
    - each connection in ``attention`` (``(connection id, connector, since)``: the composition
      root passes the instance's connections of this vault that need attention; the grants
      feature does not import the connectors).

    Runs when the owner's vault opens (the only time the vault, and the owner's mail address
    inside it, can be read). Safe to run again: each has a fixed group key.
    """
    from vault.grants import deletion, repository

    # Decided with reads on the open connection: this runs on every owner open, and a write
    # transaction is begun only when a notification is new.
    now = utcnow()
    wanted: list[tuple[str, str, str | None, dict[str, Any]]] = []
    for grant in repository.grants(vault.conn):
        name = grant.organisation.get("name")
        if grant.status_at(now) == "active" and grant.expiry is not None:
            if from_iso(grant.expiry.expires_at) - now <= EXPIRING_WITHIN:
                wanted.append((GRANT_EXPIRING, f"{GRANT_EXPIRING}:{grant.id}", grant.id,
                               {"organisation": name, "ends_at": grant.expiry.expires_at}))
            continue
        end = deletion.retention_end(grant)
        if end is not None and from_iso(end) <= now and not deletion.statements(vault.conn,
                                                                                grant.id):
            wanted.append((DELETION_OVERDUE, f"{DELETION_OVERDUE}:{grant.id}", grant.id,
                           {"organisation": name, "retention_ended_at": end}))
    for connection_id, connector, since in attention:
        wanted.append((CONNECTOR_ATTENTION, f"{CONNECTOR_ATTENTION}:{connection_id}:{since}",
                       None, {"connector": connector}))
    new = [w for w in wanted if not _exists(vault.conn, w[1])]
    if not new:
        return 0
    made = 0
    with vault.transaction() as tx:
        for kind, group_key, grant_id, detail in new:
            if not _exists(tx, group_key):  # another process may have made it meanwhile
                made += int(notify(instance, tx, kind=kind, group_key=group_key,
                                   grant_id=grant_id, detail=detail))
    return made


def _exists(conn: db.Connection, group_key: str) -> bool:
    return conn.execute("SELECT 1 FROM notifications WHERE group_key = ?",
                        (group_key,)).fetchone() is not None


def listing(conn: db.Connection, limit: int = 100, lang: str = "nl") -> list[dict[str, Any]]:
    rows = conn.execute("SELECT * FROM notifications ORDER BY updated_at DESC LIMIT ?",
                        (max(1, min(limit, 500)),)).fetchall()
    return [{"id": r["id"], "kind": r["kind"], "grant_id": r["grant_id"], "count": r["count"],
             "text": text(r["kind"], json.loads(r["detail"]), lang),
             "created_at": r["created_at"],
             "updated_at": r["updated_at"], "read": r["read_at"] is not None} for r in rows]


def unread(conn: db.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM notifications WHERE read_at IS NULL"
                            ).fetchone()[0])


def mark_read(vault: VaultDB) -> None:
    with vault.transaction() as tx:
        tx.execute("UPDATE notifications SET read_at = ? WHERE read_at IS NULL", (now_iso(),))


# -- e-mail settings (inside the vault) ------------------------------------------------------


def _settings(conn: db.Connection) -> dict[str, Any]:
    row = conn.execute("SELECT * FROM notification_settings WHERE id = 1").fetchone()
    if row is None:
        return {"email": None, "pending_email": None, "mail_kinds": []}
    return {"email": row["email"], "pending_email": row["pending_email"],
            "mail_kinds": json.loads(row["mail_kinds"])}


def settings_of(vault: VaultDB) -> dict[str, Any]:
    return _settings(vault.conn)


def set_mail(vault: VaultDB, *, email: str | None, mail_kinds: list[str]) -> dict[str, Any]:
    """Choose the kinds to mail and the address. A new address waits for its confirmation
    code (mailed to it); until then mail goes to the confirmed one, if any."""
    unknown = [k for k in mail_kinds if k not in KINDS]
    if unknown:
        raise InvalidInput("unknown notification kinds", {"mail_kinds": unknown})
    if email is not None and (len(email) > 254 or "@" not in email or any(
            c in email for c in " \r\n<>,;")):
        raise InvalidInput("not an e-mail address", {"email": ["An e-mail address."]})
    with vault.transaction() as tx:
        tx.execute("INSERT OR IGNORE INTO notification_settings (id) VALUES (1)")
        tx.execute("UPDATE notification_settings SET mail_kinds = ? WHERE id = 1",
                   (json.dumps(sorted(set(mail_kinds))),))
        current = _settings(tx)
        if email is None:
            tx.execute("UPDATE notification_settings SET email = NULL, pending_email = NULL,"
                       " confirm_hash = NULL WHERE id = 1")
        elif email != current["email"]:
            code = keys.new_token()[:10]
            tx.execute("UPDATE notification_settings SET pending_email = ?, confirm_hash = ?"
                       " WHERE id = 1", (email, keys.token_hash(code)))
            queue_mail(vault.instance, kind=CONFIRM_KIND, to=email,
                       subject="Kluis: bevestig je e-mailadres",
                       body=f"Je bevestigingscode voor meldingen van je kluis: {code}\n\n"
                            "Vul hem in bij Meldingen. Heb je dit niet aangevraagd? Dan kun "
                            "je deze mail negeren.\n")
    return settings_of(vault)


def confirm(vault: VaultDB, code: str) -> dict[str, Any]:
    with vault.transaction() as tx:
        row = tx.execute("SELECT confirm_hash, pending_email FROM notification_settings"
                         " WHERE id = 1").fetchone()
        if row is None or not row["confirm_hash"] or not keys.constant_time_equal(
                keys.token_hash(code or ""), row["confirm_hash"]):
            raise InvalidInput("the confirmation code is not right", {"code": ["Not right."]})
        tx.execute("UPDATE notification_settings SET email = pending_email, pending_email ="
                   " NULL, confirm_hash = NULL, confirmed_at = ? WHERE id = 1", (now_iso(),))
    return settings_of(vault)


# -- the mail outbox (instance.db, encrypted, wiped once sent) ------------------------------


def _mail_key(instance: Instance) -> bytes:
    return instance.subkey("mail outbox")


def queue_mail(instance: Instance, *, kind: str, to: str, subject: str, body: str) -> str | None:
    """Queue one mail for the worker; None when no SMTP server is configured."""
    if not instance.settings.smtp_url:
        return None
    mail_id = uuid.uuid4().hex
    payload = aead.encrypt(_mail_key(instance), json.dumps(
        {"to": to, "subject": subject, "body": body}).encode(), _MAIL_AAD + mail_id.encode())
    with instance.transaction() as itx:
        itx.execute("INSERT INTO mail_outbox (id, kind, payload, created_at) VALUES (?, ?, ?, ?)",
                    (mail_id, kind, payload, now_iso()))
    return mail_id


def due_mails(conn: db.Connection) -> list[str]:
    return [r["id"] for r in conn.execute(
        "SELECT id FROM mail_outbox WHERE status = 'queued' ORDER BY created_at LIMIT 100")]


def send(instance: Instance, settings: Settings, mail_id: str) -> str:
    """Send one queued mail over SMTP; safe to run twice (a sent mail is skipped)."""
    row = instance.conn.execute("SELECT * FROM mail_outbox WHERE id = ?", (mail_id,)).fetchone()
    if row is None or row["status"] != "queued" or row["payload"] is None:
        return "gone" if row is None else str(row["status"])
    mail = json.loads(aead.decrypt(_mail_key(instance), bytes(row["payload"]),
                                   _MAIL_AAD + mail_id.encode()))
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = mail["to"]
    message["Subject"] = mail["subject"]
    message["Message-ID"] = f"<{mail_id}@kluis>"
    message.set_content(mail["body"])
    try:
        _smtp_send(settings.smtp_url, message)
    except (OSError, smtplib.SMTPException) as exc:
        attempts = int(row["attempts"]) + 1
        status = "failed" if attempts >= 5 else "queued"
        with instance.transaction() as tx:
            tx.execute("UPDATE mail_outbox SET attempts = ?, status = ?, last_error = ?,"
                       " payload = CASE WHEN ? = 'failed' THEN NULL ELSE payload END"
                       " WHERE id = ?", (attempts, status, type(exc).__name__, status, mail_id))
        return status
    with instance.transaction() as tx:
        tx.execute("UPDATE mail_outbox SET status = 'sent', sent_at = ?, payload = NULL,"
                   " attempts = attempts + 1 WHERE id = ? AND status = 'queued'",
                   (now_iso(), mail_id))
    return "sent"


def tls_context(url: str) -> ssl.SSLContext:
    """The TLS context for ``KLUIS_SMTP_URL``: the system's trusted CAs, or only the CA
    certificates in the PEM file the URL's ``cafile`` query parameter names
    (``smtp://relay.internal:587?cafile=/etc/kluis/relay-ca.pem``: a private CA, or a test
    server's own certificate). The server's certificate and host name are always checked."""
    cafile = parse_qs(urlsplit(url).query).get("cafile")
    return ssl.create_default_context(cafile=cafile[0] if cafile else None)


def _smtp_send(url: str, message: EmailMessage) -> None:
    """``smtp://`` with STARTTLS (required), ``smtps://`` (TLS), ``smtp+insecure://`` (no TLS:
    a loopback test server only)."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    context = tls_context(url)
    if parts.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, parts.port or 465, timeout=20,
                                                context=context)
    else:
        client = smtplib.SMTP(host, parts.port or 587, timeout=20)
    with client:
        if parts.scheme == "smtp":
            client.starttls(context=context)
        elif parts.scheme == "smtp+insecure" and host not in ("127.0.0.1", "localhost", "::1"):
            raise smtplib.SMTPException("smtp+insecure is for loopback test servers only")
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(message)


def purge_done_mails(tx: db.Connection, before: str) -> int:
    """Delete the mails queued before ``before`` that were sent or given up (their payload
    is gone already); how many. Queued ones stay."""
    return int(tx.execute("DELETE FROM mail_outbox WHERE status <> 'queued' AND created_at < ?",
                          (before,)).rowcount)


def mail_counts(conn: db.Connection) -> dict[str, int]:
    return {r["status"]: int(r["n"]) for r in conn.execute(
        "SELECT status, count(*) AS n FROM mail_outbox GROUP BY status")}
