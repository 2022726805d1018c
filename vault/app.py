"""``create_app``: the only place that wires Flask.

It builds the composition root once (:func:`vault.services.build`), registers every
blueprint of the web layer (``vault/api`` for JSON, ``vault/ui`` for pages, one module
per feature in each), maps every error through :func:`vault.web.problems.problem_for`,
adds the security headers of :mod:`vault.web.headers`, and mounts the organisation read
(:mod:`vault.web.grantread`) for its one path.
"""

from __future__ import annotations

import logging
import traceback
from datetime import timedelta
from typing import Any

from flask import Flask, Response, render_template, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from vault import services as services_mod
from vault.config import Settings, load_settings
from vault.errors import KluisError
from vault.ui.i18n import t
from vault.web import auth, grantread
from vault.web.headers import security_headers
from vault.web.limits import BoundedBodies, LimitedJSONProvider
from vault.web.observe import ROUTE_KEY, Observed
from vault.web.problems import Problem, ProblemResponse, problem_for


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
    app.json = LimitedJSONProvider(app)  # bounded depth and members before every parse
    logging.basicConfig(level=settings.log_level)
    svc = services_mod.build(settings)
    app.extensions["kluis"] = svc

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

    auth.login_manager.init_app(app)
    app.teardown_appcontext(auth.close_vault)

    _register_blueprints(app)
    _register_errors(app)

    static_headers = security_headers(settings)

    @app.before_request
    def note_the_route() -> None:
        # The route template (never the path: it holds ids) for the request log and metrics.
        if request.url_rule is not None:
            request.environ[ROUTE_KEY] = request.url_rule.rule

    @app.after_request
    def add_security_headers(response):
        # Views may set their own (a consent page widens form-action, downloads sandbox).
        present = {key.lower() for key in response.headers.keys()}
        if request.path.startswith("/static/"):
            present.add("cache-control")  # static assets may be cached
        response.headers.extend([(k, v) for k, v in static_headers if k.lower() not in present])
        return response

    # No body beyond its limit reaches Flask, announced or chunked (vault.web.limits).
    app.wsgi_app = BoundedBodies(app.wsgi_app, settings, static_headers)  # type: ignore[method-assign]
    # The organisations' read, answered beneath Flask's request machinery (its own path).
    app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        app.wsgi_app,
        {grantread.PATH: grantread.GrantRecordsApp(svc.grants, static_headers)})
    if settings.trusted_proxies:
        # Outside the above, so every path (the read included) sees the client's address.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    # Outermost: a request id, one log line and the metrics of every request.
    app.wsgi_app = Observed(  # type: ignore[method-assign]
        app.wsgi_app, log_requests=settings.request_log)
    return app


def _register_blueprints(app: Flask) -> None:
    """Every blueprint, here and nowhere else (one API and one UI module per feature)."""
    from vault.api import accounts as accounts_api
    from vault.api import connectors as connectors_api
    from vault.api import grants as grants_api
    from vault.api import lifecycle as lifecycle_api
    from vault.api import log as log_api
    from vault.api import oauth as oauth_api
    from vault.api import openapi as openapi_api
    from vault.api import operations as operations_api
    from vault.api import portability as portability_api
    from vault.api import records as records_api
    from vault.ui import accounts as accounts_ui
    from vault.ui import common as common_ui
    from vault.ui import connectors as connectors_ui
    from vault.ui import finance as finance_ui
    from vault.ui import grants as grants_ui
    from vault.ui import lifecycle as lifecycle_ui
    from vault.ui import log as log_ui
    from vault.ui import portability as portability_ui
    from vault.ui import records as records_ui
    from vault.ui import security as security_ui

    for module in (common_ui, accounts_api, accounts_ui, records_api, records_ui, log_api,
                   log_ui, openapi_api, oauth_api, grants_api, grants_ui, connectors_api,
                   connectors_ui, portability_api, portability_ui, operations_api,
                   lifecycle_api, lifecycle_ui):
        app.register_blueprint(module.bp)
    app.register_blueprint(portability_ui.verify_bp)
    app.register_blueprint(finance_ui.bp)
    app.register_blueprint(security_ui.bp)


def _wants_json() -> bool:
    path = request.path
    return (
        path.startswith("/api/")
        or path.startswith("/oauth/")
        or path.startswith("/.well-known/")
        or request.accept_mimetypes.best == "application/json"
    )


def _respond(answer: ProblemResponse) -> Response:
    resp = Response(answer.encoded(), status=answer.status, mimetype=answer.content_type)
    for key, value in answer.headers:
        resp.headers[key] = value
    return resp


def _register_errors(app: Flask) -> None:
    def domain_error(exc: Exception):
        if not _wants_json() and not isinstance(exc, Problem):
            # The storage errors that reach a page have a message in the person's language;
            # the rest say what the domain said.
            key = f"error.{getattr(exc, 'code', '')}"
            message = t(key)
            return (render_template("error.html", message=str(exc) if message == key else message),
                    getattr(exc, "status", 400))
        return _respond(problem_for(exc, path=request.path,  # type: ignore[arg-type]
                                    authorization=request.headers.get("Authorization", "")))

    app.register_error_handler(KluisError, domain_error)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if not _wants_json():
            if exc.code is None or exc.code < 400:  # a routing redirect, not an error
                return exc
            # A page in the owner's language, in the site's frame (werkzeug's own pages are
            # English); its headers (Allow, Retry-After) stay.
            key = {403: "error.forbidden", 404: "error.not_found"}.get(
                exc.code, f"error.http_{exc.code}")
            message = t(key)
            if message == key:
                message = t("error.http_other")
            kept = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
            return render_template("error.html", message=message), exc.code, kept
        # A 405 says which methods the path takes (RFC 9110 section 15.5.6).
        headers = {k: v for k, v in exc.get_headers() if k == "Allow"} or None
        problem = Problem(exc.code or 500, (exc.name or "error").lower().replace(" ", "-"),
                          exc.name or "Error", exc.description, headers=headers)
        return _respond(problem_for(problem, path=request.path))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        # Log the type and place only: never request bodies, record values or secrets.
        app.logger.error(
            "unhandled %s in %s %s\n%s", type(exc).__name__, request.method, request.path,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        if _wants_json():
            return _respond(problem_for(Problem(500, "internal", "Something went wrong on our side"),
                                        path=request.path))
        try:  # the page in the person's language; if even that fails, one line of text
            return render_template("error.html", message=t("error.server")), 500
        except Exception:  # noqa: BLE001 - the error page must not raise
            try:
                text = t("error.server")
            except Exception:  # noqa: BLE001 - no request language: Dutch, the default
                text = t("error.server", "nl")
            return Response(text, status=500, mimetype="text/plain")
