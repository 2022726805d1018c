"""What organisations ask about the lifecycle of their requests and grants.

``GET /api/v1/requests/status`` (where a pushed request stands; also ``POST`` with a form
body, like RFC 7662 introspection, so a ``private_key_jwt`` client can send its assertion),
``GET /api/v1/webhooks/deliveries`` (recent events and how their delivery went) and ``POST
/api/v1/grant/deletion`` (a signed deletion statement; for a ``private_key_jwt`` client the
statement itself can be the client authentication). Each is authenticated as the client, as
at the token endpoint. Views are thin: the work is in :mod:`vault.grants`.
"""

from __future__ import annotations

from flask import Blueprint, request
from marshmallow import Schema, fields

from vault.api import schemas as s
from vault.api.schemas import ClientAuthSchema
from vault.api.spec import load_body, load_query, operation, page_of, respond
from vault.grants import deletion, notifications
from vault.grants.errors import OAuthError
from vault.grants.models import Organisation
from vault.grants.organisations import ClientCredentials, parse_credentials
from vault.web.auth import owner_api, owner_vault, services
from vault.web.problems import Problem

bp = Blueprint("lifecycle_api", __name__, url_prefix="/api/v1")

TAG = ["organisation"]
CLIENT_SECURITY: list[dict[str, list[str]]] = [{"clientBasic": []}]


def authenticated_client(path: str) -> Organisation:
    """The organisation the request authenticates as (Basic, or the form's client
    credentials / assertion); 401 problem+json otherwise."""
    return authenticated(path)[0]


def _audiences(path: str) -> list[str]:
    base = services().settings.public_url
    return [base, base + "/", base + path]


def _client_problem(exc: OAuthError) -> Problem | None:
    """The 401 problem+json for a client authentication failure (None: not one)."""
    if exc.status >= 500 or exc.error not in ("invalid_client", "unauthorized_client",
                                              "invalid_request"):
        return None
    return Problem(401 if exc.status == 401 else exc.status, "invalid-client",
                   "Client authentication failed", exc.description,
                   headers={"WWW-Authenticate": 'Basic realm="kluis"'})


def authenticated(path: str) -> tuple[Organisation, ClientCredentials]:
    """:func:`authenticated_client` and the credentials it checked."""
    form = {k: v for k, v in request.form.items()} if request.mimetype == \
        "application/x-www-form-urlencoded" else {}
    try:
        creds = parse_credentials(request.headers.get("Authorization"), form)
        org = services().grants.orgs.authenticate(creds, _audiences(path))
        return org, creds
    except OAuthError as exc:
        problem = _client_problem(exc)
        if problem is None:
            raise
        raise problem from None


class RequestStatusQuery(Schema):
    request_uri = fields.String(required=True,
                                metadata={"description": "The request_uri PAR returned"})


class RequestStatusSchema(Schema):
    request_uri = fields.String(required=True)
    status = fields.String(required=True, metadata={
        "enum": ["pending", "approved", "refused", "expired"]})
    created_at = fields.String(required=True)
    expires_at = fields.String(required=True)
    opened_at = fields.String(allow_none=True)
    decided_at = fields.String(allow_none=True)


class RequestStatusFormSchema(ClientAuthSchema):
    request_uri = fields.String(required=True,
                                metadata={"description": "The request_uri PAR returned"})


@bp.get("/requests/status")
@operation("/api/v1/requests/status", "get",
           "Where a pushed request stands: pending, approved, refused or expired",
           tags=TAG, security=CLIENT_SECURITY, query=RequestStatusQuery,
           responses={200: RequestStatusSchema})
def request_status():
    org = authenticated_client("/api/v1/requests/status")
    return _status_of(org, request.args.get("request_uri", ""))


@bp.post("/requests/status")
@operation("/api/v1/requests/status", "post",
           "The same, asked with a form body (request_uri and any registered client "
           "authentication, private_key_jwt included), as RFC 7662 introspection is",
           tags=TAG, security=CLIENT_SECURITY, request=RequestStatusFormSchema,
           request_content="application/x-www-form-urlencoded",
           responses={200: RequestStatusSchema})
def request_status_form():
    if request.mimetype != "application/x-www-form-urlencoded":
        raise Problem(415, "unsupported-media-type", "Send a form body",
                      "Use Content-Type: application/x-www-form-urlencoded.")
    org = authenticated_client("/api/v1/requests/status")
    return _status_of(org, request.form.get("request_uri", ""))


def _status_of(org: Organisation, request_uri: str):
    if not request_uri:
        raise Problem(422, "validation", "request_uri is required",
                      errors={"request_uri": ["The request_uri PAR returned."]})
    try:
        status = services().grants.request_status(org.client_id, request_uri)
    except OAuthError:
        raise Problem(404, "not-found", "No such request of this organisation") from None
    resp = respond(RequestStatusSchema(), status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- webhooks --------------------------------------------------------------------------------


class DeliveriesQuery(Schema):
    limit = fields.Integer(load_default=50, metadata={"description": "1 to 200"})


class DeliveryTrySchema(Schema):
    url = fields.String(required=True)
    attempt = fields.Integer(required=True)
    at = fields.String(required=True)
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    ok = fields.Boolean(required=True)


class DeliverySchema(Schema):
    id = fields.String(required=True, metadata={"description": "The event id"})
    type = fields.String(required=True)
    created_at = fields.String(required=True)
    status = fields.String(required=True, metadata={
        "enum": ["queued", "delivered", "failed", "no-endpoint"]})
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.String(allow_none=True)
    delivered_at = fields.String(allow_none=True)
    last_error = fields.String(allow_none=True)
    event = fields.Dict(required=True, metadata={"description": "The body that is sent"})
    tries = fields.List(fields.Nested(DeliveryTrySchema), required=True)


class DeliveryListSchema(Schema):
    deliveries = fields.List(fields.Nested(DeliverySchema), required=True)


@bp.get("/webhooks/deliveries")
@operation("/api/v1/webhooks/deliveries", "get",
           "The organisation's recent lifecycle events and how their delivery went",
           tags=TAG, security=CLIENT_SECURITY, query=DeliveriesQuery,
           responses={200: DeliveryListSchema})
def deliveries():
    from vault.grants import webhooks

    org = authenticated_client("/api/v1/webhooks/deliveries")
    try:
        limit = int(request.args.get("limit", "50"))
    except ValueError:
        raise Problem(422, "validation", "limit must be a whole number",
                      errors={"limit": ["1 to 200."]}) from None
    if not 1 <= limit <= 200:
        raise Problem(422, "validation", "limit must be 1 to 200",
                      errors={"limit": ["1 to 200."]})
    rows = webhooks.deliveries(services().instance.conn, org.client_id, limit)
    resp = respond(DeliveryListSchema(), {"deliveries": rows})
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- deletion statements ---------------------------------------------------------------------


DELETION_MAX_BYTES = 32 * 1024


class DeletionInSchema(Schema):
    grant_id = fields.String(required=True)
    statement = fields.String(required=True, metadata={
        "description": "Compact JWS of {iss: client_id, grant_id, deleted_at, iat}, signed "
        "with the registered key (jwks/jwks_uri) or HS256 with the client secret. Without "
        "other client authentication, a private_key_jwt client's statement authenticates "
        "the request: it then also carries sub = client_id, an aud of this instance, a "
        "fresh iat and a jti used once"})


class DeletionAcceptedSchema(Schema):
    id = fields.String(required=True)
    grant_id = fields.String(required=True)
    deleted_at = fields.String(required=True)
    received_at = fields.String(required=True)
    status = fields.String(required=True, metadata={"enum": ["accepted"]})


@bp.post("/grant/deletion")
@operation("/api/v1/grant/deletion", "post",
           "A signed statement that the data received under a grant was deleted",
           tags=TAG, security=CLIENT_SECURITY, request=DeletionInSchema,
           responses={201: DeletionAcceptedSchema})
def deletion_statement():
    path = "/api/v1/grant/deletion"
    if request.headers.get("Authorization"):
        org, creds = authenticated(path)
    else:
        # No other credentials: the statement, signed with the registered key, is the client
        # authentication (private_key_jwt clients only; docs/api.md). It is checked before
        # the body is validated, as any client authentication is.
        small = (request.content_length or 0) <= DELETION_MAX_BYTES
        raw = request.get_json(silent=True) if request.is_json and small else None
        statement = raw.get("statement") if isinstance(raw, dict) else None
        try:
            org, creds = deletion.authenticate(services().grants.orgs, statement,
                                               _audiences(path))
        except OAuthError as exc:
            problem = _client_problem(exc)
            if problem is None:
                raise
            raise problem from None
    body = load_body(DeletionInSchema(), max_bytes=DELETION_MAX_BYTES)
    accepted = services().grants.submit_deletion(org, creds, body["grant_id"],
                                                 body["statement"])
    return respond(DeletionAcceptedSchema(), accepted, 201)


# -- the owner's notifications ---------------------------------------------------------------

OWNER_TAG = ["owner"]


class NotificationSchema(Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True)
    grant_id = fields.String(allow_none=True)
    count = fields.Integer(required=True)
    text = fields.String(required=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    read = fields.Boolean(required=True)


class NotificationListSchema(Schema):
    unread = fields.Integer(required=True)
    notifications = fields.List(fields.Nested(NotificationSchema), required=True)
    next_cursor = s.next_cursor_field()


class MailSettingsSchema(Schema):
    email = fields.String(allow_none=True, metadata={"description": "Confirmed address"})
    pending_email = fields.String(allow_none=True, metadata={
        "description": "Waiting for its confirmation code"})
    mail_kinds = fields.List(fields.String(), required=True)


class MailSettingsInSchema(Schema):
    email = fields.String(allow_none=True, load_default=None)
    mail_kinds = fields.List(fields.String(), load_default=list)


class ConfirmSchema(Schema):
    code = fields.String(required=True)


@bp.get("/notifications")
@owner_api
@operation("/api/v1/notifications", "get", "The owner's notifications, newest first",
           tags=OWNER_TAG, query=s.PageQuerySchema, responses={200: NotificationListSchema})
def list_notifications():
    vault = owner_vault()
    items, cursor = page_of(notifications.listing(vault.conn, limit=500),
                            load_query(s.PageQuerySchema()))
    return respond(NotificationListSchema(), {"unread": notifications.unread(vault.conn),
                                              "notifications": items, "next_cursor": cursor})


@bp.post("/notifications/read")
@owner_api
@operation("/api/v1/notifications/read", "post", "Mark every notification read",
           tags=OWNER_TAG, responses={204: None})
def read_notifications():
    notifications.mark_read(owner_vault())
    return "", 204


@bp.put("/notifications/mail")
@owner_api
@operation("/api/v1/notifications/mail", "put",
           "Which kinds to mail, and to which address (a new one gets a confirmation code)",
           tags=OWNER_TAG, request=MailSettingsInSchema, responses={200: MailSettingsSchema})
def set_mail():
    body = load_body(MailSettingsInSchema(), max_bytes=8 * 1024)
    return respond(MailSettingsSchema(), notifications.set_mail(
        owner_vault(), email=body["email"], mail_kinds=body["mail_kinds"]))


@bp.post("/notifications/mail/confirm")
@owner_api
@operation("/api/v1/notifications/mail/confirm", "post",
           "Confirm the new address with the code mailed to it (double opt-in)",
           tags=OWNER_TAG, request=ConfirmSchema, responses={200: MailSettingsSchema})
def confirm_mail():
    body = load_body(ConfirmSchema(), max_bytes=1024)
    return respond(MailSettingsSchema(), notifications.confirm(owner_vault(), body["code"]))
