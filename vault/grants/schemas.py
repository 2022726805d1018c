"""Marshmallow schemas for what organisations send: authorization details and client metadata.

Unknown record types, fields and purposes are errors with field paths, never
silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from vault.grants.models import PURPOSES, RequestedRecords, parse_duration
from vault.records.catalogue import RECORD_TYPES
from vault.records.service import flatten_errors

MAX_DURATION_DAYS = 366 * 2
MAX_RETENTION_DAYS = 366 * 10


class InvalidDetails(ValueError):
    """``authorization_details`` is not acceptable. ``errors`` maps field paths to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def _duration(max_days: int, *, allow_zero: bool = False) -> Callable[[str], None]:
    def check(value: str) -> None:
        try:
            delta = parse_duration(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if delta.total_seconds() <= 0 and not allow_zero:
            raise ValidationError("The duration must be longer than zero.")
        if delta.days > max_days:
            raise ValidationError(f"The duration may be at most {max_days} days.")

    return check


class RecordRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    record_type = fields.String(required=True, metadata={"description": "A record type id."})
    field_names = fields.List(
        fields.String(), data_key="fields", validate=validate.Length(min=1, max=100),
        metadata={"description": "Field names; leave out to ask for every field of the type."},
    )

    @validates_schema
    def known(self, data: dict[str, Any], **_: Any) -> None:
        type_id = data.get("record_type")
        record_type = RECORD_TYPES.get(type_id) if isinstance(type_id, str) else None
        if record_type is None:
            raise ValidationError(
                f"Unknown record type {type_id!r}; known: {', '.join(RECORD_TYPES)}.",
                "record_type",
            )
        names = record_type.field_names()
        unknown = [f for f in data.get("field_names") or [] if f not in names]
        if unknown:
            raise ValidationError(
                f"Unknown field(s) of {type_id}: {', '.join(unknown)}; known: {', '.join(names)}.",
                "fields",
            )


class RecordsDetailSchema(Schema):
    """One RFC 9396 authorization detail of type ``kluis_records``."""

    class Meta:
        unknown = RAISE

    type = fields.String(required=True, validate=validate.Equal("kluis_records"))
    records = fields.List(
        fields.Nested(RecordRequestSchema), required=True, validate=validate.Length(min=1, max=20)
    )
    purpose = fields.String(
        required=True,
        validate=validate.OneOf(list(PURPOSES), error="Unknown purpose; use one of: {choices}."),
    )
    purpose_description = fields.String(validate=validate.Length(max=500))
    retention = fields.String(required=True, validate=_duration(MAX_RETENTION_DAYS, allow_zero=True),
                              metadata={"description": "How long the organisation keeps the data "
                                                       "(ISO 8601 duration, e.g. P60D)."})
    duration = fields.String(required=True, validate=_duration(MAX_DURATION_DAYS),
                             metadata={"description": "How long access lasts (e.g. P30D)."})
    max_uses = fields.Integer(strict=True, validate=validate.Range(min=1, max=100000))

    @validates_schema
    def no_duplicates(self, data: dict[str, Any], **_: Any) -> None:
        seen = [r["record_type"] for r in data.get("records", [])]
        if len(seen) != len(set(seen)):
            raise ValidationError("Each record type may appear once.", "records")


def parse_authorization_details(raw: Any) -> RequestedRecords:
    """Validate ``authorization_details`` (a JSON string or list) into :class:`RequestedRecords`.

    Exactly one detail of type ``kluis_records`` is accepted.
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise InvalidDetails({"authorization_details": ["Not valid JSON."]}) from None
    if raw is None:
        raise InvalidDetails({"authorization_details": ["Missing: say what you ask for."]})
    if not isinstance(raw, list) or len(raw) != 1 or not isinstance(raw[0], dict):
        raise InvalidDetails({"authorization_details": [
            "Must be a JSON array with exactly one object of type kluis_records."]})
    if raw[0].get("type") != "kluis_records":
        raise InvalidDetails({"authorization_details.0.type": [
            f"Unknown authorization details type {raw[0].get('type')!r}; use kluis_records."]})
    try:
        data = RecordsDetailSchema().load(raw[0])
    except ValidationError as exc:
        raise InvalidDetails(flatten_errors(exc.messages, "authorization_details.0")) from None
    requested: dict[str, list[str]] = {}
    narrowed: dict[str, bool] = {}
    for entry in data["records"]:
        type_id = entry["record_type"]
        names = RECORD_TYPES[type_id].field_names()
        chosen = entry.get("field_names")
        requested[type_id] = [n for n in names if n in chosen] if chosen else names
        narrowed[type_id] = bool(chosen)
    return RequestedRecords(
        fields=requested,
        narrowed=narrowed,
        purpose=data["purpose"],
        purpose_description=data.get("purpose_description", ""),
        retention=data["retention"],
        duration=data["duration"],
        max_uses=data.get("max_uses"),
    )


AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")


class ClientMetadataSchema(Schema):
    """RFC 7591 client metadata as Kluis accepts it (other members are ignored)."""

    class Meta:
        unknown = "exclude"

    client_id = fields.String()  # only in metadata documents
    client_name = fields.String(required=True, validate=validate.Length(min=2, max=120))
    client_uri = fields.String(required=True, validate=validate.Length(max=500))
    logo_uri = fields.String(validate=validate.Length(max=500))
    policy_uri = fields.String(validate=validate.Length(max=500))
    contacts = fields.List(fields.String(validate=validate.Length(max=200)),
                           validate=validate.Length(max=10))
    redirect_uris = fields.List(fields.String(validate=validate.Length(max=500)), required=True,
                                validate=validate.Length(min=1, max=10))
    jwks_uri = fields.String(validate=validate.Length(max=500))
    jwks = fields.Dict()
    token_endpoint_auth_method = fields.String(validate=validate.OneOf(AUTH_METHODS))
    grant_types = fields.List(fields.String())
    response_types = fields.List(fields.String())
    scope = fields.String()
    kluis_webhook_uris = fields.List(fields.String(validate=validate.Length(max=500)),
                                     validate=validate.Length(max=5), metadata={
                                         "description": "HTTPS endpoints that receive signed "
                                         "lifecycle events (RFC 9421)"})
