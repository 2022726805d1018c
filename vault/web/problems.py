"""RFC 9457 problem details for every JSON error, from one mapping.

:func:`problem_for` is the one function that turns an error into a response: a domain
error (:class:`vault.errors.KluisError` and its subclasses in every feature), a
:class:`Problem` a view raised, or an OAuth 2.0 error. Flask's error handlers
(``vault.app``) and the organisation read beneath Flask (:mod:`vault.web.grantread`)
both answer through it, so an error looks the same whichever path served it.

``type`` is a stable URN per problem kind (``urn:kluis:problem:<code>``); validation
problems carry ``errors``: field path -> messages. OAuth 2.0 endpoints (``/oauth/...``,
``/.well-known/...``) answer RFC 6749 ``error`` / ``error_description`` together with
the problem members, as ``application/json`` (what RFC 6749 section 5.2 requires and
what OAuth client libraries read).

No Flask here: the read path uses this module without a request context.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from vault.errors import KluisError

PROBLEM_TYPE = "urn:kluis:problem:"
CONTENT_TYPE = "application/problem+json"
OAUTH_PREFIXES = ("/oauth/", "/.well-known/")
GRANT_API = "/api/v1/grant"


class Problem(KluisError):
    """Raise from a view to answer with a problem+json body."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def problem_detail(self) -> str | None:
        return self.detail

    def problem_extra(self) -> dict[str, Any]:
        return dict(self.extra)


def validation_problem(errors: dict[str, list[str]], title: str = "The input is not valid") -> Problem:
    return Problem(422, "validation", title, "See errors for what to correct.", errors=errors)


@dataclass(frozen=True)
class ProblemResponse:
    """A whole error answer: status, content type, extra headers and the body."""

    status: int
    body: dict[str, Any]
    content_type: str = CONTENT_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)

    def encoded(self) -> bytes:
        return json.dumps(self.body).encode()


def bearer_challenge(error: str | None = None, description: str | None = None) -> str:
    """An RFC 6750 ``WWW-Authenticate`` value."""
    value = 'Bearer realm="kluis"'
    if error:
        value += f', error="{error}"'
    if description:
        value += ', error_description="{}"'.format(description.replace('"', "'"))
    return value


def problem_for(exc: KluisError, *, path: str, authorization: str = "") -> ProblemResponse:
    """The answer to ``exc`` raised while serving ``path`` (``authorization``: the
    request's ``Authorization`` header, which decides the ``WWW-Authenticate`` scheme)."""
    # Late imports: the feature packages import nothing of the web layer, so the
    # dependency points this way only.
    from vault.accounts.errors import RateLimited
    from vault.grants.errors import InsufficientScope, InvalidToken, OAuthError

    headers: list[tuple[str, str]] = [(k, v) for k, v in getattr(exc, "headers", {}).items()]
    if isinstance(exc, OAuthError):
        return _oauth_problem(exc, path=path, authorization=authorization)
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + exc.code.replace("_", "-"),
        "title": exc.problem_title(),
        "status": exc.status,
    }
    detail = exc.problem_detail()
    if detail:
        body["detail"] = detail
    body.update(exc.problem_extra())
    if isinstance(exc, RateLimited):
        headers.append(("Retry-After", str(exc.retry_after)))
    on_grant_api = path == GRANT_API or path.startswith(GRANT_API + "/")
    if on_grant_api and isinstance(exc, InvalidToken | InsufficientScope):
        headers.append(("WWW-Authenticate", bearer_challenge(exc.code, str(exc))))
    return ProblemResponse(exc.status, body, CONTENT_TYPE, headers)


def _oauth_problem(exc: Any, *, path: str, authorization: str) -> ProblemResponse:
    kind = PROBLEM_TYPE + "oauth-" + exc.error.replace("_", "-")
    if not path.startswith(OAUTH_PREFIXES):
        # An OAuth error met on the REST API (e.g. binding a link): problem+json, and a
        # client failure there is the caller's input, never a 401 challenge.
        status = exc.status if exc.status != 401 else 400
        body: dict[str, Any] = {"type": kind, "title": exc.description, "status": status,
                                "error": exc.error}
        if exc.errors:
            body["errors"] = exc.errors
        return ProblemResponse(status, body, CONTENT_TYPE, [])
    body = {"error": exc.error, "error_description": exc.description, "type": kind,
            "title": exc.description, "status": exc.status}
    if exc.errors:
        body["errors"] = exc.errors
    headers = [("Cache-Control", "no-store")]
    if exc.status == 401 and authorization.lower().startswith("basic"):
        headers.append(("WWW-Authenticate", 'Basic realm="kluis"'))
    return ProblemResponse(exc.status, body, "application/json", headers)
