"""The connector contract: what a source declares and the narrow context ``fetch`` gets.

A connector never sees the app, a database or a vault. It gets its options, its
credentials, an HTTP session with timeouts, a progress callback, a logger and a
small ``state`` dict it may keep between runs (for example a PSD2 consent id),
and yields :class:`Draft` records with provenance.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

import requests
from marshmallow import Schema, fields
from requests.adapters import HTTPAdapter
from requests.utils import select_proxy
from urllib3 import HTTPConnectionPool

from vault.clock import now_iso, utcnow
from vault.urlsafety import UnsafeURL, check_url, host_header

DEFAULT_TIMEOUT = (5.0, 20.0)  # connect, read (seconds)


class CredentialKind(StrEnum):
    NONE = "none"
    API_KEY = "api_key"
    OAUTH2_CLIENT_CREDENTIALS = "oauth2_client_credentials"
    PSD2_CONSENT = "psd2_consent"


class NoCredentials(Schema):
    pass


class ApiKeyCredentials(Schema):
    api_key = fields.String(
        required=True, load_only=True,
        metadata={"label": {"nl": "API-sleutel", "en": "API key"}, "secret": True},
    )


class OAuth2ClientCredentials(Schema):
    token_url = fields.Url(required=True, metadata={"label": {"nl": "Token-URL", "en": "Token URL"}})
    client_id = fields.String(required=True, metadata={"label": {"nl": "Client-id", "en": "Client id"}})
    client_secret = fields.String(
        required=True, load_only=True,
        metadata={"label": {"nl": "Client-geheim", "en": "Client secret"}, "secret": True},
    )


class Psd2ConsentCredentials(Schema):
    psu_id = fields.String(
        load_default=None,
        metadata={"label": {"nl": "Gebruikers-id bij de bank", "en": "User id at the bank"}},
    )


CREDENTIAL_SCHEMAS: dict[CredentialKind, type[Schema]] = {
    CredentialKind.NONE: NoCredentials,
    CredentialKind.API_KEY: ApiKeyCredentials,
    CredentialKind.OAUTH2_CLIENT_CREDENTIALS: OAuth2ClientCredentials,
    CredentialKind.PSD2_CONSENT: Psd2ConsentCredentials,
}


# -- errors a fetch may raise ---------------------------------------------------------------


class ConnectorError(Exception):
    """Base class. ``str(error)`` is shown to the owner: plain words, no personal data."""


class TransientError(ConnectorError):
    """Worth trying again later (timeout, 5xx, 429, malformed answer)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NeedsAttention(ConnectorError):
    """Only the owner can fix this (bad credentials, unknown at the source, consent expired)."""


# -- what fetch yields ----------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """One record as the source has it now.

    ``key`` is the natural key within the connection (a BSN, a WOZ object number,
    an IBAN), so a refresh updates the same record. ``evidence`` is provenance:
    source URL, response date, request id, and a signature or hash where the
    source gives one. ``label`` names the record in the owner's "what changed".
    """

    type: str
    key: str
    data: dict[str, Any]
    evidence: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "key": self.key, "data": self.data,
                "evidence": self.evidence, "label": self.label}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Draft:
        return cls(raw["type"], raw["key"], raw["data"], raw.get("evidence", {}),
                   raw.get("label", ""))


# -- the context --------------------------------------------------------------------------


class PinnedAdapter(HTTPAdapter):
    """Sends each request to the address that :func:`vault.urlsafety.check_url` approved.

    For every request (so for every redirect hop, which requests sends through the same
    adapter) the URL is checked (``allow_private`` as configured) and the connection goes to
    the first checked address: no second DNS lookup that could rebind the name to an inward
    address. The Host header, TLS SNI and the certificate check stay on the URL's host name
    (urllib3 ``server_hostname`` / ``assert_hostname``). Proxies are refused: a proxy would
    resolve the name itself. An unsafe URL raises :class:`vault.urlsafety.UnsafeURL`.
    """

    def __init__(self, *, allow_private: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.allow_private = allow_private

    def get_connection_with_tls_context(
        self, request: requests.PreparedRequest, verify: bool | str | None,
        proxies: Mapping[str, str] | None = None, cert: Any = None,
    ) -> HTTPConnectionPool:
        url = request.url or ""
        if select_proxy(url, proxies):
            raise UnsafeURL("connector requests do not go through a proxy")
        addresses = check_url(url, allow_private=self.allow_private)
        host_params, tls = self.build_connection_pool_key_attributes(
            request, True if verify is None else verify, cert)
        pool_kwargs: dict[str, Any] = dict(tls)
        hostname = host_params["host"]
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = hostname
            pool_kwargs["assert_hostname"] = hostname
        request.headers["Host"] = host_header(url)
        host_params["host"] = addresses[0]
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)


class TimeoutSession(requests.Session):
    """A requests session that always has a timeout, never follows redirects unless asked,
    and sends every request through a :class:`PinnedAdapter` (each redirect hop included).

    ``trust_env`` is off: no proxies, ``.netrc`` credentials or CA bundles from the
    environment (a proxy would defeat the address pinning).
    """

    def __init__(self, timeout: tuple[float, float] | float = DEFAULT_TIMEOUT, *,
                 allow_private: bool = False) -> None:
        super().__init__()
        self.timeout = timeout
        self.trust_env = False
        self.headers["User-Agent"] = "Kluis connector"
        self.adapters.clear()
        adapter = PinnedAdapter(allow_private=allow_private)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url, *args, **kwargs)


@dataclass
class FetchContext:
    """Everything a connector may use during one fetch."""

    options: dict[str, Any]
    credentials: dict[str, Any]
    http: requests.Session
    progress: Callable[[int, int], None] = lambda done, total: None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("kluis.connectors"))
    state: dict[str, Any] = field(default_factory=dict)
    now: Callable[[], datetime] = utcnow

    def request(self, method: str, url: str, **kwargs: Any) -> tuple[requests.Response, dict]:
        """Send one request and classify failures; returns the response and its evidence.

        Raises :class:`TransientError` for timeouts, connection errors, 5xx and
        429 (with Retry-After), :class:`NeedsAttention` for 401/403/404 and
        other 4xx.
        """
        request_id = str(uuid.uuid4())
        headers = {"X-Request-ID": request_id, **kwargs.pop("headers", {})}
        try:
            response = self.http.request(method, url, headers=headers, **kwargs)
        except UnsafeURL as exc:
            raise NeedsAttention(f"The source address is not allowed: {exc}.") from None
        except requests.Timeout:
            raise TransientError("The source did not answer in time.") from None
        except requests.ConnectionError:
            raise TransientError("The source could not be reached.") from None
        status = response.status_code
        if status == 429:
            raise TransientError("The source asked us to slow down.",
                                 retry_after=parse_retry_after(response.headers.get("Retry-After")))
        if status >= 500:
            raise TransientError(f"The source had an internal error (HTTP {status}).",
                                 retry_after=parse_retry_after(response.headers.get("Retry-After")))
        if status in (401, 403):
            raise NeedsAttention("The source refused the credentials: check the API key or consent.")
        if status == 404:
            raise NeedsAttention("The source does not know the requested item: check the options.")
        if status >= 400 or 300 <= status < 400:
            raise NeedsAttention(f"The source rejected the request (HTTP {status}).")
        evidence = {
            "source_url": response.url,
            "response_date": response.headers.get("Date") or now_iso(),
            "request_id": response.headers.get("X-Request-ID") or request_id,
            "sha256": hashlib.sha256(response.content).hexdigest(),
        }
        return response, evidence

    def json(self, method: str, url: str, **kwargs: Any) -> tuple[Any, dict]:
        """:meth:`request` and parse JSON; a malformed body is a :class:`TransientError`."""
        response, evidence = self.request(method, url, **kwargs)
        try:
            return response.json(), evidence
        except ValueError:
            raise TransientError("The source sent an answer that is not valid JSON.") from None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        from email.utils import parsedate_to_datetime

        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - utcnow()).total_seconds())


class Connector:
    """Base class of every connector. Subclasses set the class attributes and ``fetch``."""

    id: ClassVar[str]
    title: ClassVar[dict[str, str]]
    source_organisation: ClassVar[str]
    record_types: ClassVar[tuple[str, ...]]
    options_schema: ClassVar[type[Schema]]
    credential: ClassVar[CredentialKind] = CredentialKind.NONE
    default_interval: ClassVar[int] = 24 * 3600  # seconds
    # False for connectors the owner drives by hand (uploads): no fetch, no schedule.
    fetches: ClassVar[bool] = True

    @property
    def credentials_schema(self) -> type[Schema]:
        return CREDENTIAL_SCHEMAS[self.credential]

    def fetch(self, context: FetchContext) -> Iterator[Draft]:
        raise NotImplementedError

    def describe(self, lang: str | None = None) -> dict[str, Any]:
        from vault.records.jsonschema import to_json_schema

        return {
            "id": self.id,
            "title": self.title if lang is None else self.title.get(lang, self.title["en"]),
            "source_organisation": self.source_organisation,
            "record_types": list(self.record_types),
            "credential": str(self.credential),
            "default_interval_seconds": self.default_interval,
            "fetches": self.fetches,
            "options_schema": to_json_schema(self.options_schema()),
            "credentials_schema": to_json_schema(self.credentials_schema()),
        }
