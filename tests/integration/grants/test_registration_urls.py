"""Organisation registration refuses inward URLs (issue "Hardening" item 8).

Over the real HTTP registration endpoint of an instance with private URLs not allowed
(tests normally allow them). Host names under ``.example`` exist only in a patched
``socket.getaddrinfo`` (no DNS query leaves the machine); literal addresses and
``localhost`` are resolved as usual, without the network.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
import requests

REAL_GETADDRINFO = socket.getaddrinfo
NAMES = {
    "dekern.example": "93.184.215.14",  # public
    "inward.example": "10.0.0.5",
    "metadata.example": "169.254.169.254",
    "v6inward.example": "fd00::5",
}
MEMBERS = ("client_uri", "logo_uri", "policy_uri", "jwks_uri", "redirect_uris")

INWARD_IPV4 = ["127.0.0.1", "127.1.2.3", "127.255.255.254", "0.0.0.0",  # noqa: S104 - a target
               "10.0.0.1", "10.255.255.254", "172.16.0.1", "172.20.1.1", "172.31.255.254",
               "192.168.0.1", "192.168.255.254", "169.254.169.254", "169.254.0.1",
               "100.64.0.1"]
INWARD_IPV6 = ["::1", "::", "fe80::1", "febf::1", "fc00::1", "fd00::1", "fdff:ffff::1"]


def _bracket(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def inward_hosts() -> list[str]:
    hosts = [*INWARD_IPV4, *(f"[{a}]" for a in INWARD_IPV6)]
    for text in INWARD_IPV4:
        value = int(ipaddress.IPv4Address(text))
        hosts.append(_bracket(str(ipaddress.IPv6Address((0x2002 << 112) | (value << 80)))))
        hosts.append(_bracket(str(ipaddress.IPv6Address((0x64FF9B << 96) | value))))
        hosts.append(_bracket(str(ipaddress.IPv6Address((0xFFFF << 32) | value))))
    hosts += ["[2001::1]", "[64:ff9b:1::a00:1]", "[::7f00:1]",  # Teredo, local NAT64, compat
              "localhost", "localhost:8443", "2130706433",  # 127.0.0.1 as a number
              "inward.example", "metadata.example", "v6inward.example"]
    return hosts


INWARD = inward_hosts()
assert len(INWARD) >= 40


@pytest.fixture
def fake_dns(monkeypatch):
    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name.endswith(".example"):
            if name not in NAMES:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return REAL_GETADDRINFO(NAMES[name], port, *args, **kwargs)
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def strict_server(make_settings, make_live_server, fake_dns):
    from vault.app import create_app

    app = create_app({"settings": make_settings("strict", allow_private_urls=False),
                      "TESTING": True})
    yield make_live_server(app)
    app.extensions["kluis"].close()


def metadata(**overrides) -> dict:
    body = {"client_name": "Woonstichting De Kern", "client_uri": "https://dekern.example",
            "logo_uri": "https://dekern.example/logo.png",
            "policy_uri": "https://dekern.example/privacy",
            "jwks_uri": "https://dekern.example/jwks.json",
            "redirect_uris": ["https://dekern.example/oauth/callback"],
            "contacts": ["privacy@dekern.example"],
            "token_endpoint_auth_method": "client_secret_basic"}
    body.update(overrides)
    return body


def stored(server) -> int:
    instance = server.app.extensions["kluis"].instance
    return instance.conn.execute("SELECT count(*) FROM oauth_clients").fetchone()[0]


def register(server, body: dict) -> requests.Response:
    return requests.post(f"{server.url}/oauth/register", json=body, timeout=30)


def test_public_urls_are_accepted_by_a_strict_instance(strict_server):
    resp = register(strict_server, metadata(
        logo_uri="https://93.184.215.14/logo.png",  # a public literal
        policy_uri="https://[2002:5db8:d70e::1]/privacy",  # 6to4 of a public address
        redirect_uris=["https://dekern.example/cb", "https://[64:ff9b::5db8:d70e]/cb"]))
    assert resp.status_code == 201, resp.text
    assert stored(strict_server) == 1


@pytest.mark.parametrize("member", MEMBERS)
def test_inward_urls_are_refused_in_every_member(strict_server, member):
    failures = []
    for host in INWARD:
        url = f"https://{host}/kluis"
        value = [url] if member == "redirect_uris" else url
        resp = register(strict_server, metadata(**{member: value}))
        body = resp.json() if resp.headers.get("Content-Type", "").endswith("json") else {}
        key = "redirect_uris.0" if member == "redirect_uris" else member
        if (resp.status_code != 400 or body.get("error") != "invalid_client_metadata"
                or key not in (body.get("errors") or {})):
            failures.append((url, resp.status_code, resp.text[:200]))
    assert failures == []
    assert stored(strict_server) == 0


def test_the_message_says_why(strict_server):
    resp = register(strict_server, metadata(logo_uri="https://[2002:a9fe:a9fe::]/logo.png",
                                            redirect_uris=["https://nowhere.example/cb"]))
    assert resp.status_code == 400
    errors = resp.json()["errors"]
    assert "non-public" in errors["logo_uri"][0] and "link-local" in errors["logo_uri"][0]
    assert "does not resolve" in errors["redirect_uris.0"][0]
    resp = register(strict_server, metadata(redirect_uris=["http://127.0.0.1:8400/cb"]))
    assert resp.json()["errors"] == {"redirect_uris.0": ["A redirect URI must be an https URL."]}
    assert stored(strict_server) == 0


def test_a_metadata_member_outside_the_schema_is_not_kept(strict_server):
    resp = register(strict_server, metadata(tos_uri="https://10.0.0.1/tos"))
    assert resp.status_code == 201 and "tos_uri" not in resp.json()


def test_inward_urls_are_accepted_when_private_urls_are_allowed(live_server):
    # KLUIS_ALLOW_PRIVATE_URLS=1 (the test default): a native app's loopback redirect (RFC 8252).
    resp = register(live_server, metadata(client_uri="http://127.0.0.1:8400",
                                          logo_uri="https://[2002:7f00:1::]/logo.png",
                                          redirect_uris=["http://127.0.0.1:8400/cb"]))
    assert resp.status_code == 201, resp.text
