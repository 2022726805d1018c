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

from vault.clock import now_iso
from vault.config import Settings
from vault.grants import repository
from vault.grants.consent import Approval, Consent, Decision
from vault.grants.models import DataRequest, Grant, RequestedRecords
from vault.grants.oauth import OAuth, PushedRequest
from vault.grants.oauth import parse_link as _parse_link
from vault.grants.oauth import ref_of as _ref_of
from vault.grants.organisations import Organisations
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
                           authorization_details: Any, lang: str = "nl") -> Approval:
        return self.consent.create_owner_grant(vault, dek, client_id=client_id,
                                               authorization_details=authorization_details,
                                               lang=lang)

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

    # -- expiry -----------------------------------------------------------------------------

    def purge_expired(self) -> dict[str, int]:
        """Delete expired grant slots, codes and pushed requests. Safe to run twice."""
        with self.instance.transaction() as tx:
            return repository.purge_expired(tx, now_iso())
