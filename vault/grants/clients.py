"""RFC 7592 client management: an organisation reads, updates and deletes its registration.

Registration (RFC 7591, :meth:`Organisations.register`) hands out a
``registration_access_token`` and a ``registration_client_uri``
(``/oauth/register/{client_id}``); instance.db keeps only the token's SHA-256.
With the token as a bearer token the organisation can

- ``GET`` its current client information,
- ``PUT`` new metadata (for example ``kluis_webhook_uris``), validated like a
  registration; ``"kluis_rotate_secret": true`` issues a new ``client_secret`` (shown
  once; the old one stops working at once),
- ``DELETE`` its registration: the client is disabled (its tokens stop at the token
  endpoint and it receives no more webhooks), the management token is forgotten.

No Flask.
"""

from __future__ import annotations

import json
from typing import Any

from vault.clock import from_iso, now_iso
from vault.crypto import keys
from vault.grants.errors import OAuthError
from vault.grants.organisations import CLIENT_SECRET_PREFIX, PICKUP_GRANT_TYPE, Organisations

MANAGEMENT_TOKEN_PREFIX = "kluis_rat_"  # noqa: S105 - a prefix, not a secret


class Clients:
    """RFC 7592 over the organisations of one instance."""

    def __init__(self, orgs: Organisations) -> None:
        self.orgs = orgs
        self.instance = orgs.instance
        self.settings = orgs.settings

    def registration_uri(self, client_id: str) -> str:
        return f"{self.settings.public_url}/oauth/register/{client_id}"

    def issue(self, response: dict[str, Any]) -> dict[str, Any]:
        """Add a new registration access token to a registration's response (RFC 7592 §3)."""
        token = keys.new_token(MANAGEMENT_TOKEN_PREFIX)
        client_id = response["client_id"]
        with self.instance.transaction() as tx:
            tx.execute("INSERT INTO client_management (client_id, token_hash, created_at)"
                       " VALUES (?, ?, ?) ON CONFLICT (client_id) DO UPDATE SET"
                       " token_hash = excluded.token_hash, created_at = excluded.created_at",
                       (client_id, keys.token_hash(token), now_iso()))
        return response | {"registration_access_token": token,
                           "registration_client_uri": self.registration_uri(client_id)}

    def _check(self, client_id: str, token: str | None) -> Any:
        row = self.instance.conn.execute(
            "SELECT m.token_hash, c.* FROM client_management m JOIN oauth_clients c"
            " USING (client_id) WHERE m.client_id = ?", (client_id,)).fetchone()
        if row is None or not token or not keys.constant_time_equal(
                keys.token_hash(token), row["token_hash"]):
            # RFC 7592 §2: an unknown client and a bad token look the same (401).
            raise OAuthError("invalid_token", "the registration access token is not valid",
                             401)
        return row

    def _information(self, row: Any) -> dict[str, Any]:
        meta: dict[str, Any] = json.loads(row["metadata"])
        return meta | {
            "client_id": row["client_id"],
            "client_id_issued_at": int(from_iso(row["created_at"]).timestamp()),
            "grant_types": ["authorization_code", PICKUP_GRANT_TYPE],
            "response_types": ["code"],
            "kluis_status": row["status"],
            "registration_client_uri": self.registration_uri(row["client_id"]),
        }

    def read(self, client_id: str, token: str | None) -> dict[str, Any]:
        """RFC 7592 §2.1: the current client information (without the secret)."""
        return self._information(self._check(client_id, token))

    def update(self, client_id: str, token: str | None, data: Any) -> dict[str, Any]:
        """RFC 7592 §2.2: replace the metadata; optionally rotate the client secret."""
        row = self._check(client_id, token)
        if not isinstance(data, dict):
            raise OAuthError("invalid_client_metadata", "client metadata must be a JSON object")
        if data.get("client_id") not in (None, client_id):
            raise OAuthError("invalid_request", "client_id does not match the registration")
        rotate = data.get("kluis_rotate_secret") is True
        body = {k: v for k, v in data.items()
                if k not in ("client_id", "client_secret", "kluis_rotate_secret",
                             "registration_access_token", "registration_client_uri",
                             "client_id_issued_at", "client_secret_expires_at",
                             "kluis_status")}
        meta = self.orgs._validate_metadata(body)  # noqa: SLF001 - the one metadata check
        old = json.loads(row["metadata"])
        if meta["token_endpoint_auth_method"] != old.get("token_endpoint_auth_method"):
            raise OAuthError("invalid_client_metadata",
                             "token_endpoint_auth_method cannot change; register anew")
        secret = None
        with self.instance.transaction() as tx:
            tx.execute("UPDATE oauth_clients SET metadata = ? WHERE client_id = ?",
                       (json.dumps(meta, sort_keys=True), client_id))
            if rotate:
                if not meta["token_endpoint_auth_method"].startswith("client_secret"):
                    raise OAuthError("invalid_client_metadata",
                                     "only a client_secret client has a secret to rotate")
                secret = keys.new_token(CLIENT_SECRET_PREFIX)
                tx.execute("UPDATE oauth_clients SET secret_hash = ? WHERE client_id = ?",
                           (keys.token_hash(secret), client_id))
        fresh = self.instance.conn.execute("SELECT * FROM oauth_clients WHERE client_id = ?",
                                           (client_id,)).fetchone()
        answer = self._information(fresh)
        if secret:
            answer |= {"client_secret": secret, "client_secret_expires_at": 0}
        return answer

    def delete(self, client_id: str, token: str | None) -> None:
        """RFC 7592 §2.3: the registration is disabled and its management token forgotten."""
        self._check(client_id, token)
        with self.instance.transaction() as tx:
            tx.execute("UPDATE oauth_clients SET status = 'disabled' WHERE client_id = ?",
                       (client_id,))
            tx.execute("DELETE FROM client_management WHERE client_id = ?", (client_id,))
