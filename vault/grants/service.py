"""Data requests, grants, token exchange, redemption and revocation. Imports no Flask.

The token endpoint runs while the owner is away, so it cannot reach the data
key. Therefore, at approval (the owner's session has the data key) the 256-bit
access token is generated, its grant slot created, and the token stored
encrypted under a key derived from the one-time authorization (or pickup)
code; the instance keeps only the code's SHA-256. The token endpoint decrypts
and hands out the token once, then deletes the row. The instance never stores a
usable token.

Redemption: slot lookup by token hash -> unwrap the data key -> open the vault
-> check the grant's conditions -> write the access event durably (to the vault's
access journal, merged into its log later) -> return only the granted fields.
Later reads of the same token reuse what the first one found (see
:mod:`vault.grants.redemption`). Revocation deletes the slot first, then marks
the grant revoked in the vault.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from json.encoder import encode_basestring_ascii as _json_string  # json.dumps(str), in C
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from vault.clock import from_iso, now_iso, to_iso, utcnow
from vault.config import Settings
from vault.crypto import aead, keys, slots
from vault.crypto.errors import CryptoError
from vault.crypto.kdf import hkdf
from vault.grants import receipts, repository
from vault.grants.models import (
    AccessContext,
    DataRequest,
    Expiry,
    Fields,
    Grant,
    Purpose,
    RequestedRecords,
    UnknownCondition,
    UsageLimit,
    condition_from_dict,
    condition_to_dict,
    parse_duration,
    verify_all,
)
from vault.grants.organisations import PICKUP_GRANT_TYPE, OAuthError, Organisations
from vault.grants.redemption import HANDLES, GrantHandle, RecordsView
from vault.grants.schemas import InvalidDetails, parse_authorization_details
from vault.records.catalogue import RECORD_TYPES
from vault.records.service import list_records
from vault.storage import db, journal
from vault.storage.instance import Instance
from vault.storage.vaults import ConnectionCache, EventDetail, VaultDB, open_vault

log = logging.getLogger("kluis.grants")

ACCESS_TOKEN_PREFIX = "kluis_gt_"  # noqa: S105 - a prefix, not a secret
CODE_PREFIX = "kluis_ac_"
PICKUP_PREFIX = "kluis_pu_"
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
CODE_LIFETIME = timedelta(minutes=10)
PICKUP_LIFETIME = timedelta(days=7)
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")


# -- errors -----------------------------------------------------------------------------------


class GrantError(Exception):
    """Base class; ``status`` and ``code`` are what an API answers."""

    status = 400
    code = "grant-error"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors


class InvalidToken(GrantError):
    """The bearer token is unknown, revoked, expired or used up (RFC 6750 invalid_token)."""

    status = 401
    code = "invalid_token"


class InsufficientScope(GrantError):
    status = 403
    code = "insufficient_scope"


class NotFound(GrantError):
    status = 404
    code = "not-found"


class Conflict(GrantError):
    status = 409
    code = "conflict"


class InvalidInput(GrantError):
    status = 422
    code = "validation"


class AccessNotLogged(GrantError):
    """The access event could not be written, so the data is not served."""

    status = 503
    code = "access-log-unavailable"


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushedRequest:
    request_uri: str
    ref: str
    expires_in: int


@dataclass(frozen=True)
class Decision:
    """What approving or denying returns: where to send the person's browser."""

    redirect_uri: str | None
    grant: Grant | None = None
    pickup_code: str | None = None


def pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [
        (k, v) for k, v in params.items() if v is not None
    ]
    return parts._replace(query=urlencode(query)).geturl()


def _code_key(code: str) -> bytes:
    return hkdf(code.encode(), info=b"kluis one-time code v1")


class Grants:
    """Grant operations over one instance (and Redis, for client assertion replay checks)."""

    def __init__(self, instance: Instance, redis, settings: Settings) -> None:
        self.instance = instance
        self.redis = redis
        self.settings = settings
        self.orgs = Organisations(instance, redis, settings)

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
                    {"record_type": t, "fields": list(f)} if requested.narrowed[t]
                    else {"record_type": t}
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
            tx.execute(
                "INSERT INTO oauth_pushed_requests (ref_hash, client_id, params, created_at,"
                " expires_at) VALUES (?, ?, ?, ?, ?)",
                (keys.token_hash(ref), clean["client_id"], json.dumps(clean), now_iso(),
                 to_iso(utcnow() + lifetime)),
            )
        return PushedRequest(REQUEST_URI_PREFIX + ref, ref, int(lifetime.total_seconds()))

    def pushed(self, ref: str) -> dict[str, Any] | None:
        """A pushed request by its reference, if it is still waiting (not bound, not expired)."""
        row = self.instance.conn.execute(
            "SELECT * FROM oauth_pushed_requests WHERE ref_hash = ?", (keys.token_hash(ref),)
        ).fetchone()
        if row is None or row["expires_at"] <= now_iso():
            return None
        return json.loads(row["params"])

    @staticmethod
    def ref_of(request_uri: str) -> str:
        if not request_uri or not request_uri.startswith(REQUEST_URI_PREFIX):
            raise OAuthError("invalid_request_uri", "not a request_uri from this server")
        return request_uri[len(REQUEST_URI_PREFIX):]

    def parse_link(self, link: str) -> dict[str, Any]:
        """The parameters of an authorize URL or short link the owner pasted."""
        parts = urlsplit((link or "").strip())
        query = dict(parse_qsl(parts.query))
        match = re.search(r"/r/([A-Za-z0-9_-]{16,64})$", parts.path)
        if match:
            return {"request_uri": REQUEST_URI_PREFIX + match.group(1)}
        if not parts.path.endswith("/oauth/authorize"):
            raise OAuthError("invalid_request", "not an authorization link of this server")
        return query

    def bind(self, vault: VaultDB, params: dict[str, Any]) -> DataRequest:
        """The owner opened a request: store it in their vault (and forget it in the instance).

        ``params`` are authorize parameters: either ``request_uri`` (+ ``client_id``) of a
        pushed request, or a full request.
        """
        if params.get("request_uri"):
            ref = self.ref_of(params["request_uri"])
            ref_hash = keys.token_hash(ref)
            with self.instance.transaction() as tx:
                row = tx.execute(
                    "SELECT * FROM oauth_pushed_requests WHERE ref_hash = ?", (ref_hash,)
                ).fetchone()
                if row is None or row["expires_at"] <= now_iso():
                    raise OAuthError("invalid_request_uri",
                                     "this request is unknown, expired or was opened already")
                if params.get("client_id") and params["client_id"] != row["client_id"]:
                    raise OAuthError("invalid_request", "client_id does not match the request")
                clean = json.loads(row["params"])
                tx.execute("DELETE FROM oauth_pushed_requests WHERE ref_hash = ?", (ref_hash,))
            expires_at = row["expires_at"]
        else:
            clean = self.validate_authorization_request(None, params)
            expires_at = to_iso(utcnow() + self.request_lifetime)
        org = self.orgs.get(clean["client_id"])
        request_id = os.urandom(12).hex()
        with vault.transaction() as tx:
            tx.execute(
                "INSERT INTO data_requests (id, origin, organisation, details, redirect_uri,"
                " state, code_challenge, received_at, expires_at) VALUES"
                " (?, 'oauth', ?, ?, ?, ?, ?, ?, ?)",
                (request_id, json.dumps(org.summary()),
                 json.dumps(clean["authorization_details"]), clean["redirect_uri"],
                 clean["state"], clean["code_challenge"], now_iso(), expires_at),
            )
            vault.append_event(
                tx, actor=f"org:{org.client_id}", action="request.received",
                detail={"request": request_id, "organisation": org.name,
                        "purpose": clean["authorization_details"]["purpose"]},
            )
        return self.get_request(vault, request_id)

    def _request(self, row) -> DataRequest:
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

    def get_request(self, vault: VaultDB, request_id: str) -> DataRequest:
        row = vault.conn.execute("SELECT * FROM data_requests WHERE id = ?",
                                 (request_id,)).fetchone()
        if row is None:
            raise NotFound("no such request")
        return self._request(row)

    def list_requests(self, vault: VaultDB, status: str | None = None) -> list[DataRequest]:
        rows = vault.conn.execute(
            "SELECT * FROM data_requests ORDER BY received_at DESC").fetchall()
        out = [self._request(r) for r in rows]
        return [r for r in out if status is None or r.status == status]

    # -- decisions --------------------------------------------------------------------------

    def deny(self, vault: VaultDB, request_id: str) -> Decision:
        """Refuse a request; the organisation gets ``access_denied``."""
        request = self.get_request(vault, request_id)
        if request.status != "pending":
            raise Conflict(f"this request is {request.status} already")
        with vault.transaction() as tx:
            tx.execute("UPDATE data_requests SET status = 'denied', decided_at = ? WHERE id = ?",
                       (now_iso(), request_id))
            vault.append_event(tx, actor="owner", action="request.denied",
                               detail={"request": request_id,
                                       "organisation": request.organisation.get("name")})
        redirect = None
        if request.redirect_uri:
            redirect = _with_query(request.redirect_uri, {
                "error": "access_denied",
                "error_description": "The person refused the request.",
                "state": request.state, "iss": self.issuer,
            })
        return Decision(redirect)

    def narrow(self, requested: RequestedRecords, fields: dict[str, list[str]] | None
               ) -> dict[str, list[str]]:
        """Apply the owner's narrowing: a subset of the asked types and fields, never more."""
        if fields is None:
            return {t: list(f) for t, f in requested.fields.items()}
        if not isinstance(fields, dict):
            raise InvalidInput("fields must map record types to field lists",
                               {"fields": ["An object: record type -> list of fields."]})
        errors: dict[str, list[str]] = {}
        out: dict[str, list[str]] = {}
        for type_id, names in fields.items():
            asked = requested.fields.get(type_id)
            if asked is None:
                errors[f"fields.{type_id}"] = ["This record type was not asked for."]
                continue
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                errors[f"fields.{type_id}"] = ["A list of field names."]
                continue
            extra = [n for n in names if n not in asked]
            if extra:
                errors[f"fields.{type_id}"] = [f"Not asked for: {', '.join(extra)}."]
                continue
            if names:
                out[type_id] = [n for n in asked if n in names]
        if errors:
            raise InvalidInput("the narrowed fields are not valid", errors)
        if not out:
            raise InvalidInput("nothing left to share; refuse the request instead",
                               {"fields": ["Choose at least one field, or refuse."]})
        return out

    def _expires(self, duration: str, expires_at: str | None) -> tuple[str, str]:
        now = utcnow()
        latest = now + parse_duration(duration)
        if expires_at:
            try:
                chosen = from_iso(expires_at)
            except ValueError:
                raise InvalidInput("expires_at is not a date-time",
                                   {"expires_at": ["An RFC 3339 date-time."]}) from None
            if chosen <= now:
                raise InvalidInput("expires_at is in the past",
                                   {"expires_at": ["Choose a moment in the future."]})
            if chosen > latest:
                raise InvalidInput("access may be shortened, not lengthened",
                                   {"expires_at": [f"At most {to_iso(latest)}."]})
            latest = chosen
        return to_iso(now), to_iso(latest)

    def approve(self, vault: VaultDB, dek: bytes, request_id: str, *,
                fields: dict[str, list[str]] | None = None, expires_at: str | None = None,
                lang: str = "nl") -> Decision:
        """Approve a request (optionally narrowed). Creates the grant, its key slot, the
        signed receipt and a one-time authorization code; returns the redirect with the code.
        """
        request = self.get_request(vault, request_id)
        if request.status != "pending":
            raise Conflict(f"this request is {request.status} already")
        granted = self.narrow(request.requested, fields)
        not_before, until = self._expires(request.requested.duration, expires_at)
        code = keys.new_token(CODE_PREFIX)
        grant = self._create_grant(
            vault, dek, organisation=request.organisation, requested=request.requested,
            granted=granted, not_before=not_before, expires_at=until, origin="oauth",
            request_id=request_id, code=code, code_kind="authorization_code",
            redirect_uri=request.redirect_uri, code_challenge=request.code_challenge,
            lang=lang,
        )
        redirect = _with_query(request.redirect_uri or "", {
            "code": code, "state": request.state, "iss": self.issuer,
        })
        return Decision(redirect, grant)

    def create_owner_grant(self, vault: VaultDB, dek: bytes, *, client_id: str,
                           authorization_details: Any, lang: str = "nl") -> Decision:
        """The owner picks an organisation and what to share; returns a one-time pickup code."""
        try:
            org = self.orgs.get(client_id)
        except OAuthError as exc:
            raise InvalidInput(exc.description, {"client_id": [exc.description]}) from None
        try:
            requested = parse_authorization_details(authorization_details)
        except InvalidDetails as exc:
            raise InvalidInput("what to share is not valid", exc.errors) from None
        not_before, until = self._expires(requested.duration, None)
        code = keys.new_token(PICKUP_PREFIX)
        request_id = os.urandom(12).hex()
        grant = self._create_grant(
            vault, dek, organisation=org.summary(), requested=requested,
            granted=dict(requested.fields), not_before=not_before, expires_at=until,
            origin="owner", request_id=request_id, code=code, code_kind="pickup",
            redirect_uri=None, code_challenge=None, lang=lang,
        )
        return Decision(None, grant, code)

    def _create_grant(self, vault: VaultDB, dek: bytes, *, organisation: dict[str, Any],
                      requested: RequestedRecords, granted: dict[str, list[str]],
                      not_before: str, expires_at: str, origin: str, request_id: str,
                      code: str, code_kind: str, redirect_uri: str | None,
                      code_challenge: str | None, lang: str) -> Grant:
        grant_id = os.urandom(12).hex()
        conditions: list = [
            Expiry(not_before, expires_at),
            Purpose(requested.purpose),
            Fields.of(granted),
        ]
        if requested.max_uses is not None:
            conditions.append(UsageLimit(requested.max_uses))
        now = now_iso()
        grant = Grant(
            id=grant_id, organisation=organisation, purpose=requested.purpose,
            purpose_description=requested.purpose_description, retention=requested.retention,
            conditions=conditions, created_at=now, status="active", slot_id=None,
            request_id=request_id, origin=origin, receipt_id=str(uuid.uuid4()),
        )
        document = receipts.build(grant, vault_id=vault.id, issuer=self.issuer, lang=lang)
        signed = receipts.sign(document, self.instance.signing_key())
        token = keys.new_token(ACCESS_TOKEN_PREFIX)
        slot = slots.wrap_token(
            dek, token, vault_id=vault.id, kind=slots.GRANT, token_hash=keys.token_hash(token),
            grant_id=grant_id, created_at=now, expires_at=expires_at,
        )
        grant = replace(grant, slot_id=slot.id, receipt=signed)
        code_lifetime = CODE_LIFETIME if code_kind == "authorization_code" else PICKUP_LIFETIME
        code_expires = min(from_iso(expires_at), utcnow() + code_lifetime)
        code_hash = keys.token_hash(code)
        bundle = json.dumps({
            "access_token": token,
            "grant_id": grant_id,
            "expires_at": expires_at,
            "authorization_details": grant.authorization_details(),
            "consent_receipt": signed,
        }).encode()
        sealed = aead.encrypt(_code_key(code), bundle, code_hash.encode())
        with vault.transaction() as vtx:
            if origin == "owner":
                vtx.execute(
                    "INSERT INTO data_requests (id, origin, organisation, details, received_at,"
                    " expires_at, status, decided_at, grant_id) VALUES"
                    " (?, 'owner', ?, ?, ?, ?, 'approved', ?, ?)",
                    (request_id, json.dumps(organisation), json.dumps(requested.to_detail()),
                     now, expires_at, now, grant_id),
                )
            else:
                changed = vtx.execute(
                    "UPDATE data_requests SET status = 'approved', decided_at = ?, grant_id = ?"
                    " WHERE id = ? AND status = 'pending'", (now, grant_id, request_id),
                ).rowcount
                if not changed:
                    raise Conflict("this request was decided already")
            vtx.execute(
                "INSERT INTO grants (id, request_id, origin, client_id, organisation, purpose,"
                " purpose_description, retention, conditions, not_before, expires_at,"
                " created_at, status, slot_id, receipt_id, receipt) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)",
                (grant_id, request_id, origin, organisation["client_id"],
                 json.dumps(organisation), grant.purpose, grant.purpose_description,
                 grant.retention, json.dumps([condition_to_dict(c) for c in conditions]),
                 not_before, expires_at, now, slot.id, grant.receipt_id, json.dumps(signed)),
            )
            vault.append_event(
                vtx, actor="owner", action="grant.created", grant_id=grant_id,
                detail={"organisation": organisation.get("name"), "purpose": grant.purpose,
                        "records": granted, "expires_at": expires_at, "origin": origin},
            )
            # The instance rows are written last inside the vault transaction: if they fail,
            # the vault rolls back; if the vault commit then fails, they are removed again.
            with self.instance.transaction() as itx:
                self.instance.put_slot(itx, slot)
                itx.execute(
                    "INSERT INTO oauth_codes (code_hash, kind, client_id, redirect_uri,"
                    " code_challenge, sealed, created_at, expires_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (code_hash, code_kind, organisation["client_id"], redirect_uri,
                     code_challenge, sealed, now, to_iso(code_expires)),
                )
        return self.get_grant(vault, grant_id)

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
        with self.instance.transaction() as tx:
            row = tx.execute("SELECT * FROM oauth_codes WHERE code_hash = ? AND kind = ?",
                             (code_hash, kind)).fetchone()
            if row is None or row["client_id"] != client_id:
                raise OAuthError("invalid_grant", "the code is unknown, used or expired")
            # One attempt per code: a wrong verifier also uses it up.
            tx.execute("DELETE FROM oauth_codes WHERE code_hash = ?", (code_hash,))
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
            bundle = json.loads(aead.decrypt(_code_key(code), bytes(row["sealed"]),
                                             code_hash.encode()))
        except CryptoError:
            raise OAuthError("invalid_grant", "the code does not open its token") from None
        token = bundle["access_token"]
        # The owner may have revoked in the meantime: the slot is gone then.
        try:
            slot, vault = self._open(token)
        except InvalidToken:
            raise OAuthError("invalid_grant", "the grant was revoked or expired") from None
        try:
            with vault.transaction() as vtx:
                vtx.execute("UPDATE grants SET picked_up = 1 WHERE id = ?", (slot.grant_id,))
                vault.append_event(vtx, actor=f"org:{client_id}", action="grant.token-issued",
                                   grant_id=slot.grant_id, detail={"via": kind})
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

    # -- opening a vault with a grant token -------------------------------------------------

    def _unwrap(self, token: str) -> tuple[slots.KeySlot, bytes]:
        """The token's grant slot and the vault's data key it wraps."""
        slot = self.instance.slot_by_token_hash(keys.token_hash(token or ""))
        if slot is None or slot.kind != slots.GRANT or not slot.grant_id:
            raise InvalidToken("the access token is not valid (revoked, expired or unknown)")
        if slot.expires_at and slot.expires_at <= now_iso():
            with self.instance.transaction() as tx:
                self.instance.delete_slot(tx, slot.id)
            raise InvalidToken("the grant expired")
        try:
            return slot, slots.unwrap(slot, token)
        except CryptoError:
            raise InvalidToken("the access token is not valid") from None

    def _open(self, token: str) -> tuple[slots.KeySlot, VaultDB]:
        slot, dek = self._unwrap(token)
        return slot, open_vault(self.instance, slot.vault_id, dek)

    def _grant_row(self, conn, grant_id: str) -> Grant | None:
        row = conn.execute("SELECT * FROM grants WHERE id = ?", (grant_id,)).fetchone()
        return _grant(row) if row else None

    def _authorise(self, token: str, now: str | None = None
                   ) -> tuple[GrantHandle, VaultDB, bool]:
        """The token's grant handle and its vault, open; True when the vault is new to this
        process or instance.db changed since (then the connector inbox is worth a look).

        Raises :class:`InvalidToken` for unknown, revoked and expired tokens.
        """
        digest = keys.token_hash(token or "")
        generation = self.instance.generation()
        handle = HANDLES.get(digest, self.settings)
        fresh = False
        if handle is not None and handle.slot_expires_at \
                and handle.slot_expires_at <= (now or now_iso()):
            HANDLES.drop(digest)  # the full path below deletes the slot and says why
            handle = None
        if handle is not None and handle.generation != generation:
            slot = self.instance.slot(handle.slot_id)
            if slot is None or slot.token_hash != digest:
                HANDLES.drop(digest)
                raise InvalidToken("the access token is not valid (revoked, expired or unknown)")
            handle.generation = generation
            fresh = True
        if handle is not None:
            vault = open_vault(self.instance, handle.vault_id, handle.dek,
                               cache_key=handle.cache_key, path=handle.vault_path)
            return handle, vault, fresh
        slot, dek = self._unwrap(token)
        vault = open_vault(self.instance, slot.vault_id, dek)
        try:
            grant = self._grant_row(vault.conn, slot.grant_id)
        except (UnknownCondition, KeyError, TypeError):
            vault.close()
            raise InvalidToken("the grant has a condition this server does not know") from None
        if grant is None:
            vault.close()
            raise InvalidToken("the grant was revoked")
        vault_path = str(self.instance.vault_path(slot.vault_id))
        try:
            access_journal = journal.ref(vault, vault_path)
        except BaseException:
            vault.close()
            raise
        handle = GrantHandle(
            token_hash=digest, slot_id=slot.id, slot_expires_at=slot.expires_at,
            vault_id=slot.vault_id, vault_path=vault_path, journal=access_journal,
            dek=dek, cache_key=ConnectionCache.key(slot.vault_id, dek), grant=grant,
            actor=f"org:{grant.client_id}", generation=generation)
        HANDLES.put(handle, self.settings)
        return handle, vault, True

    def redeem(self, token: str, *, view: str = "records", types: list[str] | None = None,
               purpose: str | None = None, on_open: Callable[[VaultDB], None] | None = None
               ) -> dict[str, Any]:
        """An organisation reads under a grant: ``view`` is ``grant`` or ``records``.

        Raises :class:`InvalidToken` (401), :class:`InsufficientScope` (403) or
        :class:`AccessNotLogged` (503, nothing served).
        """
        if view == "records":
            return json.loads(self.redeem_records(token, types=types, purpose=purpose,
                                                  on_open=on_open))
        handle, vault, fresh = self._authorise(token)
        try:
            if fresh and on_open is not None:
                on_open(vault)
            now = utcnow()
            with _logged_or_nothing():
                # The access count shown must include reads still in the journal.
                journal.merge_pending(vault, handle.vault_path, self.settings,
                                      on_merged=repository.add_reads)
            with _logged_or_nothing(), vault.transaction() as tx:
                grant = self._active_grant(tx, handle, now, purpose=purpose)
                vault.append_event(tx, actor=handle.actor, action="grant.viewed",
                                   grant_id=grant.id,
                                   detail={"organisation": grant.organisation.get("name")})
                return {"grant": grant.to_dict(now, for_owner=False),
                        "authorization_details": grant.authorization_details()}
        finally:
            vault.close()

    def redeem_records(self, token: str, *, types: list[str] | None = None,
                       purpose: str | None = None,
                       on_open: Callable[[VaultDB], None] | None = None,
                       defer: Callable[[Callable[[], None]], None] | None = None) -> bytes:
        """The granted records as the JSON body sent to the organisation.

        Only granted types and fields, current versions, with provenance. The
        access event is committed to the vault's access journal (at the
        configured synchronous level) before this returns; if it cannot be,
        :class:`AccessNotLogged` and nothing. The vault itself is only read.

        After every :data:`journal.MERGE_EVERY` th row the journal is merged into
        the vault's log: through ``defer`` (the web view runs it after the
        response has been sent) or, without it, before returning.
        """
        now = utcnow()
        at = to_iso(now)
        handle, vault, fresh = self._authorise(token, at)
        try:
            if fresh and on_open is not None:
                on_open(vault)
            wanted = tuple(types or ())
            grant = handle.grant
            with _logged_or_nothing(), journal.opened(handle.journal, self.settings) as jconn:
                # Under a usage limit, the journal's write lock first: a merge (journal, then
                # vault) cannot move rows between the two counts below. Without one nothing
                # is counted, and the event's INSERT is its own transaction (one statement,
                # committed at the configured synchronous level like any other).
                limited = grant.usage_limit is not None
                with db.transaction(jconn) if limited else contextlib.nullcontext():
                    row = vault.conn.execute(
                        "SELECT access_count, (SELECT value FROM meta WHERE key = 'records_rev'),"
                        " (SELECT value FROM meta WHERE key = 'journal_merged')"
                        " FROM grants WHERE id = ? AND status = 'active'", (grant.id,)).fetchone()
                    if row is None:
                        HANDLES.drop(handle.token_hash)
                        raise InvalidToken("the grant was revoked")
                    uses = row[0]
                    if limited:
                        uses += journal.pending_reads(jconn, grant.id, row[2])
                    self._check_conditions(handle, now, uses=uses, types=wanted, purpose=purpose)
                    rev = row[1]
                    answer = handle.views.get(wanted)
                    if answer is None or rev is None or answer.records_rev != rev:
                        answer = _records_view(vault, grant, wanted, rev)
                        if rev is not None:
                            handle.views[wanted] = answer
                    pending = journal.append(jconn, at=at, actor=handle.actor,
                                             action="grant.read", grant_id=grant.id,
                                             detail=answer.detail)
        finally:
            vault.close()
        if pending % journal.MERGE_EVERY == 0:
            if defer is None:
                self._merge_journal(handle)
            else:
                defer(functools.partial(self._merge_journal, handle))
        return (f'{{"grant_id":{_json_string(grant.id)},"fetched_at":{_json_string(at)},'
                f'"records":{answer.records_json}}}\n').encode()

    def _merge_journal(self, handle: GrantHandle) -> None:
        """Merge a grant's vault journal after a read that was already logged (and, when
        deferred, answered). Never raises: a failure leaves the rows for the next merge."""
        try:
            with open_vault(self.instance, handle.vault_id, handle.dek,
                            cache_key=handle.cache_key, path=handle.vault_path) as vault, \
                    journal.opened(handle.journal, self.settings) as jconn:
                journal.merge(vault, jconn, on_merged=repository.add_reads)
        except Exception as exc:  # noqa: BLE001 - the read is logged; rows stay pending
            log.error("merging an access journal failed (%s); its rows stay for the next merge",
                      type(exc).__name__)

    def _check_conditions(self, handle: GrantHandle, now, *, uses: int, types: tuple[str, ...],
                          purpose: str | None) -> None:
        unknown = [t for t in types if t not in RECORD_TYPES]
        if unknown:
            raise InsufficientScope(f"unknown record type(s): {', '.join(unknown)}")
        verdict = verify_all(handle.grant.conditions,
                             AccessContext(now=now, uses=uses, purpose=purpose, types=types))
        if not verdict:
            if verdict.code in ("wrong-purpose", "type-not-granted"):
                raise InsufficientScope(verdict.reason)
            if verdict.code == "expired":
                HANDLES.drop(handle.token_hash)
                with self.instance.transaction() as itx:
                    self.instance.delete_slot(itx, handle.slot_id)
            raise InvalidToken(verdict.reason)

    def _active_grant(self, tx, handle: GrantHandle, now, *, purpose: str | None) -> Grant:
        """Inside a vault transaction: the grant, if still active and its conditions hold."""
        grant = self._grant_row(tx, handle.grant.id)
        if grant is None or grant.status != "active":
            HANDLES.drop(handle.token_hash)
            raise InvalidToken("the grant was revoked")
        self._check_conditions(handle, now, uses=grant.access_count, types=(), purpose=purpose)
        return grant

    # -- introspection and revocation by the organisation -----------------------------------

    def introspect(self, client_id: str, token: str) -> dict[str, Any]:
        """RFC 7662. Inactive for unknown, revoked, expired tokens and other clients' tokens."""
        try:
            slot, vault = self._open(token)
        except InvalidToken:
            return {"active": False}
        try:
            grant = self._grant_row(vault.conn, slot.grant_id)
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
            slot, vault = self._open(token)
        except InvalidToken:
            return
        try:
            grant = self._grant_row(vault.conn, slot.grant_id)
            if grant is None or grant.client_id != client_id:
                return
            self._revoke(vault, grant, by=f"org:{client_id}")
        finally:
            vault.close()

    # -- owner: grants ----------------------------------------------------------------------

    def get_grant(self, vault: VaultDB, grant_id: str) -> Grant:
        grant = self._grant_row(vault.conn, grant_id)
        if grant is None:
            raise NotFound("no such grant")
        return grant

    def list_grants(self, vault: VaultDB) -> list[Grant]:
        rows = vault.conn.execute("SELECT * FROM grants ORDER BY created_at DESC").fetchall()
        return [_grant(r) for r in rows]

    def _revoke(self, vault: VaultDB, grant: Grant, *, by: str) -> bool:
        """Delete the slot first (the token is dead from then on), then mark the grant."""
        if grant.slot_id:
            with self.instance.transaction() as itx:
                self.instance.delete_slot(itx, grant.slot_id)
        if grant.status != "active":
            return False
        with vault.transaction() as tx:
            changed = tx.execute(
                "UPDATE grants SET status = 'revoked', revoked_at = ?, revoked_by = ?"
                " WHERE id = ? AND status = 'active'", (now_iso(), by, grant.id),
            ).rowcount
            if changed:
                vault.append_event(tx, actor=by if by.startswith("org:") else "owner",
                                   action="grant.revoked", grant_id=grant.id,
                                   detail={"organisation": grant.organisation.get("name"),
                                           "by": "organisation" if by.startswith("org:")
                                           else "owner"})
        return bool(changed)

    def revoke(self, vault: VaultDB, grant_id: str) -> Grant:
        """One click: the grant's token stops working on the very next request."""
        grant = self.get_grant(vault, grant_id)
        self._revoke(vault, grant, by="owner")
        return self.get_grant(vault, grant_id)

    def revoke_all(self, vault: VaultDB) -> int:
        """Revoke every grant still active; returns how many were revoked."""
        count = 0
        for grant in self.list_grants(vault):
            if grant.status == "active":
                count += int(self._revoke(vault, grant, by="owner"))
        # Slots of grants whose rows are gone or expired: none may remain.
        with self.instance.transaction() as itx:
            for slot in self.instance.slots(vault.id, slots.GRANT):
                self.instance.delete_slot(itx, slot.id)
        return count

    def receipt(self, vault: VaultDB, grant_id: str) -> dict[str, Any]:
        grant = self.get_grant(vault, grant_id)
        if not grant.receipt:
            raise NotFound("this grant has no receipt")
        return grant.receipt

    # -- expiry -----------------------------------------------------------------------------

    def purge_expired(self) -> dict[str, int]:
        """Delete expired grant slots, codes and pushed requests. Safe to run twice."""
        now = now_iso()
        with self.instance.transaction() as tx:
            slots_gone = tx.execute(
                "DELETE FROM key_slots WHERE kind = 'grant' AND expires_at IS NOT NULL"
                " AND expires_at <= ?", (now,)).rowcount
            codes_gone = tx.execute("DELETE FROM oauth_codes WHERE expires_at <= ?",
                                    (now,)).rowcount
            pushed_gone = tx.execute("DELETE FROM oauth_pushed_requests WHERE expires_at <= ?",
                                     (now,)).rowcount
        return {"slots": slots_gone, "codes": codes_gone, "requests": pushed_gone}


def _grant(row) -> Grant:
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


@contextlib.contextmanager
def _logged_or_nothing() -> Iterator[None]:
    """Grant errors pass; anything else (disk full, I/O error) means the access event may
    not be written, so nothing is served."""
    try:
        yield
    except GrantError:
        raise
    except Exception as exc:
        raise AccessNotLogged("the access could not be logged, so nothing is served") from exc


def _records_view(vault: VaultDB, grant: Grant, wanted: tuple[str, ...],
                  records_rev: int | None) -> RecordsView:
    """The filtered records of one read shape, serialised, and its access event detail."""
    fields = grant.fields
    types = list(wanted) or list(fields.types)
    out = []
    shared: dict[str, set[str]] = {}
    for record in list_records(vault, types):
        data = fields.filter(record.type, record.data)
        if data is None:
            continue
        shared.setdefault(record.type, set()).update(data)
        out.append({
            "id": record.id,
            "type": record.type,
            "version": record.version,
            "updated_at": record.updated_at,
            "data": data,
            "provenance": record.provenance.to_dict(),
        })
    detail = {"organisation": grant.organisation.get("name"), "types": types,
              "fields": {t: sorted(f) for t, f in shared.items()}, "records": len(out)}
    return RecordsView(records_rev if records_rev is not None else -1,
                       json.dumps(out, separators=(",", ":")), EventDetail.of(detail))


# -- plain-language views ---------------------------------------------------------------------


def describe_request(vault: VaultDB, request: DataRequest, lang: str = "nl") -> dict[str, Any]:
    """A request in plain terms for the consent screen and the owner API: who asks what, why,
    for how long, and the current values the owner is about to share."""
    from vault.grants.models import purpose_label
    from vault.records.display import format_value

    current = {t: list_records(vault, [t]) for t in request.requested.fields}
    records = []
    for type_id, names in request.requested.fields.items():
        record_type = RECORD_TYPES[type_id]
        items = current[type_id]
        records.append({
            "record_type": type_id,
            "label": record_type.label(lang),
            "count": len(items),
            "fields": [{
                "name": name,
                "label": record_type.field_label(name, lang),
                "values": [r.data[name] for r in items if name in r.data],
                "shown": [format_value(record_type.fields()[name], r.data[name], lang)
                          for r in items if name in r.data],
            } for name in names],
        })
    requested = request.requested
    return {
        "id": request.id,
        "status": request.status,
        "origin": request.origin,
        "organisation": request.organisation,
        "purpose": requested.purpose,
        "purpose_label": purpose_label(requested.purpose, lang),
        "purpose_description": requested.purpose_description,
        "duration": requested.duration,
        "duration_days": parse_duration(requested.duration).days,
        "retention": requested.retention,
        "retention_days": parse_duration(requested.retention).days,
        "max_uses": requested.max_uses,
        "records": records,
        "received_at": request.received_at,
        "expires_at": request.expires_at,
        "decided_at": request.decided_at,
        "grant_id": request.grant_id,
    }
