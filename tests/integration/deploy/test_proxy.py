"""Caddy in front of gunicorn's sync workers: slow clients, HTTPS, HSTS, X-Forwarded-*."""

from __future__ import annotations

import http.client
import json
import time

from bench.procs import wait_for_http
from vault.accounts.ratelimit import AttemptLimiter

from .conftest import ProxiedKluis, slow_clients

# A normal GET behind the attack; through Caddy it must not wait for the attackers.
FAST = 2.0
# Directly against gunicorn the same GET waits for a worker: give up after this long.
PATIENCE = 3.0


def timed_get(conn: http.client.HTTPConnection, path: str = "/login") -> tuple[int | None, float]:
    """GET ``path``; the status (None when it timed out) and the seconds it took."""
    started = time.monotonic()
    try:
        conn.request("GET", path)
        status: int | None = conn.getresponse().status
    except TimeoutError:
        status = None
    finally:
        conn.close()
    return status, time.monotonic() - started


def https(kluis: ProxiedKluis, timeout: float = 10.0, source: str | None = None,
          ) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection(
        "127.0.0.1", kluis.https_port, context=kluis.context, timeout=timeout,
        source_address=(source, 0) if source else None)


def test_slow_clients_through_caddy_do_not_delay_a_normal_get(proxied_kluis):
    with slow_clients(proxied_kluis.https_port, count=6, context=proxied_kluis.context):
        status, took = timed_get(https(proxied_kluis, timeout=PATIENCE))
        assert status == 200
        assert took < FAST, f"GET took {took:.2f}s behind 6 slow clients through Caddy"
        # A request whose body the app reads is served as well.
        conn = https(proxied_kluis)
        conn.request("POST", "/api/v1/accounts", headers={"Content-Type": "application/json"},
                     body=json.dumps({"username": "during-attack",
                                      "password": "correct horse staple 42"}))
        assert conn.getresponse().status == 201
        conn.close()


def test_the_same_slow_clients_straight_at_gunicorn_do_delay_it(proxied_kluis):
    """Without the proxy the attack works: this is what the proxy is for, and it shows the
    test above can fail."""
    port = proxied_kluis.gunicorn_port
    try:
        with slow_clients(port, count=6):
            status, took = timed_get(http.client.HTTPConnection("127.0.0.1", port,
                                                                timeout=PATIENCE))
        assert status is None or took >= PATIENCE - 0.5, (status, took)
    finally:
        # The workers get EOF once the attackers close; wait until they serve again.
        wait_for_http(port, "/login", timeout=20)


def test_https_answers_carry_exactly_one_hsts_header(proxied_kluis):
    conn = https(proxied_kluis)
    conn.request("GET", "/login")
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 200
    hsts = [v for k, v in response.getheaders() if k.lower() == "strict-transport-security"]
    assert hsts == ["max-age=31536000"]
    # Secure cookies: the app knows it is served over https (KLUIS_BASE_URL from the domain).
    cookie = response.getheader("Set-Cookie") or ""
    assert "Secure" in cookie


def test_plain_http_on_the_domain_redirects_to_https(proxied_kluis):
    conn = http.client.HTTPConnection("127.0.0.1", proxied_kluis.http_port, timeout=10)
    conn.request("GET", "/login")
    response = conn.getresponse()
    conn.close()
    assert response.status in (301, 308)
    assert response.getheader("Location") == f"{proxied_kluis.url}/login"


def test_the_app_sees_the_clients_address_not_caddys_nor_a_forged_one(proxied_kluis,
                                                                       redis_client):
    # The client comes from 127.0.0.2; Caddy reaches gunicorn from 127.0.0.1. A forged
    # X-Forwarded-For from the client is replaced by Caddy, not believed by the app.
    conn = https(proxied_kluis, source="127.0.0.2")
    conn.request("POST", "/api/v1/tokens",
                 headers={"Content-Type": "application/json", "X-Forwarded-For": "127.0.0.99"},
                 body=json.dumps({"username": "nobody-here", "password": "wrong password 42"}))
    assert conn.getresponse().status == 401
    conn.close()
    counted = {address: redis_client.get(AttemptLimiter._key("ip", address))
               for address in ("127.0.0.2", "127.0.0.1", "127.0.0.99")}
    assert counted == {"127.0.0.2": b"1", "127.0.0.1": None, "127.0.0.99": None}


def test_the_app_sees_https_as_the_scheme(proxied_kluis):
    # A form POST without its CSRF token goes back to the referring page only when that page
    # is on the app's own origin, which the app builds from Caddy's X-Forwarded-Proto and -Host
    # (believed by ProxyFix, and for the scheme by gunicorn too: it trusts it from loopback).
    referrer = f"{proxied_kluis.url}/login"
    conn = https(proxied_kluis)
    conn.request("POST", "/login", body="username=x&password=y",
                 headers={"Content-Type": "application/x-www-form-urlencoded",
                          "Referer": referrer})
    response = conn.getresponse()
    conn.close()
    assert response.status == 302
    assert response.getheader("Location") == referrer


def test_a_body_announced_over_the_limit_is_refused_before_it_is_sent(proxied_kluis):
    settings = proxied_kluis.settings
    limit = max(settings.max_body_bytes, settings.max_upload_bytes) + 64 * 1024
    conn = https(proxied_kluis)
    conn.putrequest("POST", "/api/v1/accounts")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(limit + 1))
    conn.endheaders()  # and not one byte of the body
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    assert response.status == 413
    assert response.getheader("Content-Type") == "application/problem+json"
    assert body["type"] == "urn:kluis:problem:request-entity-too-large"

