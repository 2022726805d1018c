"""The portal as an ordinary OAuth 2.0 client of a Kluis instance (Authlib underneath).

Discovery (RFC 8414), registration once per instance (RFC 7591, with the portal's own ES256
key in ``jwks`` for its deletion statements and ``kluis_webhook_uris``), pushed authorization
requests (RFC 9126) with RFC 9396 details and PKCE, the code exchange, the one read of records
and documents, the request status, webhooks (RFC 9421, verified with the instance's JWKS) and
deletion statements. Every URL is checked by :mod:`vault.urlsafety` before it is fetched.

The portal authenticates with ``private_key_jwt`` (RFC 7523, Authlib's ``PrivateKeyJWT``)
and its own ES256 key: at PAR, the token endpoint, introspection and the form ``POST`` of the
request status; its deletion statement is its own client authentication (docs/api.md). A
registration made by an earlier portal with ``client_secret_basic`` keeps using its secret.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from http_message_signatures import (
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from joserfc import jws
from joserfc.jwk import ECKey

from vault import urlsafety
from vault.clock import now_iso, utcnow
from vault.crypto import signing
from vault.portal.config import PortalSettings
from vault.portal.store import Store

log = logging.getLogger("kluis.portal")

WEBHOOK_PATH = "/hooks/kluis"
CALLBACK_PATH = "/callback"
AUTH_METHOD = "private_key_jwt"
SECRET_METHOD = "client_secret_basic"  # noqa: S105 - a method name (registrations made before)
ASSERTION_SECONDS = 300
WEBHOOK_COMPONENTS = ("@method", "@target-uri", "content-digest", "date")


class InstanceError(RuntimeError):
    """A Kluis instance could not be reached or answered something unusable (plain words)."""


@dataclass(frozen=True)
class Registration:
    issuer: str
    metadata: dict[str, Any]
    client_id: str
    auth_method: str = AUTH_METHOD
    client_secret: str | None = None  # client_secret_basic registrations only


class _PortalKeyJWT(PrivateKeyJWT):
    """Authlib's ``PrivateKeyJWT`` (ES256, the portal's ``kid``), with ``iat`` from
    :func:`vault.clock.utcnow` (the clock every other date of the portal comes from) and a
    lifetime of :data:`ASSERTION_SECONDS`; a new ``jti`` each time, as Authlib makes it."""

    alg = "ES256"

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return str(private_key_jwt_sign(
            auth.client_secret, client_id=auth.client_id, token_endpoint=token_endpoint,
            alg=self.alg, header=dict(self.headers or {}),
            issued_at=int(utcnow().timestamp()), expires_in=ASSERTION_SECONDS))


def normalise_instance(url: str) -> str:
    """An instance URL as typed by a person: scheme added, no path, no trailing slash."""
    text = (url or "").strip()
    if text and "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InstanceError("Dit is geen adres van een Kluis.")
    return f"{parts.scheme}://{parts.netloc}".rstrip("/")


class PortalClient:
    """What the portal asks of Kluis instances, with its registrations kept in portal.db."""

    def __init__(self, settings: PortalSettings, store: Store) -> None:
        self.settings = settings
        self.store = store

    # -- the portal's own key ------------------------------------------------------------------

    def signing_key(self) -> dict[str, Any]:
        """The portal's ES256 private JWK (made on first use, kept wrapped in portal.db)."""
        row = self.store.conn.execute(
            "SELECT kid, wrapped_jwk FROM signing_keys ORDER BY created_at LIMIT 1").fetchone()
        if row is not None:
            return dict(json.loads(self.store.unwrap("signing-key", bytes(row["wrapped_jwk"]),
                                                     row["kid"])))
        jwk = signing.new_signing_key()
        with self.store.transaction() as tx:
            tx.execute("INSERT INTO signing_keys (kid, wrapped_jwk, created_at) VALUES (?, ?, ?)",
                       (jwk["kid"], self.store.wrap("signing-key", json.dumps(jwk).encode(),
                                                    jwk["kid"]), now_iso()))
        return jwk

    # -- discovery and registration ------------------------------------------------------------

    def _fetch_json(self, url: str) -> dict[str, Any]:
        try:
            got = urlsafety.fetch(url, allow_private=self.settings.allow_private_urls,
                                  timeout=self.settings.http_timeout_seconds)
        except urlsafety.UnsafeURL as exc:
            # The reason (a socket or address error, in English) goes to the log, not the page.
            log.info("instance %s not reachable: %s", url, exc)
            raise InstanceError("De Kluis op dit adres is niet bereikbaar.") from None
        if got.status != 200:
            raise InstanceError("Op dit adres staat geen Kluis.")
        try:
            value = json.loads(got.body)
        except ValueError:
            raise InstanceError("Op dit adres staat geen Kluis.") from None
        if not isinstance(value, dict):
            raise InstanceError("Op dit adres staat geen Kluis.")
        return value

    def discover(self, instance_url: str) -> dict[str, Any]:
        """The instance's RFC 8414 metadata; its ``issuer`` must be the URL asked."""
        base = normalise_instance(instance_url)
        meta = self._fetch_json(base + "/.well-known/oauth-authorization-server")
        if str(meta.get("issuer", "")).rstrip("/") != base:
            raise InstanceError("Deze Kluis noemt zich anders dan haar adres.")
        for member in ("pushed_authorization_request_endpoint", "token_endpoint",
                       "registration_endpoint", "authorization_endpoint"):
            if not isinstance(meta.get(member), str):
                raise InstanceError("Deze Kluis ondersteunt wat het portaal nodig heeft niet.")
        if "kluis_records" not in (meta.get("authorization_details_types_supported") or []):
            raise InstanceError("Deze Kluis ondersteunt wat het portaal nodig heeft niet.")
        return meta

    def client_metadata(self) -> dict[str, Any]:
        base = self.settings.public_url
        meta: dict[str, Any] = {
            "client_name": self.settings.name,
            "client_uri": self.settings.organisation_uri,
            "redirect_uris": [base + CALLBACK_PATH],
            "token_endpoint_auth_method": AUTH_METHOD,
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "jwks": {"keys": [signing.public_jwk(self.signing_key())]},
            "kluis_webhook_uris": [base + WEBHOOK_PATH],
        }
        if self.settings.logo:
            meta["logo_uri"] = self.settings.logo
        return meta

    def registration(self, issuer: str) -> Registration | None:
        row = self.store.conn.execute("SELECT * FROM registrations WHERE issuer = ?",
                                      (issuer,)).fetchone()
        if row is None:
            return None
        secret = None
        if row["wrapped_secret"] is not None:
            secret = self.store.unwrap("client-secret", bytes(row["wrapped_secret"]),
                                       issuer).decode()
        return Registration(issuer, json.loads(row["metadata"]), row["client_id"],
                            row["auth_method"], secret)

    def registration_by_client(self, client_id: str) -> Registration | None:
        row = self.store.conn.execute("SELECT issuer FROM registrations WHERE client_id = ?",
                                      (client_id,)).fetchone()
        return self.registration(row["issuer"]) if row else None

    def ensure_registered(self, instance_url: str) -> Registration:
        """The portal's registration at this instance, registering (RFC 7591) the first time."""
        meta = self.discover(instance_url)
        issuer = str(meta["issuer"]).rstrip("/")
        known = self.registration(issuer)
        if known is not None:
            return known
        endpoint = str(meta["registration_endpoint"])
        self._check(endpoint)
        try:
            resp = requests.post(endpoint, json=self.client_metadata(),
                                 timeout=self.settings.http_timeout_seconds)
        except requests.RequestException as exc:
            raise InstanceError(f"Aanmelden bij deze Kluis lukte niet ({type(exc).__name__}).") \
                from None
        if resp.status_code != 201:
            raise InstanceError(f"Deze Kluis weigerde het portaal ({resp.status_code}).")
        body = resp.json()
        if body.get("token_endpoint_auth_method", AUTH_METHOD) != AUTH_METHOD:
            raise InstanceError("Deze Kluis aanvaardt de sleutel van het portaal niet.")
        token = body.get("registration_access_token")
        with self.store.transaction() as tx:
            tx.execute("INSERT OR IGNORE INTO registrations (issuer, metadata, client_id,"
                       " auth_method, wrapped_registration_token, registration_client_uri,"
                       " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (issuer, json.dumps(meta), body["client_id"], AUTH_METHOD,
                        self.store.wrap("registration-token", token.encode(), issuer)
                        if token else None, body.get("registration_client_uri"), now_iso()))
        registered = self.registration(issuer)
        assert registered is not None  # noqa: S101 - inserted just now
        return registered

    def _check(self, url: str) -> None:
        try:
            urlsafety.check_url(url, allow_private=self.settings.allow_private_urls)
        except urlsafety.UnsafeURL as exc:
            log.info("instance names an address the portal does not use: %s", exc)
            raise InstanceError("Deze Kluis noemt een adres dat het portaal niet gebruikt.") \
                from None

    def _session(self, reg: Registration) -> OAuth2Session:
        """An Authlib session that authenticates as the portal at ``reg``'s instance."""
        redirect_uri = self.settings.public_url + CALLBACK_PATH
        if reg.auth_method != AUTH_METHOD:
            return OAuth2Session(reg.client_id, reg.client_secret,
                                 token_endpoint_auth_method=reg.auth_method,
                                 redirect_uri=redirect_uri)
        jwk = self.signing_key()
        session = OAuth2Session(reg.client_id, ECKey.import_key(jwk),
                                token_endpoint_auth_method=AUTH_METHOD,
                                redirect_uri=redirect_uri)
        session.register_client_auth_method(_PortalKeyJWT(headers={"kid": jwk["kid"]}))
        return session

    def _post(self, reg: Registration, url: str, data: dict[str, str]) -> requests.Response:
        """A form POST to ``url`` with the portal's client authentication (its assertion's
        ``aud`` is ``url``)."""
        self._check(url)
        session = self._session(reg)
        try:
            return session.post(url, data=data, withhold_token=True,
                                auth=session.client_auth(reg.auth_method),
                                timeout=self.settings.http_timeout_seconds)
        finally:
            session.close()

    # -- asking ---------------------------------------------------------------------------------

    def push(self, reg: Registration, details: list[dict[str, Any]]) -> dict[str, Any]:
        """PAR with ``details`` and a fresh PKCE pair and state. Returns ``request_uri``,
        ``authorize_url``, ``state`` and ``code_verifier`` (kept by the caller, wrapped)."""
        verifier = generate_token(64)
        state = secrets.token_urlsafe(24)
        endpoint = str(reg.metadata["pushed_authorization_request_endpoint"])
        try:
            resp = self._post(reg, endpoint, {
                "response_type": "code", "client_id": reg.client_id,
                "redirect_uri": self.settings.public_url + CALLBACK_PATH, "state": state,
                "code_challenge": create_s256_code_challenge(verifier),
                "code_challenge_method": "S256",
                "authorization_details": json.dumps(details)})
        except requests.RequestException as exc:
            raise InstanceError(f"De Kluis gaf geen antwoord ({type(exc).__name__}).") from None
        if resp.status_code != 201:
            raise InstanceError(f"De Kluis weigerde het verzoek ({resp.status_code}: "
                                f"{_error_of(resp)}).")
        body = resp.json()
        authorize = str(reg.metadata["authorization_endpoint"])
        session = self._session(reg)
        url, _ = session.create_authorization_url(authorize, request_uri=body["request_uri"])
        session.close()
        return {"request_uri": body["request_uri"], "authorize_url": url, "state": state,
                "code_verifier": verifier}

    def exchange(self, reg: Registration, code: str, verifier: str) -> dict[str, Any]:
        """The token response for ``code`` (grant id, granted details, consent receipt)."""
        endpoint = str(reg.metadata["token_endpoint"])
        self._check(endpoint)
        session = self._session(reg)
        try:
            token = session.fetch_token(endpoint, grant_type="authorization_code", code=code,
                                        code_verifier=verifier,
                                        timeout=self.settings.http_timeout_seconds)
        except Exception as exc:  # noqa: BLE001 - authlib raises its own errors and requests'
            raise InstanceError(f"De toestemming kon niet worden opgehaald "
                                f"({type(exc).__name__}).") from None
        finally:
            session.close()
        return dict(token)

    def read(self, reg: Registration, access_token: str) -> tuple[list[dict[str, Any]],
                                                                   dict[str, bytes]]:
        """The granted records and every granted document's bytes (checked against sha256)."""
        issuer = reg.issuer
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {access_token}"
        try:
            resp = session.get(issuer + "/api/v1/grant/records",
                               timeout=self.settings.http_timeout_seconds)
            if resp.status_code != 200:
                raise InstanceError(f"De gegevens konden niet worden gelezen ({resp.status_code}).")
            records = list(resp.json()["records"])
            documents: dict[str, bytes] = {}
            for record in records:
                url = record.get("download_url")
                if record.get("type") != "document" or not url:
                    continue
                if not str(url).startswith(issuer + "/"):
                    raise InstanceError("Een document staat op een ander adres dan de Kluis.")
                got = session.get(url, timeout=self.settings.http_timeout_seconds)
                if got.status_code != 200:
                    raise InstanceError(f"Een document kon niet worden gelezen ({got.status_code}).")
                expected = (record.get("data") or {}).get("sha256")
                if expected and hashlib.sha256(got.content).hexdigest() != expected:
                    raise InstanceError("Een document komt niet overeen met zijn vingerafdruk.")
                documents[str(record["id"])] = got.content
            return records, documents
        except requests.RequestException as exc:
            raise InstanceError(f"De Kluis gaf geen antwoord ({type(exc).__name__}).") from None
        finally:
            session.close()

    def jwks(self, issuer: str) -> list[dict[str, Any]]:
        meta = self.registration(issuer)
        uri = (meta.metadata.get("jwks_uri") if meta else None) or \
            issuer + "/.well-known/jwks.json"
        if not str(uri).startswith(issuer + "/"):
            raise InstanceError("De sleutels van deze Kluis staan op een ander adres.")
        return list(self._fetch_json(str(uri)).get("keys") or [])

    def verify_receipt(self, issuer: str, receipt: dict[str, Any]) -> dict[str, Any]:
        """The consent receipt's payload if its JWS verifies with the instance's keys."""
        payload, _header = signing.verify_json(receipt, self.jwks(issuer))
        return dict(payload)

    def request_status(self, reg: Registration, request_uri: str) -> dict[str, Any] | None:
        """Where a pushed request stands (``POST /api/v1/requests/status``); None when the
        instance did not answer it."""
        try:
            resp = self._post(reg, reg.issuer + "/api/v1/requests/status",
                              {"request_uri": request_uri})
        except (requests.RequestException, InstanceError):
            return None
        return dict(resp.json()) if resp.status_code == 200 else None

    def introspect(self, reg: Registration, access_token: str) -> dict[str, Any] | None:
        """RFC 7662 introspection of the access token, with the instance's
        ``Kluis-Inactive-Reason`` as ``_reason``; None when it did not answer."""
        endpoint = reg.metadata.get("introspection_endpoint")
        if not isinstance(endpoint, str):
            return None
        try:
            resp = self._post(reg, endpoint, {"token": access_token})
        except (requests.RequestException, InstanceError):
            return None
        if resp.status_code != 200:
            return None
        out = dict(resp.json())
        out["_reason"] = resp.headers.get("Kluis-Inactive-Reason", "")
        return out

    # -- deletion statements ---------------------------------------------------------------------

    def deletion_statement(self, reg: Registration, grant_id: str,
                           deleted_at: str | None = None) -> str:
        """A compact JWS (ES256, the registered key) saying the grant's data was deleted (on
        ``deleted_at``, a date; today by default). It is also the request's client
        authentication (``sub``, ``aud`` = the instance, ``iat`` now, a new ``jti``), so a
        new one is signed for every attempt."""
        jwk = self.signing_key()
        key = ECKey.import_key(jwk)
        now = utcnow()
        claims = {"iss": reg.client_id, "sub": reg.client_id, "aud": reg.issuer,
                  "grant_id": grant_id, "deleted_at": deleted_at or now.date().isoformat(),
                  "iat": int(now.timestamp()), "jti": secrets.token_urlsafe(18)}
        return jws.serialize_compact({"alg": "ES256", "kid": jwk["kid"]},
                                     json.dumps(claims).encode(), key, algorithms=["ES256"])

    def send_deletion(self, reg: Registration, grant_id: str, statement: str) -> str:
        """POST the statement; ``accepted`` or a short reason why not (to retry later)."""
        url = reg.issuer + "/api/v1/grant/deletion"
        auth = (reg.client_id, reg.client_secret) if reg.client_secret else None
        try:
            self._check(url)
            resp = requests.post(url, auth=auth,
                                 json={"grant_id": grant_id, "statement": statement},
                                 timeout=self.settings.http_timeout_seconds)
        except InstanceError as exc:
            return f"unreachable: {exc}"[:200]
        except requests.RequestException as exc:
            return f"unreachable: {type(exc).__name__}"
        if resp.status_code == 201:
            return "accepted"
        return f"refused: {resp.status_code}"

    # -- webhooks --------------------------------------------------------------------------------

    def verify_webhook(self, method: str, url: str, headers: dict[str, str], body: bytes,
                       ) -> tuple[Registration, dict[str, Any]]:
        """The registration and event of a signed webhook; :class:`InvalidSignature` if the
        RFC 9421 signature (and Content-Digest) does not hold with the sending instance's keys."""
        try:
            event = json.loads(body)
        except ValueError:
            raise InvalidSignature("the body is not JSON") from None
        if not isinstance(event, dict):
            raise InvalidSignature("the body is not an event")
        reg = self.registration_by_client(str(event.get("client_id", "")))
        if reg is None:
            raise InvalidSignature("no registration for this client id")
        keys = self.jwks(reg.issuer)

        class Keys(HTTPSignatureKeyResolver):
            def resolve_public_key(self, key_id: str) -> Any:
                found = [k for k in keys if k.get("kid") == key_id]
                if not found:
                    raise InvalidSignature("unknown key")
                return ECKey.import_key(found[0]).public_key

        message = _Message(method, url, headers)
        HTTPMessageVerifier(signature_algorithm=algorithms.ECDSA_P256_SHA256,
                            key_resolver=Keys()).verify(
            message, body=body, require_components=WEBHOOK_COMPONENTS,
            max_age=timedelta(minutes=15))
        return reg, event


class _Message:
    """What http-message-signatures reads of a request: method, url and headers."""

    def __init__(self, method: str, url: str, headers: dict[str, str]) -> None:
        self.method = method
        self.url = url
        self.headers = requests.structures.CaseInsensitiveDict(headers)


def _error_of(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return "?"
    return str(body.get("error") or body.get("type") or "?")
