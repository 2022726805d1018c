"""The instance-wide write hold: lets ``kluis backup`` stop every write for a moment.

A consistent backup of a running instance needs instance.db, every vault file and every
access journal as they were at one moment. The backup has no vault key, so it cannot use
SQLite's backup API on vault files; it copies them as files, and a file copy is only
consistent while nothing writes. So every write in every process (a transaction on
instance.db, a vault or a journal, a journal row, a migration, a new file) runs holding
this hold *shared*, and the backup takes it *exclusive* while it copies.

Two ``flock`` files under KLUIS_HOME make it cross-process:

- ``write-hold.lock``: writers hold it shared for as long as any write of this process is
  in flight (a per-process count, so nested writes cost no system call); the backup holds
  it exclusive;
- ``write-gate.lock``: a writer passes it (shared, released again at once) before taking
  the hold, and the backup holds it exclusive first, so new writers queue behind the
  backup instead of starving it.

A writer takes the hold before it takes any SQLite write lock, so a writer waiting at the
gate holds no lock another writer could be waiting for. Cost per write when no backup
runs: four ``flock`` calls when the process had no write in flight, two otherwise.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HOLD_FILE = "write-hold.lock"
GATE_FILE = "write-gate.lock"


class WriteHold:
    """One KLUIS_HOME's write hold, in this process."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self._mutex = threading.Lock()
        self._count = 0  # writes in flight in this process, all threads
        self._local = threading.local()  # .depth: this thread's nesting
        self._pid = -1
        self._hold_fd = -1
        self._gate_fd = -1

    def _fds(self) -> tuple[int, int]:
        # A forked child (rq's work horse) shares its parent's open file descriptions, and
        # with them its flock: it opens its own.
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._count = 0
            self._local = threading.local()
            self._hold_fd = _open(self.home / HOLD_FILE)
            self._gate_fd = _open(self.home / GATE_FILE)
        return self._hold_fd, self._gate_fd

    def _wait_at_gate(self) -> None:
        """A thread starting a write while others of this process are in flight: the process
        already holds the hold, so it only waits while a backup is at the gate (else threads
        taking turns would keep the hold forever and starve the backup)."""
        with self._mutex:
            _hold_fd, gate_fd = self._fds()
            if self._count == 0:
                return  # acquire takes the gate itself
            try:
                fcntl.flock(gate_fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                pass
            else:
                fcntl.flock(gate_fd, fcntl.LOCK_UN)
                return
        # A backup waits for this process's writes in flight to end: wait with it, holding
        # nothing (the others finish, the hold is let go, the backup copies, the gate opens).
        fcntl.flock(gate_fd, fcntl.LOCK_SH)
        fcntl.flock(gate_fd, fcntl.LOCK_UN)

    def acquire(self) -> None:
        if self._pid == os.getpid():
            depth = getattr(self._local, "depth", 0)
            if depth == 0:
                self._wait_at_gate()
        with self._mutex:
            hold_fd, gate_fd = self._fds()
            if self._count == 0:
                fcntl.flock(gate_fd, fcntl.LOCK_SH)
                try:
                    fcntl.flock(hold_fd, fcntl.LOCK_SH)
                finally:
                    fcntl.flock(gate_fd, fcntl.LOCK_UN)
            self._count += 1
            self._local.depth = getattr(self._local, "depth", 0) + 1

    def release(self) -> None:
        with self._mutex:
            if self._pid != os.getpid() or self._count == 0:
                return  # taken before a fork: the child holds nothing
            self._count -= 1
            self._local.depth = max(0, getattr(self._local, "depth", 0) - 1)
            if self._count == 0:
                fcntl.flock(self._hold_fd, fcntl.LOCK_UN)

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Hold off a backup while the block writes."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Stop every write of every process on this home until the block ends (backup)."""
        gate_fd = _open(self.home / GATE_FILE)
        hold_fd = _open(self.home / HOLD_FILE)
        try:
            fcntl.flock(gate_fd, fcntl.LOCK_EX)
            fcntl.flock(hold_fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(hold_fd)  # closing releases the lock
            os.close(gate_fd)


_HOLDS: dict[str, WriteHold] = {}
_HOLDS_LOCK = threading.Lock()


def for_home(home: Path | str) -> WriteHold:
    """The write hold of ``home`` (one object per home per process)."""
    key = os.path.abspath(home)
    hold = _HOLDS.get(key)
    if hold is None:
        with _HOLDS_LOCK:
            hold = _HOLDS.setdefault(key, WriteHold(Path(key)))
    return hold


def _open(path: Path) -> int:
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
