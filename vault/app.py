"""``create_app``: the only place that wires Flask."""

from __future__ import annotations

import logging
import traceback
from datetime import timedelta
from typing import Any

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from vault import services as services_mod
from vault.accounts import web as accounts_web
from vault.api.problems import Problem
from vault.config import Settings, load_settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus building a signer for requests without the
    cookie (organisations and API clients never send one)."""

    def open_session(self, app: Flask, request):  # type: ignore[override]
        if app.config["SESSION_COOKIE_NAME"] not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Kluis web app.

    Settings come from the environment (``KLUIS_*``); ``test_config`` may hold
    a ``settings`` dict of overrides (or a :class:`Settings`), and Flask config keys.
    """
    test_config = dict(test_config or {})
    given = test_config.pop("settings", None)
    if isinstance(given, Settings):
        settings = given
    else:
        settings = load_settings(**(given or {}))

    app = Flask(__name__, template_folder="ui/templates", static_folder="ui/static")
    app.session_interface = CookieSessions()
    logging.basicConfig(level=settings.log_level)
    svc = services_mod.build(settings)
    app.extensions["kluis"] = svc
    app.extensions["kluis_on_vault_open"] = []
    # Connector drafts sealed to the vault's inbox are merged whenever the vault opens.
    from vault.connectors.inbox import merge_on_open

    app.extensions["kluis_on_vault_open"].append(merge_on_open)

    app.config.update(
        SECRET_KEY=svc.instance.subkey("flask-session-cookie"),
        SESSION_COOKIE_NAME="kluis_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_max_hours),
        MAX_CONTENT_LENGTH=max(settings.max_body_bytes, settings.max_upload_bytes) + 64 * 1024,
        JSON_SORT_KEYS=False,
        PREFERRED_URL_SCHEME="https" if settings.https else "http",
    )
    app.config.update(test_config)

    accounts_web.login_manager.init_app(app)
    app.teardown_appcontext(accounts_web.close_vault)

    _register_blueprints(app)
    _register_errors(app)

    static_headers = security_headers(settings)

    @app.after_request
    def add_security_headers(response):
        # Views may set their own (a consent page widens form-action, downloads sandbox).
        present = {key.lower() for key in response.headers.keys()}
        if request.path.startswith("/static/"):
            present.add("cache-control")  # static assets may be cached
        response.headers.extend([(k, v) for k, v in static_headers if k.lower() not in present])
        return response

    # The organisations' read skips Flask's request machinery when it succeeds.
    from vault.accounts.web import run_open_hooks
    from vault.api.fastread import GrantReadPath
    from vault.api.oauth import grants_for

    app.wsgi_app = GrantReadPath(  # type: ignore[method-assign]
        app.wsgi_app, lambda: grants_for(app), lambda vault: run_open_hooks(app, vault),
        static_headers)
    if settings.trusted_proxies:
        # Outermost, so every path (the fast read included) sees the client's address and scheme.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    return app


def security_headers(settings: Settings) -> list[tuple[str, str]]:
    """The headers every response carries unless its view set its own."""
    headers = [
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cache-Control", "no-store"),
    ]
    if settings.https:
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    return headers


def _register_blueprints(app: Flask) -> None:
    from vault.api.connectors import bp as connectors_api
    from vault.api.grants import bp as grants_api
    from vault.api.oauth import bp as oauth_api
    from vault.api.openapi import bp as openapi_bp
    from vault.api.owner import bp as owner_api
    from vault.portability.web import register as register_portability
    from vault.ui.connectors import bp as connectors_ui
    from vault.ui.grants import bp as grants_ui
    from vault.ui.views import bp as ui

    for blueprint in (owner_api, openapi_bp, ui, oauth_api, grants_api, grants_ui,
                      connectors_api, connectors_ui):
        app.register_blueprint(blueprint)
    register_portability(app)


def _wants_json() -> bool:
    path = request.path
    return (
        path.startswith("/api/")
        or path.startswith("/oauth/")
        or path.startswith("/.well-known/")
        or request.accept_mimetypes.best == "application/json"
    )


def _register_errors(app: Flask) -> None:
    from vault.accounts.errors import AccountError, RateLimited
    from vault.records.service import InvalidRecord, RecordError

    @app.errorhandler(Problem)
    def problem(exc: Problem):
        return exc.response()

    @app.errorhandler(InvalidRecord)
    def invalid_record(exc: InvalidRecord):
        return Problem(422, "validation", "The record is not valid", errors=exc.errors).response()

    @app.errorhandler(RecordError)
    def record_error(exc: RecordError):
        code = {404: "not-found", 413: "too-large"}.get(exc.status, "record-error")
        titles = {404: "No such record", 413: "The record is too large"}
        return Problem(exc.status, code, titles.get(exc.status, "Record error"),
                       str(exc) if exc.status != 404 else None).response()

    @app.errorhandler(AccountError)
    def account_error(exc: AccountError):
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        return Problem(exc.status, exc.code, str(exc), headers=headers).response()

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if not _wants_json():
            return exc
        return Problem(
            exc.code or 500,
            (exc.name or "error").lower().replace(" ", "-"),
            exc.name or "Error",
            exc.description,
        ).response()

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        # Log the type and place only: never request bodies, record values or secrets.
        app.logger.error(
            "unhandled %s in %s %s\n%s", type(exc).__name__, request.method, request.path,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        if _wants_json():
            return Problem(500, "internal", "Something went wrong on our side").response()
        return "Er ging iets mis / Something went wrong.", 500
