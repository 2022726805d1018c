"""Owner pages of accounts: sign up, log in (with the TOTP step), log out, recovery,
app tokens, and the security page (TOTP enrolment, password change)."""

from __future__ import annotations

import base64
import io

import segno
from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from vault.accounts import sessions, totp
from vault.accounts.errors import (
    AccountError,
    InvalidCredentials,
    RateLimited,
    TotpInvalid,
    TotpReplayed,
    TotpRequired,
    WrongPassword,
)
from vault.accounts.service import Unlocked
from vault.accounts.tokens import AppToken
from vault.ui.common import owner_page, safe_next
from vault.ui.i18n import register, t, translate
from vault.ui.security import render_page as security_page
from vault.web.auth import (
    authenticate_owner,
    client_address,
    end_session,
    owner_vault,
    services,
    start_session,
)

bp = Blueprint("accounts_ui", __name__)

register({
    "tokens.default_name": {"nl": "App-token", "en": "App token"},
    "security.totp_qr": {"nl": "QR-code voor je authenticator-app",
                         "en": "QR code for your authenticator app"},
})


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    mode = services().settings.registration
    if request.method == "GET":
        return render_template("signup.html", mode=mode, form={})
    form = request.form
    if form.get("password", "") != form.get("password_repeat", ""):
        return render_template("signup.html", mode=mode, form=form,
                               error=t("signup.mismatch")), 422
    accounts = services().accounts
    try:
        vault_id, code = accounts.register(form.get("username", ""), form.get("password", ""),
                                           invite=form.get("invite") or None)
        unlocked = accounts.login(form.get("username", ""), form.get("password", ""),
                                  client=client_address())
    except AccountError as exc:
        return render_template("signup.html", mode=mode, form=form,
                               error=translate(exc)), exc.status
    start_session(vault_id, unlocked.dek, stage="full")
    # The recovery code is rendered, never put in a URL or a flash cookie.
    return render_template("recovery_code.html", code=code, title=t("signup.done_title"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next_url=next_url)
    accounts = services().accounts
    username = request.form.get("username", "")
    try:
        unlocked = accounts.unlock_password(username, request.form.get("password", ""),
                                            client=client_address())
    except RateLimited as exc:
        return render_template("login.html", username=username, next_url=next_url,
                               error=t("login.rate_limited", seconds=exc.retry_after)), 429
    except InvalidCredentials:
        return render_template("login.html", username=username, next_url=next_url,
                               error=t("login.failed")), 401
    if unlocked.second_factor:
        start_session(unlocked.vault_id, unlocked.dek, stage="totp")
        return redirect(url_for("accounts_ui.login_totp", next=next_url))
    _log_sign_in(unlocked, "password")
    start_session(unlocked.vault_id, unlocked.dek, stage="full")
    return redirect(next_url or url_for("records_ui.dashboard"))


def _log_sign_in(unlocked: Unlocked, method: str) -> None:
    with services().accounts.open(unlocked.vault_id, unlocked.dek) as vault, \
            vault.transaction() as tx:
        vault.append_event(tx, actor="owner", action="owner.signed-in",
                           detail={"method": method, "via": "web"})


@bp.route("/login/totp", methods=["GET", "POST"])
def login_totp():
    owner = authenticate_owner(allow_partial=True)
    next_url = safe_next(request.values.get("next"))
    if owner is None:
        return redirect(url_for("accounts_ui.login", next=next_url))
    if owner.stage == "full":
        return redirect(next_url or url_for("records_ui.dashboard"))
    with services().accounts.open(owner.vault_id, owner.dek) as vault:
        totp_on = vault.get_meta("totp_secret") is not None
    passkeys = services().accounts.has_passkeys(owner.vault_id)
    page = {"next_url": next_url, "totp_on": totp_on, "passkeys": passkeys}
    if request.method == "GET":
        return render_template("login_totp.html", **page)
    if not totp_on:  # a passkey-only second step takes no code
        return render_template("login_totp.html", error=t("login.totp_failed"), **page), 401
    unlocked = Unlocked(owner.vault_id, owner.dek, True)
    try:
        services().accounts.verify_totp(unlocked, request.form.get("code", ""),
                                        client=client_address())
    except RateLimited as exc:
        return render_template("login_totp.html", **page,
                               error=t("login.rate_limited", seconds=exc.retry_after)), 429
    except (TotpInvalid, TotpReplayed):
        return render_template("login_totp.html", **page, error=t("login.totp_failed")), 401
    _log_sign_in(unlocked, "password+totp")
    # A fresh session id once fully signed in.
    start_session(owner.vault_id, owner.dek, stage="full", method="password+totp")
    return redirect(next_url or url_for("records_ui.dashboard"))


@bp.post("/logout")
def logout():
    end_session()
    flash(t("logout.done"), "info")
    return redirect(url_for("accounts_ui.login"))


# -- recovery -------------------------------------------------------------------------------


@bp.route("/recover", methods=["GET", "POST"])
def recover():
    if request.method == "GET":
        return render_template("recover.html")
    f = request.form
    try:
        code, revoked = services().accounts.reset_password_revoking(
            f.get("username", ""), f.get("recovery_code", ""), f.get("new_password", ""),
            f.get("totp") or None, client=client_address(),
        )
    except TotpRequired as exc:
        return render_template("recover.html", error=translate(exc), need_totp=True,
                               username=f.get("username", "")), 401
    except AccountError as exc:
        message = t("recover.failed") if exc.status == 401 else translate(exc)
        return render_template("recover.html", error=message,
                               username=f.get("username", "")), exc.status
    end_session()
    return render_template("recovery_code.html", code=code, title=t("recover.title"),
                           intro=_revoked_intro(revoked), next_url=url_for("accounts_ui.login"))


@bp.route("/recover/totp", methods=["GET", "POST"])
def recover_totp():
    if request.method == "GET":
        return render_template("recover_totp.html")
    f = request.form
    try:
        code, revoked = services().accounts.reset_totp_revoking(
            f.get("username", ""), f.get("password", ""), f.get("recovery_code", ""),
            client=client_address(),
        )
    except AccountError as exc:
        message = t("recover.failed") if exc.status == 401 else translate(exc)
        return render_template("recover_totp.html", error=message,
                               username=f.get("username", "")), exc.status
    end_session()
    return render_template("recovery_code.html", code=code, title=t("recover.totp_title"),
                           intro=_revoked_intro(revoked), next_url=url_for("accounts_ui.login"))


def _revoked_names(revoked: list[AppToken]) -> str:
    return ", ".join(f"“{token.name}”" for token in revoked)


def _revoked_intro(revoked: list[AppToken]) -> str:
    """What a reset page says first: which app tokens it ended (a reset ends all)."""
    if not revoked:
        return t("recover.done")
    return t("recover.tokens_revoked", names=_revoked_names(revoked)) + " " + t("recover.done")




# -- tokens and security --------------------------------------------------------------------


@bp.route("/tokens", methods=["GET", "POST"])
@owner_page
def tokens():
    accounts = services().accounts
    new_token = None
    if request.method == "POST":
        name = request.form.get("name", "").strip() or t("tokens.default_name")
        _, new_token = accounts.create_app_token(g.owner.vault_id, g.owner.dek, name)
    return render_template("tokens.html", tokens=accounts.app_tokens(g.owner.vault_id),
                           new_token=new_token)


@bp.post("/tokens/<token_id>/revoke")
@owner_page
def revoke_token(token_id: str):
    services().accounts.revoke_app_token(g.owner.vault_id, g.owner.dek, token_id)
    return redirect(url_for("accounts_ui.tokens"))


@bp.get("/security")
@owner_page
def security():
    return security_page()


@bp.route("/security/totp", methods=["GET", "POST"])
@owner_page
def enrol_totp():
    username = services().instance.username(g.owner.vault_id) or ""
    if request.method == "GET":
        secret = totp.new_secret()
        session["totp_pending"] = secret
        return render_template("totp_enrol.html", secret=secret,
                               qr=_qr_svg(totp.provisioning_uri(secret, username)))
    secret = session.get("totp_pending")
    if not secret:
        return redirect(url_for("accounts_ui.enrol_totp"))
    try:
        services().accounts.enable_totp(owner_vault(), secret, request.form.get("code", ""))
    except (TotpInvalid, TotpReplayed):
        return render_template("totp_enrol.html", secret=secret, error=t("login.totp_failed"),
                               qr=_qr_svg(totp.provisioning_uri(secret, username))), 422
    session.pop("totp_pending", None)
    sessions.end_all(services().redis, g.owner.vault_id, keep=g.owner.sid)
    flash(t("security.totp_enabled"), "info")
    return redirect(url_for("accounts_ui.security"))


def _qr_svg(data: str) -> str:
    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind="svg", scale=5, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@bp.post("/security/password")
@owner_page
def change_password():
    if request.form.get("new_password", "") != request.form.get("new_password_repeat", ""):
        return security_page(t("sec.password_mismatch"), 422)
    try:
        revoked = services().accounts.change_password(
            g.owner.vault_id, g.owner.dek, request.form.get("old_password", ""),
            request.form.get("new_password", ""), keep_session=g.owner.sid,
            keep_tokens=request.form.getlist("keep_tokens"),
        )
    except WrongPassword:
        return security_page(t("security.wrong_password"), 403)
    except RateLimited as exc:
        return security_page(t("login.rate_limited", seconds=exc.retry_after), 429)
    except AccountError as exc:
        message = t("login.failed") if exc.status == 401 else translate(exc)
        return security_page(message, exc.status)
    flash(t("security.password_changed"), "info")
    if revoked:
        flash(t("security.tokens_revoked", names=_revoked_names(revoked)), "info")
    return redirect(url_for("accounts_ui.security"))
