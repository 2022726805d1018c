"""Request authentication: Flask-Login sessions, bearer app tokens, CSRF.

An owner is authenticated either by a session cookie (UI, and the API with an
``X-CSRF-Token`` header on writes) or by an owner app token (``Authorization:
Bearer kluis_at_...``). Either way the request gets the vault id and data key,
and :func:`owner_vault` opens the vault once per request.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request, session
from flask_login import LoginManager, UserMixin, current_user

from vault.accounts import sessions
from vault.accounts.errors import InvalidCredentials
from vault.crypto import slots
from vault.grants import changes
from vault.services import Services
from vault.storage.vaults import VaultDB
from vault.web.problems import Problem

login_manager = LoginManager()
login_manager.session_protection = None  # our own server-side sessions do this job
login_manager.login_view = "accounts_ui.login"

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def services() -> Services:
    """The app's composition root (:func:`vault.services.build`, once per app)."""
    return current_app.extensions["kluis"]


@dataclass
class Owner(UserMixin):
    vault_id: str
    dek: bytes
    via: str  # "session" or "token"
    sid: str | None = None
    stage: str = "full"

    def get_id(self) -> str:
        return self.sid or ""


@login_manager.user_loader
def _load_user(sid: str) -> Owner | None:
    svc = services()
    s = svc.settings
    loaded = sessions.load(
        svc.redis, sid, session.get("sk", ""),
        idle_seconds=s.session_idle_minutes * 60, max_seconds=s.session_max_hours * 3600,
    )
    if loaded is None:
        return None
    return Owner(loaded.vault_id, loaded.dek, "session", loaded.sid, loaded.stage)


def start_session(vault_id: str, dek: bytes, *, stage: str, method: str = "password") -> Owner:
    """A new server-side session and a fresh cookie (new id: no session fixation).

    The session is registered with a short device summary and the way the owner signed in,
    so the security page can list it and end it."""
    from flask_login import login_user

    svc = services()
    old = session.get("_user_id")
    if old:
        sessions.end(svc.redis, old)
    lang = session.get("lang")
    session.clear()
    sid, key = sessions.create(
        svc.redis, vault_id, dek, stage=stage, max_seconds=svc.settings.session_max_hours * 3600,
        device=sessions.device_summary(request.headers.get("User-Agent", "")), method=method,
    )
    session["sk"] = key
    session["csrf"] = secrets.token_urlsafe(32)
    if lang:
        session["lang"] = lang
    session.permanent = True
    owner = Owner(vault_id, dek, "session", sid, stage)
    login_user(owner)
    return owner


def end_session() -> None:
    from flask_login import logout_user

    sid = session.get("_user_id")
    if sid:
        sessions.end(services().redis, sid)
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_ok(submitted: str | None) -> bool:
    expected = session.get("csrf")
    return bool(expected and submitted and hmac.compare_digest(expected, submitted))


def bearer_token() -> str | None:
    return parse_bearer(request.headers.get("Authorization", ""))


def parse_bearer(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, or None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def authenticate_owner(*, allow_partial: bool = False) -> Owner | None:
    """The owner of this request, from an app token or a full session, or None."""
    if "owner" in g:
        return g.owner
    owner: Owner | None = None
    token = bearer_token()
    if token is not None:
        try:
            slot, dek = services().accounts.unlock_token(token, kind=slots.APP_TOKEN)
        except InvalidCredentials:
            return None
        owner = Owner(slot.vault_id, dek, "token")
        sessions.note_token_use(services().redis, slot.id)
    elif current_user.is_authenticated:
        candidate: Owner = current_user._get_current_object()  # type: ignore[attr-defined]
        if candidate.stage == "full" or allow_partial:
            owner = candidate
    if owner is not None:
        g.owner = owner
    return owner


def owner_vault() -> VaultDB:
    """The current owner's vault, opened once per request and closed at teardown.

    Opening runs what the domain's open path runs (journal and inbox merges)."""
    if "vault" not in g:
        owner = g.owner
        g.vault = services().accounts.open(owner.vault_id, owner.dek)
    return g.vault


def close_vault(_exc: BaseException | None = None) -> None:
    vault = g.pop("vault", None)
    if vault is not None:
        try:
            # The request's record changes, as one batch: records.updated for the grants
            # covering them (vault.grants.changes; never fails the request).
            changes.on_open(vault)
        finally:
            vault.close()


def owner_api(view: Callable[..., Any]) -> Callable[..., Any]:
    """Require an owner on an API view; session writes also need ``X-CSRF-Token``."""
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        owner = authenticate_owner()
        if owner is None:
            raise Problem(
                401, "unauthorized", "Sign in or send an owner token",
                headers={"WWW-Authenticate": 'Bearer realm="kluis"'},
            )
        if owner.via == "session" and request.method not in SAFE_METHODS:
            if not csrf_ok(request.headers.get("X-CSRF-Token")):
                raise Problem(403, "csrf", "Missing or wrong X-CSRF-Token header")
        return view(*args, **kwargs)

    return wrapper


def client_address() -> str:
    """The client's address (the proxy's X-Forwarded-For is trusted only via ProxyFix)."""
    return request.remote_addr or ""
