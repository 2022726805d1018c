"""Organisations reading while something happens (a revoke): which reads started before it
returned, which after, and what each got. The revocation tests on one node, across two nodes
and under 50 readers use it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import requests

T = TypeVar("T")


@dataclass
class Reads:
    #: The status of each read that started before the action returned, and after it.
    before: list[int] = field(default_factory=list)
    after: list[int] = field(default_factory=list)
    #: Reads that got no answer (the exception's type).
    errors: list[str] = field(default_factory=list)

    @property
    def served(self) -> int:
        return self.before.count(200) + self.after.count(200)


def reads_around(url: str, headers: dict[str, str], action: Callable[[], T], *,
                 readers: int = 8, settle: float = 0.7,
                 timeout: float = 30) -> tuple[T, Reads]:
    """``readers`` threads read ``url`` in a loop from ``settle`` seconds before ``action``
    until ``settle`` seconds after it returned; returns what it returned and the reads."""
    started_at: list[tuple[float, int]] = []
    reads = Reads()
    stop = threading.Event()
    lock = threading.Lock()

    def reader() -> None:
        with requests.Session() as http:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    status = http.get(url, headers=headers, timeout=timeout).status_code
                except requests.RequestException as exc:
                    with lock:
                        reads.errors.append(type(exc).__name__)
                    continue
                with lock:
                    started_at.append((started, status))

    threads = [threading.Thread(target=reader) for _ in range(readers)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(settle)
        result = action()
        returned = time.monotonic()
        time.sleep(settle)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout * 2)
    reads.before = [s for t, s in started_at if t < returned]
    reads.after = [s for t, s in started_at if t > returned]
    return result, reads
