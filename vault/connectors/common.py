"""Small helpers the built-in connectors share."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from vault.records import validators


def base_url_field() -> fields.Url:
    return fields.Url(
        required=True, schemes={"http", "https"}, require_tld=False,
        validate=validate.Length(max=500),
        metadata={"label": {"nl": "Adres van de API", "en": "API base URL"}},
    )


def valid_bsn(value: str | None) -> str | None:
    """The BSN if it passes the eleven test, else None (test data has invalid ones)."""
    if not value:
        return None
    try:
        validators.bsn(value)
    except Exception:  # noqa: BLE001 - marshmallow.ValidationError; invalid means "leave out"
        return None
    return value


def join_url(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


def prune(data: dict[str, Any]) -> dict[str, Any]:
    """Drop empty values, so a record holds only what the source said."""
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}
