"""Connections: create, read, update state, remove. Imports no Flask.

Options, credentials and connector state are encrypted with the instance
subkey ``connector-credentials`` (AES-GCM, bound to the connection id): the
worker must be able to use them while the owner is away, so the instance key
opens them. docs/threat-model.md says so.
"""

from __future__ import annotations

import json
import os
from typing import Any

from marshmallow import Schema, ValidationError

from vault.clock import now_iso
from vault.connectors import registry
from vault.connectors.base import Connector
from vault.connectors.models import Connection
from vault.crypto import aead
from vault.errors import KluisError
from vault.records.service import flatten_errors
from vault.storage.instance import Instance
from vault.urlsafety import UnsafeURL, check_url

SUBKEY = "connector-credentials"
MAX_CONNECTIONS_PER_VAULT = 50


class ConnectionError_(KluisError):  # noqa: N801 - avoid shadowing the builtin ConnectionError
    status = 400
    code = "connection-error"


class InvalidConnection(ConnectionError_):
    """Options or credentials do not fit the connector. ``errors``: field path -> messages."""

    status = 422
    code = "validation"

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("the connection is not valid")
        self.errors = errors


class ConnectionNotFound(ConnectionError_):
    status = 404
    code = "not-found"


def _aad(connection_id: str, part: str) -> bytes:
    return f"kluis connection {connection_id} {part}".encode()


def _seal(instance: Instance, connection_id: str, part: str, value: dict) -> bytes:
    body = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return aead.encrypt(instance.subkey(SUBKEY), body, _aad(connection_id, part))


def _open(instance: Instance, connection_id: str, part: str, blob: bytes | None) -> dict:
    if blob is None:
        return {}
    raw = aead.decrypt(instance.subkey(SUBKEY), bytes(blob), _aad(connection_id, part))
    return json.loads(raw)


def _load(schema: type[Schema], value: Any, name: str, errors: dict[str, list[str]]) -> dict:
    """``value`` loaded through ``schema``; problems go into ``errors`` under ``name.<path>``."""
    if not isinstance(value, dict):
        errors[name] = [f"{name.capitalize()} must be an object."]
        return {}
    try:
        return schema().load(value)
    except ValidationError as exc:
        errors.update(flatten_errors(exc.messages, name))
        return {}


def validate_input(
    connector: Connector, options: Any, credentials: Any, *, allow_private_urls: bool
) -> tuple[dict, dict]:
    """Load options and credentials through the connector's schemas; check ``base_url``."""
    errors: dict[str, list[str]] = {}
    clean_options = _load(connector.options_schema, options, "options", errors)
    clean_credentials = _load(connector.credentials_schema, credentials, "credentials", errors)
    base_url = clean_options.get("base_url")
    if base_url and "options.base_url" not in errors:
        try:
            check_url(base_url, allow_private=allow_private_urls)
        except UnsafeURL as exc:
            errors["options.base_url"] = [str(exc)]
    if errors:
        raise InvalidConnection(errors)
    clean_options = {k: v for k, v in clean_options.items() if v is not None}
    clean_credentials = {k: v for k, v in clean_credentials.items() if v is not None}
    return clean_options, clean_credentials


def create_connection(
    instance: Instance,
    vault_id: str,
    connector_id: str,
    options: Any,
    credentials: Any,
    *,
    interval_seconds: int | None = None,
) -> Connection:
    """Validate and store a new connection (status ``new``; the caller enqueues a refresh)."""
    try:
        connector = registry.get(connector_id)
    except registry.UnknownConnector:
        raise InvalidConnection({"connector": [f"Unknown connector {connector_id!r}."]}) from None
    clean_options, clean_credentials = validate_input(
        connector, options, credentials,
        allow_private_urls=instance.settings.allow_private_urls,
    )
    interval = int(interval_seconds or connector.default_interval)
    shortest = instance.settings.connector_min_interval_seconds
    if interval < shortest:
        raise InvalidConnection(
            {"interval_seconds": [f"Refresh at most every {shortest} seconds."]}
        )
    connection_id = os.urandom(12).hex()
    with instance.transaction() as conn:
        count = conn.execute(
            "SELECT count(*) FROM connections WHERE vault_id = ?", (vault_id,)
        ).fetchone()[0]
        if count >= MAX_CONNECTIONS_PER_VAULT:
            raise InvalidConnection(
                {"connector": [f"A vault has at most {MAX_CONNECTIONS_PER_VAULT} connections."]}
            )
        conn.execute(
            "INSERT INTO connections (id, vault_id, connector, options_enc, credentials_enc,"
            " state_enc, interval_seconds, created_at, status)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'new')",
            (
                connection_id, vault_id, connector_id,
                _seal(instance, connection_id, "options", clean_options),
                _seal(instance, connection_id, "credentials", clean_credentials),
                _seal(instance, connection_id, "state", {}),
                interval, now_iso(),
            ),
        )
    return get_connection(instance, connection_id, vault_id=vault_id)


def _row(instance: Instance, row, *, secrets: bool) -> Connection:
    connection = Connection(
        id=row["id"],
        vault_id=row["vault_id"],
        connector=row["connector"],
        interval_seconds=row["interval_seconds"],
        created_at=row["created_at"],
        status=row["status"],
        attempts=row["attempts"],
        job_id=row["job_id"],
        scheduled_job_id=row["scheduled_job_id"],
        last_run_at=row["last_run_at"],
        last_success_at=row["last_success_at"],
        last_error=row["last_error"],
        next_run_at=row["next_run_at"],
    )
    connection.options = _open(instance, row["id"], "options", row["options_enc"])
    if secrets:
        connection.credentials = _open(instance, row["id"], "credentials", row["credentials_enc"])
        connection.state = _open(instance, row["id"], "state", row["state_enc"])
    return connection


def get_connection(
    instance: Instance, connection_id: str, *, vault_id: str | None = None, secrets: bool = False
) -> Connection:
    """One connection; with ``vault_id`` it must belong to that vault (else not found)."""
    row = instance.conn.execute(
        "SELECT * FROM connections WHERE id = ?", (connection_id,)
    ).fetchone()
    if row is None or (vault_id is not None and row["vault_id"] != vault_id):
        raise ConnectionNotFound(connection_id)
    return _row(instance, row, secrets=secrets)


def list_connections(instance: Instance, vault_id: str) -> list[Connection]:
    rows = instance.conn.execute(
        "SELECT * FROM connections WHERE vault_id = ? ORDER BY created_at, id", (vault_id,)
    ).fetchall()
    return [_row(instance, row, secrets=False) for row in rows]


_UPDATABLE = {"status", "attempts", "job_id", "scheduled_job_id", "last_run_at",
              "last_success_at", "last_error", "next_run_at"}


def update_connection(instance: Instance, connection_id: str, **values: Any) -> bool:
    """Set plain state columns; returns False when the connection is gone."""
    unknown = set(values) - _UPDATABLE
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)}")
    if not values:
        return True
    assignments = ", ".join(f"{name} = ?" for name in values)
    with instance.transaction() as conn:
        cur = conn.execute(
            f"UPDATE connections SET {assignments} WHERE id = ?",
            (*values.values(), connection_id),
        )
        return cur.rowcount > 0


def save_state(instance: Instance, connection_id: str, state: dict) -> None:
    """Store the connector's own state (for example a PSD2 consent), encrypted."""
    with instance.transaction() as conn:
        conn.execute(
            "UPDATE connections SET state_enc = ? WHERE id = ?",
            (_seal(instance, connection_id, "state", state), connection_id),
        )


def delete_connection(instance: Instance, connection_id: str, *, vault_id: str) -> Connection:
    """Remove a connection and its credentials. Records already in the vault stay."""
    connection = get_connection(instance, connection_id, vault_id=vault_id)
    with instance.transaction() as conn:
        conn.execute("DELETE FROM connections WHERE id = ?", (connection_id,))
    return connection
