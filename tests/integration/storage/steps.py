"""Child processes that print the steps of a storage operation as they reach them, so a
test can SIGKILL one at a chosen step (the move of a vault, the copy of instance.db)."""

from __future__ import annotations

import subprocess
import sys
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
