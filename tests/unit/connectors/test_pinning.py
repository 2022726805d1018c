"""Connector requests go to the address that was checked (issue "Hardening" item 7).

The host names below exist only in a patched ``socket.getaddrinfo`` that rebinds them: a
lookup made by the URL check (``vault.urlsafety.resolve``) is answered with the stand-in on
127.0.0.1, any other lookup (a connection resolving the name again) with 127.0.0.2, where
nothing listens. So a request that is not pinned to the checked address fails.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from openapi_core import Config, OpenAPI
from rq import Queue

from tests.standins.fixtures import API_KEY, BRP_BSN
from tests.standins.psd2 import fix_iban
from vault import urlsafety
from vault.connectors import registry, service
from vault.connectors.base import FetchContext, NeedsAttention, TimeoutSession
from vault.connectors.jobs import collect_drafts, run_refresh
from vault.urlsafety import UnsafeURL

REAL_GETADDRINFO = socket.getaddrinfo
CHECKED, REBOUND = "127.0.0.1", "127.0.0.2"


class RebindingDNS:
    """Answers ``names`` (``*.test``): CHECKED inside the URL check, REBOUND anywhere else."""

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.checking = False
        self.lookups: list[tuple[str, str]] = []  # (name, "check" | "other")

    def resolve(self, host: str, port: int) -> list[str]:
        self.checking = True
        try:
            return ORIGINAL_RESOLVE(host, port)
        finally:
            self.checking = False

    def getaddrinfo(self, host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if isinstance(name, str) and name.endswith(".test"):
            if name not in self.names:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            self.lookups.append((name, "check" if self.checking else "other"))
            address = CHECKED if self.checking else REBOUND
            return REAL_GETADDRINFO(address, port, *args, **kwargs)
        return REAL_GETADDRINFO(host, port, *args, **kwargs)


ORIGINAL_RESOLVE = urlsafety.resolve


@pytest.fixture
def dns(monkeypatch):
    def install(*names: str) -> RebindingDNS:
        fake = RebindingDNS(set(names))
        monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
        monkeypatch.setattr(urlsafety, "resolve", fake.resolve)
        return fake

    return install


def serve_as(standin, name: str) -> str:
    """The stand-in's base URL under host ``name``; its OpenAPI servers accept that host."""
    alias = standin.base_url.replace("127.0.0.1", name)
    standin.spec["servers"].append({"url": alias})
    config = Config() if standin.check_spec else Config(spec_validator_cls=None)
    standin.openapi = OpenAPI.from_dict(standin.spec, config=config)
    return alias


def brp_context(base_url: str, *, allow_private: bool) -> FetchContext:
    return FetchContext(options={"base_url": base_url, "bsn": BRP_BSN},
                        credentials={"api_key": API_KEY},
                        http=TimeoutSession(timeout=(2.0, 5.0), allow_private=allow_private))


def test_connector_request_reaches_the_checked_address_despite_rebinding(dns, brp_standin):
    base_url = serve_as(brp_standin, "source.test")
    fake = dns("source.test")
    drafts, rejected = collect_drafts(registry.get("brp"),
                                      brp_context(base_url, allow_private=True))
    assert rejected == 0 and {d.type for d in drafts} == {"person", "address",
                                                           "household-member"}
    assert brp_standin.rejected == []
    [seen] = brp_standin.requests
    port = base_url.split(":")[2].split("/")[0]
    assert seen["headers"]["Host"] == f"source.test:{port}"
    assert fake.lookups == [("source.test", "check")]  # none for the connection
    assert drafts[0].evidence["source_url"] == f"{base_url}/personen"


def test_every_request_of_a_run_is_checked_once_and_pinned(dns, psd2_standin):
    base_url = serve_as(psd2_standin, "bank.test")
    fake = dns("bank.test")
    context = FetchContext(options={"base_url": base_url, "iban": fix_iban("DE2310010010123456789")},
                           credentials={},
                           http=TimeoutSession(timeout=(2.0, 5.0), allow_private=True))
    drafts, _ = collect_drafts(registry.get("psd2"), context)
    # The account, then one record per booked transaction of the fixture (two).
    assert [d.type for d in drafts] == ["bank-account", "bank-transaction", "bank-transaction"]
    assert psd2_standin.rejected == []
    assert len(psd2_standin.requests) >= 3
    assert fake.lookups == [("bank.test", "check")] * len(psd2_standin.requests)


def test_a_name_resolving_to_loopback_is_refused_before_connecting(dns, brp_standin):
    base_url = serve_as(brp_standin, "source.test")
    dns("source.test")
    for url in (base_url, base_url.replace("http://", "https://")):
        with pytest.raises(NeedsAttention, match="not allowed"):
            collect_drafts(registry.get("brp"), brp_context(url, allow_private=False))
    with pytest.raises(UnsafeURL, match="non-public"):
        TimeoutSession(allow_private=False).get(base_url.replace("http://", "https://"))
    assert brp_standin.requests == []


def test_a_transition_address_literal_is_refused_before_connecting(brp_standin):
    session = TimeoutSession(allow_private=False)
    for url in ("https://[2002:7f00:1::]/api", "https://[::ffff:7f00:1]/api",
                "https://[64:ff9b::7f00:1]/api"):
        with pytest.raises(UnsafeURL):
            session.get(url)
    assert brp_standin.requests == []


def test_proxies_are_refused(dns):
    dns("source.test")
    with pytest.raises(UnsafeURL, match="proxy"):
        TimeoutSession(allow_private=True).get("http://source.test:9/",
                                               proxies={"http": "http://127.0.0.1:9"})


# -- redirects: every hop is a new request through the same adapter -----------------------


@pytest.fixture
def redirector():
    """A plain HTTP server on 127.0.0.1: ``routes[path] = (status, location)``."""
    routes: dict[str, tuple[int, str | None]] = {}
    hosts: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            hosts.append((self.path, self.headers["Host"]))
            status, location = routes.get(self.path, (200, None))
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port, routes, hosts
    server.shutdown()
    server.server_close()


def test_redirect_hops_are_checked_and_pinned_each(dns, redirector):
    port, routes, hosts = redirector
    routes["/start"] = (302, f"http://other.test:{port}/final")
    fake = dns("source.test", "other.test")
    session = TimeoutSession(allow_private=True)
    response = session.get(f"http://source.test:{port}/start", allow_redirects=True)
    assert response.status_code == 200 and response.url == f"http://other.test:{port}/final"
    assert hosts == [("/start", f"source.test:{port}"), ("/final", f"other.test:{port}")]
    assert fake.lookups == [("source.test", "check"), ("other.test", "check")]


@pytest.mark.parametrize(("location", "message"), [
    ("http://user:pw@127.0.0.1:{port}/final", "credentials"),
    ("http://unknown.test:{port}/final", "does not resolve"),
    ("gopher://127.0.0.1:{port}/final", None),
])
def test_redirects_to_unsafe_targets_are_refused(dns, redirector, location, message):
    port, routes, hosts = redirector
    routes["/start"] = (302, location.format(port=port))
    dns("source.test")
    session = TimeoutSession(allow_private=True)
    with pytest.raises((UnsafeURL, requests.exceptions.InvalidSchema), match=message):
        session.get(f"http://source.test:{port}/start", allow_redirects=True)
    assert [path for path, _ in hosts] == ["/start"]


# -- TLS: SNI and the certificate check stay on the host name ------------------------------


def _certificate(tmp_path, name: str):
    """A CA and a server certificate for ``name``; returns (CA file, cert file, key file)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kluis test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(hours=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_file, cert_file, key_file = (tmp_path / "ca.pem", tmp_path / "cert.pem",
                                    tmp_path / "key.pem")
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_file, cert_file, key_file


def test_tls_uses_the_host_name_for_sni_and_the_certificate(dns, tmp_path):
    ca_file, cert_file, key_file = _certificate(tmp_path, "source.test")
    sni: list[str | None] = []
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            hosts.append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.sni_callback = lambda sock, name, ctx: sni.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_port
        fake = dns("source.test", "other.test")
        session = TimeoutSession(allow_private=True)
        response = session.get(f"https://source.test:{port}/x", verify=str(ca_file))
        assert response.status_code == 200
        assert sni == ["source.test"] and hosts == [f"source.test:{port}"]
        assert fake.lookups == [("source.test", "check")]
        # Same address, a name the certificate does not cover: the check is on the name.
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"https://other.test:{port}/x", verify=str(ca_file))
        assert hosts == [f"source.test:{port}"]
    finally:
        server.shutdown()
        server.server_close()


# -- the worker builds its session with the adapter ----------------------------------------


def test_refresh_job_connects_to_the_checked_address(dns, settings, instance, make_vault,
                                                     redis_client, brp_standin):
    base_url = serve_as(brp_standin, "source.test")
    fake = dns("source.test")
    vault = make_vault()
    made = service.create_connection(instance, vault.id, "brp",
                                     {"base_url": base_url, "bsn": BRP_BSN},
                                     {"api_key": API_KEY})
    fake.lookups.clear()
    result = run_refresh(instance, Queue(connection=redis_client), settings, made.id)
    assert result["status"] == "ok" and result["drafts"] == 5
    assert len(brp_standin.requests) == 1
    # One lookup for the job's base_url check, one for the request's check; none to connect.
    assert fake.lookups == [("source.test", "check")] * 2
