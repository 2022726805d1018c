"""Fetching URLs that someone else chose, without letting them point us inward (SSRF).

Used for organisation metadata documents and ``jwks_uri`` (grants) and by the
connectors for their ``base_url`` checks. Plain functions, no Flask.

Rules: only http(s); https unless private targets are allowed; every address
the host name resolves to must be public (no loopback, private, link-local,
multicast, reserved or unspecified addresses) unless ``allow_private``; the
connection goes to the checked address (no second DNS lookup that could
rebind); redirects are followed by hand (at most a few) and each hop is checked
again; the body is read up to ``max_bytes``; the whole fetch has a deadline.

IPv6 transition forms that carry an IPv4 address are judged by that address:
IPv4-mapped (``::ffff:0:0/96``), NAT64 (``64:ff9b::/96``) and 6to4
(``2002::/16``) are refused when their IPv4 address would be. Always refused:
Teredo (``2001::/32``, its server and client IPv4 can be anything), the
deprecated IPv4-compatible form (``::/96``) and the local-use NAT64 prefix
(``64:ff9b:1::/48``, RFC 8215: where the IPv4 sits depends on the operator's
prefix length, so it cannot be read from the address).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import urllib3

MAX_BYTES = 64 * 1024
TIMEOUT = 5.0
MAX_REDIRECTS = 3


class UnsafeURL(ValueError):
    """The URL may not be fetched (scheme, target address, size, time or redirects)."""


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    content_type: str
    body: bytes


_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")


def _plain_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_global and not (
        address.is_private or address.is_loopback or address.is_link_local
        or address.is_multicast or address.is_reserved or address.is_unspecified
    )


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``address`` may be a target when private targets are not allowed.

    IPv6 forms that embed an IPv4 address are judged by that address (module docstring).
    """
    if isinstance(address, ipaddress.IPv4Address):
        return _plain_public(address)
    if address in _TEREDO or address in _NAT64_LOCAL:
        return False
    if address in _IPV4_MAPPED or address in _NAT64:
        # Both are reserved in ipaddress's tables; the IPv4 address is what is reached.
        return _plain_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address in _IPV4_COMPATIBLE:
        return False
    if address in _SIX_TO_FOUR:
        embedded = ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF)
        if not _plain_public(embedded):
            return False
    return _plain_public(address)


def host_header(url: str) -> str:
    """The Host header for ``url``: its host (IPv6 literals in brackets) and a given port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return host if parts.port is None else f"{host}:{parts.port}"


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"the host {host!r} does not resolve") from exc
    # An IPv4 or IPv6 socket address starts with the address as a string (typeshed also allows
    # the int of other families, which a SOCK_STREAM lookup of a host name never returns).
    return sorted({str(info[4][0]) for info in infos})


def check_url(url: str, *, allow_private: bool = False, require_https: bool | None = None
              ) -> list[str]:
    """Check that ``url`` may be fetched; return the addresses it resolves to.

    ``require_https`` defaults to ``not allow_private``. Raises :class:`UnsafeURL`.
    """
    parts = urlsplit(url or "")
    https_only = (not allow_private) if require_https is None else require_https
    if parts.scheme not in ("https", "http") or (https_only and parts.scheme != "https"):
        raise UnsafeURL("only https URLs are accepted" if https_only else "only http(s) URLs")
    if not parts.hostname:
        raise UnsafeURL("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeURL("URLs with credentials are not accepted")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise UnsafeURL("the URL has a bad port") from exc
    addresses = resolve(parts.hostname, port)
    if not addresses:
        raise UnsafeURL(f"the host {parts.hostname!r} does not resolve")
    if not allow_private:
        for text in addresses:
            if not is_public(ipaddress.ip_address(text.split("%")[0])):
                raise UnsafeURL(f"{parts.hostname} points to a non-public address")
    return addresses


def fetch(url: str, *, allow_private: bool = False, max_bytes: int = MAX_BYTES,
          timeout: float = TIMEOUT, accept: str = "application/json",
          max_redirects: int = MAX_REDIRECTS) -> Fetched:
    """GET ``url`` under the rules above. Raises :class:`UnsafeURL` on any violation."""
    deadline = time.monotonic() + timeout
    current = url
    for _hop in range(max_redirects + 1):
        addresses = check_url(current, allow_private=allow_private)
        parts = urlsplit(current)
        if not parts.hostname:  # check_url refused such a URL already; this tells the checker
            raise UnsafeURL("the URL has no host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise UnsafeURL("the fetch took too long")
        if parts.scheme == "https":
            pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
                addresses[0], port, server_hostname=parts.hostname,
                assert_hostname=parts.hostname, cert_reqs="CERT_REQUIRED",
                timeout=urllib3.Timeout(total=remaining), retries=False, maxsize=1,
            )
        else:
            pool = urllib3.HTTPConnectionPool(
                addresses[0], port, timeout=urllib3.Timeout(total=remaining), retries=False,
                maxsize=1,
            )
        try:
            response = pool.urlopen(
                "GET", path, headers={"Host": host_header(current), "Accept": accept,
                                      "User-Agent": "kluis/0.1"},
                redirect=False, preload_content=False, retries=False,
            )
            try:
                if response.status in (301, 302, 303, 307, 308):
                    location = response.headers.get("Location")
                    if not location:
                        raise UnsafeURL("a redirect without a Location")
                    current = urljoin(current, location)
                    continue
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise UnsafeURL(f"the response is larger than {max_bytes} bytes")
                body = bytearray()
                for chunk in response.stream(8192):
                    body.extend(chunk)
                    if len(body) > max_bytes:
                        raise UnsafeURL(f"the response is larger than {max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise UnsafeURL("the fetch took too long")
                return Fetched(current, response.status,
                               response.headers.get("Content-Type", ""), bytes(body))
            finally:
                response.release_conn()
        except urllib3.exceptions.HTTPError as exc:
            raise UnsafeURL(f"could not fetch {parts.hostname}: {type(exc).__name__}") from exc
        finally:
            pool.close()
    raise UnsafeURL("too many redirects")
