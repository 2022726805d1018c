"""grant.narrowed and records.updated: the owner narrows a grant, a granted record changes;
the organisation is told by signed webhook, delivered by the real worker to a real receiver."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.integration.grants.test_ui_pages import CSRF, signed_in
from tests.integration.lifecycle.conftest import INCOME, ask
from tests.integration.lifecycle.receiver import start_receiver, verify
from tests.integration.lifecycle.test_webhooks import _register, _wait
from tests.standins.fixtures import brp_standin  # noqa: F401 - fixture
from vault.grants.organisations import PICKUP_GRANT_TYPE

INCOME_2024 = INCOME | {"year": 2024, "gross_amount_cents": 4_812_345}


@pytest.fixture
def settings(make_settings):
    return make_settings(webhook_pump_seconds=0.3, webhook_retry_seconds="0.5")


@pytest.fixture
def receiver():
    server = start_receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _granted_two_incomes(base: str, make_owner, org: dict):
    owner = make_owner()
    ids = [owner.post("/api/v1/records", json={"type": "income", "data": d}).json()["id"]
           for d in (INCOME_2024, INCOME)]
    made = owner.post("/api/v1/grants", json={
        "client_id": org["client_id"], "authorization_details": ask({"income": None}),
        "records": [{"record_type": "income", "record_ids": ids}]})
    assert made.status_code == 201, made.text
    token = requests.post(f"{base}/oauth/token", timeout=30,
                          auth=(org["client_id"], org["client_secret"]),
                          data={"grant_type": PICKUP_GRANT_TYPE,
                                "code": made.json()["pickup_code"]}).json()
    return owner, ids, made.json()["grant"]["id"], token["access_token"]


def _read(base: str, access: str) -> requests.Response:
    return requests.get(f"{base}/api/v1/grant/records", timeout=30,
                        headers={"Authorization": f"Bearer {access}"})


def _events(receiver, kind: str) -> list[dict]:
    return [json.loads(m.body) for m in receiver.received if json.loads(m.body)["type"] == kind]


def test_narrowing_a_grant_reads_less_at_once_and_delivers_grant_narrowed(
        live_server, make_owner, start_worker, receiver):
    base = live_server.url
    org = _register(base, [receiver.url])
    start_worker()
    owner, (old, new), grant_id, access = _granted_two_incomes(base, make_owner, org)
    assert sorted(r["id"] for r in _read(base, access).json()["records"]) == sorted([old, new])

    more = owner.post(f"/api/v1/grants/{grant_id}/narrow", json={"records": [
        {"record_type": "income", "record_ids": [new], "fields": ["year", "net_amount_cents"],
         "include_later": True}]})
    assert more.status_code == 422 and "records.0.include_later" in more.json()["errors"]
    nothing = owner.post(f"/api/v1/grants/{grant_id}/narrow", json={"records": []})
    assert nothing.status_code == 422
    narrowed = owner.post(f"/api/v1/grants/{grant_id}/narrow", json={"records": [
        {"record_type": "income", "record_ids": [new], "fields": ["year"]}]})
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["status"] == "active"
    assert narrowed.json()["record_ids"] == {"income": [new]}
    assert narrowed.json()["records"] == {"income": ["year"]}

    # The same token, at once (the web worker had the grant cached): only what is left.
    read = _read(base, access)
    assert read.status_code == 200
    assert [(r["id"], r["data"]) for r in read.json()["records"]] == [(new, {"year": 2025})]
    assert "4812345" not in read.text and "5400000" not in read.text
    introspected = requests.post(f"{base}/oauth/introspect", timeout=30,
                                 auth=(org["client_id"], org["client_secret"]),
                                 data={"token": access}).json()
    assert introspected["active"] is True
    assert introspected["authorization_details"][0]["records"][0]["record_ids"] == [new]

    _wait(lambda: _events(receiver, "grant.narrowed"))
    time.sleep(1.5)
    [event] = _events(receiver, "grant.narrowed")
    assert event["grant_id"] == grant_id and event["client_id"] == org["client_id"]
    [entry] = event["data"]["authorization_details"][0]["records"]
    assert entry == {"record_type": "income", "fields": ["year"], "record_ids": [new],
                     "include_later": False}
    message = next(m for m in receiver.received if json.loads(m.body)["id"] == event["id"])
    jwks = requests.get(f"{base}/.well-known/jwks.json", timeout=30).json()["keys"]
    verify(message, jwks)
    assert b"ACME" not in message.body and b"5400000" not in message.body

    # The owner's log and grant page say so; the receipt now says what is left.
    events = owner.get("/api/v1/events").json()["events"]
    logged = [e for e in events if e["action"] == "grant.narrowed"]
    assert len(logged) == 1 and logged[0]["detail"]["removed"]["record_ids"] == {
        "income": [old]}
    page = signed_in(base, owner).get(f"{base}/grants/{grant_id}", timeout=30).text
    assert "Kleiner gemaakt: 1 gegeven(s) niet meer gedeeld" in page
    receipt = requests.get(f"{base}/api/v1/grant/receipt", timeout=30,
                           headers={"Authorization": f"Bearer {access}"}).json()
    from vault.grants import receipts

    payload = receipts.payload_of(receipt)
    assert payload["consentRecord"]["piiCategories"][0]["recordIds"] == [new]


def test_the_grant_page_narrows_with_its_form(live_server, make_owner, receiver):
    base = live_server.url
    org = _register(base, [])
    owner, (old, new), grant_id, access = _granted_two_incomes(base, make_owner, org)
    http = signed_in(base, owner)
    page = http.get(f"{base}/grants/{grant_id}", timeout=30).text
    assert 'id="narrow-form"' in page
    assert f'name="record:income" value="{old}" checked' in page
    resp = http.post(f"{base}/grants/{grant_id}/narrow", timeout=30, data={
        "csrf_token": CSRF.search(page).group(1), "field:income": ["year", "source"],
        "record:income": [old]})
    assert resp.status_code == 200 and "De toestemming is kleiner gemaakt." in resp.text
    assert f'name="record:income" value="{new}"' not in resp.text
    assert [(r["id"], r["data"]) for r in _read(base, access).json()["records"]] == [
        (old, {"year": 2024, "source": "ACME BV"})]
    refused = http.post(f"{base}/grants/{grant_id}/narrow", timeout=30, data={
        "csrf_token": CSRF.search(resp.text).group(1), "field:income": ["year"],
        "record:income": [new]})
    assert 'class="flash error"' in refused.text
    assert [r["id"] for r in _read(base, access).json()["records"]] == [old]


def test_a_granted_record_updated_delivers_one_records_updated_per_grant(
        live_server, make_owner, start_worker, receiver):
    base = live_server.url
    org = _register(base, [receiver.url])
    start_worker()
    owner, (old, new), grant_id, access = _granted_two_incomes(base, make_owner, org)
    narrowed = owner.post(f"/api/v1/grants/{grant_id}/narrow", json={"records": [
        {"record_type": "income", "record_ids": [new]}]})
    assert narrowed.status_code == 200
    # Not granted any more: its update tells nobody. Granted: one event, no contents.
    assert owner.put(f"/api/v1/records/{old}",
                     json={"data": INCOME_2024 | {"net_amount_cents": 1}}).status_code == 200
    assert owner.put(f"/api/v1/records/{new}",
                     json={"data": INCOME | {"net_amount_cents": 4_111_111}}).status_code == 200
    _wait(lambda: _events(receiver, "records.updated"))
    time.sleep(1.5)
    [event] = _events(receiver, "records.updated")
    assert event["grant_id"] == grant_id and event["data"] == {"record_ids": {"income": [new]}}
    body = next(m.body for m in receiver.received if json.loads(m.body)["id"] == event["id"])
    assert b"4111111" not in body and b"ACME" not in body
    # A revoked grant hears of nothing more.
    owner.delete(f"/api/v1/grants/{grant_id}")
    owner.put(f"/api/v1/records/{new}", json={"data": INCOME})
    time.sleep(1.5)
    assert len(_events(receiver, "records.updated")) == 1


def test_a_connector_refresh_of_granted_records_delivers_records_updated(
        live_server, make_owner, start_worker, receiver, request):
    from tests.integration.connectors.conftest import add_connection, records, wait_state
    from tests.standins.fixtures import API_KEY, BRP_BSN

    brp = request.getfixturevalue("brp_standin")

    base = live_server.url
    org = _register(base, [receiver.url])
    start_worker()
    owner = make_owner()
    # Household members she will have: "also records I add later" ticked, none held yet.
    made = owner.post("/api/v1/grants", json={
        "client_id": org["client_id"], "authorization_details": ask({"household-member": None}),
        "records": [{"record_type": "household-member", "record_ids": [],
                     "include_later": True}]})
    assert made.status_code == 201, made.text
    connection = add_connection(owner, "brp", {"base_url": brp.base_url,
                                               "bsn": BRP_BSN}, {"api_key": API_KEY})
    wait_state(owner, connection["id"], {"ok"})
    members = records(owner, "household-member")  # the owner's open merges the refresh
    assert len(members) == 3
    _wait(lambda: _events(receiver, "records.updated"))
    time.sleep(1.5)
    [event] = _events(receiver, "records.updated")  # one batch: one event
    assert event["grant_id"] == made.json()["grant"]["id"]
    assert sorted(event["data"]["record_ids"]["household-member"]) == sorted(
        m["id"] for m in members)
    body = next(m.body for m in receiver.received if json.loads(m.body)["id"] == event["id"])
    for member in members:
        assert member["data"]["surname"].encode() not in body
