"""The security page, like a password manager's: active sessions and app tokens (each with
its last use and a button to end it), two-step verification on and off, passkeys (register,
remove, log in with one), and the password change (rendered here, posted to
:mod:`vault.ui.accounts`).

Passkey ceremonies are JSON answers to form posts (the CSRF token travels as a form field,
as on every page); the browser side is ``static/passkeys.js``. Challenges are kept in the
signed session cookie and used once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, session, url_for

from vault.accounts import sessions
from vault.accounts.errors import (
    AccountError,
    PasskeyInvalid,
    PasskeySecondFactorOnly,
    RateLimited,
    TotpInvalid,
    TotpReplayed,
    WrongPassword,
)
from vault.accounts.passkeys import b64url, from_b64url
from vault.ui.common import owner_page, safe_next
from vault.ui.i18n import register, t
from vault.web.auth import (
    authenticate_owner,
    client_address,
    end_session,
    owner_vault,
    services,
    start_session,
)

bp = Blueprint("security_ui", __name__)

CHALLENGE_KEY = "wa_challenge"


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def render_page(error: str | None = None, status: int = 200):
    """The security page with everything it lists; ``error`` above the forms."""
    svc = services()
    owner = g.owner
    s = svc.settings
    enabled = owner_vault().get_meta("totp_secret") is not None
    tokens = svc.accounts.app_tokens(owner.vault_id)
    last_used = sessions.token_last_used(svc.redis, [tok.id for tok in tokens])
    listed = sessions.list_sessions(svc.redis, owner.vault_id,
                                    idle_seconds=s.session_idle_minutes * 60,
                                    max_seconds=s.session_max_hours * 3600)
    current = sessions.public_id(owner.sid) if owner.sid else None
    return render_template(
        "security.html", totp_enabled=enabled, tokens=tokens,
        token_used={tid: _iso(at) for tid, at in last_used.items()},
        sessions=[{"id": x.public_id, "device": x.device or t("sec.device_unknown"),
                   "method": _method_label(x.method), "created": _iso(x.created),
                   "seen": _iso(x.seen), "current": x.public_id == current} for x in listed],
        passkeys=svc.accounts.passkeys(owner.vault_id), error=error,
    ), status


def _method_label(method: str) -> str:
    key = "sec.method." + (method or "password")
    label = t(key)
    return label if label != key else method


# -- sessions and tokens --------------------------------------------------------------------


@bp.post("/security/sessions/<public_id>/end")
@owner_page
def end_session_by_id(public_id: str):
    owner = g.owner
    if owner.sid and sessions.public_id(owner.sid) == public_id:
        end_session()
        flash(t("logout.done"), "info")
        return redirect(url_for("accounts_ui.login"))
    if sessions.end_by_public_id(services().redis, owner.vault_id, public_id):
        _log(owner, "session.ended", {})
        flash(t("sec.session_ended"), "info")
    return redirect(url_for("accounts_ui.security"))


@bp.post("/security/sessions/end-others")
@owner_page
def end_other_sessions():
    ended = sessions.end_all(services().redis, g.owner.vault_id, keep=g.owner.sid)
    if ended:
        _log(g.owner, "session.ended", {"count": ended})
    flash(t("sec.sessions_ended", n=ended), "info")
    return redirect(url_for("accounts_ui.security"))


@bp.post("/security/tokens/<token_id>/revoke")
@owner_page
def revoke_token(token_id: str):
    if services().accounts.revoke_app_token(g.owner.vault_id, g.owner.dek, token_id):
        sessions.forget_token(services().redis, token_id)
        flash(t("sec.token_ended"), "info")
    return redirect(url_for("accounts_ui.security"))


def _log(owner: Any, action: str, detail: dict[str, Any]) -> None:
    with services().accounts.open(owner.vault_id, owner.dek) as vault, vault.transaction() as tx:
        vault.append_event(tx, actor="owner", action=action, detail=detail)


# -- two-step verification off --------------------------------------------------------------


@bp.post("/security/totp/off")
@owner_page
def disable_totp():
    try:
        services().accounts.disable_totp(
            g.owner.vault_id, g.owner.dek, request.form.get("password", ""),
            request.form.get("code", ""), client=client_address())
    except WrongPassword:
        return render_page(t("security.wrong_password"), 403)
    except (TotpInvalid, TotpReplayed):
        return render_page(t("login.totp_failed"), 401)
    except RateLimited as exc:
        return render_page(t("login.rate_limited", seconds=exc.retry_after), 429)
    flash(t("sec.totp_disabled"), "info")
    return redirect(url_for("accounts_ui.security"))


# -- recovery code -------------------------------------------------------------------------


@bp.post("/security/recovery")
@owner_page
def new_recovery_code():
    try:
        code = services().accounts.new_recovery_code(g.owner.vault_id, g.owner.dek,
                                                     request.form.get("password", ""))
    except WrongPassword:
        return render_page(t("security.wrong_password"), 403)
    except RateLimited as exc:
        return render_page(t("login.rate_limited", seconds=exc.retry_after), 429)
    return render_template("recovery_code.html", code=code, title=t("sec.recovery_new_title"),
                           intro=t("sec.recovery_new_intro"),
                           next_url=url_for("accounts_ui.security"))


@bp.post("/recovery/saved")
def recovery_saved():
    """The answer to "Heb je hem bewaard?" on the recovery code page."""
    owner = authenticate_owner()
    if owner is not None and owner.via == "session" and request.form.get("saved") == "yes":
        services().accounts.mark_recovery_saved(owner_vault())
    return redirect(safe_next(request.form.get("next")) or url_for("records_ui.dashboard"))


# -- passkeys: registration and removal -----------------------------------------------------


def _options(options: dict[str, Any], challenge: bytes):
    session[CHALLENGE_KEY] = b64url(challenge)
    return jsonify(options)


def _take_challenge() -> bytes:
    value = session.pop(CHALLENGE_KEY, None)
    if not value:
        raise PasskeyInvalid("The passkey request expired; try again.")
    return from_b64url(value)


def _credential() -> dict[str, Any]:
    try:
        value = json.loads(request.form.get("credential", ""))
    except ValueError:
        raise PasskeyInvalid("The passkey response is not valid.") from None
    if not isinstance(value, dict):
        raise PasskeyInvalid("The passkey response is not valid.")
    return value


def _fail(message_key: str, status: int = 401):
    return jsonify({"error": t(message_key)}), status


@bp.post("/security/passkeys/options")
@owner_page
def passkey_options():
    username = services().instance.username(g.owner.vault_id) or ""
    return _options(*services().accounts.passkey_registration_options(g.owner.vault_id, username))


@bp.post("/security/passkeys")
@owner_page
def add_passkey():
    try:
        passkey, pending = services().accounts.add_passkey(
            g.owner.vault_id, g.owner.dek, _credential(), _take_challenge(),
            request.form.get("label", ""))
    except PasskeyInvalid:
        return _fail("sec.passkey_failed", 422)
    if not pending:
        flash(t("sec.passkey_added_unlocks" if passkey.unlocks else "sec.passkey_added_2fa"),
              "info")
    return jsonify({"id": passkey.id, "unlocks": passkey.unlocks, "prf_pending": pending,
                    "credential_id": passkey.credential_id,
                    "slot_url": url_for("security_ui.passkey_slot", passkey_id=passkey.id),
                    "slot_options_url": url_for("security_ui.passkey_slot_options"),
                    "redirect": url_for("accounts_ui.security")})


@bp.post("/security/passkeys/slot-options")
@owner_page
def passkey_slot_options():
    return _options(*services().accounts.passkey_login_options(g.owner.vault_id))


@bp.post("/security/passkeys/<passkey_id>/slot")
@owner_page
def passkey_slot(passkey_id: str):
    try:
        unlocks = services().accounts.add_passkey_slot(
            g.owner.vault_id, g.owner.dek, passkey_id, _credential(), _take_challenge())
    except PasskeyInvalid:
        return _fail("sec.passkey_failed", 422)
    flash(t("sec.passkey_added_unlocks" if unlocks else "sec.passkey_added_2fa"), "info")
    return jsonify({"unlocks": unlocks, "redirect": url_for("accounts_ui.security")})


@bp.post("/security/passkeys/<passkey_id>/remove")
@owner_page
def remove_passkey(passkey_id: str):
    if services().accounts.remove_passkey(g.owner.vault_id, g.owner.dek, passkey_id):
        flash(t("sec.passkey_removed"), "info")
    return redirect(url_for("accounts_ui.security"))


# -- passkeys: logging in -------------------------------------------------------------------


@bp.post("/login/passkey/options")
def login_options():
    return _options(*services().accounts.passkey_login_options())


@bp.post("/login/passkey")
def login_passkey():
    """Passwordless: a passkey with a PRF key slot opens the vault on its own."""
    accounts = services().accounts
    subjects = [("ip", client_address())]
    try:
        accounts.limiter.check(*subjects)
    except RateLimited as exc:
        return jsonify({"error": t("login.rate_limited", seconds=exc.retry_after)}), 429
    try:
        vault_id, dek = accounts.unlock_passkey(_credential(), _take_challenge())
    except PasskeySecondFactorOnly:
        accounts.limiter.release(*subjects)
        return _fail("sec.passkey_second_only")
    except PasskeyInvalid:
        accounts.limiter.failed(*subjects)
        return _fail("sec.passkey_login_failed")
    accounts.limiter.succeeded(*subjects)
    with accounts.open(vault_id, dek) as vault, vault.transaction() as tx:
        vault.append_event(tx, actor="owner", action="owner.signed-in",
                           detail={"method": "passkey", "via": "web"})
    start_session(vault_id, dek, stage="full", method="passkey")
    next_url = safe_next(request.form.get("next"))
    return jsonify({"redirect": next_url or url_for("records_ui.dashboard")})


@bp.post("/login/second/passkey/options")
def second_step_options():
    owner = authenticate_owner(allow_partial=True)
    if owner is None or owner.stage != "totp":
        return _fail("session.expired")
    return _options(*services().accounts.passkey_login_options(owner.vault_id))


@bp.post("/login/second/passkey")
def second_step_passkey():
    """The second step after the password, with one of this account's passkeys."""
    owner = authenticate_owner(allow_partial=True)
    if owner is None or owner.stage != "totp":
        return _fail("session.expired")
    accounts = services().accounts
    subjects = [("totp", owner.vault_id), ("ip", client_address())]
    try:
        accounts.limiter.check(*subjects)
        accounts.verify_passkey(_credential(), _take_challenge(), vault_id=owner.vault_id)
    except RateLimited as exc:
        return jsonify({"error": t("login.rate_limited", seconds=exc.retry_after)}), 429
    except PasskeyInvalid:
        accounts.limiter.failed(*subjects)
        return _fail("sec.passkey_login_failed")
    except AccountError:
        accounts.limiter.release(*subjects)
        raise
    accounts.limiter.succeeded(*subjects)
    with accounts.open(owner.vault_id, owner.dek) as vault, vault.transaction() as tx:
        vault.append_event(tx, actor="owner", action="owner.signed-in",
                           detail={"method": "password+passkey", "via": "web"})
    start_session(owner.vault_id, owner.dek, stage="full", method="password+passkey")
    next_url = safe_next(request.form.get("next"))
    return jsonify({"redirect": next_url or url_for("records_ui.dashboard")})


register({
    "sec.sessions": {"nl": "Actieve sessies", "en": "Active sessions"},
    "sec.sessions_intro": {
        "nl": "Overal waar je nu bent ingelogd. Herken je er een niet, beëindig hem dan en "
              "wijzig je wachtwoord.",
        "en": "Everywhere you are logged in now. If you do not recognise one, end it and "
              "change your password."},
    "sec.device": {"nl": "Apparaat", "en": "Device"},
    "sec.device_unknown": {"nl": "Onbekend apparaat", "en": "Unknown device"},
    "sec.how": {"nl": "Ingelogd met", "en": "Logged in with"},
    "sec.since": {"nl": "Sinds", "en": "Since"},
    "sec.last_seen": {"nl": "Laatst actief", "en": "Last active"},
    "sec.last_used": {"nl": "Laatst gebruikt", "en": "Last used"},
    "sec.this_device": {"nl": "dit apparaat", "en": "this device"},
    "sec.end": {"nl": "Beëindigen", "en": "End"},
    "sec.end_others": {"nl": "Alle andere sessies beëindigen", "en": "End all other sessions"},
    "sec.session_ended": {"nl": "Die sessie is beëindigd.", "en": "That session has ended."},
    "sec.sessions_ended": {"nl": "Andere sessies beëindigd: {n}.", "en": "Other sessions ended: {n}."},
    "sec.method.password": {"nl": "wachtwoord", "en": "password"},
    "sec.method.password+totp": {"nl": "wachtwoord en code", "en": "password and code"},
    "sec.method.password+passkey": {"nl": "wachtwoord en passkey", "en": "password and passkey"},
    "sec.method.passkey": {"nl": "passkey", "en": "passkey"},
    "sec.tokens": {"nl": "App-tokens", "en": "App tokens"},
    "sec.tokens_none": {"nl": "Je hebt geen app-tokens.", "en": "You have no app tokens."},
    "sec.token_ended": {"nl": "Dat app-token werkt niet meer.", "en": "That app token no longer works."},
    "sec.created": {"nl": "Gemaakt", "en": "Created"},
    "sec.never": {"nl": "nog niet", "en": "not yet"},
    "sec.name": {"nl": "Naam", "en": "Name"},
    "sec.totp": {"nl": "Tweestapsverificatie", "en": "Two-step verification"},
    "sec.totp_off_title": {"nl": "Tweestapsverificatie uitzetten", "en": "Turn off two-step verification"},
    "sec.totp_off_hint": {
        "nl": "Geef je huidige wachtwoord en een code uit je authenticator-app.",
        "en": "Give your current password and a code from your authenticator app."},
    "sec.totp_off_button": {"nl": "Uitzetten", "en": "Turn off"},
    "sec.totp_disabled": {"nl": "Tweestapsverificatie staat nu uit.",
                          "en": "Two-step verification is now off."},
    "sec.passkeys": {"nl": "Passkeys", "en": "Passkeys"},
    "sec.passkeys_intro": {
        "nl": "Een passkey is een sleutel in je telefoon, computer of beveiligingssleutel. Hij "
              "werkt altijd als tweede stap na je wachtwoord. Ondersteunt je apparaat de "
              "PRF-uitbreiding, dan opent de passkey je kluis ook zonder wachtwoord.",
        "en": "A passkey is a key in your phone, computer or security key. It always works as "
              "the second step after your password. If your device supports the PRF "
              "extension, the passkey also opens your vault without a password."},
    "sec.passkeys_none": {"nl": "Je hebt nog geen passkeys.", "en": "You have no passkeys yet."},
    "sec.passkey_unlocks": {"nl": "Inloggen zonder wachtwoord en tweede stap",
                            "en": "Passwordless login and second step"},
    "sec.passkey_2fa_only": {"nl": "Alleen tweede stap (je apparaat ondersteunt geen PRF)",
                             "en": "Second step only (your device does not support PRF)"},
    "sec.passkey_label": {"nl": "Naam van de passkey", "en": "Name of the passkey"},
    "sec.passkey_label_example": {"nl": "bijv. Telefoon van Sanne", "en": "e.g. Sanne's phone"},
    "sec.passkey_add": {"nl": "Passkey toevoegen", "en": "Add a passkey"},
    "sec.passkey_remove": {"nl": "Verwijderen", "en": "Remove"},
    "sec.passkey_removed": {"nl": "De passkey is verwijderd; hij opent je kluis niet meer.",
                            "en": "The passkey is removed; it no longer opens your vault."},
    "sec.passkey_added_unlocks": {
        "nl": "Passkey toegevoegd. Je kunt er ook mee inloggen zonder wachtwoord.",
        "en": "Passkey added. You can also log in with it without a password."},
    "sec.passkey_added_2fa": {
        "nl": "Passkey toegevoegd als tweede stap. Je apparaat ondersteunt geen PRF, dus inloggen "
              "zonder wachtwoord kan er niet mee.",
        "en": "Passkey added as a second step. Your device does not support PRF, so it cannot "
              "log you in without a password."},
    "sec.passkey_failed": {"nl": "De passkey kon niet worden toegevoegd. Probeer het opnieuw.",
                           "en": "The passkey could not be added. Please try again."},
    "sec.passkey_unsupported": {"nl": "Deze browser ondersteunt geen passkeys.",
                                "en": "This browser does not support passkeys."},
    "sec.passkey_cancelled": {"nl": "Geannuleerd of niet gelukt. Probeer het opnieuw.",
                              "en": "Cancelled or failed. Please try again."},
    "sec.passkey_login": {"nl": "Inloggen met een passkey", "en": "Log in with a passkey"},
    "sec.passkey_second": {"nl": "Gebruik je passkey", "en": "Use your passkey"},
    "sec.passkey_login_failed": {"nl": "Inloggen met deze passkey lukte niet.",
                                 "en": "Logging in with this passkey did not work."},
    "sec.passkey_second_only": {
        "nl": "Deze passkey is alleen een tweede stap: log eerst in met je wachtwoord.",
        "en": "This passkey is a second step only: log in with your password first."},
    "sec.recovery": {"nl": "Herstelcode", "en": "Recovery code"},
    "sec.recovery_hint": {
        "nl": "Kwijt of niet bewaard? Maak een nieuwe; de oude werkt dan niet meer.",
        "en": "Lost or not stored? Make a new one; the old one stops working."},
    "sec.recovery_button": {"nl": "Nieuwe herstelcode maken", "en": "Make a new recovery code"},
    "sec.recovery_new_title": {"nl": "Je nieuwe herstelcode", "en": "Your new recovery code"},
    "sec.recovery_new_intro": {
        "nl": "Dit is je nieuwe herstelcode; de oude werkt niet meer. Hij wordt maar één keer "
              "getoond: print hem of schrijf hem op en bewaar hem op een veilige plek.",
        "en": "This is your new recovery code; the old one no longer works. It is shown only "
              "once: print it or write it down and keep it somewhere safe."},
    "sec.recovery_saved_question": {"nl": "Heb je hem bewaard?", "en": "Have you stored it?"},
    "sec.or": {"nl": "of", "en": "or"},
    "sec.password_mismatch": {"nl": "De nieuwe wachtwoorden zijn niet gelijk. Er is niets gewijzigd.",
                              "en": "The new passwords do not match. Nothing was changed."},
    "sec.new_password_repeat": {"nl": "Herhaal nieuw wachtwoord", "en": "Repeat new password"},
})
