"""Operations endpoints: liveness, readiness and Prometheus metrics (not in the OpenAPI document).

- ``GET /healthz``: the process answers (no dependency is checked).
- ``GET /readyz``: Redis and instance.db (or the instance tables) answer, and with
  ``KLUIS_DATABASE_URL`` the vaults' database; 503 problem+json naming what does not.
- ``GET /metrics``: the Prometheus exposition (:mod:`vault.web.observe`). With
  ``KLUIS_METRICS_TOKEN`` set it needs ``Authorization: Bearer <token>``; without, it answers
  only requests made straight to the server from loopback (not through the proxy, which adds
  ``X-Forwarded-For``).
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, jsonify, request

from vault.web.auth import bearer_token, services
from vault.web.observe import render_metrics
from vault.web.problems import Problem

bp = Blueprint("operations", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    svc = services()
    checks: dict[str, str] = {}
    try:
        svc.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report, never raise
        checks["redis"] = type(exc).__name__
    try:
        svc.instance.conn.execute("SELECT 1").fetchone()
        checks["instance_db"] = "ok"
    except Exception as exc:  # noqa: BLE001 - report, never raise
        checks["instance_db"] = type(exc).__name__
    if svc.instance.pg is not None:  # the vaults' pool (KLUIS_DATABASE_URL)
        try:
            with svc.instance.pg.connection() as conn:
                conn.execute("SELECT 1").fetchone()
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - report, never raise
            checks["database"] = type(exc).__name__
    if all(v == "ok" for v in checks.values()):
        return jsonify({"status": "ready", "checks": checks})
    raise Problem(503, "not-ready", "Not ready", "A dependency does not answer.", checks=checks)


def _may_scrape() -> bool:
    token = services().settings.metrics_token
    if token:
        given = bearer_token() or ""
        return hmac.compare_digest(given.encode(), token.encode())
    if "HTTP_X_FORWARDED_FOR" in request.environ or "HTTP_FORWARDED" in request.environ:
        return False
    try:
        return ipaddress.ip_address(request.environ.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@bp.get("/metrics")
def metrics() -> Response:
    if not _may_scrape():
        raise Problem(403, "forbidden", "Metrics are for the operator",
                      "Scrape from loopback, or send KLUIS_METRICS_TOKEN as a bearer token.")
    svc = services()
    names = [q.strip() for q in svc.settings.worker_queues.split(",") if q.strip()]
    body = render_metrics(lambda: [svc.queue(name) for name in names])
    return Response(body, mimetype="text/plain; version=0.0.4")
