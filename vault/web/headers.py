"""Security headers and the Content Security Policy: the one list every response draws from.

Flask's ``after_request`` hook (``vault.app``) and the organisation read beneath Flask
(:mod:`vault.web.grantread`) both send :func:`security_headers`, so the two paths
cannot drift apart. A view may set its own value of a header (the consent page widens
``form-action``, downloads sandbox themselves); that value then wins.
"""

from __future__ import annotations

from vault.config import Settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


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
