"""Marshmallow schemas of what the JSON API takes and answers (the record data schemas are in
vault.records, what organisations send in vault.grants.schemas).

Every operation in ``/api/v1/openapi.json`` names its schemas here (or beside its views, for
connectors and portability), and its view answers *through* them (``Schema().dump``), so the
document cannot drift from the answers. A response that differs by audience is one schema
with one ``only=`` view per audience (:class:`GrantSchema`).

Longer than 400 lines on purpose: it is declarations only (no logic), grouped by feature
under ``# --`` headers, and apispec names each component after its class, so one module
keeps every component name unique and in one place to look up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marshmallow import EXCLUDE, INCLUDE, RAISE, Schema, fields, validate

from vault.clock import utcnow
from vault.config import ORG_REGISTRATION_MODES
from vault.grants.models import Grant, purpose_label
from vault.grants.organisations import PICKUP_GRANT_TYPE
from vault.grants.schemas import ClientMetadataSchema


def next_cursor_field() -> fields.String:
    """The ``next_cursor`` member of every paged list (see ``vault.api.spec.page_of``)."""
    return fields.String(required=True, allow_none=True, metadata={
        "description": "Pass as ?cursor= for the next page; null on the last page."})


class Strict(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


class AccountCreateSchema(Strict):
    username = fields.String(required=True, validate=validate.Length(min=3, max=64))
    password = fields.String(required=True, validate=validate.Length(max=1024))
    invite = fields.String(validate=validate.Length(max=200))


class AccountCreatedSchema(Strict):
    vault_id = fields.String(required=True)
    username = fields.String(required=True)
    recovery_code = fields.String(
        required=True, metadata={"description": "Shown once. Print it and keep it safe."}
    )


class TokenCreateSchema(Strict):
    username = fields.String(required=True, validate=validate.Length(max=64))
    password = fields.String(required=True, validate=validate.Length(max=1024))
    totp = fields.String(validate=validate.Length(max=10))
    name = fields.String(validate=validate.Length(max=100))


class AppTokenSchema(Strict):
    id = fields.String(required=True)
    name = fields.String(required=True)
    created_at = fields.String(required=True)


class TokenCreatedSchema(AppTokenSchema):
    token = fields.String(required=True, metadata={"description": "Shown once."})


class AppTokenCreateSchema(Strict):
    name = fields.String(validate=validate.Length(max=100))


class ProvenanceSchema(Strict):
    source = fields.String(required=True,
                           metadata={"description": "manual, upload or a connector id"})
    fetched_at = fields.String(required=True)
    evidence = fields.Dict(keys=fields.String())


class RecordInSchema(Strict):
    type = fields.String(required=True, validate=validate.Length(max=64))
    data = fields.Dict(required=True, keys=fields.String())


class RecordUpdateSchema(Strict):
    data = fields.Dict(required=True, keys=fields.String())


class RecordSchema(Strict):
    id = fields.String(required=True)
    type = fields.String(required=True)
    version = fields.Integer(required=True)
    data = fields.Dict(required=True)
    provenance = fields.Nested(ProvenanceSchema, required=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)


class RecordListSchema(Strict):
    records = fields.List(fields.Nested(RecordSchema), required=True)
    next_cursor = next_cursor_field()


class DocumentFormSchema(Schema):
    """``multipart/form-data`` of ``POST /api/v1/documents`` (read by vault.web.files)."""

    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
    category = fields.String()
    description = fields.String()


class RecordVersionSchema(Strict):
    version = fields.Integer(required=True)
    data = fields.Dict(required=True)
    digest = fields.String(required=True)
    provenance = fields.Nested(ProvenanceSchema, required=True)
    created_at = fields.String(required=True)


class RecordVersionListSchema(Strict):
    versions = fields.List(fields.Nested(RecordVersionSchema), required=True)
    next_cursor = next_cursor_field()


class FieldDescriptionSchema(Strict):
    name = fields.String(required=True)
    label = fields.Dict(required=True)
    type = fields.String(required=True)
    required = fields.Boolean(required=True)
    choices = fields.List(fields.String())


class RecordTypeSchema(Strict):
    id = fields.String(required=True)
    category = fields.String(required=True)
    label = fields.Dict(required=True)
    fields_ = fields.List(fields.Nested(FieldDescriptionSchema), data_key="fields",
                          attribute="fields", required=True)
    json_schema = fields.Dict(required=True)


class RecordTypeListSchema(Strict):
    record_types = fields.List(fields.Nested(RecordTypeSchema), required=True)


class PasswordChangeSchema(Strict):
    old_password = fields.String(required=True, validate=validate.Length(max=1024))
    new_password = fields.String(required=True, validate=validate.Length(max=1024))
    keep_tokens = fields.List(
        fields.String(validate=validate.Length(max=100)), validate=validate.Length(max=100),
        metadata={"description": "Ids of app tokens that stay valid. Every other app token is "
                                 "revoked (the token that makes this call is kept); the "
                                 "owner's log names the revoked ones."})


class PasswordResetSchema(Strict):
    username = fields.String(required=True, validate=validate.Length(max=64))
    recovery_code = fields.String(required=True, validate=validate.Length(max=100))
    new_password = fields.String(required=True, validate=validate.Length(max=1024))
    totp = fields.String(validate=validate.Length(max=10))


class TotpResetSchema(Strict):
    username = fields.String(required=True, validate=validate.Length(max=64))
    password = fields.String(required=True, validate=validate.Length(max=1024))
    recovery_code = fields.String(required=True, validate=validate.Length(max=100))


class RecoveryCodeSchema(Strict):
    recovery_code = fields.String(required=True, metadata={"description": "Shown once."})
    revoked_tokens = fields.List(
        fields.Nested(AppTokenSchema), required=True,
        metadata={"description": "The app tokens the reset revoked (a reset revokes all)."})


class TotpEnrolmentSchema(Strict):
    secret = fields.String(required=True)
    otpauth_uri = fields.String(required=True)


class TotpConfirmSchema(Strict):
    secret = fields.String(required=True, validate=validate.Length(min=16, max=64))
    code = fields.String(required=True, validate=validate.Length(max=10))


class EventSchema(Strict):
    seq = fields.Integer(required=True)
    at = fields.String(required=True)
    actor = fields.String(required=True)
    action = fields.String(required=True)
    grant_id = fields.String(allow_none=True)
    detail = fields.Dict(required=True)


# -- wrappers of the owner lists (the answers are objects, never bare arrays) -----------------


class AppTokenListSchema(Strict):
    tokens = fields.List(fields.Nested(AppTokenSchema), required=True)
    next_cursor = next_cursor_field()


class EventPageSchema(Strict):
    events = fields.List(fields.Nested(EventSchema), required=True)
    log_intact = fields.Boolean(required=True, attribute="intact",
                                metadata={"description": "Whether the hash chain is unbroken."})
    next_cursor = next_cursor_field()


class AccessLogEventSchema(EventSchema):
    hash = fields.String(required=True, metadata={"description": "This entry's chain hash."})


class AccessLogSchema(Strict):
    events = fields.List(fields.Nested(AccessLogEventSchema), required=True)
    log_intact = fields.Boolean(required=True, attribute="intact")
    problems = fields.List(fields.String(), required=True,
                           metadata={"description": "Where the chain check failed."})
    next_cursor = next_cursor_field()


# -- query parameters (declared and validated with the same schema, see spec.load_query) ------


class Query(Schema):
    """Query parameters: other parameters are ignored, as before."""

    class Meta:
        unknown = EXCLUDE


class LogQuerySchema(Query):
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000),
                           metadata={"description": "At most this many entries (1..1000)."})
    cursor = fields.String(metadata={"description": "The next_cursor of the previous page: "
                                     "the page of older entries after it."})


class AccessLogQuerySchema(LogQuerySchema):
    grant = fields.String(metadata={"description": "Only the entries of this grant."})


class PageQuerySchema(Query):
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=500),
                           metadata={"description": "At most this many items (1..500)."})
    cursor = fields.String(metadata={"description": "The next_cursor of the previous page."})


class RecordListQuerySchema(Query):
    type = fields.List(fields.String(),
                       metadata={"description": "Only records of these types (repeatable)."})
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=1000),
                           metadata={"description": "At most this many records (1..1000)."})
    cursor = fields.String(metadata={"description": "The next_cursor of the previous page."})


class LangQuerySchema(Query):
    lang = fields.String(load_default="nl",
                         metadata={"description": "nl or en; anything else reads as nl."})


class RequestListQuerySchema(LangQuerySchema, PageQuerySchema):
    status = fields.String(metadata={
        "description": "Only requests in this state (pending, approved, denied, expired)."})


class GrantReadQuerySchema(Query):
    """The organisation's read (answered beneath Flask by vault.web.grantread)."""

    type = fields.List(fields.String(), metadata={
        "description": "Only these granted record types (repeatable); all granted types "
                       "without it."})
    purpose = fields.String(metadata={
        "description": "The purpose the organisation reads for; must be the grant's."})


class GrantViewQuerySchema(Query):
    purpose = fields.String(metadata={
        "description": "The purpose the organisation reads for; must be the grant's."})


# -- errors ----------------------------------------------------------------------------------


class ProblemSchema(Schema):
    """RFC 9457 problem details (``application/problem+json``). Extension members are allowed
    (RFC 9457 section 3.2); the ones Kluis sends are declared below."""

    class Meta:
        unknown = INCLUDE  # the document says additionalProperties: true

    type = fields.String(required=True, metadata={"description": "urn:kluis:problem:<code>"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "Field path -> messages."})
    error = fields.String(metadata={
        "description": "The RFC 6749 error code, when the problem is an OAuth error met on the "
        "owner API (e.g. binding an organisation's link that has expired)."})
    grant_status = fields.String(metadata={
        "description": "On a dead grant token's 401: inactive."})
    reason = fields.String(metadata={
        "description": "Why the grant token is dead: revoked, expired, used_up or narrowed."})
    revoked_by = fields.String(metadata={"description": "person or organisation"})
    grant_id = fields.String()
    at = fields.String(metadata={"description": "When the grant ended (RFC 3339)."})
    checks = fields.Dict(metadata={"description": "On /readyz: each dependency and its state."})


class OAuthErrorSchema(ProblemSchema):
    """An OAuth 2.0 error (RFC 6749 section 5.2) as the OAuth endpoints send it: ``error`` and
    ``error_description`` with the problem members, as ``application/json``."""

    error = fields.String(required=True, metadata={"example": "invalid_client"})
    error_description = fields.String(required=True)


# -- grants: organisations, requests, grants --------------------------------------------------


class LabelSchema(Strict):
    nl = fields.String(required=True)
    en = fields.String(required=True)


class OrganisationSummarySchema(Schema):
    """The organisation as stored with a request or grant (a snapshot)."""

    client_id = fields.String(required=True)
    name = fields.String(required=True)
    home_url = fields.String(allow_none=True)
    domain = fields.String(allow_none=True)
    domain_verified = fields.Boolean()
    logo_url = fields.String(allow_none=True)
    contacts = fields.List(fields.String())
    policy_url = fields.String(allow_none=True)
    address = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "The organisation's postal address (schema.org PostalAddress names), "
                       "when it gave one at registration."})


def _purpose_labels(grant: Grant) -> dict[str, str]:
    return {lang: purpose_label(grant.purpose, lang) for lang in ("nl", "en")}


# Values of a Grant that are not plain attributes of the same name.
_FROM_GRANT: dict[str, Callable[[Grant], Any]] = {
    "status": lambda grant: grant.status_at(utcnow()),
    "purpose_label": _purpose_labels,
    "records": lambda grant: grant.fields.as_dict(),
    "not_before": lambda grant: grant.expiry.not_before,
    "expires_at": lambda grant: grant.expiry.expires_at,
    "max_uses": lambda grant: grant.usage_limit,
    "record_ids": lambda grant: grant.records.as_dict() if grant.records else None,
    "include_later": lambda grant: (list(grant.records.include_later_types)
                                    if grant.records else None),
}


class GrantSchema(Strict):
    """A grant. Dump a :class:`~vault.grants.models.Grant` through one audience's view:
    :func:`owner_grant` or :func:`organisation_grant` (``only=``)."""

    id = fields.String(required=True)
    status = fields.String(required=True, metadata={
        "enum": ["active", "not-yet-valid", "expired", "used-up", "revoked"]})
    organisation = fields.Nested(OrganisationSummarySchema, required=True)
    purpose = fields.String(required=True)
    purpose_label = fields.Nested(LabelSchema, required=True)
    purpose_description = fields.String(required=True)
    retention = fields.String(required=True, metadata={"description": "ISO 8601 duration"})
    records = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                          required=True, metadata={"description": "Granted fields per type."})
    record_ids = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                             required=True, allow_none=True, metadata={
                                 "description": "The records shared, by id per type (their "
                                                "later versions included); null for a grant "
                                                "that covers every record of its types."})
    include_later = fields.List(fields.String(), required=True, allow_none=True, metadata={
        "description": "Types whose records added after the grant are shared too."})
    not_before = fields.String(required=True)
    expires_at = fields.String(required=True)
    max_uses = fields.Integer(required=True, allow_none=True)
    created_at = fields.String(required=True)
    access_count = fields.Integer(required=True)
    last_access_at = fields.String(required=True, allow_none=True)
    origin = fields.String(required=True, metadata={"enum": ["oauth", "owner"]})
    request_id = fields.String(required=True, allow_none=True)
    revoked_at = fields.String(required=True, allow_none=True)
    revoked_by = fields.String(required=True, allow_none=True)
    receipt_id = fields.String(required=True, allow_none=True)
    picked_up = fields.Boolean(required=True)

    def get_attribute(self, obj: Any, attr: str, default: Any) -> Any:
        if isinstance(obj, Grant) and attr in _FROM_GRANT:
            return _FROM_GRANT[attr](obj)
        return super().get_attribute(obj, attr, default)


ORGANISATION_VIEW = ("id", "status", "organisation", "purpose", "purpose_label",
                     "purpose_description", "retention", "records", "record_ids",
                     "include_later", "not_before", "expires_at",
                     "max_uses", "created_at", "access_count", "last_access_at")
OWNER_VIEW = ORGANISATION_VIEW + ("origin", "request_id", "revoked_at", "revoked_by",
                                  "receipt_id", "picked_up")


def owner_grant(**kw: Any) -> GrantSchema:
    """The owner's view of a grant (everything)."""
    return GrantSchema(only=OWNER_VIEW, **kw)


def organisation_grant(**kw: Any) -> GrantSchema:
    """The organisation's view: no origin, request, revocation or receipt bookkeeping."""
    return GrantSchema(only=ORGANISATION_VIEW, **kw)


class GrantedRecordsSchema(Strict):
    record_type = fields.String(required=True)
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields",
                          required=True)
    record_ids = fields.List(fields.String(), metadata={
        "description": "The records shared (absent: every record of the type)."})
    include_later = fields.Boolean(metadata={
        "description": "Whether records of the type added later are shared too."})


class GrantedDetailSchema(Strict):
    """A grant as one RFC 9396 authorization detail (what the organisation receives)."""

    type = fields.String(required=True, metadata={"enum": ["kluis_records"]})
    records = fields.List(fields.Nested(GrantedRecordsSchema), required=True)
    purpose = fields.String(required=True)
    retention = fields.String(required=True)
    not_before = fields.String(required=True)
    expires_at = fields.String(required=True)
    purpose_description = fields.String()
    max_uses = fields.Integer()


class JwsSchema(Schema):
    """A JWS in the general JSON serialization (RFC 7515 section 7.2.1)."""

    payload = fields.String(required=True, metadata={"description": "base64url"})
    signatures = fields.List(fields.Dict(), required=True)


class OrganisationGrantViewSchema(Strict):
    grant = fields.Nested(organisation_grant(), required=True)
    authorization_details = fields.List(fields.Nested(GrantedDetailSchema), required=True)


class GrantedRecordSchema(Strict):
    id = fields.String(required=True)
    type = fields.String(required=True)
    version = fields.Integer(required=True)
    updated_at = fields.String(required=True)
    data = fields.Dict(required=True, metadata={"description": "Only the granted fields."})
    provenance = fields.Nested(ProvenanceSchema, required=True)
    download_url = fields.String(metadata={
        "description": "Documents only: where the bytes are (GET with the same token)."})


class GrantRecordsSchema(Strict):
    grant_id = fields.String(required=True)
    fetched_at = fields.String(required=True)
    records = fields.List(fields.Nested(GrantedRecordSchema), required=True)


class PurposeSchema(Strict):
    code = fields.String(required=True)
    label = fields.Nested(LabelSchema, required=True)


class PurposeListSchema(Strict):
    purposes = fields.List(fields.Nested(PurposeSchema), required=True)


class RequestedFieldSchema(Strict):
    name = fields.String(required=True)
    label = fields.String(required=True)
    values = fields.List(fields.Raw(), required=True,
                         metadata={"description": "The owner's current values."})
    shown = fields.List(fields.String(), required=True,
                        metadata={"description": "The same values as the person reads them."})


class ItemValueSchema(Strict):
    name = fields.String(required=True)
    label = fields.String(required=True)
    shown = fields.String(required=True)


class RequestedItemSchema(Strict):
    """One of the owner's records of an asked type."""

    id = fields.String(required=True)
    title = fields.String(required=True)
    updated_at = fields.String(required=True)
    matches = fields.Boolean(required=True, metadata={
        "description": "Within the request's categories and period (only these may be chosen)."})
    preselected = fields.Boolean(required=True, metadata={
        "description": "Ticked on the consent screen before the person touches anything."})
    values = fields.List(fields.Nested(ItemValueSchema), required=True)
    evidence = fields.List(fields.String(), required=True, metadata={
        "description": "Names of the documents shared with it as evidence."})


class RequestedTypeSchema(Strict):
    record_type = fields.String(required=True)
    label = fields.String(required=True)
    count = fields.Integer(required=True)
    fields_ = fields.List(fields.Nested(RequestedFieldSchema), data_key="fields",
                          attribute="fields", required=True)
    items = fields.List(fields.Nested(RequestedItemSchema), required=True, metadata={
        "description": "The owner's records of this type, newest first."})
    categories = fields.List(fields.String(), required=True, allow_none=True)
    max_records = fields.Integer(required=True, allow_none=True)
    period = fields.Dict(required=True, allow_none=True)
    evidence = fields.Boolean(required=True)


class DataRequestSchema(Strict):
    """A data request in plain terms (what the consent screen shows)."""

    id = fields.String(required=True)
    status = fields.String(required=True,
                           metadata={"enum": ["pending", "approved", "denied", "expired"]})
    origin = fields.String(required=True, metadata={"enum": ["oauth", "owner"]})
    organisation = fields.Nested(OrganisationSummarySchema, required=True)
    purpose = fields.String(required=True)
    purpose_label = fields.String(required=True)
    purpose_description = fields.String(required=True)
    duration = fields.String(required=True)
    duration_days = fields.Integer(required=True)
    retention = fields.String(required=True)
    retention_days = fields.Integer(required=True)
    access_ends_at = fields.String(required=True, metadata={
        "description": "When access would end if approved now."})
    retention_ends_at = fields.String(required=True, metadata={
        "description": "The latest the organisation may keep the data until."})
    warnings = fields.List(fields.String(metadata={"enum": ["duration", "retention",
                                                            "max_uses"]}), required=True,
                           metadata={"description": "What is unusually large."})
    max_uses = fields.Integer(required=True, allow_none=True)
    records = fields.List(fields.Nested(RequestedTypeSchema), required=True)
    received_at = fields.String(required=True)
    expires_at = fields.String(required=True)
    decided_at = fields.String(required=True, allow_none=True)
    grant_id = fields.String(required=True, allow_none=True)


class DataRequestListSchema(Strict):
    requests = fields.List(fields.Nested(DataRequestSchema), required=True)
    next_cursor = next_cursor_field()


class RedirectSchema(Strict):
    redirect_uri = fields.String(required=True, metadata={
        "description": "Where to send the person's browser (with code and state, or "
                       "error=access_denied)."})


class ApprovedSchema(RedirectSchema):
    grant = fields.Nested(owner_grant(), required=True)


class GrantListSchema(Strict):
    grants = fields.List(fields.Nested(owner_grant()), required=True)
    next_cursor = next_cursor_field()


class OwnerGrantCreatedSchema(Strict):
    grant = fields.Nested(owner_grant(), required=True)
    pickup_code = fields.String(required=True, metadata={"description": "Shown once."})
    token_endpoint = fields.String(required=True)
    grant_type = fields.String(required=True)


class RevokedCountSchema(Strict):
    revoked = fields.Integer(required=True)


# -- OAuth 2.0 --------------------------------------------------------------------------------


class ServerMetadataSchema(Schema):
    """RFC 8414 authorization server metadata."""

    issuer = fields.String(required=True)
    authorization_endpoint = fields.String(required=True)
    token_endpoint = fields.String(required=True)
    registration_endpoint = fields.String(required=True)
    pushed_authorization_request_endpoint = fields.String(required=True)
    introspection_endpoint = fields.String(required=True)
    revocation_endpoint = fields.String(required=True)
    jwks_uri = fields.String(required=True)
    response_types_supported = fields.List(fields.String(), required=True)
    response_modes_supported = fields.List(fields.String(), required=True)
    grant_types_supported = fields.List(fields.String(), required=True)
    code_challenge_methods_supported = fields.List(fields.String(), required=True)
    token_endpoint_auth_methods_supported = fields.List(fields.String(), required=True)
    token_endpoint_auth_signing_alg_values_supported = fields.List(fields.String(),
                                                                   required=True)
    introspection_endpoint_auth_methods_supported = fields.List(fields.String(), required=True)
    revocation_endpoint_auth_methods_supported = fields.List(fields.String(), required=True)
    authorization_details_types_supported = fields.List(fields.String(), required=True)
    authorization_response_iss_parameter_supported = fields.Boolean(required=True)
    require_pushed_authorization_requests = fields.Boolean(required=True)
    client_id_metadata_document_supported = fields.Boolean(required=True)
    scopes_supported = fields.List(fields.String(), required=True)
    service_documentation = fields.String(required=True)
    kluis_purposes = fields.List(fields.String(), required=True)
    kluis_registration = fields.String(required=True, metadata={"enum": list(ORG_REGISTRATION_MODES)})


class JwksSchema(Schema):
    keys = fields.List(fields.Dict(), required=True, metadata={"description": "Public JWKs."})


class ClientInformationSchema(ClientMetadataSchema):
    """RFC 7591 client information response: the accepted metadata and the credentials."""

    client_id = fields.String(required=True)
    client_id_issued_at = fields.Integer(required=True)
    client_secret = fields.String(metadata={"description": "Shown once."})
    client_secret_expires_at = fields.Integer()
    kluis_status = fields.String(required=True, metadata={
        "enum": ["active", "pending"],
        "description": "pending until the operator approves (KLUIS_ORG_REGISTRATION=approval)"})
    registration_access_token = fields.String(metadata={
        "description": "RFC 7592: the bearer token for /oauth/register/{client_id}; shown once"})
    registration_client_uri = fields.String(metadata={"description": "RFC 7592"})


class ClientUpdateSchema(ClientMetadataSchema):
    """RFC 7592 update: the full metadata again, and optionally a new secret."""

    kluis_rotate_secret = fields.Boolean(metadata={
        "description": "true: issue a new client_secret (shown once); the old one stops"})


class ClientAuthSchema(Schema):
    """Client authentication in the form (or HTTP Basic, or private_key_jwt)."""

    client_id = fields.String()
    client_secret = fields.String()
    client_assertion_type = fields.String()
    client_assertion = fields.String()


class ParRequestSchema(ClientAuthSchema):
    response_type = fields.String(required=True, metadata={"enum": ["code"]})
    redirect_uri = fields.String(required=True)
    state = fields.String()
    code_challenge = fields.String(required=True)
    code_challenge_method = fields.String(required=True, metadata={"enum": ["S256"]})
    authorization_details = fields.String(required=True, metadata={
        "description": "JSON: one kluis_records authorization detail (as a list)."})


class PushedRequestSchema(Strict):
    request_uri = fields.String(required=True)
    expires_in = fields.Integer(required=True)
    link = fields.String(required=True, metadata={"description": "A short link for the person."})
    qr_svg = fields.String(required=True, metadata={"description": "The link as an SVG QR code."})


class TokenRequestSchema(ClientAuthSchema):
    grant_type = fields.String(required=True, metadata={
        "enum": ["authorization_code", PICKUP_GRANT_TYPE]})
    code = fields.String(required=True)
    redirect_uri = fields.String()
    code_verifier = fields.String()


class TokenResponseSchema(Strict):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"enum": ["Bearer"]})
    expires_in = fields.Integer(required=True)
    authorization_details = fields.List(fields.Nested(GrantedDetailSchema), required=True)
    grant_id = fields.String(required=True)
    consent_receipt = fields.Nested(JwsSchema, required=True)


class TokenFormSchema(ClientAuthSchema):
    token = fields.String(required=True)
    token_type_hint = fields.String(metadata={"enum": ["access_token"]})


class IntrospectionSchema(Strict):
    """RFC 7662: only ``active`` for unknown, revoked, expired and other clients' tokens."""

    active = fields.Boolean(required=True)
    client_id = fields.String()
    token_type = fields.String()
    exp = fields.Integer()
    iat = fields.Integer()
    nbf = fields.Integer()
    iss = fields.String()
    grant_id = fields.String()
    authorization_details = fields.List(fields.Nested(GrantedDetailSchema))
