"""Request bounds over real HTTP: nested JSON, members, chunked bodies, 405 with Allow."""

from __future__ import annotations

import json

import pytest
import requests

DEEP = "[" * 1000 + "]" * 1000  # about six kilobytes: a RecursionError in the parser before


@pytest.mark.parametrize("path", ["/api/v1/verify", "/api/v1/accounts", "/oauth/register"])
def test_deeply_nested_json_gets_a_400_problem_unauthenticated(live_server, path):
    resp = requests.post(live_server.url + path, data=DEEP, timeout=30,
                         headers={"Content-Type": "application/json"})
    assert resp.status_code == 400, resp.text
    assert resp.headers["Content-Type"].startswith("application/problem+json") or \
        resp.headers["Content-Type"].startswith("application/json")
    assert resp.json()["type"] == "urn:kluis:problem:json-too-deep"


def test_deeply_nested_record_data_changes_nothing(live_server, make_owner):
    owner = make_owner()
    body = '{"type": "income", "data": ' + "{\"a\": " * 200 + "1" + "}" * 200 + "}"
    resp = owner.post("/api/v1/records", data=body, headers={"Content-Type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["type"] == "urn:kluis:problem:json-too-deep"
    assert owner.get("/api/v1/records").json()["records"] == []


def test_a_json_body_with_too_many_members_is_413(live_server):
    body = "[" + ",".join(["0"] * 250_000) + "]"  # 500 kB: below the body limit
    resp = requests.post(live_server.url + "/api/v1/accounts", data=body, timeout=30,
                         headers={"Content-Type": "application/json"})
    assert resp.status_code == 413
    assert resp.json()["type"] == "urn:kluis:problem:json-too-many-members"


def _chunked(total: int, head: bytes = b'{"type": "income", "data": {"note": "'):
    """A JSON-looking body of ``total`` bytes, sent without Content-Length."""
    yield head
    sent = len(head)
    block = b"x" * 65536
    while sent < total:
        yield block
        sent += len(block)
    yield b'"}}'


def test_a_chunked_body_over_the_body_limit_is_refused_and_nothing_is_written(live_server,
                                                                             make_owner):
    owner = make_owner()
    resp = owner.post("/api/v1/records", data=_chunked(3 * 1024 * 1024),
                      headers={"Content-Type": "application/json"})
    assert resp.status_code == 413, resp.text[:200]
    assert owner.get("/api/v1/records").json()["records"] == []


def test_a_chunked_body_over_the_upload_limit_is_refused_by_verify(live_server, settings):
    limit = settings.max_upload_bytes
    resp = requests.post(live_server.url + "/api/v1/verify", timeout=60,
                         data=_chunked(limit + 1024 * 1024, b'{"bundle": "'),
                         headers={"Content-Type": "application/json"})
    assert resp.status_code == 413


def test_a_small_endpoint_limit_holds_for_chunked_bodies(live_server, make_owner):
    owner = make_owner()  # POST /api/v1/requests takes at most 64 KiB
    resp = owner.post("/api/v1/requests", data=_chunked(200 * 1024, b'{"request_uri": "'),
                      headers={"Content-Type": "application/json"})
    assert resp.status_code == 413


def test_a_405_says_which_methods_the_path_takes(live_server):
    resp = requests.delete(live_server.url + "/api/v1/record-types", timeout=30)
    assert resp.status_code == 405
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
    assert resp.headers["Content-Type"] == "application/problem+json"
    body = resp.json()
    assert body["status"] == 405 and json.dumps(body)
