"""./deploy.sh itself on loopback: Caddy in front of gunicorn, status, restart, stop."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.procs import ROOT, free_port

from .conftest import caddy_binary, slow_clients

PASSWORD = "correct horse staple 42"


def deploy(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["bash", str(ROOT / "deploy.sh"), *args], env=env, cwd=str(ROOT),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def sign_up(bind: str, username: str) -> int:
    host, port = bind.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", "/api/v1/accounts", headers={"Content-Type": "application/json"},
                 body=json.dumps({"username": username, "password": PASSWORD}))
    status = conn.getresponse().status
    conn.close()
    return status


@pytest.fixture
def deploy_env(tmp_path: Path, redis_url: str) -> Iterator[dict[str, str]]:
    """deploy.sh's environment: a fresh KLUIS_HOME, free loopback ports, the test Redis (its own
    database and queue, so deploy.sh starts no Redis and its worker takes no other test's job)."""
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.fail("deploy.sh runs Kluis from .venv: run the tests with .venv/bin/python "
                    "(./deploy.sh test)")
    caddy_binary()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KLUIS_")}
    env.update(
        KLUIS_HOME=str(home), KLUIS_BIND=f"127.0.0.1:{free_port()}",
        KLUIS_GUNICORN_BIND=f"127.0.0.1:{free_port()}",
        KLUIS_REDIS_URL=redis_url.rsplit("/", 1)[0] + "/5", KLUIS_WORKER_QUEUES="deploy-test",
        KLUIS_WEB_WORKERS="2",
    )
    try:
        yield env
    finally:
        subprocess.run(["bash", str(ROOT / "deploy.sh"), "stop"], env=env, cwd=str(ROOT),
                       capture_output=True, timeout=60, check=False)
        for pid_file in (home / "run").glob("*.pid"):  # what deploy.sh started and left
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_deploy_sh_serves_through_caddy_and_restart_applies_changed_settings(deploy_env):
    env = deploy_env
    bind = env["KLUIS_BIND"]
    host, port = bind.rsplit(":", 1)

    started = deploy(env)
    assert f"Kluis runs at http://{bind}" in started.stdout
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/login")
    response = conn.getresponse()
    conn.close()
    assert response.status == 200
    assert "Caddy" in [v for k, v in response.getheaders() if k.lower() == "server"]
    caddyfile = (Path(env["KLUIS_HOME"]) / "run" / "Caddyfile").read_text()
    assert (Path(env["KLUIS_HOME"]) / "instance.key").read_text().strip() not in caddyfile

    # The printed URL is the protected one: slow clients there do not stall a normal GET.
    with slow_clients(int(port), count=6):
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        began = time.monotonic()
        conn.request("GET", "/login")
        assert conn.getresponse().status == 200
        conn.close()
        assert time.monotonic() - began < 2.0

    status = deploy(env, "status").stdout
    for name in ("caddy", "server", "worker"):
        assert f"{name}: running" in status, status
    assert sign_up(bind, "before-restart") == 201

    # A changed setting is not picked up by running processes, and deploy.sh says so.
    closed = dict(env, KLUIS_REGISTRATION="closed")
    again = deploy(closed)
    assert "./deploy.sh restart applies changed settings" in again.stdout
    assert sign_up(bind, "still-open") == 201

    restarted = deploy(closed, "restart")
    assert "stopped caddy" in restarted.stdout and "stopped server" in restarted.stdout
    assert "restart applies changed settings" not in restarted.stdout
    assert sign_up(bind, "after-restart") == 403

    stopped = deploy(env, "stop")
    assert "stopped caddy" in stopped.stdout
    status = deploy(env, "status").stdout
    for name in ("caddy", "server", "worker"):
        assert f"{name}: stopped" in status, status
    with pytest.raises(ConnectionRefusedError):
        http.client.HTTPConnection(host, int(port), timeout=5).connect()
