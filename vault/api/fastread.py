"""The organisation's read, served beneath Flask's request machinery.

``GET /api/v1/grant/records`` is what organisations call again and again. For
that one request, Flask's request and app contexts, URL matching, session
handling and ``after_request`` hooks cost about as much CPU as the read itself
(``bench/``, BENCHMARKS.md). :class:`GrantReadPath` is a WSGI middleware in
front of the Flask app that answers a *successful* read straight from
:meth:`Grants.redeem_records`, with the headers Flask would have sent.

Everything else goes to Flask unchanged: other paths and methods, a request
without a bearer token or with a cookie, a query string that is not plain
ASCII. A read that fails hands its exception to Flask in the environ
(:data:`READ_FAILED`); the Flask view raises it again instead of reading a
second time, so the error handlers stay the one definition of every error
response and nothing the read did happens twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl

from werkzeug.wsgi import ClosingIterator

from vault.accounts.web import parse_bearer
from vault.grants.service import Grants

PATH = "/api/v1/grant/records"
READ_FAILED = "kluis.grant_read_failed"


class GrantReadPath:
    """WSGI middleware: ``app.wsgi_app = GrantReadPath(app.wsgi_app, ...)``."""

    def __init__(self, wsgi_app, grants: Callable[[], Grants], on_open: Callable,
                 headers: list[tuple[str, str]]) -> None:
        self.wsgi_app = wsgi_app
        self._grants = grants  # built lazily, like the Flask views' grants_service()
        self._on_open = on_open
        # As Flask sends them: its session machinery adds Vary: Cookie to this view's answer.
        self._headers = [*headers, ("Vary", "Cookie")]

    def __call__(self, environ: dict, start_response) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "GET" \
                or "HTTP_COOKIE" in environ:
            return self.wsgi_app(environ, start_response)
        token = parse_bearer(environ.get("HTTP_AUTHORIZATION", ""))
        query = environ.get("QUERY_STRING", "")
        if token is None or not query.isascii():
            return self.wsgi_app(environ, start_response)
        types: list[str] = []
        purpose: str | None = None
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key == "type":
                types.append(value)
            elif key == "purpose" and purpose is None:
                purpose = value
        after: list[Callable[[], None]] = []
        try:
            body = self._grants().redeem_records(
                token, types=types, purpose=purpose, on_open=self._on_open,
                defer=after.append)
        except Exception as exc:  # noqa: BLE001 - Flask's error handlers answer it
            environ[READ_FAILED] = exc
            return self.wsgi_app(environ, start_response)
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body))), *self._headers])
        # The read's deferred upkeep runs once the server has sent the answer (as Werkzeug's
        # call_on_close does for Flask responses).
        return ClosingIterator([body], after)
