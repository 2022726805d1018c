"""Misbehaving sources end in the right state, and nothing already in the vault changes."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.integration.connectors.conftest import (
    add_connection,
    records,
    wait_for,
    wait_state,
)
from tests.standins.fixtures import API_KEY, BRP_BSN
from vault.grants.jobs import PURGE_JOB_ID, WEBHOOK_PUMP_JOB_ID
from vault.portability.pending import SWEEP_JOB_ID


def _connected(make_owner, start_worker, brp_standin):
    """An owner whose BRP records are already in the vault."""
    owner = make_owner()
    start_worker()
    connection = add_connection(owner, "brp", {"base_url": brp_standin.base_url, "bsn": BRP_BSN},
                                {"api_key": API_KEY})
    wait_state(owner, connection["id"], {"ok"})
    before = records(owner)
    return owner, connection, before


@pytest.mark.parametrize("fault", ["429", "500", "slow", "malformed"])
def test_transient_fault_is_retried_and_then_succeeds(make_owner, start_worker, brp_standin,
                                                      fault):
    owner, connection, before = _connected(make_owner, start_worker, brp_standin)
    calls = brp_standin.count("POST", "/personen")
    brp_standin.misbehave(fault, retry_after=2)
    started = time.monotonic()
    owner.post(f"/api/v1/connections/{connection['id']}/refresh")
    wait_state(owner, connection["id"], {"retrying"}, timeout=20)
    done = wait_state(owner, connection["id"], {"ok"}, timeout=30)
    assert done["last_error"] is None
    assert brp_standin.count("POST", "/personen") == calls + 2  # the fault, then the retry
    if fault == "429":
        assert time.monotonic() - started >= 2  # Retry-After was honoured
    assert records(owner) == before


@pytest.mark.parametrize("fault", ["401", "404"])
def test_owner_fault_needs_attention_without_retry(make_owner, start_worker, brp_standin, fault,
                                                   redis_client):
    owner, connection, before = _connected(make_owner, start_worker, brp_standin)
    calls = brp_standin.count("POST", "/personen")
    brp_standin.misbehave(fault)
    owner.post(f"/api/v1/connections/{connection['id']}/refresh")
    done = wait_state(owner, connection["id"], {"needs_attention"})
    assert done["last_error"] and done["next_run_at"] is None
    time.sleep(2.5)  # longer than the first retry would wait
    assert brp_standin.count("POST", "/personen") == calls + 1
    assert owner.get(f"/api/v1/connections/{connection['id']}").json()["state"] == \
        "needs_attention"
    assert records(owner) == before
    scheduled = {m.decode() for m in redis_client.zrange("rq:scheduled:kluis", 0, -1)}
    assert scheduled - {PURGE_JOB_ID, WEBHOOK_PUMP_JOB_ID, SWEEP_JOB_ID} == set()  # no regular run either


def test_persistent_failure_gives_up_after_max_attempts(make_owner, start_worker, brp_standin):
    owner, connection, before = _connected(make_owner, start_worker, brp_standin)
    calls = brp_standin.count("POST", "/personen")
    brp_standin.misbehave("500", times=10)
    owner.post(f"/api/v1/connections/{connection['id']}/refresh")
    done = wait_state(owner, connection["id"], {"failed"}, timeout=40)
    assert "internal error" in done["last_error"]
    assert brp_standin.count("POST", "/personen") == calls + 3  # connector_max_attempts
    assert done["next_run_at"]  # the regular schedule goes on
    assert records(owner) == before


def test_worker_killed_mid_job_leaves_nothing_half_done(make_owner, start_worker, brp_standin,
                                                         live_server):
    owner = make_owner()
    brp_standin.slow_seconds = 1.5  # within the 2 s source timeout: the request succeeds
    brp_standin.misbehave("slow")
    worker = start_worker()
    connection = add_connection(owner, "brp", {"base_url": brp_standin.base_url, "bsn": BRP_BSN},
                                {"api_key": API_KEY})
    wait_for(lambda: brp_standin.count("POST", "/personen") >= 1, timeout=20, interval=0.02)
    _kill_worker_and_horse(worker)
    instance = live_server.app.extensions["kluis"].instance
    time.sleep(2)  # the slow answer would have arrived by now
    assert instance.inbox(owner.vault_id) == []
    assert records(owner) == []
    assert owner.get(f"/api/v1/connections/{connection['id']}").json()["state"] == "running"

    start_worker()
    resp = owner.post(f"/api/v1/connections/{connection['id']}/refresh")
    assert resp.status_code == 202
    wait_state(owner, connection["id"], {"ok"}, timeout=30)
    found = records(owner)
    assert len(found) == 5 and {r["version"] for r in found} == {1}
    # A second run (as rq may deliver at least once) adds nothing.
    owner.post(f"/api/v1/connections/{connection['id']}/refresh")
    wait_state(owner, connection["id"], {"ok"}, timeout=30)
    assert {r["id"]: r["version"] for r in records(owner)} == {r["id"]: 1 for r in found}


def _kill_worker_and_horse(worker) -> None:
    """SIGKILL the rq worker and the work horse it forked for the job."""
    children = _children(worker.pid)
    os.kill(worker.pid, signal.SIGKILL)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    worker.wait(timeout=10)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
            found.extend(_children(int(entry)))
    return found
