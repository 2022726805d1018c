"""Processes the harness starts on loopback, and stops again whatever happens.

Every process is started in its own session (process group) and registered with a
:class:`Stack`; leaving the stack (normally, on an exception, or on SIGTERM/SIGINT, which
the CLI turns into an exception) terminates each group it started, by its own id.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from vault.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(port: int, path: str = "/", timeout: float = 30.0, proc=None) -> None:
    """Wait until something on ``port`` answers an HTTP request (any status)."""
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.05)
        finally:
            conn.close()
    raise RuntimeError(f"nothing answered HTTP on port {port} within {timeout}s")


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port}")


class Stack(contextlib.ExitStack):
    """An ExitStack that also knows how to start and reliably stop processes."""

    def __init__(self) -> None:
        super().__init__()
        self.procs: list[subprocess.Popen] = []

    def popen(self, args: list[str], *, env: dict[str, str] | None = None,
              log: Path | None = None, cwd: str | None = None) -> subprocess.Popen:
        out: IO[bytes] | int = subprocess.DEVNULL
        if log:
            out = open(log, "ab")  # noqa: SIM115 - closed by the stack
            self.callback(out.close)
        proc = subprocess.Popen(args, env=env, cwd=cwd or str(ROOT), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        self.callback(stop_process, proc)
        return proc

    def tempdir(self, prefix: str) -> Path:
        path = Path(tempfile.mkdtemp(prefix=prefix))
        self.callback(shutil.rmtree, path, True)
        return path


def stop_process(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM the process group we started (gunicorn then stops its workers), then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    # Workers of a stopped gunicorn may linger a moment: the group id is the one we started.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def start_redis(stack: Stack) -> str:
    """A private redis-server on a free loopback port; returns its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    workdir = stack.tempdir("kluis-bench-redis-")
    stack.popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(workdir), "--protected-mode", "yes"])
    wait_for_port(port)
    return f"redis://127.0.0.1:{port}/0"


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a subprocess (server, worker) see ``settings``."""
    return settings.to_env()


def kluis_command() -> list[str]:
    """``kluis`` from the same environment as this interpreter."""
    candidate = Path(sys.executable).with_name("kluis")
    if candidate.exists():
        return [str(candidate)]
    return [sys.executable, "-m", "vault.cli"]


@dataclass
class Server:
    name: str
    url: str
    port: int
    proc: subprocess.Popen

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid)


def start_kluis(stack: Stack, settings: Settings, port: int, log: Path) -> Server:
    """``kluis serve`` exactly as production runs it (gunicorn, sync workers)."""
    proc = stack.popen(kluis_command() + ["serve", "--bind", f"127.0.0.1:{port}"],
                       env=settings_env(settings), log=log)
    wait_for_http(port, "/api/v1/purposes", proc=proc)
    return Server("kluis", f"http://127.0.0.1:{port}", port, proc)


def start_bare(stack: Stack, settings: Settings, port: int, body_file: Path, log: Path,
               floor: str = "") -> Server:
    """The bare Flask app under the very same ``kluis serve`` gunicorn configuration;
    with ``floor`` (``commit``, ``group``) one durable commit per request (bench.floor)."""
    env = settings_env(settings)
    env["KLUIS_BENCH_BODY"] = str(body_file)
    if floor:
        directory = stack.tempdir(f"kluis-bench-floor-{floor}-")
        env["KLUIS_BENCH_FLOOR"] = floor
        env["KLUIS_BENCH_FLOOR_DIR"] = str(directory)
        if floor == "group":
            from bench.floor import SOCKET

            writer = stack.popen([sys.executable, "-m", "bench.floor", str(directory),
                                  settings.sqlite_synchronous],
                                 log=log.with_name(log.stem + "-writer.log"))
            deadline = time.monotonic() + 10
            while not (directory / SOCKET).exists():
                if writer.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the group-commit writer did not start")
                time.sleep(0.02)
    proc = stack.popen([sys.executable, "-m", "bench.bare", "--bind", f"127.0.0.1:{port}"],
                       env=env, log=log)
    wait_for_http(port, "/", proc=proc)
    return Server(floor or "bare", f"http://127.0.0.1:{port}", port, proc)


def start_worker(stack: Stack, settings: Settings, log: Path) -> subprocess.Popen:
    return stack.popen(kluis_command() + ["worker"], env=settings_env(settings), log=log)


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (gunicorn workers of a master)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces: the ppid is the 2nd field after the last ')'.
        rest = stat.rsplit(")", 1)[1].split()
        if int(rest[1]) == pid:
            out.append(int(entry.name))
    return sorted(out)


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def start_postgres(stack: Stack):
    """A PostgreSQL server from Debian's binaries on loopback, its own data directory
    (tests/pgserver.py, the tests' server), stopped and removed when the stack closes."""
    from tests import pgserver

    server = pgserver.start()
    stack.callback(server.stop)
    return server


def start_kluis_async_commit(stack: Stack, settings: Settings, port: int, log: Path) -> Server:
    """``kluis serve`` with PostgreSQL's synchronous_commit=off (bench.pgasync): bench only."""
    proc = stack.popen([sys.executable, "-m", "bench.pgasync", "--bind", f"127.0.0.1:{port}"],
                       env=settings_env(settings), log=log)
    wait_for_http(port, "/api/v1/purposes", proc=proc)
    return Server("kluis-async", f"http://127.0.0.1:{port}", port, proc)
