import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.urlsafety import UnsafeURL, check_url, fetch, host_header, is_public


@pytest.mark.parametrize("url", [
    "http://example.com/x",  # not https
    "https://127.0.0.1/x",
    "https://localhost/x",
    "https://10.1.2.3/x",
    "https://192.168.1.1/x",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/x",
    "https://[::ffff:127.0.0.1]/x",
    "https://[64:ff9b::192.168.0.1]/x",  # NAT64, dotted
    "https://[::ffff:10.0.0.1]/x",
    "https://2130706433/x",  # 127.0.0.1 as one number
    "https://0.0.0.0/x",
    "https://user:pw@example.com/x",
    "file:///etc/passwd",
])
def test_private_targets_and_odd_urls_are_refused(url):
    with pytest.raises(UnsafeURL):
        check_url(url, allow_private=False)


@pytest.fixture
def local_server():
    routes: dict[str, tuple[int, dict, bytes]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            status, headers, body = routes.get(self.path, (404, {}, b""))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", routes
    server.shutdown()
    server.server_close()


def test_loopback_is_fetched_only_when_allowed(local_server):
    base, routes = local_server
    routes["/ok"] = (200, {"Content-Type": "application/json"}, b"{}")
    assert fetch(base + "/ok", allow_private=True).body == b"{}"
    with pytest.raises(UnsafeURL):
        fetch(base + "/ok", allow_private=False)


def test_large_bodies_are_cut_off(local_server):
    base, routes = local_server
    routes["/big"] = (200, {}, b"x" * 70_000)
    with pytest.raises(UnsafeURL, match="larger"):
        fetch(base + "/big", allow_private=True)


def test_redirects_are_checked_and_limited(local_server):
    base, routes = local_server
    routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(UnsafeURL, match="redirects"):
        fetch(base + "/loop", allow_private=True)
    routes["/file"] = (302, {"Location": "file:///etc/passwd"}, b"")
    with pytest.raises(UnsafeURL):
        fetch(base + "/file", allow_private=True)


# -- IPv6 transition forms (issue "Hardening" item 7) ----------------------------------------

# (URL, what it reaches): refused with private targets not allowed.
TRANSITION_REFUSED = [
    ("https://[2002:7f00:1::]/", "6to4 of 127.0.0.1"),
    ("https://[2002:a9fe:a9fe::]/", "6to4 of 169.254.169.254"),
    ("https://[2002:a00:1::1]/", "6to4 of 10.0.0.1"),
    ("https://[2002:ac10:1::]/", "6to4 of 172.16.0.1"),
    ("https://[2002:c0a8:101:1::1]/", "6to4 of 192.168.1.1"),
    ("https://[2002:6440:1::]/", "6to4 of 100.64.0.1 (shared address space)"),
    ("https://[2002::]/", "6to4 of 0.0.0.0"),
    ("https://[64:ff9b::7f00:1]/", "NAT64 of 127.0.0.1"),
    ("https://[64:ff9b::a9fe:a9fe]/", "NAT64 of 169.254.169.254"),
    ("https://[64:ff9b::a00:1]/", "NAT64 of 10.0.0.1"),
    ("https://[64:ff9b::c0a8:1]/", "NAT64 of 192.168.0.1"),
    ("https://[64:ff9b:1::a00:1]/", "local-use NAT64 of 10.0.0.1"),
    ("https://[64:ff9b:1::808:808]/", "local-use NAT64: always"),
    ("https://[2001::1]/", "Teredo"),
    ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", "Teredo with a public server"),
    ("https://[::7f00:1]/", "IPv4-compatible 127.0.0.1"),
    ("https://[::808:808]/", "IPv4-compatible: always (deprecated)"),
    ("https://[::ffff:7f00:1]/", "IPv4-mapped 127.0.0.1"),
    ("https://[::ffff:a9fe:a9fe]/", "IPv4-mapped 169.254.169.254"),
    ("https://[::ffff:a00:1]/", "IPv4-mapped 10.0.0.1"),
    ("https://[fe80::1]/", "IPv6 link-local"),
    ("https://[fc00::1]/", "IPv6 unique local"),
    ("https://[fd12:3456::1]/", "IPv6 unique local"),
]

# Public targets, also in transition forms: accepted.
TRANSITION_ACCEPTED = [
    ("https://[2002:808:808::1]/", "6to4 of 8.8.8.8"),
    ("https://[64:ff9b::808:808]/", "NAT64 of 8.8.8.8"),
    ("https://[64:ff9b::101:101]/", "NAT64 of 1.1.1.1"),
    ("https://[::ffff:808:808]/", "IPv4-mapped 8.8.8.8"),
    ("https://8.8.8.8/", "public IPv4"),
    ("https://[2606:4700:4700::1111]/", "public IPv6"),
]


@pytest.mark.parametrize(("url", "reaches"), TRANSITION_REFUSED)
def test_transition_forms_of_refused_addresses_are_refused(url, reaches):
    with pytest.raises(UnsafeURL, match="non-public"):
        check_url(url, allow_private=False)
    assert check_url(url, allow_private=True)  # allowed on a private deployment


@pytest.mark.parametrize(("url", "reaches"), TRANSITION_ACCEPTED)
def test_public_addresses_are_accepted_in_every_form(url, reaches):
    assert check_url(url, allow_private=False)


@pytest.mark.parametrize(("url", "reaches"), TRANSITION_REFUSED + TRANSITION_ACCEPTED)
def test_connector_base_urls_follow_the_same_rules(url, reaches):
    from vault.connectors import registry
    from vault.connectors.service import InvalidConnection, validate_input

    brp = registry.get("brp")
    options = {"base_url": url + "api", "bsn": "900194054"}
    if (url, reaches) in TRANSITION_REFUSED:
        with pytest.raises(InvalidConnection) as info:
            validate_input(brp, options, {"api_key": "k"}, allow_private_urls=False)
        assert list(info.value.errors) == ["options.base_url"]
    else:
        clean, _ = validate_input(brp, options, {"api_key": "k"}, allow_private_urls=False)
        assert clean["base_url"] == url + "api"


ipv4s = st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address)


@given(ipv4s)
def test_embedded_ipv4_decides_for_6to4_nat64_and_mapped(v4):
    value = int(v4)
    six_to_four = ipaddress.IPv6Address((0x2002 << 112) | (value << 80) | 1)
    nat64 = ipaddress.IPv6Address((0x64FF9B << 96) | value)
    mapped = ipaddress.IPv6Address((0xFFFF << 32) | value)
    expected = is_public(v4)
    assert is_public(nat64) is expected
    assert is_public(mapped) is expected
    assert is_public(six_to_four) is expected


@given(st.integers(min_value=0, max_value=2**96 - 1))
def test_teredo_and_ipv4_compatible_are_always_refused(low):
    assert not is_public(ipaddress.IPv6Address((0x20010000 << 96) | low))
    assert not is_public(ipaddress.IPv6Address(low & 0xFFFFFFFF))
    assert not is_public(ipaddress.IPv6Address((0x64FF9B0001 << 88) | (low >> 8)))


def test_host_header_keeps_the_brackets_of_an_ipv6_literal():
    assert host_header("https://[2606:4700::1]/x") == "[2606:4700::1]"
    assert host_header("http://[::1]:8080/x") == "[::1]:8080"
    assert host_header("https://example.com:8443/") == "example.com:8443"
    assert host_header("https://Example.com/") == "example.com"


def test_fetch_sends_a_bracketed_host_for_an_ipv6_literal():
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            seen.append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    class V6Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    server = V6Server(("::1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        assert fetch(f"http://[::1]:{port}/x", allow_private=True).body == b"{}"
        assert seen == [f"[::1]:{port}"]
    finally:
        server.shutdown()
        server.server_close()
