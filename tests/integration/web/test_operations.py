"""Health, readiness, metrics and the request log, over real HTTP (one process)."""

from __future__ import annotations

import logging

import requests


def test_healthz_and_readyz_answer(live_server, settings):
    assert requests.get(live_server.url + "/healthz", timeout=30).json() == {"status": "ok"}
    ready = requests.get(live_server.url + "/readyz", timeout=30)
    assert ready.status_code == 200
    expected = {"redis": "ok", "instance_db": "ok"}
    if settings.database_url:  # KLUIS_TEST_BACKEND=postgresql: the vaults' database too
        expected["database"] = "ok"
    assert ready.json()["checks"] == expected


def test_readyz_says_which_dependency_is_down(live_server, settings):
    svc = live_server.app.extensions["kluis"]
    real = svc.redis
    svc.redis = type(real).from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        resp = requests.get(live_server.url + "/readyz", timeout=30)
    finally:
        svc.redis = real
    assert resp.status_code == 503
    assert resp.headers["Content-Type"] == "application/problem+json"
    body = resp.json()
    assert body["checks"]["instance_db"] == "ok" and body["checks"]["redis"] != "ok"


def test_metrics_count_requests_by_route_template_never_by_id(live_server, make_owner):
    owner = make_owner()
    record = owner.post("/api/v1/records", json={"type": "income", "data": {
        "year": 2025, "source": "ACME BV", "kind": "employment",
        "gross_amount_cents": 5_400_000}}).json()
    assert owner.get(f"/api/v1/records/{record['id']}").status_code == 200
    requests.get(live_server.url + "/no/such/path/owner0", timeout=30)
    text = requests.get(live_server.url + "/metrics", timeout=30).text
    assert 'route="/api/v1/records/<record_id>"' in text
    assert 'kluis_http_requests_total{method="GET",route="/api/v1/records/<record_id>",status="200"}' in text
    assert 'route="<unmatched>"' in text
    assert record["id"] not in text and owner.username not in text and owner.vault_id not in text
    assert "kluis_queue_jobs" in text and "kluis_redis_up 1.0" in text


def test_metrics_are_refused_through_a_proxy_without_the_token(live_server):
    resp = requests.get(live_server.url + "/metrics", timeout=30,
                        headers={"X-Forwarded-For": "203.0.113.9"})
    assert resp.status_code == 403


def test_the_request_log_names_templates_and_ids_of_requests_only(live_server, make_owner,
                                                                  caplog):
    owner = make_owner()
    record = owner.post("/api/v1/records", json={"type": "income", "data": {
        "year": 2025, "source": "ACME BV", "kind": "employment",
        "gross_amount_cents": 5_400_000}}).json()
    with caplog.at_level(logging.INFO, logger="kluis.requests"):
        resp = owner.get(f"/api/v1/records/{record['id']}?secret=s3cr3t",
                         headers={"X-Request-Id": "trace-42"})
        bad = owner.get("/api/v1/records", headers={"X-Request-Id": "bad id; with spaces"})
    assert resp.headers["X-Request-Id"] == "trace-42"
    assert bad.headers["X-Request-Id"] != "bad id; with spaces"
    lines = [r.getMessage() for r in caplog.records if r.name == "kluis.requests"]
    assert any(line.startswith("GET /api/v1/records/<record_id> 200 ") and "id=trace-42" in line
               for line in lines), lines
    joined = "\n".join(lines)
    assert record["id"] not in joined and "s3cr3t" not in joined and owner.token not in joined
