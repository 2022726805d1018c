"""Grant APIs: the organisation's redemption API and the owner's requests / grants / log API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import Schema
from marshmallow import fields as ma

from vault.accounts.web import bearer_token, owner_api, owner_vault, run_open_hooks
from vault.api.fastread import READ_FAILED
from vault.api.oauth import grants_service
from vault.api.problems import Problem, validation_problem
from vault.api.spec import load_body, operation
from vault.clock import utcnow
from vault.grants import accesslog
from vault.grants.models import PURPOSES
from vault.grants.organisations import OAuthError
from vault.grants.service import (
    PICKUP_GRANT_TYPE,
    GrantError,
    InsufficientScope,
    InvalidToken,
    describe_request,
)
from vault.storage.vaults import VaultDB

bp = Blueprint("grants_api", __name__, url_prefix="/api/v1")

ORG_TAG = ["organisation"]
OWNER_TAG = ["grants"]
GRANT_SECURITY = [{"grantToken": []}]


# -- schemas (request bodies) ------------------------------------------------------------------


class BindRequestSchema(Schema):
    request_uri = ma.String(metadata={"description": "A request_uri from a pushed request."})
    authorize_url = ma.String(
        metadata={"description": "The link the organisation gave (authorize URL or short link)."})


class ApproveSchema(Schema):
    narrowed = ma.Dict(keys=ma.String(), values=ma.List(ma.String()), data_key="fields",
                       metadata={"description": "Narrowed fields per record type."})
    expires_at = ma.String(metadata={"description": "A shorter end of access (RFC 3339)."})
    lang = ma.String(load_default="nl")


class OwnerGrantSchema(Schema):
    client_id = ma.String(required=True, metadata={
        "description": "A registered client id or an organisation's metadata URL."})
    authorization_details = ma.Raw(required=True, metadata={
        "description": "One kluis_records authorization detail (as a list)."})
    lang = ma.String(load_default="nl")


# -- errors --------------------------------------------------------------------------------------


def _bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    value = 'Bearer realm="kluis"'
    if error:
        value += f', error="{error}"'
    if description:
        value += ', error_description="{}"'.format(description.replace('"', "'"))
    return value


@bp.errorhandler(GrantError)
def _grant_error(exc: GrantError):
    headers: dict[str, str] = {}
    on_grant_api = request.path == "/api/v1/grant" or request.path.startswith("/api/v1/grant/")
    if on_grant_api and isinstance(exc, InvalidToken | InsufficientScope):
        headers["WWW-Authenticate"] = _bearer_challenge(exc.code, str(exc))
    extra: dict[str, Any] = {}
    if exc.errors:
        extra["errors"] = exc.errors
    code = exc.code.replace("_", "-")
    return Problem(exc.status, code, str(exc), headers=headers, **extra).response()


@bp.errorhandler(OAuthError)
def _oauth_error(exc: OAuthError):
    extra: dict[str, Any] = {"error": exc.error}
    if exc.errors:
        extra["errors"] = exc.errors
    status = exc.status if exc.status != 401 else 400
    return Problem(status, "oauth-" + exc.error.replace("_", "-"), exc.description,
                   **extra).response()


# -- organisation: redemption ------------------------------------------------------------------


def _grant_token() -> str:
    token = bearer_token()
    if token is None:
        raise Problem(401, "unauthorized", "Send the grant's access token",
                      "Use Authorization: Bearer <access_token>.",
                      headers={"WWW-Authenticate": _bearer_challenge()})
    return token


def _on_open(vault: VaultDB) -> None:
    run_open_hooks(current_app, vault)


@bp.get("/grant")
@operation("/api/v1/grant", "get", "The grant as the organisation sees it", tags=ORG_TAG,
           security=GRANT_SECURITY)
def organisation_grant():
    return jsonify(grants_service().redeem(
        _grant_token(), view="grant", purpose=request.args.get("purpose"), on_open=_on_open))


@bp.get("/grant/records")
@operation("/api/v1/grant/records", "get",
           "Granted records: only granted types and fields, current versions, with provenance",
           tags=ORG_TAG, security=GRANT_SECURITY,
           parameters=[{"name": "type", "in": "query", "required": False,
                        "schema": {"type": "string"}},
                       {"name": "purpose", "in": "query", "required": False,
                        "schema": {"type": "string"}}])
def organisation_records():
    failed = request.environ.pop(READ_FAILED, None)
    if failed is not None:  # the read already ran beneath Flask (vault.api.fastread)
        raise failed
    after: list = []
    body = grants_service().redeem_records(
        _grant_token(), types=request.args.getlist("type"),
        purpose=request.args.get("purpose"), on_open=_on_open, defer=after.append)
    response = current_app.response_class(body, mimetype="application/json")
    for task in after:  # journal upkeep, once the organisation has its answer
        response.call_on_close(task)
    return response


@bp.get("/purposes")
@operation("/api/v1/purposes", "get", "The purpose vocabulary (codes with nl/en labels)",
           tags=ORG_TAG, security=[])
def purposes():
    return jsonify({"purposes": [{"code": k, "label": v} for k, v in PURPOSES.items()]})


# -- owner: requests -----------------------------------------------------------------------------


def _lang() -> str:
    lang = request.args.get("lang", "nl")
    return lang if lang in ("nl", "en") else "nl"


@bp.post("/requests")
@owner_api
@operation("/api/v1/requests", "post",
           "Open an organisation's request in this vault (paste the link or request_uri)",
           tags=OWNER_TAG, request=BindRequestSchema, responses={201: None})
def bind_request():
    body = load_body(BindRequestSchema(), max_bytes=64 * 1024)
    service = grants_service()
    if body.get("request_uri"):
        params = {"request_uri": body["request_uri"]}
    elif body.get("authorize_url"):
        params = service.parse_link(body["authorize_url"])
    else:
        raise validation_problem({"request_uri": ["Give request_uri or authorize_url."]})
    vault = owner_vault()
    bound = service.bind(vault, params)
    resp = jsonify(describe_request(vault, bound, _lang()))
    resp.status_code = 201
    return resp


@bp.get("/requests")
@owner_api
@operation("/api/v1/requests", "get", "Data requests, newest first", tags=OWNER_TAG)
def list_requests():
    vault = owner_vault()
    status = request.args.get("status")
    items = grants_service().list_requests(vault, status)
    return jsonify({"requests": [describe_request(vault, r, _lang()) for r in items]})


@bp.get("/requests/<request_id>")
@owner_api
@operation("/api/v1/requests/{request_id}", "get", "One request in plain terms",
           tags=OWNER_TAG)
def get_request(request_id: str):
    vault = owner_vault()
    return jsonify(describe_request(vault, grants_service().get_request(vault, request_id),
                                    _lang()))


@bp.post("/requests/<request_id>/approve")
@owner_api
@operation("/api/v1/requests/{request_id}/approve", "post",
           "Approve (optionally narrowed); returns the redirect_uri with code and state",
           tags=OWNER_TAG, request=ApproveSchema)
def approve_request(request_id: str):
    body = load_body(ApproveSchema(), max_bytes=64 * 1024) if request.content_length else {}
    decision = grants_service().approve(
        owner_vault(), g.owner.dek, request_id, fields=body.get("narrowed"),
        expires_at=body.get("expires_at"), lang=body.get("lang", "nl"))
    return jsonify({"redirect_uri": decision.redirect_uri,
                    "grant": decision.grant.to_dict(utcnow())})


@bp.post("/requests/<request_id>/deny")
@owner_api
@operation("/api/v1/requests/{request_id}/deny", "post",
           "Refuse; the organisation gets access_denied", tags=OWNER_TAG)
def deny_request(request_id: str):
    decision = grants_service().deny(owner_vault(), request_id)
    return jsonify({"redirect_uri": decision.redirect_uri})


# -- owner: grants -------------------------------------------------------------------------------


@bp.get("/grants")
@owner_api
@operation("/api/v1/grants", "get", "Every grant (active, expired, revoked)", tags=OWNER_TAG)
def list_grants():
    now = utcnow()
    return jsonify({"grants": [g_.to_dict(now)
                               for g_ in grants_service().list_grants(owner_vault())]})


@bp.post("/grants")
@owner_api
@operation("/api/v1/grants", "post",
           "Create a grant for an organisation; returns a one-time pickup code and link",
           tags=OWNER_TAG, request=OwnerGrantSchema, responses={201: None})
def create_grant():
    body = load_body(OwnerGrantSchema(), max_bytes=64 * 1024)
    decision = grants_service().create_owner_grant(
        owner_vault(), g.owner.dek, client_id=body["client_id"],
        authorization_details=body["authorization_details"], lang=body.get("lang", "nl"))
    from vault.api.oauth import issuer

    resp = jsonify({
        "grant": decision.grant.to_dict(utcnow()),
        "pickup_code": decision.pickup_code,
        "token_endpoint": issuer() + "/oauth/token",
        "grant_type": PICKUP_GRANT_TYPE,
    })
    resp.status_code = 201
    return resp


@bp.post("/grants/revoke-all")
@owner_api
@operation("/api/v1/grants/revoke-all", "post", "Revoke every active grant", tags=OWNER_TAG)
def revoke_all():
    return jsonify({"revoked": grants_service().revoke_all(owner_vault())})


@bp.get("/grants/<grant_id>")
@owner_api
@operation("/api/v1/grants/{grant_id}", "get", "One grant", tags=OWNER_TAG)
def get_grant(grant_id: str):
    return jsonify(grants_service().get_grant(owner_vault(), grant_id).to_dict(utcnow()))


@bp.delete("/grants/<grant_id>")
@owner_api
@operation("/api/v1/grants/{grant_id}", "delete",
           "Revoke: the key slot is deleted, the next request with the token gets 401",
           tags=OWNER_TAG)
def revoke_grant(grant_id: str):
    return jsonify(grants_service().revoke(owner_vault(), grant_id).to_dict(utcnow()))


@bp.get("/grants/<grant_id>/receipt")
@owner_api
@operation("/api/v1/grants/{grant_id}/receipt", "get",
           "The signed consent receipt (Kantara CR v1.1 as JWS JSON)", tags=OWNER_TAG)
def receipt(grant_id: str):
    resp = jsonify(grants_service().receipt(owner_vault(), grant_id))
    resp.headers["Content-Disposition"] = f'attachment; filename="receipt-{grant_id}.json"'
    return resp


@bp.get("/access-log")
@owner_api
@operation("/api/v1/access-log", "get",
           "The access log (optionally ?grant=), newest first, with the chain check",
           tags=OWNER_TAG)
def access_log():
    try:
        limit = int(request.args.get("limit", 200))
    except ValueError:
        raise validation_problem({"limit": ["A whole number."]}) from None
    page = accesslog.read_log(owner_vault(), grant_id=request.args.get("grant") or None,
                              limit=limit)
    return jsonify({"events": page.events, "log_intact": page.intact,
                    "problems": page.problems})
