"""Bounds on what a request may make the server read and parse.

- Bodies: :func:`body_limit` is the most a request may send: ``KLUIS_MAX_BODY_BYTES`` for
  JSON and forms, ``KLUIS_MAX_UPLOAD_BYTES`` for uploads (multipart forms and the bundle to
  verify). :class:`BoundedBodies`, a WSGI middleware in front of Flask, enforces it on the
  bytes actually read: a declared ``Content-Length`` above it is answered 413 at once, and a
  chunked body (no ``Content-Length``) is read up to the limit and answered 413 past it
  (werkzeug alone would silently cut such a body at its limit and parse the rest). A chunked
  body within the limit is handed on with its length, so every view's own smaller bound
  (``load_body(max_bytes=...)``) holds for it too.
- JSON: :func:`check_json_shape` bounds nesting depth and the number of members *before*
  the body is parsed, so a six-kilobyte ``[[[[...]]]]`` cannot drive the parser into a
  ``RecursionError`` (a 500) and a flat million-member array cannot make it build one.
  :class:`LimitedJSONProvider` puts the check in front of every ``request.get_json``.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask.json.provider import DefaultJSONProvider

from vault.config import Settings
from vault.errors import KluisError
from vault.web.problems import Problem, problem_for

#: Deeper than any payload Kluis defines (a certified bundle nests about 8 levels).
MAX_JSON_DEPTH = 32
#: Members (values inside arrays and objects) of one JSON body.
MAX_JSON_MEMBERS = 200_000
#: Paths that take a whole certified bundle (JSON) to verify: an upload, not a small body.
UPLOAD_PATHS = ("/api/v1/verify",)
#: Room for the multipart framing around an upload.
MULTIPART_SLACK = 64 * 1024

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_STRUCTURE = re.compile(rb"[\[\]{},]")


class JsonTooDeep(KluisError):
    status = 400
    code = "json-too-deep"
    title = "The JSON body is nested too deeply"

    def problem_detail(self) -> str | None:
        return f"At most {MAX_JSON_DEPTH} levels of arrays and objects are accepted."


class JsonTooManyMembers(KluisError):
    status = 413
    code = "json-too-many-members"
    title = "The JSON body has too many members"

    def problem_detail(self) -> str | None:
        return f"At most {MAX_JSON_MEMBERS} values in arrays and objects are accepted."


def check_json_shape(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH,
                     max_members: int = MAX_JSON_MEMBERS) -> None:
    """Raise :class:`JsonTooDeep` or :class:`JsonTooManyMembers` for a body beyond the bounds.

    One linear pass over the structural characters outside strings (strings are blanked out
    first, so brackets inside them do not count). It does not validate the JSON: the parser
    does that afterwards, on a body now known to be shallow and bounded.
    """
    raw = data.encode() if isinstance(data, str) else data
    if b"[" not in raw and b"{" not in raw:
        return
    depth = 0
    members = 0
    for match in _STRUCTURE.finditer(_STRING.sub(b'""', raw)):
        char = match.group()
        if char in (b"[", b"{"):
            depth += 1
            members += 1
            if depth > max_depth:
                raise JsonTooDeep("the JSON body is nested too deeply")
        elif char == b",":
            members += 1
        else:
            depth -= 1
        if members > max_members:
            raise JsonTooManyMembers("the JSON body has too many members")


class LimitedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, with :func:`check_json_shape` before every parse."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        check_json_shape(s)
        return super().loads(s, **kwargs)


def body_limit(settings: Settings, *, path: str, mimetype: str) -> int:
    """The most bytes a request to ``path`` with this content type may send."""
    if mimetype == "multipart/form-data":
        return settings.max_upload_bytes + MULTIPART_SLACK
    if path in UPLOAD_PATHS:
        return settings.max_upload_bytes
    return settings.max_body_bytes


class BoundedBodies:
    """WSGI middleware: no request body beyond :func:`body_limit` reaches the app."""

    def __init__(self, app: Callable[..., Iterable[bytes]], settings: Settings,
                 headers: list[tuple[str, str]]) -> None:
        self.app = app
        self.settings = settings
        self.headers = headers

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        declared = environ.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not declared and not chunked:
            return self.app(environ, start_response)
        mimetype = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        path = environ.get("PATH_INFO", "")
        limit = body_limit(self.settings, path=path, mimetype=mimetype)
        if declared:
            if declared.isdigit() and int(declared) > limit:
                return self._too_large(start_response, path, limit)
            return self.app(environ, start_response)
        stream = environ["wsgi.input"]
        body = bytearray()
        while len(body) <= limit:
            chunk = stream.read(min(65536, limit + 1 - len(body)))
            if not chunk:
                break
            body.extend(chunk)
        if len(body) > limit:
            return self._too_large(start_response, path, limit)
        environ["wsgi.input"] = io.BytesIO(bytes(body))
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)

    def _too_large(self, start_response: Callable[..., Any], path: str, limit: int
                   ) -> Iterable[bytes]:
        answer = problem_for(Problem(413, "too-large", "The request body is too large",
                                     f"At most {limit} bytes are accepted here."), path=path)
        body = answer.encoded()
        start_response("413 CONTENT TOO LARGE", [
            ("Content-Type", answer.content_type), ("Content-Length", str(len(body))),
            ("Connection", "close"), *self.headers])
        return [body]
