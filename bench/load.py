"""Fixed-connection HTTP load: ``wrk`` when it is installed, else a Python generator.

Both send the same requests (``GET path`` with ``Authorization: Bearer <token>``, the
tokens taken in turn) over a fixed number of connections, reuse a connection while the
server keeps it open (gunicorn's sync workers close it after each response, so both
reconnect then) and report requests/s and latency percentiles.

The Python generator runs its connections as threads in a few processes (started with
``spawn``, so nothing of the parent's open databases is inherited) and can keep every
request's start, end and status (``record=True``) for timeline analyses.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Conn:
    """One load connection: which tokens it sends, in turn, and a label for grouping."""

    tokens: list[str]
    group: str = "main"


@dataclass
class LoadResult:
    tool: str
    connections: int
    duration_s: float
    requests: int
    ok: int
    errors: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    statuses: dict[str, int] = field(default_factory=dict)
    # (group, start, end, status) per request when recorded (time.monotonic seconds).
    samples: list[tuple[str, float, float, int]] = field(default_factory=list, repr=False)

    def summary(self) -> dict:
        return {
            "tool": self.tool, "connections": self.connections,
            "duration_s": round(self.duration_s, 3), "requests": self.requests, "ok": self.ok,
            "errors": self.errors, "rps": round(self.rps, 1), "p50_ms": round(self.p50_ms, 3),
            "p90_ms": round(self.p90_ms, 3), "p99_ms": round(self.p99_ms, 3),
            "statuses": self.statuses,
        }


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


# -- wrk --------------------------------------------------------------------------------------

_LUA = """
local tokens = {%(tokens)s}
local counter = 0
request = function()
  counter = counter + 1
  local t = tokens[(counter %% #tokens) + 1]
  return wrk.format("GET", "%(path)s", {["Authorization"] = "Bearer " .. t})
end
done = function(summary, latency, requests)
  io.write(string.format('BENCHJSON {"requests":%%d,"duration_us":%%d,"connect":%%d,' ..
    '"read":%%d,"write":%%d,"status":%%d,"timeout":%%d,"p50_us":%%d,"p90_us":%%d,' ..
    '"p99_us":%%d}\\n', summary.requests, summary.duration, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.status,
    summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99)))
end
"""


def run_wrk(port: int, path: str, tokens: list[str], connections: int, duration: float,
            threads: int = 2) -> LoadResult:
    script = _LUA % {"tokens": ",".join(json.dumps(t) for t in tokens), "path": path}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        script_path = handle.name
    try:
        out = subprocess.run(
            ["wrk", "-t", str(min(threads, connections)), "-c", str(connections),
             "-d", f"{max(1, round(duration))}s", "--timeout", "10s", "-s", script_path,
             f"http://127.0.0.1:{port}{path}"],
            capture_output=True, text=True, timeout=duration + 60, check=True,
        ).stdout
    finally:
        os.unlink(script_path)
    line = next(x for x in out.splitlines() if x.startswith("BENCHJSON "))
    data = json.loads(line[len("BENCHJSON "):])
    seconds = data["duration_us"] / 1e6
    socket_errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
    errors = data["status"] + socket_errors
    ok = data["requests"] - data["status"]
    return LoadResult(
        tool="wrk", connections=connections, duration_s=seconds, requests=data["requests"],
        ok=ok, errors=errors, rps=data["requests"] / seconds if seconds else 0.0,
        p50_ms=data["p50_us"] / 1000, p90_ms=data["p90_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        statuses={"non_2xx": data["status"], "socket_errors": socket_errors},
    )


# -- Python generator -------------------------------------------------------------------------


def _read_response(sock: socket.socket, buf: bytearray) -> tuple[int, bool]:
    """Read one response from ``sock``; returns ``(status, keep_alive)``."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the headers")
        buf += chunk
    head = bytes(buf[:end]).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    length = 0
    keep_alive = head[0].startswith("HTTP/1.1")
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection":
            keep_alive = value.strip().lower() != "close"
    total = end + 4 + length
    while len(buf) < total:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the body")
        buf += chunk
    del buf[:total]
    return status, keep_alive


def _connection_loop(port: int, path: str, conn: Conn, start_at: float, stop_at: float,
                     out: list) -> None:
    requests = [
        (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {t}\r\n"
         "Accept: application/json\r\n\r\n").encode()
        for t in conn.tokens
    ]
    sock = None
    buf = bytearray()
    i = 0
    delay = start_at - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    while True:
        now = time.monotonic()
        if now >= stop_at:
            break
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buf.clear()
            start = time.monotonic()
            sock.sendall(requests[i % len(requests)])
            status, keep = _read_response(sock, buf)
            end = time.monotonic()
            out.append((conn.group, start, end, status))
            i += 1
            if not keep:
                sock.close()
                sock = None
        except OSError:
            end = time.monotonic()
            out.append((conn.group, now, end, -1))
            if sock is not None:
                sock.close()
            sock = None
    if sock is not None:
        sock.close()


def _process_main(port: int, path: str, conns: list[Conn], start_at: float, stop_at: float,
                  queue) -> None:
    results: list = []
    threads = [threading.Thread(target=_connection_loop,
                                args=(port, path, c, start_at, stop_at, results))
               for c in conns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(results)


def run_python(port: int, path: str, conns: list[Conn], duration: float, *,
               processes: int = 2, record: bool = False, start_delay: float = 1.0,
               on_start=None) -> LoadResult:
    """Run ``conns`` for ``duration`` seconds; ``on_start(start_at)`` runs in the parent once
    the load processes exist (e.g. to revoke at a chosen moment)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    processes = max(1, min(processes, len(conns)))
    start_at = time.monotonic() + start_delay
    stop_at = start_at + duration
    procs = []
    for p in range(processes):
        share = conns[p::processes]
        proc = ctx.Process(target=_process_main,
                           args=(port, path, share, start_at, stop_at, queue), daemon=True)
        proc.start()
        procs.append(proc)
    if on_start is not None:
        on_start(start_at)
    samples: list = []
    try:
        for _ in procs:
            samples.extend(queue.get(timeout=duration + start_delay + 60))
    finally:
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
    return summarise(samples, len(conns), duration, record=record)


def summarise(samples: list, connections: int, duration: float, *, record: bool,
              tool: str = "python") -> LoadResult:
    statuses: dict[str, int] = {}
    latencies = []
    ok = 0
    for _group, start, end, status in samples:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        if 200 <= status < 400:
            ok += 1
        latencies.append((end - start) * 1000)
    latencies.sort()
    return LoadResult(
        tool=tool, connections=connections, duration_s=duration, requests=len(samples), ok=ok,
        errors=len(samples) - ok, rps=len(samples) / duration if duration else 0.0,
        p50_ms=percentile(latencies, 50), p90_ms=percentile(latencies, 90),
        p99_ms=percentile(latencies, 99), statuses=statuses,
        samples=samples if record else [],
    )


def run_load(port: int, path: str, tokens: list[str], connections: int, duration: float, *,
             tool: str = "auto") -> LoadResult:
    """Throughput and latency under ``connections`` fixed connections."""
    if tool == "auto":
        tool = "wrk" if have_wrk() else "python"
    if tool == "wrk":
        return run_wrk(port, path, tokens, connections, duration)
    conns = [Conn(tokens[i % len(tokens):] + tokens[:i % len(tokens)]) for i in range(connections)]
    return run_python(port, path, conns, duration)


def sequential(url: str, n: int, headers: dict[str, str] | None = None,
               session=None) -> dict[str, float]:
    """``n`` GETs one after the other on one (keep-alive where possible) session: p50/p99 ms."""
    import requests

    own = session is None
    http = session or requests.Session()
    latencies = []
    try:
        for _ in range(n):
            start = time.perf_counter()
            resp = http.get(url, headers=headers, timeout=60)
            latencies.append((time.perf_counter() - start) * 1000)
            if resp.status_code != 200:
                raise RuntimeError(f"GET {url} answered {resp.status_code}: {resp.text[:200]}")
    finally:
        if own:
            http.close()
    latencies.sort()
    return {"n": n, "p50_ms": round(percentile(latencies, 50), 3),
            "p99_ms": round(percentile(latencies, 99), 3),
            "mean_ms": round(sum(latencies) / len(latencies), 3)}


def write_body(path: Path, body: bytes) -> Path:
    path.write_bytes(body)
    return path
