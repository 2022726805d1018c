"""The floors of the authorized read really commit one row per request (bench/floor.py).

A ceiling that skipped its commit would make every read look slow against it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.floor import SOCKET, Committer

ROOT = Path(__file__).resolve().parents[2]


def _rows(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()


def test_the_commit_floor_commits_one_row_per_call_in_a_file_per_process(tmp_path):
    commit = Committer("commit", tmp_path, "FULL")
    for _ in range(25):
        commit()
    commit.close()
    [db] = tmp_path.glob("floor-*.db")
    assert _rows(db) == 25
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


@pytest.fixture
def writer(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "bench.floor", str(tmp_path), "FULL"],
                            cwd=ROOT)
    deadline = time.monotonic() + 10
    while not (tmp_path / SOCKET).exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the writer did not start"
        time.sleep(0.02)
    yield tmp_path
    proc.terminate()
    proc.wait(timeout=10)


def test_the_group_floor_answers_only_after_the_writer_committed_the_row(writer):
    send = Committer("group", writer, "FULL")
    try:
        for n in range(1, 21):
            send()
            assert _rows(writer / "group.db") == n  # committed before the answer came back
    finally:
        send.close()


def test_an_unknown_floor_is_refused(tmp_path):
    with pytest.raises(ValueError):
        Committer("none", tmp_path, "FULL")
