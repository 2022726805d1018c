"""Data requests, grants, token exchange, redemption and revocation: one facade. No Flask.

:class:`Grants` is what the web layer, the CLI and the worker hold. The work is
in the modules named after it:

- :mod:`vault.grants.oauth`: authorization requests, pushed requests, binding
  a request to a vault, the token endpoint, introspection, RFC 7009 revocation;
- :mod:`vault.grants.consent`: the owner's decisions, grants, revocation,
  receipts, the plain-language view of a request;
- :mod:`vault.grants.redemption`: an organisation's reads under a grant token
  (the measured hot path) and the per-process handle cache;
- :mod:`vault.grants.codes`: how approval hands the token to the token endpoint;
- :mod:`vault.grants.repository`: every SQL statement;
- :mod:`vault.grants.errors`: the errors and what an API answers for them.

:class:`Grants` *is* a :class:`~vault.grants.redemption.Redemption` (inherited,
so an organisation's read calls nothing more than before) and delegates the
rest, with the signatures callers have always used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from redis import Redis

from vault.clock import now_iso, to_iso, utcnow
from vault.config import Settings
from vault.crypto import keys
from vault.grants import (
    changes,
    deletion,
    events,
    narrowing,
    notifications,
    repository,
    webhooks,
)
from vault.grants.clients import Clients
from vault.grants.consent import Approval, Consent, Decision
from vault.grants.errors import InvalidToken, NotFound
from vault.grants.models import DataRequest, Grant, Organisation, RequestedRecords
from vault.grants.oauth import OAuth, PushedRequest
from vault.grants.oauth import parse_link as _parse_link
from vault.grants.oauth import ref_of as _ref_of
from vault.grants.organisations import ClientCredentials, Organisations
from vault.grants.redemption import Redemption
from vault.storage.instance import Instance
from vault.storage.vaults import VaultDB


class Grants(Redemption):
    """Grant operations over one instance (and Redis, for client assertion replay checks)."""

    def __init__(self, instance: Instance, redis: Redis, settings: Settings, *,
                 on_open: Sequence[Callable[[VaultDB], None]] = ()) -> None:
        super().__init__(instance, settings, on_open=on_open)
        self.redis = redis
        self.orgs = Organisations(instance, redis, settings)
        self.clients = Clients(self.orgs)
        self.on_merged = notifications.on_merged(repository.add_reads, instance)
        self.consent = Consent(instance, settings, self.orgs)
        self.oauth = OAuth(instance, settings, self.orgs, self.consent, self)

    @property
    def issuer(self) -> str:
        return self.settings.public_url

    @property
    def request_lifetime(self) -> timedelta:
        return self.oauth.request_lifetime

    # -- OAuth: requests, token endpoint, introspection, revocation (vault.grants.oauth) ----

    def validate_authorization_request(self, org_client_id: str | None, params: dict[str, Any]
                                       ) -> dict[str, Any]:
        return self.oauth.validate_authorization_request(org_client_id, params)

    def push(self, client_id: str, params: dict[str, Any]) -> PushedRequest:
        return self.oauth.push(client_id, params)

    def pushed(self, ref: str) -> dict[str, Any] | None:
        return self.oauth.pushed(ref)

    @staticmethod
    def ref_of(request_uri: str) -> str:
        return _ref_of(request_uri)

    def parse_link(self, link: str) -> dict[str, Any]:
        return _parse_link(link)

    def bind(self, vault: VaultDB, params: dict[str, Any]) -> DataRequest:
        return self.oauth.bind(vault, params)

    def exchange(self, client_id: str, grant_type: str, form: dict[str, str]) -> dict[str, Any]:
        return self.oauth.exchange(client_id, grant_type, form)

    def introspect(self, client_id: str, token: str) -> dict[str, Any]:
        return self.oauth.introspect(client_id, token)

    def revoke_token(self, client_id: str, token: str) -> None:
        self.oauth.revoke_token(client_id, token)

    # -- the owner: requests, decisions, grants (vault.grants.consent) ----------------------

    def get_request(self, vault: VaultDB, request_id: str) -> DataRequest:
        return self.consent.get_request(vault, request_id)

    def list_requests(self, vault: VaultDB, status: str | None = None) -> list[DataRequest]:
        return self.consent.list_requests(vault, status)

    def deny(self, vault: VaultDB, request_id: str) -> Decision:
        return self.consent.deny(vault, request_id)

    def narrow(self, requested: RequestedRecords, fields: dict[str, list[str]] | None
               ) -> dict[str, list[str]]:
        return self.consent.narrow(requested, fields)

    def approve(self, vault: VaultDB, dek: bytes, request_id: str, *,
                fields: dict[str, list[str]] | None = None, expires_at: str | None = None,
                lang: str = "nl", records: list[dict[str, Any]] | None = None) -> Approval:
        return self.consent.approve(vault, dek, request_id, fields=fields,
                                    expires_at=expires_at, lang=lang, records=records)

    def create_owner_grant(self, vault: VaultDB, dek: bytes, *, client_id: str,
                           authorization_details: Any, lang: str = "nl",
                           records: list[dict[str, Any]] | None = None) -> Approval:
        return self.consent.create_owner_grant(vault, dek, client_id=client_id,
                                               authorization_details=authorization_details,
                                               lang=lang, records=records)

    def narrow_grant(self, vault: VaultDB, grant_id: str, records: Any, *,
                     lang: str = "nl") -> Grant:
        """The owner narrows an active grant (fewer fields, records, "later", evidence); the
        token keeps working for what is left and ``grant.narrowed`` is queued
        (:mod:`vault.grants.narrowing`)."""
        return narrowing.narrow(self.instance, vault, self.consent.get_grant(vault, grant_id),
                                records, issuer=self.issuer, lang=lang)

    def records_changed(self, vault: VaultDB) -> int:
        """Queue ``records.updated`` for what changed in the vault (:mod:`vault.grants.changes`)."""
        return changes.records_changed(vault)

    def get_grant(self, vault: VaultDB, grant_id: str) -> Grant:
        return self.consent.get_grant(vault, grant_id)

    def list_grants(self, vault: VaultDB) -> list[Grant]:
        return self.consent.list_grants(vault)

    def revoke(self, vault: VaultDB, grant_id: str) -> Grant:
        return self.consent.revoke(vault, grant_id)

    def revoke_all(self, vault: VaultDB) -> int:
        return self.consent.revoke_all(vault)

    def receipt(self, vault: VaultDB, grant_id: str) -> dict[str, Any]:
        return self.consent.receipt(vault, grant_id)

    # -- lifecycle: why a token is dead, request status (vault.grants.events) ---------------

    def redeem(self, token: str, *, view: str = "records", types: list[str] | None = None,
               purpose: str | None = None) -> dict[str, Any]:
        try:
            return super().redeem(token, view=view, types=types, purpose=purpose)
        except InvalidToken as exc:
            raise self.explain(token, exc) from None

    def redeem_records(self, token: str, *, types: list[str] | None = None,
                       purpose: str | None = None,
                       defer: Callable[[Callable[[], None]], None] | None = None) -> bytes:
        try:
            return super().redeem_records(token, types=types, purpose=purpose, defer=defer)
        except InvalidToken as exc:
            raise self.explain(token, exc) from None

    def explain(self, token: str, exc: InvalidToken) -> InvalidToken:
        """``exc`` with the reason the token is dead (RFC 6750 ``error_description``).

        A used-up grant is noted (and ``grant.used_up`` queued) the first time a read meets
        its limit; a token whose slot is gone is looked up in the token fates.
        """
        digest = keys.token_hash(token or "")
        if exc.reason == "used_up" and exc.grant_id and exc.client_id:
            with self.instance.transaction() as itx:
                events.used_up(itx, token_hash=digest, grant_id=exc.grant_id,
                               client_id=exc.client_id)
        fate = events.token_fate(self.instance.conn, digest)
        if fate is None:
            if exc.reason is None:
                return exc
            fate = events.TokenFate(exc.reason, now_iso(), exc.grant_id)
        message = fate.describe() if exc.reason is None else f"{fate.describe()} ({exc})"
        return InvalidToken(message, reason=fate.reason, grant_id=fate.grant_id,
                            client_id=exc.client_id, fate=fate.to_dict())

    def inactive_reason(self, client_id: str, token: str) -> dict[str, Any] | None:
        """Why ``token`` is inactive (``reason``, ``revoked_by``, ``grant_id``), told only to
        the organisation of its grant; None when it is active or its fate is not known.

        Introspection keeps RFC 7662's bare ``{"active": false}`` body; the web layer adds
        this beside it.
        """
        try:
            grant_id, vault = self.open_by_token(token)
        except InvalidToken:
            return events.inactive(self.instance.conn, keys.token_hash(token or ""), client_id)
        try:
            grant = repository.grant(vault.conn, grant_id)
            if grant is None or grant.client_id != client_id:
                return None
            status = grant.status_at(utcnow())
            return None if status == "active" else events.inactive_grant(status, grant)
        finally:
            vault.close()

    def submit_deletion(self, org: Organisation, creds: ClientCredentials, grant_id: str,
                        statement: str) -> dict[str, Any]:
        """Verify an organisation's deletion statement and send it to the owner's vault
        (:mod:`vault.grants.deletion`). Raises ``StatementRefused`` (nothing stored)."""
        return deletion.submit(self.instance, self.orgs, org, creds, grant_id, statement)

    def deletion_state(self, vault: VaultDB, grant: Grant) -> dict[str, Any]:
        return deletion.state(vault.conn, grant)

    def request_status(self, client_id: str, request_uri: str) -> dict[str, Any]:
        """``pending``, ``approved``, ``refused`` or ``expired``, with timestamps, of a pushed
        request of ``client_id``. Raises :class:`NotFound` for others' and unknown ones."""
        ref = _ref_of(request_uri)
        status = events.request_status(self.instance.conn, keys.token_hash(ref), client_id)
        if status is None:
            raise NotFound("no such request of this organisation")
        return {"request_uri": request_uri} | status

    # -- expiry -----------------------------------------------------------------------------

    def purge_expired(self) -> dict[str, int]:
        """Delete expired grant slots, codes and pushed requests; queue ``request.expired``
        and ``grant.expired`` events; delete webhook events and mails done more than
        ``KLUIS_OUTBOX_RETENTION_DAYS`` ago. Safe to run twice (each event is queued once)."""
        with self.instance.transaction() as tx:
            counts = repository.purge_expired(tx, now_iso())
            counts["requests_expired"] = events.expire_requests(tx)
            counts["grants_expired"] = events.expire_grants(tx)
            before = to_iso(utcnow() - timedelta(days=self.settings.outbox_retention_days))
            counts["webhook_events_purged"] = webhooks.purge_done(tx, before)
            counts["mails_purged"] = notifications.purge_done_mails(tx, before)
            return counts
