"""OAuth 2.0 endpoints for organisations.

RFC 8414 metadata, JWKS, RFC 7591 registration, RFC 9126 pushed authorization
requests (with a short link and an SVG QR code for the person), the authorize
endpoint (the person's browser), the token endpoint, RFC 7662 introspection and
RFC 7009 revocation. Views are thin: the work is in :mod:`vault.grants`.

OAuth error bodies carry RFC 6749 ``error`` / ``error_description`` (what OAuth
client libraries read) together with the RFC 9457 problem members; the content
type is ``application/json`` as RFC 6749 requires.
"""

from __future__ import annotations

import io

import segno
from flask import (
    Blueprint,
    Response,
    redirect,
    render_template,
    request,
    url_for,
)

from vault.api import schemas as s
from vault.api.spec import operation, respond
from vault.grants.errors import OAuthError
from vault.grants.models import PURPOSES
from vault.grants.oauth import REQUEST_URI_PREFIX
from vault.grants.organisations import PICKUP_GRANT_TYPE, parse_credentials
from vault.grants.schemas import ClientMetadataSchema
from vault.web.auth import authenticate_owner, owner_vault, services

bp = Blueprint("oauth", __name__)

TAG = ["oauth"]


def issuer() -> str:
    return services().settings.public_url


def _form() -> dict[str, str]:
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "send application/x-www-form-urlencoded")
    return {k: v for k, v in request.form.items()}


def _endpoints() -> list[str]:
    base = issuer()
    return [base, base + "/", base + "/oauth/token", base + "/oauth/par",
            base + "/oauth/introspect", base + "/oauth/revoke"]


def _client(form: dict[str, str]):
    creds = parse_credentials(request.headers.get("Authorization"), form)
    return services().grants.orgs.authenticate(creds, _endpoints())


# -- discovery --------------------------------------------------------------------------------


@bp.get("/.well-known/oauth-authorization-server")
@operation("/.well-known/oauth-authorization-server", "get",
           "RFC 8414 authorization server metadata", tags=TAG, security=[], oauth=True,
           responses={200: s.ServerMetadataSchema})
def metadata():
    base = issuer()
    return respond(s.ServerMetadataSchema(), {
        "issuer": base,
        "authorization_endpoint": base + "/oauth/authorize",
        "token_endpoint": base + "/oauth/token",
        "registration_endpoint": base + "/oauth/register",
        "pushed_authorization_request_endpoint": base + "/oauth/par",
        "introspection_endpoint": base + "/oauth/introspect",
        "revocation_endpoint": base + "/oauth/revoke",
        "jwks_uri": base + "/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", PICKUP_GRANT_TYPE],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "PS256", "EdDSA"],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt"],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt"],
        "authorization_details_types_supported": ["kluis_records"],
        "authorization_response_iss_parameter_supported": True,
        "require_pushed_authorization_requests": False,
        "client_id_metadata_document_supported": True,
        "scopes_supported": [],
        "service_documentation": base + "/api/v1/openapi.json",
        "kluis_purposes": sorted(PURPOSES),
        "kluis_registration": services().settings.org_registration,
    })


@bp.get("/.well-known/jwks.json")
@operation("/.well-known/jwks.json", "get",
           "Public keys that sign consent receipts and export bundles", tags=TAG, security=[],
           oauth=True, responses={200: s.JwksSchema})
def jwks():
    return respond(s.JwksSchema(), {"keys": services().instance.public_jwks()})


# -- registration and pushed requests ---------------------------------------------------------


@bp.post("/oauth/register")
@operation("/oauth/register", "post", "RFC 7591 dynamic client registration", tags=TAG,
           request=ClientMetadataSchema, responses={201: s.ClientInformationSchema},
           security=[], oauth=True)
def register():
    if not request.is_json:
        raise OAuthError("invalid_client_metadata", "send the client metadata as JSON")
    if (request.content_length or 0) > 64 * 1024:
        raise OAuthError("invalid_client_metadata", "the metadata is too large")
    grants = services().grants
    response, _secret = grants.orgs.register(request.get_json(silent=True))
    return respond(s.ClientInformationSchema(), grants.clients.issue(response), 201)


def _registration_token() -> str | None:
    scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


CLIENT_PATH = "/oauth/register/{client_id}"
REGISTRATION_SECURITY: list[dict[str, list[str]]] = [{"registrationToken": []}]


@bp.get("/oauth/register/<client_id>")
@operation(CLIENT_PATH, "get", "RFC 7592: read the client's registration", tags=TAG,
           responses={200: s.ClientInformationSchema}, security=REGISTRATION_SECURITY,
           oauth=True)
def read_registration(client_id: str):
    info = services().grants.clients.read(client_id, _registration_token())
    resp = respond(s.ClientInformationSchema(), info)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.put("/oauth/register/<client_id>")
@operation(CLIENT_PATH, "put",
           "RFC 7592: replace the client's metadata (kluis_rotate_secret: a new secret)",
           tags=TAG, request=s.ClientUpdateSchema, responses={200: s.ClientInformationSchema},
           security=REGISTRATION_SECURITY, oauth=True)
def update_registration(client_id: str):
    if not request.is_json:
        raise OAuthError("invalid_client_metadata", "send the client metadata as JSON")
    if (request.content_length or 0) > 64 * 1024:
        raise OAuthError("invalid_client_metadata", "the metadata is too large")
    info = services().grants.clients.update(client_id, _registration_token(),
                                            request.get_json(silent=True))
    resp = respond(s.ClientInformationSchema(), info)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.delete("/oauth/register/<client_id>")
@operation(CLIENT_PATH, "delete", "RFC 7592: delete (disable) the client's registration",
           tags=TAG, responses={204: None}, security=REGISTRATION_SECURITY, oauth=True)
def delete_registration(client_id: str):
    services().grants.clients.delete(client_id, _registration_token())
    return Response(status=204)


@bp.post("/oauth/par")
@operation("/oauth/par", "post",
           "RFC 9126 pushed authorization request (returns request_uri, link and QR code)",
           tags=TAG, request=s.ParRequestSchema,
           request_content="application/x-www-form-urlencoded",
           responses={201: s.PushedRequestSchema}, security=[], oauth=True)
def par():
    form = _form()
    org = _client(form)
    pushed = services().grants.push(org.client_id, form)
    link = issuer() + url_for("oauth.short_link", ref=pushed.ref)
    return respond(s.PushedRequestSchema(), {
        "request_uri": pushed.request_uri,
        "expires_in": pushed.expires_in,
        "link": link,
        "qr_svg": link + "/qr.svg",
    }, 201)


@bp.get("/r/<ref>")
def short_link(ref: str):
    """The short link the organisation hands to the person (as text or QR code)."""
    return redirect(url_for("oauth.authorize", request_uri=REQUEST_URI_PREFIX + ref))


@bp.get("/r/<ref>/qr.svg")
def short_link_qr(ref: str):
    if services().grants.pushed(ref) is None:
        return Response("unknown or expired request", status=404, mimetype="text/plain")
    link = issuer() + url_for("oauth.short_link", ref=ref)
    out = io.BytesIO()
    segno.make(link, error="m").save(out, kind="svg", scale=6, border=2,
                                     title="Kluis request link")
    resp = Response(out.getvalue(), mimetype="image/svg+xml")
    resp.headers["Cache-Control"] = "no-store"
    return resp


# -- the person's browser ---------------------------------------------------------------------


@bp.get("/oauth/authorize")
def authorize():
    """The person opened a request: bind it to their vault and show the consent screen."""
    owner = authenticate_owner()
    if owner is None or owner.via != "session":
        # After login (and the TOTP step) the person comes back here.
        return redirect(url_for("accounts_ui.login", next=request.full_path))
    params = {k: v for k, v in request.args.items()}
    try:
        bound = services().grants.bind(owner_vault(), params)
    except OAuthError as exc:
        return render_template("grants/error.html", message=exc.description), exc.status
    return redirect(url_for("grants_ui.consent", request_id=bound.id))


# -- token, introspection, revocation ---------------------------------------------------------


@bp.post("/oauth/token")
@operation("/oauth/token", "post",
           "Exchange an authorization code (PKCE) or a pickup code for the access token",
           tags=TAG, request=s.TokenRequestSchema,
           request_content="application/x-www-form-urlencoded",
           responses={200: s.TokenResponseSchema}, security=[], oauth=True)
def token():
    form = _form()
    org = _client(form)
    grant_type = form.get("grant_type", "")
    body = services().grants.exchange(org.client_id, grant_type, form)
    resp = respond(s.TokenResponseSchema(), body)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


@bp.post("/oauth/introspect")
@operation("/oauth/introspect", "post", "RFC 7662 token introspection", tags=TAG,
           request=s.TokenFormSchema, request_content="application/x-www-form-urlencoded",
           responses={200: s.IntrospectionSchema}, security=[], oauth=True)
def introspect():
    form = _form()
    org = _client(form)
    grants = services().grants
    answer = grants.introspect(org.client_id, form.get("token", ""))
    resp = respond(s.IntrospectionSchema(), answer)
    if not answer.get("active"):
        # RFC 7662 says nothing more about an inactive token in the body; why it is inactive
        # (revoked and by whom, expired, used up, narrowed) goes to its organisation in a
        # header.
        fate = grants.inactive_reason(org.client_id, form.get("token", ""))
        if fate:
            resp.headers["Kluis-Inactive-Reason"] = inactive_header(fate)
    return resp


def inactive_header(fate: dict) -> str:
    """``reason="revoked", revoked_by="person", grant_id="..."`` (an RFC 8941 dictionary)."""
    return ", ".join(f'{k}="{v}"' for k, v in fate.items()
                     if k in ("reason", "revoked_by", "grant_id", "at") and v)


@bp.post("/oauth/revoke")
@operation("/oauth/revoke", "post", "RFC 7009 token revocation (200 without a body)", tags=TAG,
           request=s.TokenFormSchema, request_content="application/x-www-form-urlencoded",
           responses={200: None}, security=[], oauth=True)
def revoke():
    form = _form()
    org = _client(form)
    hint = form.get("token_type_hint")
    if hint and hint not in ("access_token",):
        raise OAuthError("unsupported_token_type", "only access tokens can be revoked")
    services().grants.revoke_token(org.client_id, form.get("token", ""))
    return Response(status=200)
