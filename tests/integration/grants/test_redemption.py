"""Redemption over real HTTP: revocation under load, expiry with an injected clock, errors."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests

from tests.integration.grants.conftest import ask
from tests.integration.readers import reads_around
from vault.clock import from_iso, set_clock
from vault.grants.oauth import pkce_challenge


@pytest.fixture
def clock():
    yield lambda moment: set_clock(lambda: moment)
    set_clock(None)


def test_no_read_succeeds_after_the_revoke_call_returned(live_server, granted):
    owner, _org, token = granted()
    url = f"{live_server.url}/api/v1/grant/records"
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    resp, reads = reads_around(url, headers,
                               lambda: owner.delete(f"/api/v1/grants/{token['grant_id']}"))
    assert resp.status_code == 200 and resp.json()["status"] == "revoked"
    assert reads.errors == []
    assert 200 in reads.before
    assert reads.after and set(reads.after) == {401}
    # Every read served left one event; the owner's log shows them all (merged from the
    # vault's access journal when the owner opens the vault).
    log = owner.get(f"/api/v1/access-log?grant={token['grant_id']}&limit=1000").json()
    logged = [e for e in log["events"] if e["action"] == "grant.read"]
    assert len(logged) == reads.served
    assert sum(e["action"] == "grant.revoked" for e in log["events"]) == 1


def test_a_read_one_second_after_expiry_is_refused(live_server, granted, clock):
    _owner, _org, token = granted(duration="P1D")
    expires = from_iso(token["authorization_details"][0]["expires_at"])
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    url = f"{live_server.url}/api/v1/grant/records"
    clock(expires - timedelta(seconds=1))
    assert requests.get(url, headers=headers, timeout=30).status_code == 200
    clock(expires + timedelta(seconds=1))
    resp = requests.get(url, headers=headers, timeout=30)
    assert resp.status_code == 401
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


def test_bearer_errors_follow_rfc_6750(live_server, granted):
    _owner, _org, token = granted()
    url = f"{live_server.url}/api/v1/grant/records"
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == 'Bearer realm="kluis"'
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    resp = requests.get(url, params={"type": "person"}, headers=bearer, timeout=30)
    assert resp.status_code == 403
    assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]
    resp = requests.get(url, params={"purpose": "credit-check"}, headers=bearer, timeout=30)
    assert resp.status_code == 403
    resp = requests.get(url, headers={"Authorization": "Bearer kluis_gt_nonsense"}, timeout=30)
    assert resp.status_code == 401


def test_owner_revoke_all_needs_one_call_and_ends_every_grant(live_server, granted):
    owner, _org, token = granted()
    assert owner.post("/api/v1/grants/revoke-all").json() == {"revoked": 1}
    resp = requests.get(f"{live_server.url}/api/v1/grant",
                        headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=30)
    assert resp.status_code == 401


def test_the_owner_downloads_the_signed_receipt(live_server, granted):
    from vault.grants import receipts

    owner, _org, token = granted({"person": ["surname"]})
    document = owner.get(f"/api/v1/grants/{token['grant_id']}/receipt").json()
    jwks = requests.get(f"{live_server.url}/.well-known/jwks.json", timeout=30).json()["keys"]
    assert receipts.verify(document, jwks)["kluis"]["grant_id"] == token["grant_id"]


def test_bad_requests_are_clear_errors_to_the_organisation(live_server, register_org):
    org = register_org()
    base = live_server.url
    form = {"response_type": "code", "client_id": org.client_id, "redirect_uri": org.redirect_uri,
            "code_challenge": pkce_challenge("x" * 50), "code_challenge_method": "S256",
            "authorization_details": json.dumps(ask({"income": ["shoe_size"]}))}
    resp = requests.post(f"{base}/oauth/par", data=form, timeout=30,
                         auth=(org.client_id, org.client_secret))
    assert resp.status_code == 400
    body = resp.json()
    assert body["error"] == "invalid_authorization_details"
    assert "authorization_details.0.records.0.fields" in body["errors"]
    resp = requests.post(f"{base}/oauth/par", data=form, timeout=30,
                         auth=(org.client_id, "wrong"))
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    form["authorization_details"] = json.dumps(ask({"income": None}, purpose="marketing"))
    resp = requests.post(f"{base}/oauth/par", data=form, timeout=30,
                         auth=(org.client_id, org.client_secret))
    assert "authorization_details.0.purpose" in resp.json()["errors"]


def test_refusal_sends_access_denied_to_the_organisation(live_server, make_owner, register_org):
    owner, org = make_owner(), register_org()
    pushed = requests.post(f"{live_server.url}/oauth/par", timeout=30,
                           auth=(org.client_id, org.client_secret), data={
        "response_type": "code", "client_id": org.client_id, "redirect_uri": org.redirect_uri,
        "state": "st", "code_challenge": pkce_challenge("y" * 50),
        "code_challenge_method": "S256",
        "authorization_details": json.dumps(ask({"person": None}))}).json()
    bound = owner.post("/api/v1/requests", json={"request_uri": pushed["request_uri"]}).json()
    assert [r["id"] for r in owner.get("/api/v1/requests").json()["requests"]] == [bound["id"]]
    redirect = owner.post(f"/api/v1/requests/{bound['id']}/deny").json()["redirect_uri"]
    assert "error=access_denied" in redirect and "state=st" in redirect
    assert owner.post(f"/api/v1/requests/{bound['id']}/approve").status_code == 409


def test_registration_waits_for_the_operator_in_approval_mode(make_settings, make_live_server):
    from vault.app import create_app

    settings = make_settings("approval", org_registration="approval")
    app = create_app({"settings": settings, "TESTING": True})
    server = make_live_server(app)
    try:
        body = requests.post(f"{server.url}/oauth/register", timeout=30, json={
            "client_name": "Later BV", "client_uri": "https://later.example",
            "redirect_uris": ["https://later.example/cb"]}).json()
        assert body["kluis_status"] == "pending"
        resp = requests.post(f"{server.url}/oauth/par", timeout=30,
                             auth=(body["client_id"], body["client_secret"]),
                             data={"response_type": "code"})
        assert resp.status_code == 403 and resp.json()["error"] == "unauthorized_client"
    finally:
        app.extensions["kluis"].close()


def test_a_classic_authorize_url_can_be_pasted_and_approved(live_server, make_owner,
                                                           register_org):
    from urllib.parse import urlencode

    owner, org = make_owner(), register_org()
    verifier = "w" * 50
    query = urlencode({
        "response_type": "code", "client_id": org.client_id, "redirect_uri": org.redirect_uri,
        "state": "abc", "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
        "authorization_details": json.dumps(ask({"income": ["year"]}, purpose="credit-check"))})
    bound = owner.post("/api/v1/requests", json={
        "authorize_url": f"{live_server.url}/oauth/authorize?{query}"})
    assert bound.status_code == 201, bound.text
    assert bound.json()["purpose"] == "credit-check"
    redirect = owner.post(f"/api/v1/requests/{bound.json()['id']}/approve").json()["redirect_uri"]
    code = redirect.split("code=")[1].split("&")[0]
    token = requests.post(f"{live_server.url}/oauth/token", timeout=30,
                          auth=(org.client_id, org.client_secret),
                          data={"grant_type": "authorization_code", "code": code,
                                "code_verifier": verifier, "redirect_uri": org.redirect_uri})
    assert token.status_code == 200, token.text
    wrong = requests.post(f"{live_server.url}/oauth/token", timeout=30,
                          auth=(org.client_id, org.client_secret),
                          data={"grant_type": "authorization_code", "code": code,
                                "code_verifier": verifier})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
