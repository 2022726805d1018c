"""The organisation's read (vault.web.grantread), a WSGI application mounted beneath Flask.

Its answers must read exactly as Flask's would: errors through the one problem mapping,
headers from the one list. ``GET /api/v1/grant`` is served by Flask for the same token,
so comparing the two paths' answers for the same failure compares the two stacks.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from vault.clock import set_clock
from vault.grants.service import Grants
from vault.storage import journal
from vault.web import grantread

URL = "/api/v1/grant/records"
FLASK_URL = "/api/v1/grant"  # the grant as the organisation sees it, served by Flask


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


def _get(live_server, path: str, token: str | None, params=None, **headers):
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(live_server.url + path, params=params, timeout=30,
                        headers={**auth, **headers})


def _headers(resp, *, skip=("date", "content-length", "x-request-id")) -> list[tuple[str, str]]:
    return sorted((k.lower(), v) for k, v in resp.headers.items() if k.lower() not in skip)


@pytest.mark.parametrize("params", [None, {"type": ["person", "income"]},
                                    {"purpose": "rental-eligibility", "type": "income"}])
def test_a_read_answers_with_flasks_headers(live_server, granted, frozen, reads, params):
    _owner, _org, token = granted({"income": None, "person": ["surname"]})
    read = _get(live_server, URL, token["access_token"], params)
    flask = _get(live_server, FLASK_URL, token["access_token"])
    assert read.status_code == flask.status_code == 200
    assert read.headers["Content-Type"] == "application/json"
    assert int(read.headers["Content-Length"]) == len(read.content)
    # Flask's session machinery adds Vary: Cookie; the read uses no cookie.
    assert _headers(read) == [h for h in _headers(flask) if h != ("vary", "Cookie")]
    assert "no-store" in read.headers["Cache-Control"]
    assert "Set-Cookie" not in read.headers
    body = read.json()
    assert {r["type"] for r in body["records"]} == (
        {"income"} if params and params.get("type") == "income" else {"income", "person"})
    assert reads == [token["access_token"]]  # once per request


def test_a_request_with_a_cookie_is_read_the_same(live_server, granted, frozen, reads):
    _owner, _org, token = granted({"income": None})
    plain = _get(live_server, URL, token["access_token"])
    cookie = _get(live_server, URL, token["access_token"], Cookie="analytics=none")
    assert plain.status_code == cookie.status_code == 200
    assert plain.content == cookie.content
    assert _headers(plain) == _headers(cookie)


@pytest.mark.parametrize("case", ["unknown-token", "wrong-purpose", "revoked"])
def test_a_failed_read_runs_once_and_answers_as_flask_does(live_server, granted, reads, case):
    owner, _org, token = granted()
    access = token["access_token"]
    params = None
    if case == "unknown-token":
        access = "kluis_gt_nonsense"
    elif case == "wrong-purpose":
        params = {"purpose": "credit-check"}
    else:
        assert owner.delete(f"/api/v1/grants/{token['grant_id']}").status_code == 200
    read = _get(live_server, URL, access, params)
    flask = _get(live_server, FLASK_URL, access, params)
    assert read.status_code == flask.status_code and read.status_code in (401, 403)
    assert read.headers["Content-Type"] == "application/problem+json"
    assert read.json() == flask.json()
    assert _headers(read) == [h for h in _headers(flask) if h != ("vary", "Cookie")]
    assert reads == [access]  # the failed read ran once and was not repeated


def test_a_type_outside_the_grant_is_insufficient_scope(live_server, granted, reads):
    _owner, _org, token = granted({"income": None})
    resp = _get(live_server, URL, token["access_token"], {"type": "person"})
    assert resp.status_code == 403
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert resp.json()["type"] == "urn:kluis:problem:insufficient-scope"
    assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="kluis", '
                                                       'error="insufficient_scope"')


def test_requests_without_a_read_get_plain_answers(live_server, granted, reads):
    _owner, _org, token = granted()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    resp = requests.get(live_server.url + URL, timeout=30)  # no token
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == 'Bearer realm="kluis"'
    assert resp.json()["type"] == "urn:kluis:problem:unauthorized"
    resp = requests.head(live_server.url + URL, headers=bearer, timeout=30)
    assert resp.status_code == 200 and resp.content == b""
    resp = requests.post(live_server.url + URL, headers=bearer, timeout=30)
    assert resp.status_code == 405
    assert resp.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert resp.headers["Content-Type"] == "application/problem+json"
    resp = requests.get(live_server.url + URL + "/more", headers=bearer, timeout=30)
    assert resp.status_code == 404
    assert reads == [token["access_token"]]  # only the HEAD read


def test_the_journal_is_merged_after_the_answer_is_sent(live_server, granted, monkeypatch):
    monkeypatch.setattr(journal, "MERGE_EVERY", 2)
    merged: list[int] = []
    original = Grants._merge_journal

    def merge(self, handle):
        try:
            return original(self, handle)
        finally:  # counted once it is done, so the owner's view below comes after it
            merged.append(len(merged))

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
    assert grantread.PATH == "/api/v1/grant/records"
