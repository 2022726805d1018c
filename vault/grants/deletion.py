"""Deletion statements: the organisation's signed word that it deleted what it received. No Flask.

After ``grant.revoked`` or at the end of the promised retention, the organisation
sends ``POST /api/v1/grant/deletion`` (authenticated as the client) naming the
grant, with a compact JWS it signed:

- with its registered key (``jwks`` or ``jwks_uri``; ES256, RS256, PS256, EdDSA...), or
- when it has no key, HS256 with its client secret (the request authenticates with that
  secret, so it is at hand to verify; the instance keeps only its hash).

The payload: ``{"iss": client_id, "grant_id": G, "deleted_at": "2027-01-03", "iat": ...}``
(``deleted_at`` a date or an RFC 3339 date-time, not in the future).

A client registered with ``private_key_jwt`` may send the statement without any other client
authentication: then the statement is the authentication (:func:`authenticate`), and says in
addition ``sub`` (= ``iss``), an ``aud`` naming this instance, a fresh ``iat`` and a ``jti``
used once, as an RFC 7523 client assertion does.

Kluis verifies it (:func:`verify`), then seals it to the owner's vault inbox (the
owner's key is not at hand; see :mod:`vault.storage.vaults`): the next time the vault
opens, :func:`merge_item` stores it in ``deletion_statements`` and the grant page shows
it. A statement that does not verify is refused with :class:`StatementRefused` and
stored nowhere.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from vault.clock import from_iso, now_iso, to_iso, utcnow
from vault.crypto import keys
from vault.grants.errors import GrantError, NotFound, OAuthError
from vault.grants.models import Grant, Organisation, parse_duration
from vault.grants.organisations import ClientCredentials, Organisations, _unverified_issuer
from vault.storage import db
from vault.storage.instance import Instance
from vault.storage.vaults import VaultDB, seal_for_vault

KIND = "kluis.deletion-statement"
ASYMMETRIC = ["ES256", "ES384", "RS256", "PS256", "EdDSA"]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: How old the ``iat`` of a statement that authenticates its request may be (and how far
#: ahead of this instance's clock), and how long its ``jti`` is remembered.
FRESH = timedelta(minutes=10)
SKEW = timedelta(minutes=1)


class StatementRefused(GrantError):
    """The deletion statement does not verify or does not say what it must; nothing stored."""

    status = 422
    code = "deletion-statement-refused"


@dataclass(frozen=True)
class Statement:
    id: str
    grant_id: str
    client_id: str
    deleted_at: str
    received_at: str
    jws: str
    alg: str
    kid: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "grant_id": self.grant_id, "client_id": self.client_id,
                "deleted_at": self.deleted_at, "received_at": self.received_at,
                "alg": self.alg, "kid": self.kid}


def _header(compact: str) -> dict[str, Any]:
    from vault.crypto.keys import b64d

    try:
        header = json.loads(b64d(compact.split(".")[0]))
    except (ValueError, IndexError):
        raise StatementRefused("the statement is not a compact JWS") from None
    if not isinstance(header, dict):
        raise StatementRefused("the statement is not a compact JWS")
    return header


def authenticate(orgs: Organisations, compact: Any, audiences: list[str]
                 ) -> tuple[Organisation, ClientCredentials]:
    """The ``private_key_jwt`` organisation whose deletion statement authenticates the request
    by itself: it verifies with the registered key and carries ``iss`` = ``sub`` = client id,
    an ``aud`` in ``audiences``, an ``iat`` at most :data:`FRESH` old and a ``jti`` not used
    before (remembered in Redis with the client assertions' ``jti``). Raises
    ``OAuthError("invalid_client")`` (401) otherwise; the statement's own content is checked
    afterwards by :func:`verify`."""
    if not isinstance(compact, str) or not compact:
        raise OAuthError("invalid_client", "client authentication is missing", 401)
    if compact.count(".") != 2 or len(compact) > 16_384:
        raise OAuthError("invalid_client", "the statement is not a compact JWS", 401)
    client_id = _unverified_issuer(compact)
    if not client_id:
        raise OAuthError("invalid_client", "client authentication is missing", 401)
    org = orgs.get(client_id)
    if org.auth_method != "private_key_jwt":
        raise OAuthError("invalid_client", f"this client authenticates with {org.auth_method};"
                         " only a private_key_jwt client's statement authenticates by itself",
                         401)
    keyset = orgs._keyset(org)  # noqa: SLF001 - the one place client keys are read
    try:
        verified = jws.deserialize_compact(compact, keyset, algorithms=ASYMMETRIC)
        claims = json.loads(verified.payload)
    except (JoseError, ValueError, TypeError):
        raise OAuthError("invalid_client", "the statement does not verify with this "
                         "organisation's registered keys", 401) from None
    if not isinstance(claims, dict):
        raise OAuthError("invalid_client", "the statement's payload is not a JSON object", 401)
    now = utcnow().timestamp()
    aud = claims.get("aud")
    problems = []
    if claims.get("iss") != org.client_id or claims.get("sub") != org.client_id:
        problems.append("iss and sub must be the client id")
    if not any(a in audiences for a in (aud if isinstance(aud, list) else [aud])):
        problems.append("aud must name this instance")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool) or \
            not now - FRESH.total_seconds() <= iat <= now + SKEW.total_seconds():
        problems.append(f"iat must be within the last {int(FRESH.total_seconds() // 60)} "
                        "minutes")
    exp = claims.get("exp")
    if exp is not None and (not isinstance(exp, int | float) or exp <= now):
        problems.append("exp has passed")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 1 <= len(jti) <= 200:
        problems.append("jti is required")
    if problems:
        raise OAuthError("invalid_client", "; ".join(problems), 401)
    seen = "kluis:jti:" + keys.token_hash(f"{org.client_id}:{jti}")
    if not orgs.redis.set(seen, b"1", nx=True, ex=int((FRESH + SKEW).total_seconds()) + 60):
        raise OAuthError("invalid_client", "this statement was sent before (jti)", 401)
    return org, ClientCredentials(org.client_id, None, "private_key_jwt", compact)


def verify(orgs: Organisations, org: Organisation, creds: ClientCredentials, grant_id: str,
           compact: str) -> tuple[dict[str, Any], str, str | None]:
    """The statement's claims, algorithm and key id, if it verifies with the organisation's
    registered key (or its client secret, HS256). Raises :class:`StatementRefused`."""
    if not isinstance(compact, str) or compact.count(".") != 2 or len(compact) > 16_384:
        raise StatementRefused("the statement is not a compact JWS")
    header = _header(compact)
    alg = header.get("alg")
    if alg == "HS256":
        if not creds.method.startswith("client_secret") or not creds.secret:
            raise StatementRefused("an HS256 statement needs the client secret as the "
                                   "request's authentication")
        key: Any = OctKey.import_key(creds.secret.encode())
        algorithms = ["HS256"]
    elif alg in ASYMMETRIC:
        if not (org.jwks or org.jwks_uri):
            raise StatementRefused("this organisation registered no keys; sign with HS256 and "
                                   "the client secret")
        try:
            key = orgs._keyset(org)  # noqa: SLF001 - the one place client keys are read
        except OAuthError as exc:
            raise StatementRefused(exc.description) from None
        algorithms = ASYMMETRIC
    else:
        raise StatementRefused(f"unsupported algorithm {alg!r}")
    try:
        verified = jws.deserialize_compact(compact, key, algorithms=algorithms)
    except (JoseError, ValueError, TypeError):
        raise StatementRefused(
            "the statement's signature does not verify with this organisation's registered "
            "key" + (" (client secret)" if alg == "HS256" else "s")) from None
    try:
        claims = json.loads(verified.payload)
    except ValueError:
        raise StatementRefused("the statement's payload is not JSON") from None
    if not isinstance(claims, dict):
        raise StatementRefused("the statement's payload is not a JSON object")
    problems: dict[str, list[str]] = {}
    if claims.get("iss") != org.client_id:
        problems["iss"] = ["Must be your client_id."]
    if claims.get("grant_id") != grant_id:
        problems["grant_id"] = ["Must name the grant this request names."]
    deleted_at = claims.get("deleted_at")
    try:
        moment = from_iso(deleted_at + "T00:00:00Z" if isinstance(deleted_at, str)
                          and _DATE.match(deleted_at) else str(deleted_at))
        if moment > utcnow() + timedelta(minutes=5):
            problems["deleted_at"] = ["Not in the future."]
    except ValueError:
        problems["deleted_at"] = ["A date (2027-01-03) or an RFC 3339 date-time."]
    if problems:
        raise StatementRefused("the statement does not say what it must", problems)
    kid = header.get("kid")
    return claims, str(alg), kid if isinstance(kid, str) else None


def submit(instance: Instance, orgs: Organisations, org: Organisation,
           creds: ClientCredentials, grant_id: str, compact: str) -> dict[str, Any]:
    """Verify the statement and seal it to the owner's vault inbox; what was accepted."""
    row = instance.conn.execute(
        "SELECT vault_id FROM grant_watch WHERE grant_id = ? AND client_id = ?",
        (grant_id, org.client_id)).fetchone()
    if row is None or not row["vault_id"]:
        raise NotFound("no such grant of this organisation")
    claims, alg, kid = verify(orgs, org, creds, grant_id, compact)
    statement_id = hashlib.sha256(compact.encode()).hexdigest()[:32]
    received = now_iso()
    seal_for_vault(instance, row["vault_id"], f"org:{org.client_id}", {
        "kind": KIND, "item_key": f"deletion:{statement_id}", "id": statement_id,
        "grant_id": grant_id, "client_id": org.client_id,
        "deleted_at": str(claims["deleted_at"]), "received_at": received, "jws": compact,
        "organisation": org.name,
        "alg": alg, "kid": kid,
    })
    return {"id": statement_id, "grant_id": grant_id, "deleted_at": str(claims["deleted_at"]),
            "received_at": received, "status": "accepted"}


def merge_item(vault: VaultDB, tx: db.Connection, payload: dict[str, Any], summary: Any) -> None:
    """Inbox handler (kind :data:`KIND`): store the statement in the vault, note it in the log.
    The statement was verified before it was sealed; the inbox is only writable by this
    instance."""
    tx.execute(
        "INSERT OR IGNORE INTO deletion_statements (id, grant_id, client_id, deleted_at,"
        " received_at, jws, alg, kid) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (payload["id"], payload["grant_id"], payload["client_id"], payload["deleted_at"],
         payload["received_at"], payload["jws"], payload["alg"], payload.get("kid")))
    vault.append_event(tx, actor=f"org:{payload['client_id']}", action="grant.deletion-stated",
                       grant_id=payload["grant_id"],
                       detail={"deleted_at": payload["deleted_at"]})
    from vault.grants import notifications

    notifications.notify(vault.instance, tx, kind=notifications.DELETION_RECEIVED,
                         group_key=f"deletion:{payload['id']}", grant_id=payload["grant_id"],
                         detail={"organisation": payload.get("organisation")})


def statements(conn: db.Connection, grant_id: str) -> list[Statement]:
    rows = conn.execute("SELECT * FROM deletion_statements WHERE grant_id = ?"
                        " ORDER BY received_at", (grant_id,)).fetchall()
    return [Statement(r["id"], r["grant_id"], r["client_id"], r["deleted_at"], r["received_at"],
                      r["jws"], r["alg"], r["kid"]) for r in rows]


def retention_end(grant: Grant) -> str | None:
    """When the promised retention ends: the grant's end (revocation or expiry) plus its
    retention; None while the grant is active."""
    ended = grant.revoked_at or (grant.expiry.expires_at if grant.expiry else None)
    if ended is None or (grant.status == "active" and from_iso(ended) > utcnow()):
        return None
    return to_iso(from_iso(ended) + parse_duration(grant.retention))


def state(conn: db.Connection, grant: Grant) -> dict[str, Any]:
    """What the grant page says: the statements, and whether the retention passed without one."""
    found = statements(conn, grant.id)
    end = retention_end(grant)
    return {"statements": found, "retention_ends_at": end,
            "overdue": not found and end is not None and end <= now_iso()}

