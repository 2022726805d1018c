"""The OAuth 2.0 side of grants: what organisations call. Imports no Flask.

Authorization requests (authorization code + PKCE, RFC 9396
``authorization_details``), pushed requests (RFC 9126), binding a request to
the vault of the owner who opened it, the token endpoint (authorization codes
and pickup codes, see :mod:`vault.grants.codes`), introspection (RFC 7662) and
revocation by the organisation (RFC 7009). The owner's decisions are
:mod:`vault.grants.consent`; reads are :mod:`vault.grants.redemption`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from vault.clock import from_iso, now_iso, to_iso, utcnow
from vault.config import Settings
from vault.crypto import keys
from vault.crypto.errors import CryptoError
from vault.grants import codes, events, notifications, repository
from vault.grants.consent import Consent
from vault.grants.errors import InvalidToken, OAuthError
from vault.grants.models import DataRequest
from vault.grants.organisations import PICKUP_GRANT_TYPE, Organisations
from vault.grants.redemption import Redemption
from vault.grants.schemas import InvalidDetails, parse_authorization_details
from vault.storage import db
from vault.storage.instance import Instance
from vault.storage.vaults import VaultDB

log = logging.getLogger("kluis.grants")

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class PushedRequest:
    request_uri: str
    ref: str
    expires_in: int


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE code verifier (RFC 7636 section 4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()


def ref_of(request_uri: str) -> str:
    """The reference inside a ``request_uri`` this server handed out."""
    if not request_uri or not request_uri.startswith(REQUEST_URI_PREFIX):
        raise OAuthError("invalid_request_uri", "not a request_uri from this server")
    return request_uri[len(REQUEST_URI_PREFIX):]


def parse_link(link: str) -> dict[str, Any]:
    """The parameters of an authorize URL or short link the owner pasted."""
    parts = urlsplit((link or "").strip())
    query = dict(parse_qsl(parts.query))
    match = re.search(r"/r/([A-Za-z0-9_-]{16,64})$", parts.path)
    if match:
        return {"request_uri": REQUEST_URI_PREFIX + match.group(1)}
    if not parts.path.endswith("/oauth/authorize"):
        raise OAuthError("invalid_request", "not an authorization link of this server")
    return query


class OAuth:
    """The authorization, pushed request, token, introspection and revocation endpoints' work."""

    def __init__(self, instance: Instance, settings: Settings, orgs: Organisations,
                 consent: Consent, reads: Redemption) -> None:
        self.instance = instance
        self.settings = settings
        self.orgs = orgs
        self.consent = consent
        self.reads = reads

    @property
    def issuer(self) -> str:
        return self.settings.public_url

    @property
    def request_lifetime(self) -> timedelta:
        return timedelta(hours=self.settings.request_lifetime_hours)

    # -- authorization requests -------------------------------------------------------------

    def validate_authorization_request(self, org_client_id: str | None, params: dict[str, Any]
                                       ) -> dict[str, Any]:
        """Check an authorization request's parameters; return them normalised.

        Raises :class:`OAuthError` (``invalid_request``, ``invalid_authorization_details``...).
        """
        client_id = params.get("client_id") or org_client_id
        if org_client_id and params.get("client_id") and params["client_id"] != org_client_id:
            raise OAuthError("invalid_request", "client_id does not match the authenticated client")
        org = self.orgs.get(client_id)
        if params.get("request_uri"):
            raise OAuthError("invalid_request", "request_uri is not allowed here")
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "response_type must be code")
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            if len(org.redirect_uris) != 1:
                raise OAuthError("invalid_request", "redirect_uri is required")
            redirect_uri = org.redirect_uris[0]
        if redirect_uri not in org.redirect_uris:
            raise OAuthError("invalid_request", "redirect_uri is not registered for this client")
        if params.get("code_challenge_method") != "S256":
            raise OAuthError("invalid_request", "PKCE with code_challenge_method=S256 is required")
        challenge = params.get("code_challenge") or ""
        if not _CHALLENGE.match(challenge):
            raise OAuthError("invalid_request", "code_challenge is not an S256 challenge")
        state = params.get("state")
        if state is not None and len(state) > 500:
            raise OAuthError("invalid_request", "state is too long")
        try:
            requested = parse_authorization_details(params.get("authorization_details"))
        except InvalidDetails as exc:
            raise OAuthError("invalid_authorization_details", str(exc),
                             errors=exc.errors) from None
        return {
            "client_id": org.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": challenge,
            "authorization_details": requested.to_detail() | {
                "records": [
                    {"record_type": t, "fields": list(f), **requested.narrowing_of(t)}
                    if requested.narrowed[t]
                    else {"record_type": t, **requested.narrowing_of(t)}
                    for t, f in requested.fields.items()
                ]
            },
        }

    def push(self, client_id: str, params: dict[str, Any]) -> PushedRequest:
        """RFC 9126: store a validated request; return its ``request_uri``."""
        clean = self.validate_authorization_request(client_id, params)
        ref = keys.new_token()[:32]
        lifetime = self.request_lifetime
        with self.instance.transaction() as tx:
            created, until = now_iso(), to_iso(utcnow() + lifetime)
            repository.insert_pushed_request(
                tx, ref_hash=keys.token_hash(ref), client_id=clean["client_id"], params=clean,
                created_at=created, expires_at=until)
            events.request_pushed(tx, ref_hash=keys.token_hash(ref),
                                  client_id=clean["client_id"], created_at=created,
                                  expires_at=until)
        return PushedRequest(REQUEST_URI_PREFIX + ref, ref, int(lifetime.total_seconds()))

    def pushed(self, ref: str) -> dict[str, Any] | None:
        """A pushed request by its reference, if it is still waiting (not bound, not expired)."""
        row = repository.pushed_request(self.instance.conn, keys.token_hash(ref))
        if row is None or row["expires_at"] <= now_iso():
            return None
        params: dict[str, Any] = json.loads(row["params"])
        return params

    def bind(self, vault: VaultDB, params: dict[str, Any]) -> DataRequest:
        """The owner opened a request: store it in their vault (and forget it in the instance).

        ``params`` are authorize parameters: either ``request_uri`` (+ ``client_id``) of a
        pushed request, or a full request.
        """
        if params.get("request_uri"):
            ref = ref_of(params["request_uri"])
            ref_hash = keys.token_hash(ref)
            with self.instance.transaction() as tx:
                row = repository.pushed_request(tx, ref_hash)
                if row is None or row["expires_at"] <= now_iso():
                    raise OAuthError("invalid_request_uri",
                                     "this request is unknown, expired or was opened already")
                if params.get("client_id") and params["client_id"] != row["client_id"]:
                    raise OAuthError("invalid_request", "client_id does not match the request")
                clean = json.loads(row["params"])
                repository.delete_pushed_request(tx, ref_hash)
                events.request_opened(tx, ref_hash, params["request_uri"])
            expires_at = row["expires_at"]
        else:
            ref_hash = None
            clean = self.validate_authorization_request(None, params)
            expires_at = to_iso(utcnow() + self.request_lifetime)
        org = self.orgs.get(clean["client_id"])
        request_id = os.urandom(12).hex()
        with vault.transaction() as tx:
            repository.insert_oauth_request(
                tx, request_id=request_id, organisation=org.summary(),
                details=clean["authorization_details"], redirect_uri=clean["redirect_uri"],
                state=clean["state"], code_challenge=clean["code_challenge"],
                received_at=now_iso(), expires_at=expires_at)
            if ref_hash is not None:
                events.remember_request(tx, request_id=request_id, ref_hash=ref_hash,
                                        client_id=org.client_id)
            notifications.notify(self.instance, tx, kind=notifications.REQUEST_WAITING,
                                 group_key=f"request:{request_id}",
                                 detail={"organisation": org.name})
            vault.append_event(
                tx, actor=f"org:{org.client_id}", action="request.received",
                detail={"request": request_id, "organisation": org.name,
                        "purpose": clean["authorization_details"]["purpose"]},
            )
        return self.consent.get_request(vault, request_id)

    # -- token endpoint ---------------------------------------------------------------------

    def exchange(self, client_id: str, grant_type: str, form: dict[str, str]) -> dict[str, Any]:
        """Token endpoint core (client already authenticated as ``client_id``)."""
        if grant_type == "authorization_code":
            kind = "authorization_code"
        elif grant_type == PICKUP_GRANT_TYPE:
            kind = "pickup"
        else:
            raise OAuthError("unsupported_grant_type", "use authorization_code or pickup")
        code = form.get("code") or ""
        code_hash = keys.token_hash(code)
        replayed = False
        with self.instance.transaction() as tx:
            row = repository.code(tx, code_hash, kind)
            if row is None:
                replayed = self._revoke_replayed(tx, code_hash)
            elif row["client_id"] == client_id:
                # One attempt per code: a wrong verifier also uses it up.
                repository.delete_code(tx, code_hash)
                self._remember_used(tx, code, code_hash, row)
        if replayed:
            raise OAuthError("invalid_grant",
                             "the code was used already; the token it issued is revoked")
        if row is None or row["client_id"] != client_id:
            raise OAuthError("invalid_grant", "the code is unknown, used or expired")
        if row["expires_at"] <= now_iso():
            raise OAuthError("invalid_grant", "the code expired")
        if kind == "authorization_code":
            if form.get("redirect_uri") and form["redirect_uri"] != row["redirect_uri"]:
                raise OAuthError("invalid_grant", "redirect_uri does not match the request")
            verifier = form.get("code_verifier") or ""
            if not _VERIFIER.match(verifier):
                raise OAuthError("invalid_grant", "code_verifier is missing or malformed")
            if not keys.constant_time_equal(pkce_challenge(verifier), row["code_challenge"]):
                raise OAuthError("invalid_grant", "code_verifier does not match the challenge")
        try:
            bundle = codes.unseal(code, code_hash, bytes(row["sealed"]))
        except CryptoError:
            raise OAuthError("invalid_grant", "the code does not open its token") from None
        token = bundle["access_token"]
        # The owner may have revoked in the meantime: the slot is gone then.
        try:
            grant_id, vault = self.reads.open_by_token(token)
        except InvalidToken:
            raise OAuthError("invalid_grant", "the grant was revoked or expired") from None
        try:
            with vault.transaction() as vtx:
                repository.mark_picked_up(vtx, grant_id)
                vault.append_event(vtx, actor=f"org:{client_id}", action="grant.token-issued",
                                   grant_id=grant_id, detail={"via": kind})
        finally:
            vault.close()
        expires_in = max(int((from_iso(bundle["expires_at"]) - utcnow()).total_seconds()), 0)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "authorization_details": bundle["authorization_details"],
            "grant_id": bundle["grant_id"],
            "consent_receipt": bundle["consent_receipt"],
        }

    def _remember_used(self, tx: db.Connection, code: str, code_hash: str, row: Any) -> None:
        """Inside the transaction that uses a code up: keep its hash with the grant and slot
        it issued, until the grant ends (no token from it can live longer)."""
        try:
            bundle = codes.unseal(code, code_hash, bytes(row["sealed"]))
        except CryptoError:
            return  # it issues nothing either (the exchange refuses it below)
        slot = self.instance.slot_by_token_hash(keys.token_hash(bundle["access_token"]))
        if slot is None:
            return  # the owner revoked it already: nothing left to revoke on a replay
        repository.insert_used_code(
            tx, code_hash=code_hash, grant_id=bundle["grant_id"], slot_id=slot.id,
            used_at=now_iso(), expires_at=max(row["expires_at"], bundle["expires_at"]))

    def _revoke_replayed(self, tx: db.Connection, code_hash: str) -> bool:
        """A used code came back (RFC 6749 section 4.1.2, RFC 9700 section 4.1.3, ...): delete
        the grant's slot now (its token is dead from this commit on, introspection says
        inactive); the grant is marked revoked in its vault when the vault next opens
        (:func:`settle_replayed_codes`: the instance holds no vault key). True for a replay."""
        used = repository.used_code(tx, code_hash)
        if used is None or not used["slot_id"]:
            return False
        self.instance.delete_slot(tx, used["slot_id"])
        repository.mark_code_replayed(tx, code_hash, now_iso())
        return True

    # -- introspection and revocation by the organisation -----------------------------------

    def introspect(self, client_id: str, token: str) -> dict[str, Any]:
        """RFC 7662. Inactive for unknown, revoked, expired tokens and other clients' tokens."""
        try:
            grant_id, vault = self.reads.open_by_token(token)
        except InvalidToken:
            return {"active": False}
        try:
            grant = repository.grant(vault.conn, grant_id)
            now = utcnow()
            if grant is None or grant.client_id != client_id or grant.status_at(now) != "active":
                return {"active": False}
            return {
                "active": True,
                "client_id": grant.client_id,
                "token_type": "Bearer",
                "exp": int(from_iso(grant.expiry.expires_at).timestamp()),
                "iat": int(from_iso(grant.created_at).timestamp()),
                "nbf": int(from_iso(grant.expiry.not_before).timestamp()),
                "iss": self.issuer,
                "grant_id": grant.id,
                "authorization_details": grant.authorization_details(),
            }
        finally:
            vault.close()

    def revoke_token(self, client_id: str, token: str) -> None:
        """RFC 7009: the organisation gives its token back. Unknown tokens are not an error."""
        try:
            grant_id, vault = self.reads.open_by_token(token)
        except InvalidToken:
            return
        try:
            grant = repository.grant(vault.conn, grant_id)
            if grant is None or grant.client_id != client_id:
                return
            self.consent.revoke_grant(vault, grant, by=f"org:{client_id}")
        finally:
            vault.close()



def settle_replayed_codes(vault: VaultDB) -> None:
    """A vault-open hook: mark revoked, in this vault, the grants whose code was replayed.

    The replay itself already deleted the grant's slot (:meth:`OAuth.exchange`); this writes
    the revocation and a ``grant.revoked`` event into the owner's log. Never fails the open.
    """
    try:
        rows = repository.replayed_codes(vault.instance.conn)
        for row in rows:
            found = vault.conn.execute("SELECT id, organisation FROM grants WHERE id = ?",
                                       (row["grant_id"],)).fetchone()
            if found is None:
                continue  # another vault's grant
            with vault.transaction() as tx:
                if repository.mark_revoked(tx, found["id"], at=row["replayed_at"],
                                           by="code-replay"):
                    vault.append_event(
                        tx, actor="system", action="grant.revoked", grant_id=found["id"],
                        detail={"organisation": json.loads(found["organisation"]).get("name"),
                                "by": "code-replay",
                                "reason": "its authorization code was used a second time"})
                with vault.instance.transaction() as itx:
                    repository.forget_replayed(itx, row["code_hash"])
    except Exception as exc:  # noqa: BLE001 - the owner must still get in; tried again next open
        log.error("marking grants of replayed codes revoked failed (%s)", type(exc).__name__)
