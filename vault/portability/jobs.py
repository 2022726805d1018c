"""Progress of long exports and imports, visible to any web worker through Redis.

A whole-vault archive needs the vault's data key, and an import produces a
recovery code. Neither may pass through Redis or an rq queue in the clear, so
these jobs run in a thread of the web process that already holds the key for
the request, and only their progress (counts, a stage name, a plain message)
is written to Redis. A finished archive is already encrypted under the owner's
passphrase; it waits in ``KLUIS_HOME/exports`` for at most :data:`TTL`
seconds and is removed once downloaded. Secret results (an imported account's
recovery code) are stored AES-GCM-encrypted under a key the caller keeps (the
owner's cookie), so Redis alone reveals nothing.

A job is not restarted after a process restart: its entry then expires and
the owner starts again. Running one twice is harmless (a second archive, or a
second import attempt refused because the username is taken).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from vault.crypto import aead
from vault.crypto.keys import b64d, b64e

PREFIX = "kluis:portability-job:"
TTL = 3600


class Jobs:
    def __init__(self, redis) -> None:
        self.redis = redis

    def create(self, kind: str, owner: str) -> str:
        job_id = b64e(os.urandom(18))
        self.redis.hset(PREFIX + job_id, mapping={
            "kind": kind, "owner": owner, "state": "running", "done": 0, "total": 1,
            "stage": "queued", "message": "", "started": repr(time.time()),
        })
        self.redis.expire(PREFIX + job_id, TTL)
        return job_id

    def progress(self, job_id: str) -> Callable[[int, int, str], None]:
        def report(done: int, total: int, stage: str) -> None:
            self.redis.hset(PREFIX + job_id,
                            mapping={"done": int(done), "total": max(int(total), 1),
                                     "stage": stage})

        return report

    def finish(self, job_id: str, **info: str) -> None:
        self.redis.hset(PREFIX + job_id, mapping={"state": "done", "stage": "done", **info})

    def fail(self, job_id: str, message: str, code: str = "failed") -> None:
        self.redis.hset(PREFIX + job_id,
                        mapping={"state": "failed", "message": message, "code": code})

    def put_secret(self, job_id: str, key: bytes, value: dict) -> None:
        blob = aead.encrypt(key, json.dumps(value).encode(), f"kluis-job:{job_id}".encode())
        self.redis.hset(PREFIX + job_id, "secret", b64e(blob))

    def get(self, job_id: str, owner: str | None = None) -> dict[str, Any] | None:
        raw = self.redis.hgetall(PREFIX + (job_id or "-"))
        if not raw:
            return None
        data = {k.decode(): v.decode() for k, v in raw.items()}
        if owner is not None and data.get("owner") != owner:
            return None
        done, total = int(data.get("done", 0)), max(int(data.get("total", 1)), 1)
        data["percent"] = 100 if data["state"] == "done" else min(99, done * 100 // total)
        return data

    def secret(self, job_id: str, key: bytes) -> dict | None:
        raw = self.redis.hget(PREFIX + job_id, "secret")
        if not raw:
            return None
        try:
            return json.loads(aead.decrypt(key, b64d(raw.decode()),
                                           f"kluis-job:{job_id}".encode()))
        except Exception:  # noqa: BLE001 - wrong key or damaged: nothing to show
            return None

    def forget(self, job_id: str) -> None:
        self.redis.delete(PREFIX + job_id)


def run(jobs: Jobs, job_id: str, work: Callable[[Callable[[int, int, str], None]], None],
        *, describe: Callable[[BaseException], tuple[str, str]]) -> threading.Thread:
    """Run ``work(progress)`` in a daemon thread; failures become a plain message."""

    def target() -> None:
        try:
            work(jobs.progress(job_id))
        except BaseException as exc:  # noqa: BLE001 - report every failure to the owner
            code, message = describe(exc)
            jobs.fail(job_id, message, code)

    thread = threading.Thread(target=target, name=f"kluis-job-{job_id[:6]}", daemon=True)
    thread.start()
    return thread
