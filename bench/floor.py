"""Ceilings for the authorized read: the bare endpoint plus one durable commit per request.

The read must leave a committed access event before its answer leaves, and the event is
committed at ``KLUIS_SQLITE_SYNCHRONOUS`` (FULL: on disk). Whatever else a read does, it
cannot be cheaper than the bare endpoint plus that commit. These floors measure it, under
the same gunicorn configuration and in the same run as the bare baseline, so the read's
ratio can be read against the best any implementation with a durable event could reach:

``commit``
    Each request commits one event-sized row to a plain SQLite file in WAL mode at the
    configured synchronous level, one file per worker process (no lock is ever contended,
    no encryption, no authentication: the most favourable case for a commit per read).
``group``
    Group commit: each request sends its row over a Unix socket to one writer process
    (:func:`writer`), which commits all rows waiting at that moment in one transaction at
    the same synchronous level and only then acknowledges each. One ``fsync`` serves every
    request that was waiting, at the price of a round trip and a process.

The app is :func:`bench.bare.create_bare_app` with ``KLUIS_BENCH_FLOOR`` set; the files
live in ``KLUIS_BENCH_FLOOR_DIR``. Imports no Kluis code.
"""

from __future__ import annotations

import os
import selectors
import socket
import sqlite3
import sys
from pathlib import Path
from typing import cast

# About what a grant.read journal row holds (at, actor, action, grant id, detail twice).
ROW = b"r" * 320
SOCKET = "writer.sock"
_SCHEMA = "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, row BLOB NOT NULL)"


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute(_SCHEMA)
    return conn


class Committer:
    """What a floor app calls once per request; connections are opened per worker."""

    def __init__(self, kind: str, directory: Path, synchronous: str) -> None:
        if kind not in ("commit", "group"):
            raise ValueError(f"unknown floor {kind!r}")
        self.kind, self.directory, self.synchronous = kind, directory, synchronous
        # One handle per worker process: a database ("commit") or the writer's socket ("group").
        self._dbs: dict[int, sqlite3.Connection] = {}
        self._sockets: dict[int, socket.socket] = {}

    def __call__(self) -> None:
        pid = os.getpid()
        if self.kind == "commit":
            conn = self._dbs.get(pid)
            if conn is None:
                conn = self._dbs[pid] = _connect(self.directory / f"floor-{pid}.db",
                                                 self.synchronous)
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO events (row) VALUES (?)", (ROW,))
            conn.execute("COMMIT")
            return
        sock = self._sockets.get(pid)
        if sock is None:
            sock = self._sockets[pid] = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            sock.connect(str(self.directory / SOCKET))
        sock.send(ROW)
        if sock.recv(8) != b"ok":
            raise RuntimeError("the group-commit writer did not commit")

    def close(self) -> None:
        for conn in self._dbs.values():
            conn.close()
        for sock in self._sockets.values():
            sock.close()
        self._dbs.clear()
        self._sockets.clear()


def writer(directory: Path, synchronous: str) -> None:
    """The group-commit writer: every wake-up, commit all waiting rows at once, then ack."""
    path = directory / SOCKET
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.bind(str(path))
    server.listen(128)
    server.setblocking(False)
    conn = _connect(directory / "group.db", synchronous)
    selector = selectors.DefaultSelector()
    selector.register(server, selectors.EVENT_READ)
    batches = rows = 0
    while True:
        waiting: list[socket.socket] = []
        for key, _ in selector.select():
            sock = cast(socket.socket, key.fileobj)  # only sockets are registered
            if sock is server:
                try:
                    client, _ = server.accept()
                except BlockingIOError:
                    continue
                client.setblocking(False)
                selector.register(client, selectors.EVENT_READ)
                continue
            while True:
                try:
                    message = sock.recv(4096)
                except BlockingIOError:
                    break
                if not message:
                    selector.unregister(sock)
                    sock.close()
                    break
                waiting.append(sock)
        if not waiting:
            continue
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO events (row) VALUES (?)", [(ROW,)] * len(waiting))
        conn.execute("COMMIT")
        for sock in waiting:
            sock.send(b"ok")
        batches += 1
        rows += len(waiting)
        # Batch sizes, for the record (the harness reads the last line of the log).
        if batches % 1000 == 0:
            print(f"rows per commit: {rows / batches:.2f}", flush=True)


if __name__ == "__main__":  # python -m bench.floor DIR SYNCHRONOUS
    writer(Path(sys.argv[1]), sys.argv[2])
