"""Two Kluis instances on one host, at once: each ``kluis serve`` (gunicorn) keeps its control
socket under its own KLUIS_HOME, both answer, and stopping one leaves the other whole."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import requests

from bench.procs import Stack, children, free_port, kluis_command, stop_process, wait_for_http
from vault.config import Settings
from vault.storage.instance import init_home


def test_two_servers_on_one_host_keep_their_own_control_sockets(tmp_path, redis_server):
    # gunicorn's default control socket is one per user ($XDG_RUNTIME_DIR or ~/.gunicorn):
    # point both at the same directory, as two instances run by one user are.
    shared_runtime = tmp_path / "xdg-runtime"
    shared_runtime.mkdir(mode=0o700)
    servers = []
    with Stack() as stack:
        for name in ("a", "b"):
            home = tmp_path / name
            port = free_port()
            settings = Settings(home=str(home), redis_url=redis_server, web_workers=1)
            init_home(settings)
            env = settings.to_env()
            env["XDG_RUNTIME_DIR"] = str(shared_runtime)
            proc = stack.popen(kluis_command() + ["serve", "--bind", f"127.0.0.1:{port}"],
                               env=env, log=tmp_path / f"{name}.log")
            wait_for_http(port, "/healthz", proc=proc)
            servers.append((home, port, proc))

        for home, port, _proc in servers:
            assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=30).status_code == 200
            sockets = list((home / "run").glob("gunicorn-*.ctl"))
            assert [s.name for s in sockets] == [f"gunicorn-127.0.0.1_{port}.ctl"]
            mode = sockets[0].stat().st_mode
            assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
        assert not (shared_runtime / "gunicorn.ctl").exists()

        # The control socket answers for its own server (gunicornc talks to the right one).
        gunicornc = str(Path(sys.executable).with_name("gunicornc"))
        for home, _port, proc in servers:
            sock = next((home / "run").glob("gunicorn-*.ctl"))
            done = subprocess.run([gunicornc, "-s", str(sock), "-c", "show workers", "-j"],
                                  capture_output=True, text=True, timeout=30, check=False)
            assert done.returncode == 0, done.stderr
            assert str(children(proc.pid)[0]) in json.dumps(json.loads(done.stdout))

        # Stopping the first ends it cleanly; the second still answers and keeps its socket.
        (home_a, _port_a, proc_a), (home_b, port_b, _proc_b) = servers
        stop_process(proc_a)
        assert proc_a.returncode == 0
        assert not list((home_a / "run").glob("gunicorn-*.ctl"))
        assert requests.get(f"http://127.0.0.1:{port_b}/healthz", timeout=30).status_code == 200
        assert list((home_b / "run").glob("gunicorn-*.ctl"))
    assert servers[1][2].returncode == 0
    log_a = (tmp_path / "a.log").read_text()
    assert "Failed to start control socket" not in log_a
