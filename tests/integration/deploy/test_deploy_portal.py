"""./deploy.sh portal on loopback: the portal's gunicorn behind its own Caddy (plain HTTP, and
HTTPS with Caddy's local CA for a domain), its hourly sweeper, status, restart and stop."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.procs import ROOT, free_port

from .conftest import caddy_binary, tls_context
from .test_deploy_sh import deploy

PROCESSES = ("caddy", "portal", "sweeper")


@pytest.fixture
def portal_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """deploy.sh portal's environment: a fresh KLUIS_PORTAL_HOME and free loopback ports."""
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.fail("deploy.sh runs the portal from .venv: run the tests with .venv/bin/python "
                    "(./deploy.sh test)")
    caddy_binary()
    home = tmp_path / "portal-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLUIS_")}
    env.update(KLUIS_PORTAL_HOME=str(home), KLUIS_PORTAL_BIND=f"127.0.0.1:{free_port()}",
               KLUIS_PORTAL_GUNICORN_BIND=f"127.0.0.1:{free_port()}",
               KLUIS_PORTAL_NAME="Woonstichting De Kern", KLUIS_PORTAL_WEB_WORKERS="1",
               # The vault's home stays out of the way (deploy.sh's top level reads it).
               KLUIS_HOME=str(tmp_path / "unused-vault-home"))
    try:
        yield env
    finally:
        subprocess.run(["bash", str(ROOT / "deploy.sh"), "portal", "stop"], env=env,
                       cwd=str(ROOT), capture_output=True, timeout=60, check=False)
        for pid_file in (home / "run").glob("*.pid"):  # what deploy.sh started and left
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def _get(host: str, port: int, path: str, context: ssl.SSLContext | None = None
         ) -> tuple[int, dict[str, str], bytes]:
    conn = (http.client.HTTPSConnection(host, port, context=context, timeout=10) if context
            else http.client.HTTPConnection(host, port, timeout=10))
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        headers: dict[str, str] = {}
        for key, value in answer.getheaders():
            headers[key.lower()] = headers.get(key.lower(), "") + ("," if key.lower() in headers
                                                                   else "") + value
        return answer.status, headers, answer.read()
    finally:
        conn.close()


def _wait_for_sweep(log: Path) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = [line for line in (log.read_text() if log.exists() else "").splitlines()
                 if line.startswith("{")]
        if lines:
            return dict(json.loads(lines[-1]))
        time.sleep(0.2)
    raise AssertionError(f"the sweeper wrote nothing to {log}")


def test_deploy_sh_portal_serves_through_caddy_sweeps_and_stops(portal_env):
    env = portal_env
    bind = env["KLUIS_PORTAL_BIND"]
    host, port = bind.rsplit(":", 1)
    home = Path(env["KLUIS_PORTAL_HOME"])

    started = deploy(env, "portal")
    assert f"The Kluis portal runs at http://{bind}" in started.stdout
    assert "kluis portal invite --role admin" in started.stdout
    status, headers, body = _get(host, int(port), "/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    assert "Caddy" in headers["server"]
    assert "default-src" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"
    assert _get(host, int(port), "/readyz")[0] == 200
    status, _headers, body = _get(host, int(port), "/login")
    assert status == 200 and b"Woonstichting De Kern" in body
    assert stat.S_IMODE((home / "portal.key").stat().st_mode) == 0o600
    assert (home / "portal.db").read_bytes()[:16] != b"SQLite format 3\x00"
    # The sweeper ran once at start (then hourly).
    assert _wait_for_sweep(home / "log" / "sweeper.log") == {
        "deleted": 0, "statements_retried": 0, "status_checked": 0, "refreshed": 0}
    # No access log: paths carry the applicants' short links.
    assert "GET /healthz" not in (home / "log" / "portal.log").read_text()

    listed = deploy(env, "portal", "status").stdout
    for name in PROCESSES:
        assert f"portal {name}: running" in listed, listed
    invite = subprocess.run([str(ROOT / ".venv" / "bin" / "kluis"), "portal", "invite",
                             "--role", "admin"], env=env, capture_output=True, text=True,
                            timeout=60, check=True).stdout
    assert invite.strip().startswith(f"http://{bind}/invite/kp_inv_")
    code = invite.strip().rsplit("/", 1)[1]
    assert _get(host, int(port), f"/invite/{code}")[0] == 200

    # Started again while running: nothing doubles.
    again = deploy(env, "portal")
    assert "portal runs already" in again.stdout and "caddy runs already" in again.stdout
    restarted = deploy(env, "portal", "restart")
    assert "stopped caddy" in restarted.stdout and "stopped portal" in restarted.stdout
    assert _get(host, int(port), "/healthz")[0] == 200

    stopped = deploy(env, "portal", "stop")
    for name in PROCESSES:
        assert f"stopped {name}" in stopped.stdout, stopped.stdout
    listed = deploy(env, "portal", "status").stdout
    for name in PROCESSES:
        assert f"portal {name}: stopped" in listed, listed
    with pytest.raises(OSError):
        _get(host, int(port), "/healthz")


def test_deploy_sh_portal_with_a_domain_serves_https_with_hsts(portal_env):
    env = portal_env
    https_port, http_port = free_port(), free_port()
    env.update(KLUIS_PORTAL_DOMAIN="127.0.0.1", KLUIS_TLS="internal",
               KLUIS_HTTPS_PORT=str(https_port), KLUIS_HTTP_PORT=str(http_port),
               KLUIS_LISTEN_HOST="127.0.0.1")
    home = Path(env["KLUIS_PORTAL_HOME"])
    started = deploy(env, "portal")
    base = f"https://127.0.0.1:{https_port}"
    assert f"The Kluis portal runs at {base}" in started.stdout
    context = tls_context(home)
    deadline = time.monotonic() + 30
    status, headers = None, {}
    while time.monotonic() < deadline:
        try:
            status, headers, _body = _get("127.0.0.1", https_port, "/login", context)
        except (OSError, ssl.SSLError):
            status = None
        if status == 200:
            break
        time.sleep(0.2)
    assert status == 200
    assert headers["strict-transport-security"].count("max-age") == 1
    assert "Caddy" in headers["server"]
    # deploy.sh gave the portal its https base URL: its cookies are Secure.
    assert "Secure" in headers["set-cookie"] and "HttpOnly" in headers["set-cookie"]
