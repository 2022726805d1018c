from __future__ import annotations

import time

import pytest

from tests.standins.fixtures import brp_standin, psd2_standin, woz_standin  # noqa: F401


@pytest.fixture
def settings(make_settings):
    """Fast retries and short source timeouts, so failure paths finish within a test."""
    return make_settings(connector_retry_base_seconds=1, connector_max_attempts=3,
                         connector_timeout_seconds=2)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting; last value {last!r}")


def wait_state(owner, connection_id: str, states: set[str], timeout: float = 30.0) -> dict:
    def check():
        body = owner.get(f"/api/v1/connections/{connection_id}").json()
        return body if body["state"] in states else None

    return wait_for(check, timeout)


def add_connection(owner, connector: str, options: dict, credentials: dict | None = None) -> dict:
    resp = owner.post("/api/v1/connections", json={
        "connector": connector, "options": options, "credentials": credentials or {}})
    assert resp.status_code == 201, resp.text
    return resp.json()


def records(owner, type_id: str | None = None) -> list[dict]:
    """Opening the vault (any owner request that reads it) merges the inbox first."""
    params = {"type": type_id} if type_id else None
    resp = owner.get("/api/v1/records", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()["records"]
