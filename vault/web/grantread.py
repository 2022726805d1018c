"""``GET /api/v1/grant/records``: the organisation's read, as a small WSGI application.

Organisations call this again and again. For that one request, Flask's request and
app contexts, URL matching, session handling and ``after_request`` hooks cost about as
much CPU as the read itself (``bench/``, BENCHMARKS.md). So ``create_app`` mounts
:class:`GrantRecordsApp` for exactly this path with werkzeug's
:class:`~werkzeug.middleware.dispatcher.DispatcherMiddleware`, and every request to the
path is answered here, successes and errors alike:

- the read itself is :meth:`Grants.redeem_records` (the domain's one read);
- errors go through :func:`vault.web.problems.problem_for`, the mapping Flask's error
  handlers use, so an error reads the same here as on ``GET /api/v1/grant``;
- headers come from :func:`vault.web.headers.security_headers`, the list Flask's
  ``after_request`` hook sends.

No Flask here, and no request context.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.wsgi import ClosingIterator

from vault.errors import KluisError
from vault.grants.service import Grants
from vault.web.auth import parse_bearer
from vault.web.observe import ROUTE_KEY
from vault.web.problems import Problem, ProblemResponse, bearer_challenge, problem_for

log = logging.getLogger("kluis.web")

PATH = "/api/v1/grant/records"
ALLOW = "GET, HEAD, OPTIONS"

StartResponse = Callable[..., Any]


class GrantRecordsApp:
    """The WSGI application mounted at :data:`PATH`."""

    def __init__(self, grants: Grants, headers: list[tuple[str, str]]) -> None:
        self.grants = grants  # the process's one Grants (vault.services)
        self.headers = headers

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        environ[ROUTE_KEY] = PATH  # for the request log and metrics (vault.web.observe)
        if environ.get("PATH_INFO", ""):  # /api/v1/grant/records/<anything>
            return self._problem(start_response, Problem(404, "not-found", "Not Found",
                                 "The requested URL was not found on the server."), method)
        if method == "OPTIONS":
            start_response("200 OK", [("Allow", ALLOW), ("Content-Length", "0"), *self.headers])
            return [b""]
        if method not in ("GET", "HEAD"):
            return self._problem(
                start_response,
                Problem(405, "method-not-allowed", "Method Not Allowed",
                        "The method is not allowed for the requested URL.",
                        headers={"Allow": ALLOW}),
                method)
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        token = parse_bearer(authorization)
        if token is None:
            return self._problem(start_response, Problem(
                401, "unauthorized", "Send the grant's access token",
                "Use Authorization: Bearer <access_token>.",
                headers={"WWW-Authenticate": bearer_challenge()}), method)
        types, purpose = _query(environ.get("QUERY_STRING", ""))
        after: list[Callable[[], None]] = []
        try:
            body = self.grants.redeem_records(token, types=types, purpose=purpose,
                                              defer=after.append)
        except KluisError as exc:
            return self._problem(start_response, exc, method, authorization)
        except Exception as exc:  # noqa: BLE001 - answer 500 as Flask's handler would
            log.error("unhandled %s in %s %s\n%s", type(exc).__name__, method, PATH,
                      "".join(traceback.format_tb(exc.__traceback__)))
            return self._problem(start_response, Problem(
                500, "internal", "Something went wrong on our side"), method)
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body))), *self.headers])
        # The read's deferred upkeep (journal merges) runs once the server has sent the
        # answer, as Werkzeug's call_on_close does for Flask responses.
        return ClosingIterator([b"" if method == "HEAD" else body], after)

    def _problem(self, start_response: StartResponse, exc: KluisError, method: str,
                 authorization: str = "") -> Iterable[bytes]:
        answer: ProblemResponse = problem_for(exc, path=PATH, authorization=authorization)
        body = answer.encoded()
        own = {name.lower() for name, _ in answer.headers}
        headers = [("Content-Type", answer.content_type), ("Content-Length", str(len(body))),
                   *answer.headers, *[(k, v) for k, v in self.headers if k.lower() not in own]]
        start_response(f"{answer.status} {HTTPStatus(answer.status).phrase.upper()}", headers)
        return [b"" if method == "HEAD" else body]


def _query(query: str) -> tuple[list[str], str | None]:
    """``type`` (repeatable) and the first ``purpose`` of a query string."""
    if not query.isascii():  # WSGI hands over raw bytes as latin-1; they are UTF-8
        query = query.encode("latin-1").decode("utf-8", "replace")
    types: list[str] = []
    purpose: str | None = None
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "type":
            types.append(value)
        elif key == "purpose" and purpose is None:
            purpose = value
    return types, purpose
