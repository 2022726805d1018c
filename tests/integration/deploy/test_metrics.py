"""/metrics under kluis serve (gunicorn, 2 workers) behind Caddy: the workers' counts add up,
and the proxy does not hand the metrics to the world."""

from __future__ import annotations

import re

import requests

from tests.integration.deploy.test_proxy import https


def _count(text: str, route: str) -> float:
    pattern = rf'kluis_http_requests_total{{method="GET",route="{re.escape(route)}",status="200"}} (\S+)'
    return sum(float(v) for v in re.findall(pattern, text))


def test_metrics_add_up_across_workers_and_stay_behind_the_proxy(proxied_kluis):
    direct = f"http://127.0.0.1:{proxied_kluis.gunicorn_port}"
    for _ in range(20):  # spread over both workers by gunicorn
        assert requests.get(direct + "/api/v1/purposes", timeout=30).status_code == 200
    text = requests.get(direct + "/metrics", timeout=30).text
    assert _count(text, "/api/v1/purposes") >= 20
    conn = https(proxied_kluis)
    conn.request("GET", "/metrics")
    assert conn.getresponse().status == 403
    conn.close()
    log = (proxied_kluis.home / "server.log").read_text()
    assert "GET /api/v1/purposes 200" in log
