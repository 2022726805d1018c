"""Organisations as OAuth 2.0 clients: registration (RFC 7591), metadata documents, client auth.

Two ways in: dynamic registration at this instance (open, or waiting for the
operator when ``KLUIS_ORG_REGISTRATION=approval``), or a client id that is the
https URL of a metadata document this instance fetches (SSRF-checked).
Client authentication: ``client_secret_basic`` / ``client_secret_post``
(only the secret's SHA-256 is kept) and ``private_key_jwt`` (RFC 7523).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization
from marshmallow import ValidationError
from redis import Redis

from vault import urlsafety
from vault.clock import from_iso, now_iso, utcnow
from vault.config import Settings
from vault.crypto import keys
from vault.grants import logos
from vault.grants.errors import OAuthError
from vault.grants.models import Organisation
from vault.grants.schemas import ClientMetadataSchema
from vault.grants.webhooks import webhook_uri_errors
from vault.records.service import flatten_errors
from vault.storage.instance import Instance

CLIENT_SECRET_PREFIX = "kluis_cs_"  # noqa: S105 - a prefix, not a secret
METADATA_CACHE = timedelta(hours=1)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_ALGORITHMS = ["ES256", "ES384", "RS256", "PS256", "EdDSA"]
PICKUP_GRANT_TYPE = "urn:kluis:params:oauth:grant-type:pickup"


@dataclass(frozen=True)
class ClientCredentials:
    """What a request carried to authenticate a client (parsed by the view)."""

    client_id: str | None
    secret: str | None = None
    method: str = "none"  # client_secret_basic | client_secret_post | private_key_jwt | none
    assertion: str | None = None


def parse_credentials(authorization: str | None, form: dict[str, str]) -> ClientCredentials:
    """Client credentials from an ``Authorization: Basic`` header or the form (RFC 6749 2.3)."""
    header = authorization or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            raw = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_client", "malformed Basic credentials", 401) from None
        user, sep, password = raw.partition(":")
        if not sep:
            raise OAuthError("invalid_client", "malformed Basic credentials", 401)
        return ClientCredentials(unquote(user), unquote(password), "client_secret_basic")
    if form.get("client_assertion"):
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise OAuthError("invalid_client", "unsupported client_assertion_type", 401)
        return ClientCredentials(form.get("client_id"), None, "private_key_jwt",
                                 form["client_assertion"])
    if form.get("client_secret"):
        return ClientCredentials(form.get("client_id"), form["client_secret"],
                                 "client_secret_post")
    return ClientCredentials(form.get("client_id"), None, "none")


def _url_errors(value: str | None, name: str, settings: Settings, *, required: bool) -> list[str]:
    """Problems with a URL an organisation registers (``[]`` when it is fine).

    https only, and, unless ``KLUIS_ALLOW_PRIVATE_URLS=1``, its host must be public by the
    rules of :func:`vault.urlsafety.check_url`: a literal address is judged as it is, a host
    name is resolved now and every address it resolves to must be public (no loopback,
    private, link-local or their IPv6 transition forms). A name that does not resolve is
    refused too: nothing could be fetched from it, and it may later resolve inward.
    """
    if not value:
        return [f"{name} is required."] if required else []
    parts = urlsplit(value)
    if settings.allow_private_urls:
        if parts.scheme in ("https", "http") and parts.hostname:
            return []
        return [f"{name} must be an https URL."]
    if parts.scheme != "https" or not parts.hostname:
        return [f"{name} must be an https URL."]
    try:
        urlsafety.check_url(value, allow_private=False)
    except urlsafety.UnsafeURL as exc:
        return [f"{name} is refused: {exc} (loopback, private and link-local targets are not"
                " accepted)."]
    return []


class Organisations:
    """The organisations this instance knows, and how they prove who they are."""

    def __init__(self, instance: Instance, redis: Redis, settings: Settings) -> None:
        self.instance = instance
        self.redis = redis
        self.settings = settings

    # -- metadata ---------------------------------------------------------------------------

    def _validate_metadata(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise OAuthError("invalid_client_metadata", "client metadata must be a JSON object")
        try:
            meta: dict[str, Any] = ClientMetadataSchema().load(data)
        except ValidationError as exc:
            raise OAuthError("invalid_client_metadata", "the client metadata is not valid",
                             errors=flatten_errors(exc.messages)) from None
        errors: dict[str, list[str]] = {}
        for name in ("client_uri", "logo_uri", "policy_uri", "jwks_uri"):
            problems = _url_errors(meta.get(name), name, self.settings,
                                   required=name == "client_uri")
            if problems:
                errors[name] = problems
        for i, uri in enumerate(meta["redirect_uris"]):
            parts = urlsplit(uri)
            if parts.fragment:
                errors[f"redirect_uris.{i}"] = ["A redirect URI has no fragment."]
            elif problems := _url_errors(uri, "A redirect URI", self.settings, required=True):
                errors[f"redirect_uris.{i}"] = problems
        errors.update(webhook_uri_errors(meta.get("kluis_webhook_uris"), self.settings))
        method = meta.get("token_endpoint_auth_method", "client_secret_basic")
        if method == "private_key_jwt" and not (meta.get("jwks") or meta.get("jwks_uri")):
            errors["jwks"] = ["private_key_jwt needs jwks or jwks_uri."]
        if meta.get("jwks"):
            try:
                KeySet.import_key_set(meta["jwks"])
            except (JoseError, ValueError, TypeError, KeyError):
                errors["jwks"] = ["Not a JWK set."]
        if set(meta.get("grant_types") or ["authorization_code"]) - {
            "authorization_code", PICKUP_GRANT_TYPE
        }:
            errors["grant_types"] = ["Only authorization_code (and pickup) are supported."]
        if set(meta.get("response_types") or ["code"]) - {"code"}:
            errors["response_types"] = ["Only the code response type is supported."]
        if errors:
            raise OAuthError("invalid_client_metadata", "the client metadata is not valid",
                             errors=errors)
        meta["token_endpoint_auth_method"] = method
        return meta

    def register(self, data: Any) -> tuple[dict[str, Any], str | None]:
        """RFC 7591 registration. Returns ``(client information response, secret or None)``."""
        meta = self._validate_metadata(data)
        meta.pop("client_id", None)
        if meta["token_endpoint_auth_method"] == "none":  # noqa: S105 - a method name
            raise OAuthError("invalid_client_metadata",
                             "registered organisations authenticate: use client_secret_basic "
                             "or private_key_jwt")
        client_id = "org_" + keys.new_token()[:22]
        secret = None
        secret_hash = None
        if meta["token_endpoint_auth_method"].startswith("client_secret"):
            secret = keys.new_token(CLIENT_SECRET_PREFIX)
            secret_hash = keys.token_hash(secret)
        status = "pending" if self.settings.org_registration == "approval" else "active"
        issued = now_iso()
        with self.instance.transaction() as tx:
            tx.execute(
                "INSERT INTO oauth_clients (client_id, source, secret_hash, metadata, status,"
                " domain_verified, created_at) VALUES (?, 'registered', ?, ?, ?, 0, ?)",
                (client_id, secret_hash, json.dumps(meta, sort_keys=True), status, issued),
            )
        logos.store_logo(self.instance, self.settings, client_id, meta.get("logo_uri"))
        response = dict(meta)
        response.update({
            "client_id": client_id,
            "client_id_issued_at": int(from_iso(issued).timestamp()),
            "grant_types": ["authorization_code", PICKUP_GRANT_TYPE],
            "response_types": ["code"],
            "kluis_status": status,
        })
        if secret:
            response["client_secret"] = secret
            response["client_secret_expires_at"] = 0
        return response, secret

    def set_status(self, client_id: str, status: str, *, domain_verified: bool | None = None
                   ) -> bool:
        """Operator action: approve (``active``), or disable an organisation."""
        if status not in ("active", "pending", "disabled"):
            raise ValueError(status)
        with self.instance.transaction() as tx:
            count: int = tx.execute("UPDATE oauth_clients SET status = ? WHERE client_id = ?",
                               (status, client_id)).rowcount
            if domain_verified is not None:
                tx.execute("UPDATE oauth_clients SET domain_verified = ? WHERE client_id = ?",
                           (int(domain_verified), client_id))
        return count > 0

    def list_clients(self) -> list[Organisation]:
        rows = self.instance.conn.execute(
            "SELECT * FROM oauth_clients ORDER BY created_at").fetchall()
        return [self._row_to_org(r) for r in rows]

    def _row_to_org(self, row: Any) -> Organisation:
        meta = json.loads(row["metadata"])
        return Organisation(
            client_id=row["client_id"],
            name=meta["client_name"],
            home_url=meta["client_uri"],
            logo_url=meta.get("logo_uri"),
            contacts=tuple(meta.get("contacts") or ()),
            redirect_uris=tuple(meta["redirect_uris"]),
            jwks_uri=meta.get("jwks_uri"),
            jwks=meta.get("jwks"),
            policy_url=meta.get("policy_uri"),
            auth_method=meta.get("token_endpoint_auth_method", "client_secret_basic"),
            source=row["source"],
            status=row["status"],
            domain_verified=bool(row["domain_verified"]),
            address=meta.get("address"),
        )

    def get(self, client_id: str | None, *, refresh: bool = False) -> Organisation:
        """The organisation with this client id; a metadata URL is fetched (and cached)."""
        if not client_id:
            raise OAuthError("invalid_request", "client_id is missing")
        row = self.instance.conn.execute(
            "SELECT * FROM oauth_clients WHERE client_id = ?", (client_id,)).fetchone()
        fresh = row is not None and (
            row["source"] == "registered"
            or (row["fetched_at"] and utcnow() - from_iso(row["fetched_at"]) < METADATA_CACHE)
        )
        if row is not None and fresh and not refresh:
            org = self._row_to_org(row)
        elif client_id.startswith(("https://", "http://")):
            org = self._fetch_metadata_document(client_id)
        else:
            raise OAuthError("invalid_client", "unknown client", 401)
        if org.status == "pending":
            raise OAuthError("unauthorized_client",
                             "this organisation waits for approval by the operator", 403)
        if org.status != "active":
            raise OAuthError("unauthorized_client", "this organisation is disabled", 403)
        return org

    def _fetch_metadata_document(self, client_id: str) -> Organisation:
        try:
            fetched = urlsafety.fetch(client_id, allow_private=self.settings.allow_private_urls)
        except urlsafety.UnsafeURL as exc:
            raise OAuthError("invalid_client", f"the client metadata URL cannot be used: {exc}",
                             401) from None
        if fetched.status != 200:
            raise OAuthError("invalid_client",
                             f"the client metadata URL answered {fetched.status}", 401)
        try:
            data = json.loads(fetched.body)
        except ValueError:
            raise OAuthError("invalid_client", "the client metadata is not JSON", 401) from None
        meta = self._validate_metadata(data)
        if meta.get("client_id") != client_id:
            raise OAuthError("invalid_client",
                             "the metadata document's client_id is not its own URL", 401)
        if meta["token_endpoint_auth_method"].startswith("client_secret"):
            raise OAuthError("invalid_client",
                             "a metadata-URL client uses private_key_jwt or none", 401)
        # The document came from the client id's host, so that host is verified; the home URL
        # counts as verified only when it is on that same host.
        verified = (urlsplit(meta["client_uri"]).hostname or "").lower() == (
            urlsplit(client_id).hostname or "").lower()
        now = now_iso()
        with self.instance.transaction() as tx:
            tx.execute(
                "INSERT INTO oauth_clients (client_id, source, metadata, status, domain_verified,"
                " created_at, fetched_at) VALUES (?, 'metadata-url', ?, 'active', ?, ?, ?)"
                " ON CONFLICT(client_id) DO UPDATE SET metadata = excluded.metadata,"
                " domain_verified = excluded.domain_verified, fetched_at = excluded.fetched_at",
                (client_id, json.dumps(meta, sort_keys=True), int(verified), now, now),
            )
        row = self.instance.conn.execute(
            "SELECT * FROM oauth_clients WHERE client_id = ?", (client_id,)).fetchone()
        return self._row_to_org(row)

    # -- authentication ---------------------------------------------------------------------

    def authenticate(self, creds: ClientCredentials, audiences: list[str]) -> Organisation:
        """Check the client's credentials; return the organisation. Raises ``invalid_client``."""
        client_id = creds.client_id
        if creds.method == "private_key_jwt" and not client_id:
            client_id = _unverified_issuer(creds.assertion or "")
        try:
            org = self.get(client_id)
        except OAuthError as exc:
            if exc.error == "invalid_request":
                raise OAuthError("invalid_client", "client authentication is missing", 401) from None
            raise
        expected = org.auth_method
        if creds.method != expected and not (
            expected.startswith("client_secret") and creds.method.startswith("client_secret")
        ):
            raise OAuthError("invalid_client",
                             f"this client authenticates with {expected}", 401)
        if creds.method.startswith("client_secret"):
            row = self.instance.conn.execute(
                "SELECT secret_hash FROM oauth_clients WHERE client_id = ?", (org.client_id,)
            ).fetchone()
            if row is None or not row["secret_hash"] or not keys.constant_time_equal(
                keys.token_hash(creds.secret or ""), row["secret_hash"]
            ):
                raise OAuthError("invalid_client", "client authentication failed", 401)
        elif creds.method == "private_key_jwt":
            self._verify_assertion(org, creds.assertion or "", audiences)
        return org

    def _keyset(self, org: Organisation) -> KeySet:
        if org.jwks:
            return KeySet.import_key_set(cast(KeySetSerialization, org.jwks))
        try:
            fetched = urlsafety.fetch(org.jwks_uri or "",
                                      allow_private=self.settings.allow_private_urls)
            return KeySet.import_key_set(json.loads(fetched.body))
        except (urlsafety.UnsafeURL, ValueError, JoseError, TypeError, KeyError) as exc:
            raise OAuthError("invalid_client", f"the client's keys cannot be read: {exc}",
                             401) from None

    def _verify_assertion(self, org: Organisation, assertion: str, audiences: list[str]) -> None:
        keyset = self._keyset(org)
        try:
            token = jwt.decode(assertion, keyset, algorithms=JWT_ALGORITHMS)
        except (JoseError, ValueError, TypeError) as exc:
            raise OAuthError("invalid_client", "the client assertion does not verify",
                             401) from exc
        claims = token.claims
        now = utcnow().timestamp()
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        problems = []
        if claims.get("iss") != org.client_id or claims.get("sub") != org.client_id:
            problems.append("iss and sub must be the client id")
        if not any(a in audiences for a in auds):
            problems.append("aud must name this server")
        exp = claims.get("exp")
        lifetime = exp - now if isinstance(exp, int | float) else 0.0
        if not isinstance(exp, int | float) or exp <= now or exp > now + 3600:
            problems.append("exp must be in the next hour")
        jti = claims.get("jti")
        if not jti or not isinstance(jti, str):
            problems.append("jti is required")
        if problems:
            raise OAuthError("invalid_client", "; ".join(problems), 401)
        key = "kluis:jti:" + keys.token_hash(f"{org.client_id}:{jti}")
        if not self.redis.set(key, b"1", nx=True, ex=max(int(lifetime) + 60, 60)):
            raise OAuthError("invalid_client", "the client assertion was used before", 401)


def _unverified_issuer(assertion: str) -> str | None:
    try:
        payload = assertion.split(".")[1]
        issuer = json.loads(keys.b64d(payload)).get("iss")
    except (IndexError, ValueError, AttributeError):
        return None
    return issuer if isinstance(issuer, str) else None
