"""Owner API of accounts: sign-up, app tokens, password, TOTP, recovery, logout (``/api/v1``)."""

from __future__ import annotations

from flask import Blueprint, Response, g

from vault.accounts import sessions, totp
from vault.accounts.errors import InvalidCredentials, TotpInvalid, TotpReplayed
from vault.api import schemas as s
from vault.api.spec import load_body, load_query, operation, page_of, respond
from vault.web.auth import bearer_token, client_address, owner_api, owner_vault, services
from vault.web.problems import Problem, validation_problem

bp = Blueprint("accounts_api", __name__, url_prefix="/api/v1")

TAG = ["owner"]


def _body_limit() -> int:
    return services().settings.max_body_bytes


@bp.post("/accounts")
@operation("/api/v1/accounts", "post", "Sign up: create an account and its vault", tags=TAG,
           request=s.AccountCreateSchema, responses={201: s.AccountCreatedSchema}, security=[])
def create_account():
    body = load_body(s.AccountCreateSchema(), max_bytes=_body_limit())
    vault_id, code = services().accounts.register(
        body["username"], body["password"], invite=body.get("invite")
    )
    payload = {"vault_id": vault_id, "username": body["username"].strip().lower(),
               "recovery_code": code}
    return respond(s.AccountCreatedSchema(), payload, 201)


@bp.post("/tokens")
@operation("/api/v1/tokens", "post", "Create an owner app token with username and password",
           tags=TAG, request=s.TokenCreateSchema, responses={201: s.TokenCreatedSchema},
           security=[])
def create_token_with_password():
    body = load_body(s.TokenCreateSchema(), max_bytes=_body_limit())
    accounts = services().accounts
    unlocked = accounts.login(body["username"], body["password"], body.get("totp"),
                              client=client_address())
    token, secret = accounts.create_app_token(unlocked.vault_id, unlocked.dek, body.get("name", ""))
    data = {"id": token.id, "name": token.name, "created_at": token.created_at, "token": secret}
    return respond(s.TokenCreatedSchema(), data, 201)


@bp.get("/tokens")
@owner_api
@operation("/api/v1/tokens", "get", "List owner app tokens (never the tokens themselves)",
           tags=TAG, query=s.PageQuerySchema, responses={200: s.AppTokenListSchema})
def list_tokens():
    tokens, cursor = page_of(services().accounts.app_tokens(g.owner.vault_id),
                             load_query(s.PageQuerySchema()))
    return respond(s.AppTokenListSchema(), {"tokens": tokens, "next_cursor": cursor})


@bp.delete("/tokens/<token_id>")
@owner_api
@operation("/api/v1/tokens/{token_id}", "delete", "Revoke an owner app token", tags=TAG,
           responses={204: None})
def revoke_token(token_id: str):
    if not services().accounts.revoke_app_token(g.owner.vault_id, g.owner.dek, token_id):
        raise Problem(404, "not-found", "No such token")
    return Response(status=204)


@bp.post("/account/password")
@owner_api
@operation("/api/v1/account/password", "post",
           "Change the password (ends other sessions; revokes the app tokens not kept)",
           tags=TAG, request=s.PasswordChangeSchema, responses={204: None})
def change_password():
    body = load_body(s.PasswordChangeSchema(), max_bytes=_body_limit())
    accounts = services().accounts
    keep = set(body.get("keep_tokens") or ())
    if g.owner.via == "token":
        current = accounts.app_token_id(bearer_token() or "")
        if current:
            keep.add(current)
    # 204 as before: the revoked tokens are named in the owner's log (app-token.revoked).
    accounts.change_password(
        g.owner.vault_id, g.owner.dek, body["old_password"], body["new_password"],
        keep_session=g.owner.sid, keep_tokens=keep,
    )
    return Response(status=204)


def _revoked(tokens) -> list[dict[str, str]]:
    return [{"id": t.id, "name": t.name, "created_at": t.created_at} for t in tokens]


@bp.post("/account/password-reset")
@operation("/api/v1/account/password-reset", "post",
           "Forgotten password: recovery code (+ TOTP when on) sets a new password and "
           "revokes every app token", tags=TAG, request=s.PasswordResetSchema,
           responses={200: s.RecoveryCodeSchema}, security=[])
def reset_password():
    body = load_body(s.PasswordResetSchema(), max_bytes=_body_limit())
    code, revoked = services().accounts.reset_password_revoking(
        body["username"], body["recovery_code"], body["new_password"], body.get("totp"),
        client=client_address(),
    )
    return respond(s.RecoveryCodeSchema(), {"recovery_code": code,
                                            "revoked_tokens": _revoked(revoked)})


@bp.post("/account/totp-reset")
@operation("/api/v1/account/totp-reset", "post",
           "Lost authenticator: password + recovery code turn TOTP off and revoke every app "
           "token", tags=TAG, request=s.TotpResetSchema, responses={200: s.RecoveryCodeSchema},
           security=[])
def reset_totp():
    body = load_body(s.TotpResetSchema(), max_bytes=_body_limit())
    code, revoked = services().accounts.reset_totp_revoking(
        body["username"], body["password"], body["recovery_code"], client=client_address()
    )
    return respond(s.RecoveryCodeSchema(), {"recovery_code": code,
                                            "revoked_tokens": _revoked(revoked)})


@bp.post("/account/totp")
@owner_api
@operation("/api/v1/account/totp", "post", "Start TOTP enrolment: a new secret to confirm",
           tags=TAG, responses={200: s.TotpEnrolmentSchema})
def start_totp():
    secret = totp.new_secret()
    username = services().instance.username(g.owner.vault_id) or ""
    return respond(s.TotpEnrolmentSchema(),
                   {"secret": secret, "otpauth_uri": totp.provisioning_uri(secret, username)})


@bp.post("/account/totp/confirm")
@owner_api
@operation("/api/v1/account/totp/confirm", "post", "Turn TOTP on with a code from the app",
           tags=TAG, request=s.TotpConfirmSchema, responses={204: None})
def confirm_totp():
    body = load_body(s.TotpConfirmSchema(), max_bytes=_body_limit())
    try:
        services().accounts.enable_totp(owner_vault(), body["secret"], body["code"])
    except (TotpInvalid, TotpReplayed) as exc:
        # The owner is signed in: a wrong code here is a wrong field, not failed
        # authentication (a 401 would tell the client its token or session had ended).
        raise validation_problem({"code": [exc.problem_title()]}) from None
    return Response(status=204)


@bp.post("/logout")
@owner_api
@operation("/api/v1/logout", "post", "End this session (or revoke the token used)", tags=TAG,
           responses={204: None})
def logout():
    owner = g.owner
    if owner.via == "session" and owner.sid:
        sessions.end(services().redis, owner.sid, owner.vault_id)
    elif owner.via == "token":
        try:
            services().accounts.log_out_token(bearer_token() or "")
        except InvalidCredentials:
            pass  # revoked meanwhile by another request: the token is dead either way
    return Response(status=204)
