"""The instance-wide write hold: a backup waits for writes in flight and holds new ones."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from vault.storage import hold


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


def test_nested_and_threaded_holds_release_only_at_the_last(tmp_path):
    writes = hold.for_home(tmp_path)
    with writes.shared(), writes.shared():
        pass
    with writes.shared():
        other = threading.Thread(target=writes.acquire)
        other.start()
        other.join()
    # One count is still out (the thread never left): a backup cannot get in.
    probe = subprocess.run(
        [sys.executable, "-c",
         "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR);"
         "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", str(tmp_path / hold.HOLD_FILE)],
        capture_output=True)
    assert probe.returncode != 0
    writes.release()
    probe = subprocess.run(
        [sys.executable, "-c",
         "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR);"
         "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", str(tmp_path / hold.HOLD_FILE)],
        capture_output=True)
    assert probe.returncode == 0, probe.stderr


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
        probe = subprocess.run(
            [sys.executable, "-c",
             "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR);"
             "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", str(tmp_path / hold.HOLD_FILE)],
            capture_output=True)
        assert probe.returncode != 0  # the parent still holds it


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
            in_flight = writes._count
    finally:
        stop.set()
        for t in threads:
            t.join(5)
    assert waited < 2.0 and in_flight == 0
