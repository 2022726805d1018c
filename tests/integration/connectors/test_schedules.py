"""Periodic work lives in rq's scheduler and survives a Redis that lost it."""

from __future__ import annotations

import threading

from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from tests.integration.connectors.conftest import wait_for, wait_state
from tests.integration.connectors.test_refresh import brp_connection
from vault import services as services_mod
from vault.connectors.jobs import restore_schedules
from vault.grants.jobs import PURGE_JOB_ID, WEBHOOK_PUMP_JOB_ID, schedule_purge
from vault.portability.pending import SWEEP_JOB_ID


def _scheduled(settings) -> set[str]:
    svc = services_mod.build(settings)
    try:
        registry = ScheduledJobRegistry(queue=svc.queue(), serializer=JSONSerializer)
        return set(registry.get_job_ids())
    finally:
        svc.close()


def test_worker_start_schedules_the_grant_purge_once(settings, start_worker):
    start_worker()
    # Every periodic job in its place (the pump and the sweep run at once, then re-schedule).
    periodic = {PURGE_JOB_ID, WEBHOOK_PUMP_JOB_ID, SWEEP_JOB_ID}
    wait_for(lambda: periodic <= _scheduled(settings))
    before = _scheduled(settings)
    svc = services_mod.build(settings)
    try:
        schedule_purge(svc.queue())  # what the next worker start does: replace, never add
    finally:
        svc.close()
    # Nothing added (the pump and the sweep may be running at this moment, so not equal).
    after = _scheduled(settings)
    assert PURGE_JOB_ID in after and after - before == set()


def test_lost_connector_schedule_is_restored(settings, make_owner, start_worker, brp_standin,
                                             redis_client):
    owner = make_owner()
    start_worker()
    connection = brp_connection(owner, brp_standin)
    wait_state(owner, connection["id"], {"ok"})
    scheduled = wait_for(lambda: owner.get(f"/api/v1/connections/{connection['id']}").json()
                         .get("next_run_at"))
    assert scheduled
    svc = services_mod.build(settings)
    try:
        row = svc.instance.conn.execute("SELECT scheduled_job_id FROM connections WHERE id = ?",
                                        (connection["id"],)).fetchone()
        job_id = row["scheduled_job_id"]
        assert job_id in _scheduled(settings)
        # Redis forgets everything, as after a restart without persistence.
        redis_client.flushall()
        assert restore_schedules(svc.instance, svc.queue()) == 1
        assert restore_schedules(svc.instance, svc.queue()) == 0  # safe to run twice
        new_id = svc.instance.conn.execute(
            "SELECT scheduled_job_id FROM connections WHERE id = ?", (connection["id"],)
        ).fetchone()["scheduled_job_id"]
        assert new_id != job_id and new_id in _scheduled(settings)
    finally:
        svc.close()


def _connection_ids(settings) -> set[str]:
    svc = services_mod.build(settings)
    try:
        return {r["id"] for r in svc.instance.conn.execute("SELECT id FROM connections")}
    finally:
        svc.close()


def test_restore_leaves_a_waiting_first_refresh_alone(settings, make_owner, brp_standin):
    """A connection made while no worker runs has its first refresh queued; the worker that
    starts then must not schedule a second one (it would run twice)."""
    owner = make_owner()
    brp_connection(owner, brp_standin)  # enqueues its first refresh; no worker takes it yet
    svc = services_mod.build(settings)
    try:
        assert restore_schedules(svc.instance, svc.queue()) == 0
        assert _scheduled(settings) == set()
        assert len(svc.queue()) == 1  # the first refresh, alone
    finally:
        svc.close()


def test_workers_restoring_at_once_schedule_each_connection_once(settings, make_owner,
                                                                 brp_standin, redis_client):
    owner = make_owner()
    for _ in range(4):
        brp_connection(owner, brp_standin)
    redis_client.flushall()  # every refresh lost, as after a Redis restart
    barrier = threading.Barrier(4)
    counts: list[int] = []

    def worker_start() -> None:
        svc = services_mod.build(settings)
        try:
            barrier.wait()
            counts.append(restore_schedules(svc.instance, svc.queue()))
        finally:
            svc.close()

    threads = [threading.Thread(target=worker_start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(counts) == [0, 0, 0, 4]  # one worker restored, the others found it done
    svc = services_mod.build(settings)
    try:
        held = {r["scheduled_job_id"] for r in svc.instance.conn.execute(
            "SELECT scheduled_job_id FROM connections")}
    finally:
        svc.close()
    refreshes = {j for j in _scheduled(settings) if j.startswith("kluis-refresh-")}
    assert refreshes == held and len(held) == len(_connection_ids(settings)) == 4
