"""The instance-wide write hold: a backup waits for writes in flight and holds new ones."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from vault.storage import hold


@pytest.fixture
def backend() -> str:
    """These tests are about SQLCipher files themselves: the file backend only."""
    return ""



def test_the_exclusive_hold_waits_for_a_write_in_flight_and_holds_new_ones(tmp_path):
    writes = hold.for_home(tmp_path)
    order: list[str] = []
    writes.acquire()  # a write in flight
    backup_in = threading.Event()

    def backup() -> None:
        with hold.WriteHold(tmp_path).exclusive():
            order.append("backup")
            backup_in.set()
            time.sleep(0.2)
            order.append("backup done")

    def later_write() -> None:
        time.sleep(0.05)  # after the backup started waiting
        with hold.WriteHold(tmp_path).shared():  # another process's write, in effect
            order.append("later write")

    threads = [threading.Thread(target=backup), threading.Thread(target=later_write)]
    for t in threads:
        t.start()
    time.sleep(0.15)
    assert order == []  # the backup waits for the write in flight; the later write waits too
    order.append("write done")
    writes.release()
    for t in threads:
        t.join(5)
    assert order == ["write done", "backup", "backup done", "later write"]


def _backup_could_start(tmp_path) -> bool:
    probe = subprocess.run(
        [sys.executable, "-c",
         "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR);"
         "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", str(tmp_path / hold.HOLD_FILE)],
        capture_output=True)
    return probe.returncode == 0


def test_nested_and_threaded_holds_release_only_at_the_last(tmp_path):
    writes = hold.for_home(tmp_path)
    with writes.shared(), writes.shared():
        pass
    entered, leave = threading.Event(), threading.Event()

    def other_thread() -> None:
        with writes.shared():
            entered.set()
            leave.wait(5)

    other = threading.Thread(target=other_thread)
    with writes.shared():
        other.start()
        entered.wait(5)
    # The other thread's write is still in flight: a backup cannot get in.
    assert not _backup_could_start(tmp_path)
    leave.set()
    other.join(5)
    assert _backup_could_start(tmp_path)


def test_a_flag_left_by_a_backup_that_died_does_not_stop_writes(tmp_path):
    code = ("import os, sys; from vault.storage import hold;"
            "h = hold.WriteHold(sys.argv[1]); cm = h.exclusive(); cm.__enter__(); os._exit(9)")
    died = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True)
    assert died.returncode == 9
    assert (tmp_path / hold.GATE_FILE).read_bytes()[:1] == b"\x01"
    started = time.monotonic()
    with hold.for_home(tmp_path).shared():
        pass
    assert time.monotonic() - started < 1.0
    assert (tmp_path / hold.GATE_FILE).read_bytes()[:1] == b"\x00"


def test_a_forked_child_takes_its_own_hold(tmp_path):
    writes = hold.for_home(tmp_path)
    with writes.shared():
        pid = os.fork()
        if pid == 0:  # the child: its release must not drop the parent's lock
            try:
                with writes.shared():
                    pass
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        assert not _backup_could_start(tmp_path)  # the parent still holds it


def test_threads_writing_in_turns_do_not_starve_a_backup(tmp_path):
    writes = hold.for_home(tmp_path)
    stop = threading.Event()

    def writer() -> None:  # overlapping writes: the process never runs out of them alone
        while not stop.is_set():
            with writes.shared():
                time.sleep(0.002)

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.05)
        started = time.monotonic()
        with hold.WriteHold(tmp_path).exclusive():
            waited = time.monotonic() - started
            in_flight = writes.in_flight
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    assert waited < 2.0 and in_flight == 0
