"""What an organisation can ask: where its request stands, and why a grant token is dead."""

from __future__ import annotations

import requests

from tests.integration.lifecycle.conftest import INCOME, VERIFIER, status


def _open(owner, pushed) -> dict:
    resp = owner.post("/api/v1/requests", json={"authorize_url": pushed["link"]})
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_a_pushed_request_moves_from_pending_to_approved(live_server, make_owner,
                                                         register_org, push):
    owner = make_owner()
    owner.post("/api/v1/records", json={"type": "income", "data": INCOME})
    org = register_org()
    pushed = push(org)
    resp = status(live_server.url, org, pushed["request_uri"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "pending"
    assert resp.json()["decided_at"] is None
    request = _open(owner, pushed)
    assert status(live_server.url, org, pushed["request_uri"]).json()["status"] == "pending"
    assert owner.post(f"/api/v1/requests/{request['id']}/approve",
                      json={}).status_code == 200
    body = status(live_server.url, org, pushed["request_uri"]).json()
    assert body["status"] == "approved"
    assert body["decided_at"] and body["opened_at"]


def test_a_refused_request_says_refused(live_server, make_owner, register_org, push):
    owner = make_owner()
    org = register_org()
    pushed = push(org)
    request = _open(owner, pushed)
    assert owner.post(f"/api/v1/requests/{request['id']}/deny").status_code == 200
    assert status(live_server.url, org, pushed["request_uri"]).json()["status"] == "refused"


def test_another_organisation_cannot_see_the_status(live_server, register_org, push):
    org, other = register_org(), register_org("Bank")
    pushed = push(org)
    assert status(live_server.url, other, pushed["request_uri"]).status_code == 404
    resp = requests.get(f"{live_server.url}/api/v1/requests/status",
                        params={"request_uri": pushed["request_uri"]}, timeout=30)
    assert resp.status_code == 401


def test_a_revoked_token_says_who_revoked_it(live_server, granted):
    owner, org, token = granted()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(f"{live_server.url}/api/v1/grant/records", headers=bearer,
                        timeout=30).status_code == 200
    assert owner.delete(f"/api/v1/grants/{token['grant_id']}").status_code == 200
    for path in ("/api/v1/grant/records", "/api/v1/grant"):
        resp = requests.get(live_server.url + path, headers=bearer, timeout=30)
        assert resp.status_code == 401
        challenge = resp.headers["WWW-Authenticate"]
        assert 'error="invalid_token"' in challenge
        assert "revoked by the person" in challenge
        assert resp.json()["reason"] == "revoked"
        assert resp.json()["revoked_by"] == "person"
    intro = requests.post(f"{live_server.url}/oauth/introspect", timeout=30,
                          auth=(org.client_id, org.client_secret),
                          data={"token": token["access_token"]})
    assert intro.json() == {"active": False}
    assert 'reason="revoked"' in intro.headers["Kluis-Inactive-Reason"]
    assert 'revoked_by="person"' in intro.headers["Kluis-Inactive-Reason"]


def test_a_token_revoked_by_its_organisation_says_so(live_server, granted):
    _owner, org, token = granted()
    assert requests.post(f"{live_server.url}/oauth/revoke", timeout=30,
                         auth=(org.client_id, org.client_secret),
                         data={"token": token["access_token"]}).status_code == 200
    resp = requests.get(f"{live_server.url}/api/v1/grant", timeout=30,
                        headers={"Authorization": f"Bearer {token['access_token']}"})
    assert resp.status_code == 401
    assert "revoked by the organisation" in resp.headers["WWW-Authenticate"]


def test_a_used_up_token_says_used_up(live_server, granted):
    _owner, _org, token = granted(max_uses=1)
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    url = f"{live_server.url}/api/v1/grant/records"
    assert requests.get(url, headers=bearer, timeout=30).status_code == 200
    resp = requests.get(url, headers=bearer, timeout=30)
    assert resp.status_code == 401
    assert "used up" in resp.headers["WWW-Authenticate"]
    assert resp.json()["reason"] == "used_up"


def test_an_expired_token_says_expired(live_server, granted, clock):
    _owner, _org, token = granted(duration="P1D")
    clock.advance(2 * 86400)
    resp = requests.get(f"{live_server.url}/api/v1/grant/records", timeout=30,
                        headers={"Authorization": f"Bearer {token['access_token']}"})
    assert resp.status_code == 401
    assert resp.json()["reason"] == "expired"
    assert "expired" in resp.headers["WWW-Authenticate"]
    assert VERIFIER
