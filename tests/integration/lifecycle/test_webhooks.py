"""Signed webhooks: delivered by the real worker to a real receiver on loopback."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
import requests

from tests.integration.lifecycle.conftest import INCOME, ask
from tests.integration.lifecycle.receiver import InvalidSignature, start_receiver, verify


@pytest.fixture
def settings(make_settings):
    return make_settings(webhook_pump_seconds=0.3, webhook_retry_seconds="0.5")


@pytest.fixture
def receiver():
    server = start_receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _register(base: str, hooks: list[str]) -> dict:
    resp = requests.post(f"{base}/oauth/register", timeout=30, json={
        "client_name": "Woonstichting De Kern", "client_uri": "https://dekern.example",
        "redirect_uris": ["https://dekern.example/cb"],
        "token_endpoint_auth_method": "client_secret_basic", "kluis_webhook_uris": hooks})
    assert resp.status_code == 201, resp.text
    return resp.json()


def _grant_and_revoke(make_owner, org: dict) -> str:
    owner = make_owner()
    owner.post("/api/v1/records", json={"type": "income", "data": INCOME})
    made = owner.post("/api/v1/grants", json={"client_id": org["client_id"],
                                              "authorization_details": ask({"income": None})})
    assert made.status_code == 201, made.text
    grant_id = made.json()["grant"]["id"]
    assert owner.delete(f"/api/v1/grants/{grant_id}").status_code == 200
    assert owner.delete(f"/api/v1/grants/{grant_id}").status_code == 200  # again: no event
    return grant_id


def _wait(predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_revocation_delivers_one_signed_webhook(live_server, make_owner, start_worker,
                                                   receiver):
    org = _register(live_server.url, [receiver.url])
    start_worker()
    grant_id = _grant_and_revoke(make_owner, org)
    _wait(lambda: receiver.received)
    time.sleep(2)  # nothing else arrives
    assert len(receiver.received) == 1
    message = receiver.received[0]
    event = json.loads(message.body)
    assert event["type"] == "grant.revoked"
    assert event["grant_id"] == grant_id and event["client_id"] == org["client_id"]
    assert event["data"] == {"by": "person"}
    assert set(event) >= {"id", "type", "occurred_at", "client_id", "grant_id"}
    assert message.headers["kluis-event-id"] == event["id"]
    assert "income" not in message.body.decode() and "ACME" not in message.body.decode()
    jwks = requests.get(f"{live_server.url}/.well-known/jwks.json", timeout=30).json()["keys"]
    params = verify(message, jwks)
    assert params["keyid"].strip('"') in {k["kid"] for k in jwks}

    # The organisation sees the delivery.
    listed = requests.get(f"{live_server.url}/api/v1/webhooks/deliveries", timeout=30,
                          auth=(org["client_id"], org["client_secret"])).json()["deliveries"]
    assert [d["event"]["id"] for d in listed] == [event["id"]]
    assert listed[0]["status"] == "delivered" and listed[0]["tries"][0]["status_code"] == 200


def test_an_altered_body_fails_verification(live_server, make_owner, start_worker, receiver):
    org = _register(live_server.url, [receiver.url])
    start_worker()
    _grant_and_revoke(make_owner, org)
    _wait(lambda: receiver.received)
    jwks = requests.get(f"{live_server.url}/.well-known/jwks.json", timeout=30).json()["keys"]
    message = receiver.received[0]
    verify(message, jwks)
    altered = replace(message, body=message.body.replace(b'"person"', b'"organisation"'))
    with pytest.raises(AssertionError, match="digest"):
        verify(altered, jwks)
    # Even with a matching digest, the signature no longer covers it.
    import base64
    import hashlib
    digest = base64.b64encode(hashlib.sha256(altered.body).digest()).decode()
    forged = replace(altered, headers=altered.headers | {"content-digest": f"sha-256=:{digest}:"})
    with pytest.raises(InvalidSignature):
        verify(forged, jwks)


def test_a_receiver_answering_500_twice_gets_the_event_on_the_third_try(
        live_server, make_owner, start_worker, receiver):
    receiver.fail_first = 2
    org = _register(live_server.url, [receiver.url])
    start_worker()
    _grant_and_revoke(make_owner, org)
    _wait(lambda: receiver.received)
    assert receiver.answered[:3] == [500, 500, 200]
    listed = requests.get(f"{live_server.url}/api/v1/webhooks/deliveries", timeout=30,
                          auth=(org["client_id"], org["client_secret"])).json()["deliveries"]
    assert listed[0]["attempts"] == 3 and listed[0]["status"] == "delivered"
    assert [t["status_code"] for t in listed[0]["tries"]] == [500, 500, 200]
    ids = {json.loads(m.body)["id"] for m in receiver.received}
    assert len(ids) == 1


def test_webhook_endpoints_must_be_https_without_private_urls(make_settings, make_live_server):
    from vault.app import create_app

    app = create_app({"settings": make_settings("strict", allow_private_urls=False),
                      "TESTING": True})
    server = make_live_server(app)
    try:
        resp = requests.post(f"{server.url}/oauth/register", timeout=30, json={
            "client_name": "De Kern", "client_uri": "https://dekern.example",
            "redirect_uris": ["https://dekern.example/cb"],
            "kluis_webhook_uris": ["http://127.0.0.1:9/hook"]})
        assert resp.status_code == 400
        assert "kluis_webhook_uris.0" in resp.json()["errors"]
    finally:
        app.extensions["kluis"].close()


def test_rfc7592_reads_updates_rotates_and_deletes_a_registration(live_server, receiver):
    org = _register(live_server.url, [])
    uri, token = org["registration_client_uri"], org["registration_access_token"]
    assert uri == f"{live_server.url}/oauth/register/{org['client_id']}"
    bearer = {"Authorization": f"Bearer {token}"}
    read = requests.get(uri, headers=bearer, timeout=30)
    assert read.status_code == 200 and read.json()["client_id"] == org["client_id"]
    assert "client_secret" not in read.json()
    assert requests.get(uri, headers={"Authorization": "Bearer nope"},
                        timeout=30).status_code == 401
    meta = {k: read.json()[k] for k in ("client_name", "client_uri", "redirect_uris",
                                         "token_endpoint_auth_method")}
    updated = requests.put(uri, headers=bearer, timeout=30, json=meta | {
        "client_id": org["client_id"], "kluis_webhook_uris": [receiver.url],
        "kluis_rotate_secret": True})
    assert updated.status_code == 200, updated.text
    assert updated.json()["kluis_webhook_uris"] == [receiver.url]
    new_secret = updated.json()["client_secret"]
    assert new_secret != org["client_secret"]
    deliveries = f"{live_server.url}/api/v1/webhooks/deliveries"
    assert requests.get(deliveries, auth=(org["client_id"], org["client_secret"]),
                        timeout=30).status_code == 401
    assert requests.get(deliveries, auth=(org["client_id"], new_secret),
                        timeout=30).status_code == 200
    assert requests.delete(uri, headers=bearer, timeout=30).status_code == 204
    assert requests.get(uri, headers=bearer, timeout=30).status_code == 401
    assert requests.get(deliveries, auth=(org["client_id"], new_secret),
                        timeout=30).status_code in (401, 403)
