"""Grant APIs: the organisation's redemption API and the owner's requests / grants / log API."""

from __future__ import annotations

from flask import Blueprint, g, request
from marshmallow import Schema, validate
from marshmallow import fields as ma

from vault.api import schemas as s
from vault.api.spec import load_body, load_query, operation, page_of, respond
from vault.grants.consent import describe_request
from vault.grants.models import PURPOSES
from vault.grants.organisations import PICKUP_GRANT_TYPE
from vault.web.auth import bearer_token, owner_api, owner_vault, services
from vault.web.files import document_response
from vault.web.problems import Problem, bearer_challenge, validation_problem

bp = Blueprint("grants_api", __name__, url_prefix="/api/v1")

ORG_TAG = ["organisation"]
OWNER_TAG = ["grants"]
GRANT_SECURITY: list[dict[str, list[str]]] = [{"grantToken": []}]


# -- schemas (request bodies) ------------------------------------------------------------------


class BindRequestSchema(Schema):
    request_uri = ma.String(metadata={"description": "A request_uri from a pushed request."})
    authorize_url = ma.String(
        metadata={"description": "The link the organisation gave (authorize URL or short link)."})


class RecordChoiceSchema(Schema):
    """The records the person shares of one asked type."""

    record_type = ma.String(required=True)
    record_ids = ma.List(ma.String(), load_default=list, validate=validate.Length(max=1000),
                         metadata={"description": "The chosen records (ids); each must be "
                                                  "of this type and match the request."})
    field_names = ma.List(ma.String(), data_key="fields", metadata={
        "description": "Fields of this type to share; leave out for the asked ones."})
    include_later = ma.Boolean(load_default=False, metadata={
        "description": "Also share records of this type added later (off by default)."})
    evidence = ma.Boolean(metadata={
        "description": "false: leave out the evidence documents the request asks for."})


class ApproveSchema(Schema):
    narrowed = ma.Dict(keys=ma.String(), values=ma.List(ma.String()), data_key="fields",
                       metadata={"description": "Narrowed fields per record type."})
    records = ma.List(ma.Nested(RecordChoiceSchema), validate=validate.Length(max=20),
                      metadata={"description": "Which records to share, per type; leave out "
                                               "to share the records matching the request."})
    expires_at = ma.String(metadata={"description": "A shorter end of access (RFC 3339)."})
    lang = ma.String(load_default="nl")


class NarrowChoiceSchema(Schema):
    """What stays shared of one type; a member left out keeps what the grant has."""

    record_type = ma.String(required=True)
    record_ids = ma.List(ma.String(), validate=validate.Length(max=1000), metadata={
        "description": "The records that stay shared (a subset of those shared now)."})
    field_names = ma.List(ma.String(), data_key="fields", metadata={
        "description": "The fields that stay shared (a subset)."})
    include_later = ma.Boolean(metadata={"description": "false: no longer share records "
                                                        "of this type added later."})
    evidence = ma.Boolean(metadata={"description": "false: no longer share the documents "
                                                   "these records cite."})


class NarrowSchema(Schema):
    records = ma.List(ma.Nested(NarrowChoiceSchema), required=True,
                      validate=validate.Length(max=20), metadata={
                          "description": "Per type what stays shared; types left out are "
                                         "no longer shared."})
    lang = ma.String(load_default="nl", validate=validate.OneOf(["nl", "en"]))


class OwnerGrantSchema(Schema):
    client_id = ma.String(required=True, metadata={
        "description": "A registered client id or an organisation's metadata URL."})
    authorization_details = ma.Raw(required=True, metadata={
        "description": "One kluis_records authorization detail (as a list)."})
    records = ma.List(ma.Nested(RecordChoiceSchema), validate=validate.Length(max=20),
                      metadata={"description": "Which records to share, per type (as when "
                                               "approving); leave out to share the records "
                                               "of the written types held now, none added "
                                               "later."})
    lang = ma.String(load_default="nl")


# -- organisation: redemption ------------------------------------------------------------------


def _grant_token() -> str:
    token = bearer_token()
    if token is None:
        raise Problem(401, "unauthorized", "Send the grant's access token",
                      "Use Authorization: Bearer <access_token>.",
                      headers={"WWW-Authenticate": bearer_challenge()})
    return token


@bp.get("/grant")
@operation("/api/v1/grant", "get", "The grant as the organisation sees it", tags=ORG_TAG,
           security=GRANT_SECURITY, query=s.GrantViewQuerySchema,
           responses={200: s.OrganisationGrantViewSchema})
def organisation_grant():
    token = _grant_token()
    query = load_query(s.GrantViewQuerySchema())
    # Grants.redeem hands over the grant already in the organisation's view (plain values);
    # the schema's organisation view passes them through.
    return respond(s.OrganisationGrantViewSchema(), services().grants.redeem(
        token, view="grant", purpose=query.get("purpose")))


class ReceiptQuerySchema(Schema):
    format = ma.String(load_default="json", validate=validate.OneOf(["json", "html", "pdf"]),
                       metadata={"description": "json (the signed JWS), html or pdf "
                                                "(readable, with the key id)."})
    lang = ma.String(load_default="nl", validate=validate.OneOf(["nl", "en"]))
    purpose = ma.String()


@bp.get("/grant/receipt")
@operation("/api/v1/grant/receipt", "get",
           "The organisation's copy of the consent receipt: signed (JSON), or readable "
           "(HTML, PDF)", tags=ORG_TAG, security=GRANT_SECURITY, query=ReceiptQuerySchema,
           responses={200: {"application/json": s.JwsSchema, "text/html": None,
                            "application/pdf": None}})
def organisation_receipt():
    from flask import Response, render_template

    from vault.grants import receipts
    from vault.grants.models import purpose_label
    from vault.portability.receipt_pdf import receipt_rows, render_receipt_pdf

    token = _grant_token()
    query = load_query(ReceiptQuerySchema())
    document = services().grants.redeem(token, view="receipt",
                                        purpose=query.get("purpose"))["receipt"]
    if not document:
        raise Problem(404, "not-found", "This grant has no receipt")
    if query["format"] == "json":
        return respond(s.JwsSchema(), document)
    payload, kid = receipts.payload_of(document), receipts.key_id(document)
    if query["format"] == "pdf":
        return Response(render_receipt_pdf(document, payload, kid, query["lang"],
                                           purpose_label=purpose_label),
                        mimetype="application/pdf")
    return Response(render_template("grants/receipt_public.html", lang=query["lang"],
                                    rows=receipt_rows(payload, kid, query["lang"],
                                                      purpose_label=purpose_label)),
                    mimetype="text/html")


@bp.get("/grant/documents/<record_id>")
@operation("/api/v1/grant/documents/{record_id}", "get",
           "A granted document's bytes (streamed; Repr-Digest carries its SHA-256)",
           tags=ORG_TAG, security=GRANT_SECURITY, query=s.GrantViewQuerySchema,
           responses={200: {"*/*": None}})
def organisation_document(record_id: str):
    token = _grant_token()
    query = load_query(s.GrantViewQuerySchema())
    download = services().grants.redeem_document(token, record_id, purpose=query.get("purpose"))
    return document_response(download)


# Answered by vault.web.grantread (a WSGI application mounted for this path, beneath Flask).
# Its body is serialised by the domain (Grants.redeem_records, cached per read shape) for
# speed, so it is documented here and checked against the document by the tests.
operation("/api/v1/grant/records", "get",
          "Granted records: only granted types and fields, current versions, with provenance",
          tags=ORG_TAG, security=GRANT_SECURITY, query=s.GrantReadQuerySchema,
          responses={200: s.GrantRecordsSchema})


@bp.get("/purposes")
@operation("/api/v1/purposes", "get", "The purpose vocabulary (codes with nl/en labels)",
           tags=ORG_TAG, security=[], responses={200: s.PurposeListSchema})
def purposes():
    return respond(s.PurposeListSchema(),
                   {"purposes": [{"code": k, "label": v} for k, v in PURPOSES.items()]})


# -- owner: requests -----------------------------------------------------------------------------


def _lang(query: dict) -> str:
    lang = query.get("lang", "nl")
    return lang if lang in ("nl", "en") else "nl"


@bp.post("/requests")
@owner_api
@operation("/api/v1/requests", "post",
           "Open an organisation's request in this vault (paste the link or request_uri)",
           tags=OWNER_TAG, request=BindRequestSchema, query=s.LangQuerySchema,
           responses={201: s.DataRequestSchema})
def bind_request():
    query = load_query(s.LangQuerySchema())
    body = load_body(BindRequestSchema(), max_bytes=64 * 1024)
    service = services().grants
    if body.get("request_uri"):
        params = {"request_uri": body["request_uri"]}
    elif body.get("authorize_url"):
        params = service.parse_link(body["authorize_url"])
    else:
        raise validation_problem({"request_uri": ["Give request_uri or authorize_url."]})
    vault = owner_vault()
    bound = service.bind(vault, params)
    return respond(s.DataRequestSchema(),
                   describe_request(vault, bound, _lang(query), services().settings), 201)


@bp.get("/requests")
@owner_api
@operation("/api/v1/requests", "get", "Data requests, newest first", tags=OWNER_TAG,
           query=s.RequestListQuerySchema, responses={200: s.DataRequestListSchema})
def list_requests():
    query = load_query(s.RequestListQuerySchema())
    vault = owner_vault()
    items, cursor = page_of(services().grants.list_requests(vault, query.get("status") or None),
                            query)
    return respond(s.DataRequestListSchema(),
                   {"requests": [describe_request(vault, r, _lang(query), services().settings)
                                 for r in items], "next_cursor": cursor})


@bp.get("/requests/<request_id>")
@owner_api
@operation("/api/v1/requests/{request_id}", "get", "One request in plain terms",
           tags=OWNER_TAG, query=s.LangQuerySchema, responses={200: s.DataRequestSchema})
def get_request(request_id: str):
    query = load_query(s.LangQuerySchema())
    vault = owner_vault()
    return respond(s.DataRequestSchema(), describe_request(
        vault, services().grants.get_request(vault, request_id), _lang(query),
        services().settings))


@bp.post("/requests/<request_id>/approve")
@owner_api
@operation("/api/v1/requests/{request_id}/approve", "post",
           "Approve (optionally narrowed); returns the redirect_uri with code and state",
           tags=OWNER_TAG, request=ApproveSchema, responses={200: s.ApprovedSchema})
def approve_request(request_id: str):
    body = load_body(ApproveSchema(), max_bytes=64 * 1024) if request.content_length else {}
    decision = services().grants.approve(
        owner_vault(), g.owner.dek, request_id, fields=body.get("narrowed"),
        expires_at=body.get("expires_at"), lang=body.get("lang", "nl"),
        records=_choices(body.get("records")))
    return respond(s.ApprovedSchema(), {"redirect_uri": decision.redirect_uri,
                                        "grant": decision.grant})


def _choices(records: list[dict] | None) -> list[dict] | None:
    """The ``records`` member as the domain takes it (``fields`` under its own name)."""
    if records is None:
        return None
    return [{("fields" if k == "field_names" else k): v for k, v in r.items()} for r in records]


@bp.post("/requests/<request_id>/deny")
@owner_api
@operation("/api/v1/requests/{request_id}/deny", "post",
           "Refuse; the organisation gets access_denied", tags=OWNER_TAG,
           responses={200: s.RedirectSchema})
def deny_request(request_id: str):
    decision = services().grants.deny(owner_vault(), request_id)
    return respond(s.RedirectSchema(), {"redirect_uri": decision.redirect_uri})


# -- owner: grants -------------------------------------------------------------------------------


@bp.get("/grants")
@owner_api
@operation("/api/v1/grants", "get", "Every grant (active, expired, revoked)", tags=OWNER_TAG,
           query=s.PageQuerySchema, responses={200: s.GrantListSchema})
def list_grants():
    items, cursor = page_of(services().grants.list_grants(owner_vault()),
                            load_query(s.PageQuerySchema()))
    return respond(s.GrantListSchema(), {"grants": items, "next_cursor": cursor})


@bp.post("/grants")
@owner_api
@operation("/api/v1/grants", "post",
           "Create a grant for an organisation; returns a one-time pickup code and link",
           tags=OWNER_TAG, request=OwnerGrantSchema, responses={201: s.OwnerGrantCreatedSchema})
def create_grant():
    body = load_body(OwnerGrantSchema(), max_bytes=64 * 1024)
    decision = services().grants.create_owner_grant(
        owner_vault(), g.owner.dek, client_id=body["client_id"],
        authorization_details=body["authorization_details"], lang=body.get("lang", "nl"),
        records=_choices(body.get("records")))
    from vault.api.oauth import issuer

    return respond(s.OwnerGrantCreatedSchema(), {
        "grant": decision.grant,
        "pickup_code": decision.pickup_code,
        "token_endpoint": issuer() + "/oauth/token",
        "grant_type": PICKUP_GRANT_TYPE,
    }, 201)


@bp.post("/grants/revoke-all")
@owner_api
@operation("/api/v1/grants/revoke-all", "post", "Revoke every active grant", tags=OWNER_TAG,
           responses={200: s.RevokedCountSchema})
def revoke_all():
    return respond(s.RevokedCountSchema(), {"revoked": services().grants.revoke_all(owner_vault())})


@bp.get("/grants/<grant_id>")
@owner_api
@operation("/api/v1/grants/{grant_id}", "get", "One grant", tags=OWNER_TAG,
           responses={200: s.owner_grant()})
def get_grant(grant_id: str):
    return respond(s.owner_grant(), services().grants.get_grant(owner_vault(), grant_id))


@bp.delete("/grants/<grant_id>")
@owner_api
@operation("/api/v1/grants/{grant_id}", "delete",
           "Revoke: the key slot is deleted, the next request with the token gets 401",
           tags=OWNER_TAG, responses={200: s.owner_grant()})
def revoke_grant(grant_id: str):
    return respond(s.owner_grant(), services().grants.revoke(owner_vault(), grant_id))


@bp.post("/grants/<grant_id>/narrow")
@owner_api
@operation("/api/v1/grants/{grant_id}/narrow", "post",
           "Narrow an active grant: fewer fields or records; the token reads only what is "
           "left from the next request, and the organisation gets grant.narrowed",
           tags=OWNER_TAG, request=NarrowSchema, responses={200: s.owner_grant()})
def narrow_grant(grant_id: str):
    body = load_body(NarrowSchema(), max_bytes=64 * 1024)
    return respond(s.owner_grant(), services().grants.narrow_grant(
        owner_vault(), grant_id, _choices(body["records"]), lang=body["lang"]))


@bp.get("/grants/<grant_id>/receipt")
@owner_api
@operation("/api/v1/grants/{grant_id}/receipt", "get",
           "The signed consent receipt (Kantara CR v1.1 as JWS JSON)", tags=OWNER_TAG,
           responses={200: s.JwsSchema})
def receipt(grant_id: str):
    resp = respond(s.JwsSchema(), services().grants.receipt(owner_vault(), grant_id))
    resp.headers["Content-Disposition"] = f'attachment; filename="receipt-{grant_id}.json"'
    return resp
