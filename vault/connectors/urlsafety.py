"""Refuse source URLs that point into the instance's own network (SSRF).

A ``base_url`` must be http(s) and every address its host resolves to must be
public, unless the operator sets ``KLUIS_ALLOW_PRIVATE_URLS=1`` (tests, or a
source on the same LAN on purpose).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeUrl(ValueError):
    """The URL may not be used as a source. ``str()`` says why, in plain words."""


def check_url(url: str, *, allow_private: bool = False, resolve: bool = True) -> str:
    """Return ``url`` if it is safe to fetch from, else raise :class:`UnsafeUrl`."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl("The URL must start with https:// (or http://).")
    if not parts.hostname:
        raise UnsafeUrl("The URL has no host name.")
    if parts.username or parts.password:
        raise UnsafeUrl("The URL may not contain a user name or password.")
    if allow_private:
        return url
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if host.lower() in ("localhost",) or host.lower().endswith(".localhost"):
            raise UnsafeUrl("The URL points to this server itself.") from None
        if not resolve:
            return url
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError):
            raise UnsafeUrl("The host name in the URL does not resolve.") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for address in addresses:
        if not address.is_global or address.is_multicast:
            raise UnsafeUrl("The URL points to a private or local network address.")
    return url
