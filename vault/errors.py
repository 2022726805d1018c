"""The base of every error a domain package raises for its caller to answer.

Domain code knows nothing of HTTP, but each error still says what kind of failure it
is: a stable ``code`` (the last part of the problem type ``urn:kluis:problem:<code>``)
and a ``status`` hint (the closest HTTP status, which the CLI ignores). The web layer
turns any :class:`KluisError` into an RFC 9457 body with one function,
:func:`vault.web.problems.problem_for`; nothing else maps errors to responses.
"""

from __future__ import annotations

from typing import Any


class KluisError(Exception):
    """An error with a stable code and a status hint; its message is safe to show."""

    status: int = 400
    code: str = "error"
    #: A fixed title for the problem body; None: the message is the title.
    title: str | None = None

    def problem_title(self) -> str:
        return self.title or str(self)

    def problem_detail(self) -> str | None:
        """A longer explanation for the problem body, or None."""
        return None

    def problem_extra(self) -> dict[str, Any]:
        """Members the problem body carries besides type, title, status (e.g. ``errors``)."""
        errors = getattr(self, "errors", None)
        return {"errors": errors} if errors else {}
