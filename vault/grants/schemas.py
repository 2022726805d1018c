"""Marshmallow schemas for what organisations send: authorization details and client metadata.

Unknown record types, fields and purposes are errors with field paths, never
silently dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from vault.grants.models import PURPOSES, RequestedRecords, parse_duration
from vault.records.catalogue import RECORD_TYPES
from vault.records.schemas import DOCUMENT_CATEGORIES
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


_PERIOD_BOUND = re.compile(r"^\d{4}(-\d{2}-\d{2})?$")


def period_bounds(period: dict[str, Any]) -> tuple[date, date]:
    """A requested period (``{"from": ..., "to": ...}``, years or ISO dates, either may be
    left out) as the first and last day it covers. Raises ``ValueError``."""

    def bound(value: Any, end: bool) -> date:
        if value is None:
            return date.max if end else date.min
        text = str(value)
        if not _PERIOD_BOUND.match(text):
            raise ValueError(f"{value!r} is neither a year (2025) nor a date (2025-01-31)")
        if len(text) == 4:
            return date(int(text), 12, 31) if end else date(int(text), 1, 1)
        return date.fromisoformat(text)

    start, stop = bound(period.get("from"), False), bound(period.get("to"), True)
    if start > stop:
        raise ValueError("the period ends before it starts")
    return start, stop


class PeriodSchema(Schema):
    class Meta:
        unknown = RAISE

    from_ = fields.Raw(data_key="from", metadata={
        "description": "First year (2024) or date (2024-01-01) covered.",
        "oneOf": [{"type": "string"}, {"type": "integer"}]})
    to = fields.Raw(metadata={"description": "Last year or date covered.",
                              "oneOf": [{"type": "string"}, {"type": "integer"}]})

    @validates_schema
    def valid(self, data: dict[str, Any], **_: Any) -> None:
        if "from_" not in data and "to" not in data:
            raise ValidationError("Give from, to or both.")
        for key in ("from_", "to"):
            if isinstance(data.get(key), bool) or not isinstance(data.get(key, ""), str | int):
                raise ValidationError("A year or an ISO date.", key.rstrip("_"))
        try:
            period_bounds({"from": data.get("from_"), "to": data.get("to")})
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class RecordRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    record_type = fields.String(required=True, metadata={"description": "A record type id."})
    field_names = fields.List(
        fields.String(), data_key="fields", validate=validate.Length(min=1, max=100),
        metadata={"description": "Field names; leave out to ask for every field of the type."},
    )
    categories = fields.List(
        fields.String(validate=validate.OneOf(list(DOCUMENT_CATEGORIES))),
        validate=validate.Length(min=1, max=len(DOCUMENT_CATEGORIES)),
        metadata={"description": "Only documents of these categories (record type document)."})
    max_records = fields.Integer(strict=True, validate=validate.Range(min=1, max=1000),
                                 metadata={"description": "At most this many records."})
    period = fields.Nested(PeriodSchema, metadata={
        "description": "Only records about this period (years or dates), e.g. income for "
                       "2024-2025."})
    evidence = fields.Boolean(metadata={
        "description": "Share the documents the shared records cite as evidence too."})

    @validates_schema
    def known(self, data: dict[str, Any], **_: Any) -> None:
        type_id = data.get("record_type")
        record_type = RECORD_TYPES.get(type_id) if isinstance(type_id, str) else None
        if record_type is None:
            raise ValidationError(
                f"Unknown record type {type_id!r}; known: {', '.join(RECORD_TYPES)}.",
                "record_type",
            )
        if "categories" in data and type_id != "document":
            raise ValidationError("Only documents have categories.", "categories")
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
    narrowing: dict[str, dict[str, Any]] = {}
    for entry in data["records"]:
        type_id = entry["record_type"]
        names = RECORD_TYPES[type_id].field_names()
        chosen = entry.get("field_names")
        requested[type_id] = [n for n in names if n in chosen] if chosen else names
        narrowed[type_id] = bool(chosen)
        narrow: dict[str, Any] = {}
        if entry.get("categories"):
            narrow["categories"] = list(dict.fromkeys(entry["categories"]))
        if entry.get("max_records") is not None:
            narrow["max_records"] = entry["max_records"]
        if entry.get("period"):
            period = entry["period"]
            narrow["period"] = {k: v for k, v in (("from", period.get("from_")),
                                                  ("to", period.get("to"))) if v is not None}
        if entry.get("evidence"):
            narrow["evidence"] = True
        if narrow:
            narrowing[type_id] = narrow
    return RequestedRecords(
        fields=requested,
        narrowed=narrowed,
        purpose=data["purpose"],
        purpose_description=data.get("purpose_description", ""),
        retention=data["retention"],
        duration=data["duration"],
        max_uses=data.get("max_uses"),
        narrowing=narrowing,
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
    # Kluis extension: the organisation's postal address (schema.org PostalAddress member
    # names), so consent receipts name the controller's address (Kantara CR, ISO/IEC 27560).
    address = fields.Dict(
        keys=fields.String(validate=validate.OneOf(
            ["streetAddress", "addressLocality", "addressRegion", "postalCode",
             "addressCountry"])),
        values=fields.String(validate=validate.Length(max=200)))
    token_endpoint_auth_method = fields.String(validate=validate.OneOf(AUTH_METHODS))
    grant_types = fields.List(fields.String())
    response_types = fields.List(fields.String())
    scope = fields.String()
    kluis_webhook_uris = fields.List(fields.String(validate=validate.Length(max=500)),
                                     validate=validate.Length(max=5), metadata={
                                         "description": "HTTPS endpoints that receive signed "
                                         "lifecycle events (RFC 9421)"})
