"""Caddy in front of gunicorn, configured by deploy/caddyfile.sh exactly as ./deploy.sh does.

Everything listens on loopback, Caddy's certificates come from its own local CA (``tls
internal``), its admin endpoint is off, and nothing reaches for the network.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.procs import ROOT, Stack, free_port, start_kluis
from vault.config import Settings
from vault.storage.instance import init_home

CADDYFILE_SH = ROOT / "deploy" / "caddyfile.sh"
SLOW_BODY_LENGTH = 100
SLOW_BODY_SENT = b'{"us'  # 4 of the 100 announced bytes


def caddy_binary() -> str:
    binary = shutil.which("caddy")
    if binary is None:
        pytest.fail("caddy is not installed: run ./deploy.sh test")
    return binary


def caddy_env(home: Path) -> dict[str, str]:
    """Caddy's environment as deploy.sh sets it: its files stay under KLUIS_HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLUIS_")}
    env.update(XDG_CONFIG_HOME=str(home / "caddy" / "config"),
               XDG_DATA_HOME=str(home / "caddy" / "data"))
    return env


def render_caddyfile(home: Path, **kluis: str) -> str:
    """Run deploy/caddyfile.sh with these KLUIS_* variables (names without the prefix)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLUIS_")}
    env.update({f"KLUIS_{name.upper()}": value for name, value in kluis.items()})
    env.update(KLUIS_HOME=str(home), KLUIS_PYTHON=sys.executable)
    done = subprocess.run(["bash", str(CADDYFILE_SH)], env=env, capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def start_caddy(stack: Stack, home: Path, caddyfile: str) -> subprocess.Popen:
    run = home / "run"
    run.mkdir(parents=True, exist_ok=True)
    (run / "Caddyfile").write_text(caddyfile)
    return stack.popen([caddy_binary(), "run", "--config", str(run / "Caddyfile"),
                        "--adapter", "caddyfile"],
                       env=caddy_env(home), log=home / "caddy.log")


def tls_context(home: Path, timeout: float = 15.0) -> ssl.SSLContext:
    """A client context that trusts only Caddy's local CA (created when Caddy starts)."""
    root = home / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    deadline = time.monotonic() + timeout
    while not root.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"Caddy made no local CA at {root}")
        time.sleep(0.05)
    return ssl.create_default_context(cafile=str(root))


def wait_for_https(port: int, context: ssl.SSLContext, proc: subprocess.Popen,
                   timeout: float = 20.0) -> None:
    """Wait until Caddy answers /login over TLS with gunicorn's 200 (not a 502)."""
    import http.client

    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"caddy exited with {proc.returncode}")
        try:
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=2)
            conn.request("GET", "/login")
            last = conn.getresponse().status
            conn.close()
            if last == 200:
                return
        except (OSError, ssl.SSLError) as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"Caddy did not answer over HTTPS on {port}: {last!r}")


@contextlib.contextmanager
def slow_clients(port: int, count: int = 6, context: ssl.SSLContext | None = None,
                 ) -> Iterator[None]:
    """``count`` connections that send a POST's headers and 4 of its 100 body bytes, then
    nothing: each holds a gunicorn sync worker that reads the body. Closed on exit."""
    head = (f"POST /api/v1/accounts HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {SLOW_BODY_LENGTH}\r\n\r\n").encode()
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if context is not None:
                sock = context.wrap_socket(sock, server_hostname="127.0.0.1")
            socks.append(sock)
            sock.sendall(head + SLOW_BODY_SENT)
        time.sleep(0.5)  # let the workers (or Caddy) take them and start reading the body
        yield
    finally:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()


@dataclass
class ProxiedKluis:
    """gunicorn (``kluis serve``, 2 sync workers) behind Caddy with HTTPS for 127.0.0.1."""

    home: Path
    settings: Settings
    gunicorn_port: int
    https_port: int
    http_port: int
    context: ssl.SSLContext
    caddyfile: str

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"


@pytest.fixture(scope="module")
def proxied_kluis(tmp_path_factory, redis_server: str) -> Iterator[ProxiedKluis]:
    """The KLUIS_DOMAIN set-up of deploy.sh on loopback: Caddy with a local certificate for
    127.0.0.1 on free ports, gunicorn on a free loopback port, the app trusting one proxy."""
    home = tmp_path_factory.mktemp("proxied") / "home"
    gunicorn_port, https_port, http_port = free_port(), free_port(), free_port()
    settings = Settings(home=str(home), redis_url=redis_server, web_workers=2,
                        base_url=f"https://127.0.0.1:{https_port}", trusted_proxies=1)
    init_home(settings)
    caddyfile = render_caddyfile(
        home, domain="127.0.0.1", tls="internal", https_port=str(https_port),
        http_port=str(http_port), listen_host="127.0.0.1",
        gunicorn_bind=f"127.0.0.1:{gunicorn_port}")
    with Stack() as stack:
        start_kluis(stack, settings, gunicorn_port, home / "server.log")
        caddy = start_caddy(stack, home, caddyfile)
        context = tls_context(home)
        wait_for_https(https_port, context, caddy)
        yield ProxiedKluis(home, settings, gunicorn_port, https_port, http_port, context,
                           caddyfile)
