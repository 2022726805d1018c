"""RFC 9457 problem details for every JSON error.

``type`` is a stable URN per problem kind (``urn:kluis:problem:<code>``);
validation problems carry ``errors``: field path -> messages.
"""

from __future__ import annotations

from typing import Any

from flask import Response, json

PROBLEM_TYPE = "urn:kluis:problem:"
CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
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

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": PROBLEM_TYPE + self.code, "title": self.title,
                                "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extra)
        return body

    def response(self) -> Response:
        resp = Response(json.dumps(self.body()), status=self.status, mimetype=CONTENT_TYPE)
        for key, value in self.headers.items():
            resp.headers[key] = value
        return resp


def validation_problem(errors: dict[str, list[str]], title: str = "The input is not valid") -> Problem:
    return Problem(422, "validation", title, "See errors for what to correct.", errors=errors)
