"""The grants feature's errors. Imports no Flask.

Each class says what an API answers: ``status`` (HTTP) and ``code`` (the problem
type, or the RFC 6750 error) are class attributes, so a handler maps them without
knowing the class. :class:`OAuthError` carries an RFC 6749 ``error`` and its
status per instance instead, because one OAuth error code answers 400, 401 or 403
depending on where it is raised.
"""

from __future__ import annotations

from typing import Any

from vault.errors import KluisError


class GrantError(KluisError):
    """Base class; ``status`` and ``code`` are what an API answers."""

    status = 400
    code = "grant-error"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors


class InvalidToken(GrantError):
    """The bearer token is unknown, revoked, expired or used up (RFC 6750 invalid_token).

    ``reason`` says which when it is known (``revoked``, ``expired``, ``used_up``,
    ``narrowed``; see :class:`vault.grants.events.TokenFate`), ``fate`` the members an
    API adds to its answer (who revoked, the narrowed details).
    """

    status = 401
    code = "invalid_token"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None, *,
                 reason: str | None = None, grant_id: str | None = None,
                 client_id: str | None = None, fate: dict[str, Any] | None = None) -> None:
        super().__init__(message, errors)
        self.reason = reason
        self.grant_id = grant_id
        self.client_id = client_id
        self.fate = fate

    def problem_extra(self) -> dict[str, Any]:
        extra = super().problem_extra()
        if self.fate:
            extra["grant_status"] = "inactive"
            extra.update(self.fate)
        return extra


class InsufficientScope(GrantError):
    status = 403
    code = "insufficient_scope"


class NotFound(GrantError):
    status = 404
    code = "not-found"


class Conflict(GrantError):
    status = 409
    code = "conflict"


class InvalidInput(GrantError):
    status = 422
    code = "validation"


class AccessNotLogged(GrantError):
    """The access event could not be written, so the data is not served."""

    status = 503
    code = "access-log-unavailable"


class OAuthError(KluisError):
    """An OAuth 2.0 error (RFC 6749 section 5.2 codes) with an HTTP status."""

    status = 400

    def __init__(self, error: str, description: str, status: int = 400,
                 errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.errors = errors
