"""A refresh that never finished (its worker or work horse killed) keeps its connection's
schedule going: each run schedules the next, so without the failure callback the chain
would stop until the next worker start's ``restore_schedules``."""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis as redis_lib
from rq import Worker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer

from tests.integration.connectors.conftest import add_connection, records, wait_for, wait_state
from tests.integration.connectors.test_failures import _children, _kill_worker_and_horse
from tests.standins.fixtures import API_KEY, BRP_BSN
from vault import services as services_mod
from vault.cli import worker_timing
from vault.config import ConfigError, Settings
from vault.connectors.jobs import (
    INTERRUPTED,
    ON_FAILURE,
    refresh_failed,
    reschedule_interrupted,
    restore_schedules,
)


@pytest.fixture
def settings(make_settings, request):
    """As the package's: fast retries, short source timeouts; ``connector_max_attempts`` from
    an indirect parameter (default 3)."""
    return make_settings(connector_retry_base_seconds=1,
                         connector_max_attempts=getattr(request, "param", 3),
                         connector_timeout_seconds=2)


def _refreshes(client: redis_lib.Redis) -> list[str]:
    scheduled = ScheduledJobRegistry("kluis", connection=client, serializer=JSONSerializer)
    return [j for j in scheduled.get_job_ids() if j.startswith("kluis-refresh-")]


def _row(live_server, connection_id: str):
    instance = live_server.app.extensions["kluis"].instance
    return instance.conn.execute("SELECT * FROM connections WHERE id = ?",
                                 (connection_id,)).fetchone()


def _killed_mid_run(owner, start_worker, brp_standin, client) -> tuple[dict, str]:
    """A connection whose first refresh was running when its worker (its work horse and its
    scheduler) got SIGKILL: rq leaves the job 'started' on a worker that is gone. The dead
    scheduler's lock is dropped as its 61 s lease running out would (the several-nodes test
    waits that out), so the next worker schedules at once."""
    brp_standin.slow_seconds = 1.5  # within the 2 s source timeout
    brp_standin.misbehave("slow")
    worker = start_worker()
    connection = add_connection(owner, "brp", {"base_url": brp_standin.base_url, "bsn": BRP_BSN},
                                {"api_key": API_KEY})
    wait_for(lambda: brp_standin.count("POST", "/personen") >= 1, timeout=20, interval=0.02)
    _kill_worker_and_horse(worker)
    client.delete("rq:scheduler-lock:kluis")
    body = owner.get(f"/api/v1/connections/{connection['id']}").json()
    assert body["state"] == "running"
    return connection, body


def _survivor_maintenance(settings: Settings, client: redis_lib.Redis, monkeypatch) -> None:
    """What a surviving worker's maintenance does once the dead worker's entry in the started
    registry has expired (60 s and more after its last heartbeat): rq's own cleanup, which
    calls the job's failure callback, here with its cut-off moved past that instead of
    waiting, in this process with the worker's environment."""
    for key, value in settings.to_env().items():
        if key.startswith("KLUIS_"):
            monkeypatch.setenv(key, value)
    services_mod._current = None
    try:
        StartedJobRegistry("kluis", connection=client, serializer=JSONSerializer).cleanup(
            timestamp=time.time() + 3600)
    finally:
        if services_mod._current is not None:
            services_mod._current[1].close()
        services_mod._current = None


def test_a_refresh_killed_with_its_worker_is_tried_again(settings, make_owner, start_worker,
                                                         brp_standin, live_server, redis_client,
                                                         monkeypatch):
    owner = make_owner()
    connection, _ = _killed_mid_run(owner, start_worker, brp_standin, redis_client)
    killed = _row(live_server, connection["id"])["job_id"]
    # Stored by name in the job's hash (nothing pickled: the JSON serializer).
    assert redis_client.hget(f"rq:job:{killed}", "failure_callback_name") == ON_FAILURE.encode()
    assert _refreshes(redis_client) == []  # the chain is broken: nothing comes next

    _survivor_maintenance(settings, redis_client, monkeypatch)
    body = owner.get(f"/api/v1/connections/{connection['id']}").json()
    assert body["state"] == "retrying" and body["last_error"] == INTERRUPTED
    [retry] = _refreshes(redis_client)
    row = _row(live_server, connection["id"])
    assert row["scheduled_job_id"] == row["job_id"] == retry
    assert Job.fetch(retry, connection=redis_client, serializer=JSONSerializer).args == [
        connection["id"], 2]  # the second attempt
    assert killed in FailedJobRegistry("kluis", connection=redis_client,
                                       serializer=JSONSerializer).get_job_ids()

    # Safe to run twice: again, straight, and a worker start's restore find the retry.
    _survivor_maintenance(settings, redis_client, monkeypatch)
    svc = services_mod.build(settings)
    try:
        assert reschedule_interrupted(svc.instance, svc.queue(), settings, connection["id"], 1,
                                      killed) is None
        assert restore_schedules(svc.instance, svc.queue()) == 0
    finally:
        svc.close()
    assert _refreshes(redis_client) == [retry]

    start_worker()  # the retry runs (1 s backoff) without anyone asking for it
    done = wait_state(owner, connection["id"], {"ok"}, timeout=30)
    assert done["last_error"] is None
    assert brp_standin.count("POST", "/personen") == 2
    found = records(owner)
    assert len(found) == 5 and {r["version"] for r in found} == {1}


def test_a_refresh_asked_for_since_is_left_to_run(settings, make_owner, start_worker,
                                                   brp_standin, live_server, redis_client,
                                                   monkeypatch):
    owner = make_owner()
    connection, _ = _killed_mid_run(owner, start_worker, brp_standin, redis_client)
    resp = owner.post(f"/api/v1/connections/{connection['id']}/refresh")
    assert resp.status_code == 202  # queued again (the started one's worker is dead)
    queued = _row(live_server, connection["id"])["job_id"]
    _survivor_maintenance(settings, redis_client, monkeypatch)
    assert _refreshes(redis_client) == []  # no second run scheduled beside the queued one
    assert _row(live_server, connection["id"])["job_id"] == queued
    start_worker()
    wait_state(owner, connection["id"], {"ok"}, timeout=30)
    time.sleep(1.5)  # longer than a retry would have waited
    assert brp_standin.count("POST", "/personen") == 2
    [regular] = _refreshes(redis_client)  # and one regular run after it
    assert _row(live_server, connection["id"])["scheduled_job_id"] == regular


@pytest.mark.parametrize("settings", [1], indirect=True)
def test_an_interrupted_last_attempt_fails_with_the_regular_run(settings, make_owner,
                                                                start_worker, brp_standin,
                                                                live_server, redis_client,
                                                                monkeypatch):
    owner = make_owner()
    connection, _ = _killed_mid_run(owner, start_worker, brp_standin, redis_client)
    _survivor_maintenance(settings, redis_client, monkeypatch)
    body = owner.get(f"/api/v1/connections/{connection['id']}").json()
    assert body["state"] == "failed" and body["last_error"] == INTERRUPTED
    [regular] = _refreshes(redis_client)
    assert Job.fetch(regular, connection=redis_client,
                     serializer=JSONSerializer).args == [connection["id"], 1]
    due = ScheduledJobRegistry("kluis", connection=redis_client,
                               serializer=JSONSerializer).get_scheduled_time(regular)
    interval = _row(live_server, connection["id"])["interval_seconds"]
    assert abs(due.timestamp() - (time.time() + interval)) < 60


def test_a_connection_waiting_for_its_owner_is_not_rescheduled(settings, make_owner,
                                                                start_worker, brp_standin,
                                                                live_server, redis_client):
    owner = make_owner()
    brp_standin.misbehave("401")
    start_worker()
    connection = add_connection(owner, "brp", {"base_url": brp_standin.base_url, "bsn": BRP_BSN},
                                {"api_key": API_KEY})
    wait_state(owner, connection["id"], {"needs_attention"})
    job_id = _row(live_server, connection["id"])["job_id"]
    svc = services_mod.build(settings)
    try:
        assert reschedule_interrupted(svc.instance, svc.queue(), settings, connection["id"], 1,
                                      job_id) is None
    finally:
        svc.close()
    assert _refreshes(redis_client) == []
    assert owner.get(f"/api/v1/connections/{connection['id']}").json()["state"] == \
        "needs_attention"


def test_a_killed_work_horse_is_retried_by_its_own_worker(settings, make_owner, start_worker,
                                                          brp_standin, redis_client):
    """The worker lives, the process running the job dies (as when the kernel ends it for
    memory): rq fails the job without its failure callback; the worker's handler retries."""
    owner = make_owner()
    brp_standin.slow_seconds = 1.5
    brp_standin.misbehave("slow")
    worker = start_worker()
    connection = add_connection(owner, "brp", {"base_url": brp_standin.base_url, "bsn": BRP_BSN},
                                {"api_key": API_KEY})
    wait_for(lambda: brp_standin.count("POST", "/personen") >= 1, timeout=20, interval=0.02)
    name = redis_client.get("rq:scheduler-lock:kluis")
    scheduler = int(redis_client.hget(f"rq:scheduler:{name.decode()}", "pid"))
    [horse] = [pid for pid in _children(worker.pid) if pid != scheduler]
    os.kill(horse, signal.SIGKILL)
    done = wait_state(owner, connection["id"], {"ok"}, timeout=30)
    assert done["last_error"] is None and worker.poll() is None
    assert brp_standin.count("POST", "/personen") == 2
    assert len(records(owner)) == 5


def test_worker_timing_bounds_the_waits(redis_client):
    for seconds in (1, 7, 30, 600):
        timing = worker_timing(seconds)
        worker = Worker(["kluis"], connection=redis_client, serializer=JSONSerializer, **timing)
        assert worker.maintenance_interval == seconds
        assert worker.dequeue_timeout == seconds  # an idle worker reaches its maintenance
        assert worker.job_monitoring_interval == min(30, seconds)
    assert Settings().worker_maintenance_seconds == 30
    with pytest.raises(ConfigError, match="KLUIS_WORKER_MAINTENANCE_SECONDS"):
        Settings(worker_maintenance_seconds=0)
    assert refresh_failed.__module__ + "." + refresh_failed.__name__ == ON_FAILURE
