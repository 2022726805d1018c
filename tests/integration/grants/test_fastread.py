"""The organisation's read beneath Flask (vault.api.fastread), over real HTTP.

A request with any cookie goes through Flask's view, so the same request with and
without ``Cookie`` compares the two paths.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from vault.api import fastread
from vault.clock import set_clock
from vault.grants.service import Grants
from vault.storage import journal

URL = "/api/v1/grant/records"


@pytest.fixture
def frozen():
    moment = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    set_clock(lambda: moment)
    yield moment
    set_clock(None)


@pytest.fixture
def reads(monkeypatch):
    """How often the domain read ran."""
    calls: list[str] = []
    original = Grants.redeem_records

    def counted(self, token, **kw):
        calls.append(token)
        return original(self, token, **kw)

    monkeypatch.setattr(Grants, "redeem_records", counted)
    return calls


def _both(live_server, token: str | None, params=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    fast = requests.get(live_server.url + URL, params=params, headers=headers, timeout=30)
    flask = requests.get(live_server.url + URL, params=params, timeout=30,
                         headers={**headers, "Cookie": "analytics=none"})
    return fast, flask


def _headers(resp) -> list[tuple[str, str]]:
    return sorted((k.lower(), v) for k, v in resp.headers.items() if k.lower() != "date")


@pytest.mark.parametrize("params", [None, {"type": ["person", "income"]},
                                    {"purpose": "rental-eligibility", "type": "income"}])
def test_a_read_beneath_flask_answers_byte_for_byte_as_flask(live_server, granted, frozen,
                                                             reads, params):
    _owner, _org, token = granted({"income": None, "person": ["surname"]})
    fast, flask = _both(live_server, token["access_token"], params)
    assert fast.status_code == flask.status_code == 200
    assert fast.content == flask.content
    assert _headers(fast) == _headers(flask)
    assert "no-store" in fast.headers["Cache-Control"]
    assert "Set-Cookie" not in fast.headers
    assert reads == [token["access_token"]] * 2  # once per request, on either path


@pytest.mark.parametrize("case", ["unknown-token", "wrong-purpose", "type-not-granted",
                                  "revoked"])
def test_a_failed_read_runs_once_and_gets_flasks_error(live_server, granted, reads, case):
    owner, _org, token = granted()
    access = token["access_token"]
    params = None
    if case == "unknown-token":
        access = "kluis_gt_nonsense"
    elif case == "wrong-purpose":
        params = {"purpose": "credit-check"}
    elif case == "type-not-granted":
        params = {"type": "person"}
    else:
        assert owner.delete(f"/api/v1/grants/{token['grant_id']}").status_code == 200
    fast, flask = _both(live_server, access, params)
    assert fast.status_code == flask.status_code and fast.status_code in (401, 403)
    assert fast.headers["Content-Type"] == "application/problem+json"
    assert fast.json() == flask.json()
    assert _headers(fast) == _headers(flask)
    assert reads == [access, access]  # the failed fast read was not run again by Flask


def test_requests_it_does_not_serve_go_to_flask(live_server, granted, reads):
    _owner, _org, token = granted()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    resp = requests.get(live_server.url + URL, timeout=30)  # no token: Flask's 401
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == 'Bearer realm="kluis"'
    resp = requests.head(live_server.url + URL, headers=bearer, timeout=30)
    assert resp.status_code == 200 and resp.content == b""
    resp = requests.post(live_server.url + URL, headers=bearer, timeout=30)
    assert resp.status_code == 405
    assert reads == [token["access_token"]]  # only the HEAD read, through Flask's view


def test_the_journal_is_merged_after_the_answer_is_sent(live_server, granted, monkeypatch):
    monkeypatch.setattr(journal, "MERGE_EVERY", 2)
    merged: list[int] = []
    original = Grants._merge_journal

    def merge(self, handle):
        merged.append(len(merged))
        return original(self, handle)

    monkeypatch.setattr(Grants, "_merge_journal", merge)
    owner, _org, token = granted()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    for _ in range(2):
        assert requests.get(live_server.url + URL, headers=bearer, timeout=30).status_code == 200
    deadline = time.monotonic() + 10
    while not merged and time.monotonic() < deadline:  # the server closes after sending
        time.sleep(0.01)
    assert merged == [0]  # the second answer was closed: its merge ran
    log = owner.get(f"/api/v1/access-log?grant={token['grant_id']}").json()
    assert sum(e["action"] == "grant.read" for e in log["events"]) == 2


def test_the_path_is_the_contracted_one():
    assert fastread.PATH == "/api/v1/grant/records"
