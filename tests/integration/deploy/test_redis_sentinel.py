"""Redis without a single point of failure: ``kluis serve`` and ``kluis worker`` find Redis
through three sentinels (quorum 2), the master is killed with SIGKILL, the sentinels promote
the replica, and sessions, the login rate limit and rq jobs (queued and scheduled) go on
against it. Everything runs on loopback: one master, one replica, three sentinels."""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis as redis_lib
import requests
from rq import Queue
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from bench.procs import Stack, free_port, kluis_command, stop_process, wait_for_http, wait_for_port
from vault.config import Settings
from vault.grants.jobs import PURGE_JOB
from vault.services import redis_client
from vault.storage.instance import init_home

SERVICE = "kluis-test"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery staple"


def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run ./deploy.sh test")
    return binary


def start_redis(stack: Stack, workdir: Path, port: int, *extra: str):
    proc = stack.popen([redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--dir", str(workdir), "--protected-mode", "yes",
                        *extra], log=workdir / f"redis-{port}.log")
    wait_for_port(port)
    return proc


def start_sentinel(stack: Stack, workdir: Path, port: int, master_port: int) -> None:
    """``redis-server <conf> --sentinel``: the config file is the sentinel's own (it rewrites
    it with what it learns), so each gets a fresh one."""
    conf = workdir / f"sentinel-{port}.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\nprotected-mode yes\ndir {workdir}\n"
        f"sentinel monitor {SERVICE} 127.0.0.1 {master_port} 2\n"
        f"sentinel down-after-milliseconds {SERVICE} 1000\n"
        f"sentinel failover-timeout {SERVICE} 3000\n"
        f"sentinel parallel-syncs {SERVICE} 1\n")
    stack.popen([redis_binary(), str(conf), "--sentinel"], log=workdir / f"sentinel-{port}.log")
    wait_for_port(port)


def until(what: str, check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


def sentinels_ready(ports: list[int]) -> bool:
    """Every sentinel sees the master, its replica and the two other sentinels."""
    for port in ports:
        client = redis_lib.Redis(port=port, socket_timeout=1)
        try:
            state = client.sentinel_master(SERVICE)
        except redis_lib.RedisError:
            return False
        finally:
            client.close()
        if state["num-slaves"] != 1 or state["num-other-sentinels"] != 2:
            return False
    return True


def replica_in_sync(port: int) -> bool:
    client = redis_lib.Redis(port=port, socket_timeout=1)
    try:
        return client.info("replication").get("master_link_status") == "up"
    finally:
        client.close()


def master_port(sentinel_port: int) -> int:
    client = redis_lib.Redis(port=sentinel_port, socket_timeout=1)
    try:
        return int(client.sentinel_get_master_addr_by_name(SERVICE)[1])
    finally:
        client.close()


def login(base: str, username: str, password: str) -> tuple[requests.Session, int]:
    http = requests.Session()
    page = http.get(f"{base}/login", timeout=30).text
    resp = http.post(f"{base}/login", timeout=30, allow_redirects=False, data={
        "csrf_token": CSRF.search(page).group(1), "username": username, "password": password})
    return http, resp.status_code


def signed_in(http: requests.Session, base: str) -> bool:
    resp = http.get(f"{base}/dashboard", timeout=30, allow_redirects=False)
    return resp.status_code == 200


def finished(queue: Queue, job_id: str, timeout: float) -> Job:
    def done() -> bool:
        return Job.fetch(job_id, connection=queue.connection,
                         serializer=JSONSerializer).get_status() == JobStatus.FINISHED

    until(f"job {job_id} finished", done, timeout)
    return Job.fetch(job_id, connection=queue.connection, serializer=JSONSerializer)


def test_sessions_rate_limits_and_jobs_survive_the_masters_death(tmp_path):
    started = time.monotonic()
    marks = {}
    workdir = tmp_path / "redis"
    workdir.mkdir()
    primary, replica = free_port(), free_port()
    sentinels = [free_port() for _ in range(3)]
    web_port = free_port()
    with Stack() as stack:
        # No delay before the replica's first sync (the default waits 5 s for more replicas).
        master_proc = start_redis(stack, workdir, primary, "--repl-diskless-sync-delay", "0")
        start_redis(stack, workdir, replica, "--replicaof", "127.0.0.1", str(primary))
        until("the replica is in sync", lambda: replica_in_sync(replica), 10)
        for port in sentinels:
            start_sentinel(stack, workdir, port, primary)
        until("sentinels see the replica and each other", lambda: sentinels_ready(sentinels), 15)

        # KLUIS_REDIS_URL names a port nothing listens on: with sentinels it gives only the
        # database (and password, if any); the master comes from the sentinels.
        settings = Settings(
            home=str(tmp_path / "home"), redis_url="redis://127.0.0.1:1/2",
            redis_sentinels=",".join(f"127.0.0.1:{p}" for p in sentinels),
            redis_service=SERVICE, web_workers=2, secure_cookies="never",
            login_max_failures=3, base_url=f"http://127.0.0.1:{web_port}")
        init_home(settings)
        env = settings.to_env()
        server = stack.popen(kluis_command() + ["serve", "--bind", f"127.0.0.1:{web_port}"],
                             env=env, log=tmp_path / "server.log")
        worker = stack.popen(kluis_command() + ["worker"], env=env, log=tmp_path / "worker.log")
        wait_for_http(web_port, "/healthz", proc=server)
        marks["serving"] = time.monotonic() - started
        base = settings.public_url
        assert requests.get(f"{base}/readyz", timeout=30).json()["checks"]["redis"] == "ok"

        for username in ("anna", "bert"):
            created = requests.post(f"{base}/api/v1/accounts", timeout=30,
                                    json={"username": username, "password": PASSWORD})
            assert created.status_code == 201, created.text
        anna, status = login(base, "anna", PASSWORD)
        assert status == 302 and signed_in(anna, base)
        # Two of bert's three allowed failures before the failover.
        assert [login(base, "bert", "wrong")[1] for _ in range(2)] == [401, 401]

        queue = Queue("kluis", connection=redis_client(settings), serializer=JSONSerializer)
        queue.enqueue(PURGE_JOB, job_id="before-failover", result_ttl=600)
        assert finished(queue, "before-failover", 15).return_value() is not None

        # Everything so far is on the master, in database 2 (KLUIS_REDIS_URL's), and on the
        # replica before the master dies.
        direct = redis_lib.Redis(port=primary, db=2)
        assert any(k.startswith(b"kluis:session:") for k in direct.scan_iter(count=1000))
        # WAIT counts the replicas that have this connection's last write: make one, after
        # everything above in the replication stream.
        direct.set("kluis-test:replicated", "1")
        assert direct.wait(1, 1000) == 1, direct.info("replication")
        direct.close()
        marks["before kill"] = time.monotonic() - started
        os.kill(master_proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        until("the sentinels promote the replica",
              lambda: all(master_port(p) == replica for p in sentinels), 15)
        promoted = redis_lib.Redis(port=replica)
        until("the replica acts as master", lambda: promoted.info("replication")["role"]
              == "master", 5)
        promoted.close()
        failover_seconds = time.monotonic() - killed
        marks["promoted"] = time.monotonic() - started

        # The session made before the failover was replicated: still signed in.
        assert signed_in(anna, base)
        marks["old session"] = time.monotonic() - started
        # bert's two failures were replicated too: the third locks the account, the fourth
        # is refused without a password check.
        assert login(base, "bert", "wrong")[1] == 401
        assert login(base, "bert", PASSWORD)[1] == 429
        marks["rate limit"] = time.monotonic() - started
        # New sessions are made on the promoted master.
        again, status = login(base, "anna", PASSWORD)
        assert status == 302 and signed_in(again, base)
        marks["new session"] = time.monotonic() - started
        # The worker goes on: a queued job, and one through rq's scheduler.
        queue.enqueue(PURGE_JOB, job_id="after-failover", result_ttl=600)
        finished(queue, "after-failover", 15)
        marks["queued job"] = time.monotonic() - started
        queue.enqueue_in(timedelta(seconds=1), PURGE_JOB, job_id="scheduled-after-failover",
                         result_ttl=600)
        finished(queue, "scheduled-after-failover", 15)
        marks["scheduled job"] = time.monotonic() - started
        queue.connection.close()
        assert requests.get(f"{base}/readyz", timeout=30).json()["checks"]["redis"] == "ok"
        # What the test did, before the processes are stopped (the worker's warm shutdown
        # after a failover takes stop_process's 15 s and ends in SIGKILL: see the report).
        assert failover_seconds < 15
        assert time.monotonic() - started < 30, marks
        stop_process(worker)
    assert "Traceback" not in (tmp_path / "worker.log").read_text()
