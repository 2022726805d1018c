"""Child processes that print the steps of a storage operation as they reach them, so a
test can SIGKILL one at a chosen step (the move of a vault, the copy of instance.db)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT


def spawn(script: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(script)], env=env, cwd=str(ROOT), text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def until(proc: subprocess.Popen, line: str) -> list[str]:
    """The lines the child printed, up to and including ``line``."""
    seen: list[str] = []
    while True:
        got = proc.stdout.readline()
        if not got:
            raise AssertionError(f"the child ended before {line!r}: {seen} {proc.stderr.read()}")
        seen.append(got.strip())
        if seen[-1] == line:
            return seen



def kill_at(proc: subprocess.Popen, step: str) -> None:
    """SIGKILL the child once it has reached ``step`` (it waits there for a line on stdin)."""
    try:
        until(proc, step)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
        proc.communicate(timeout=10)

def until_one_waits(url: str, objid: int | None = None, seconds: float = 15) -> None:
    """Until a session of the database at ``url`` waits for an advisory lock (``objid``: the
    lock's second key, for the locks taken with two)."""
    import psycopg

    deadline = time.monotonic() + seconds
    query = ("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
             " WHERE l.locktype = 'advisory' AND NOT l.granted"
             " AND d.datname = current_database()")
    params: tuple[int, ...] = ()
    if objid is not None:
        query += " AND l.objid::int = %s"
        params = (objid,)
    with psycopg.connect(url, autocommit=True) as conn:
        while not conn.execute(query, params).fetchone()[0]:
            assert time.monotonic() < deadline, "the second process never waited"
            time.sleep(0.05)


def finish(paused: subprocess.Popen, *others: subprocess.Popen,
           seconds: float = 60) -> list[tuple[str, str]]:
    """Let the paused child go on; ``(stdout, stderr)`` of it and of ``others``, each
    asserted to have ended well."""
    paused.stdin.write("\n")
    paused.stdin.flush()
    procs = (paused, *others)
    outputs = [proc.communicate(timeout=seconds) for proc in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    return outputs


def reap(*procs: subprocess.Popen | None) -> None:
    """Kill the children still running (after a test failed on the way)."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
