"""Grants the owner creates herself are record-level, like approved requests."""

from __future__ import annotations

import re

import requests

from tests.integration.grants.conftest import INCOME, ask
from tests.integration.grants.test_ui_pages import CSRF, signed_in
from vault.grants.organisations import PICKUP_GRANT_TYPE

INCOME_2024 = INCOME | {"year": 2024, "gross_amount_cents": 4_812_345}


def _two_incomes(owner) -> tuple[str, str]:
    ids = []
    for data in (INCOME_2024, INCOME):
        resp = owner.post("/api/v1/records", json={"type": "income", "data": data})
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["id"])
    return ids[0], ids[1]


def _read(base: str, org, pickup_code: str) -> tuple[str, list[dict]]:
    token = requests.post(f"{base}/oauth/token", auth=(org.client_id, org.client_secret),
                          data={"grant_type": PICKUP_GRANT_TYPE, "code": pickup_code},
                          timeout=30).json()
    return token["access_token"], _records(base, token["access_token"])


def _records(base: str, access: str) -> list[dict]:
    resp = requests.get(f"{base}/api/v1/grant/records", timeout=30,
                        headers={"Authorization": f"Bearer {access}"})
    assert resp.status_code == 200, resp.text
    return resp.json()["records"]


def test_the_owner_api_grant_shares_the_chosen_record_and_nothing_added_later(
        live_server, make_owner, register_org):
    owner, org = make_owner(), register_org()
    old, new = _two_incomes(owner)
    wrong = owner.post("/api/v1/grants", json={
        "client_id": org.client_id, "authorization_details": ask({"income": None}),
        "records": [{"record_type": "income", "record_ids": ["nope"]}]})
    assert wrong.status_code == 422 and "records.0.record_ids" in wrong.json()["errors"]
    assert owner.get("/api/v1/grants").json()["grants"] == []

    made = owner.post("/api/v1/grants", json={
        "client_id": org.client_id, "authorization_details": ask({"income": None}),
        "records": [{"record_type": "income", "record_ids": [new],
                     "fields": ["year", "gross_amount_cents"]}]})
    assert made.status_code == 201, made.text
    grant = made.json()["grant"]
    assert grant["record_ids"] == {"income": [new]} and grant["include_later"] == []
    access, records = _read(live_server.url, org, made.json()["pickup_code"])
    assert [(r["id"], r["data"]) for r in records] == [
        (new, {"year": 2025, "gross_amount_cents": 5_400_000})]
    owner.post("/api/v1/records", json={"type": "income", "data": INCOME | {"year": 2026}})
    assert [r["id"] for r in _records(live_server.url, access)] == [new]
    assert old not in str(records)


def test_without_a_choice_the_owner_grant_is_bound_to_the_records_held_now(
        live_server, make_owner, register_org):
    owner, org = make_owner(), register_org()
    old, new = _two_incomes(owner)
    made = owner.post("/api/v1/grants", json={
        "client_id": org.client_id,
        "authorization_details": ask({"income": None})})
    assert made.status_code == 201, made.text
    assert sorted(made.json()["grant"]["record_ids"]["income"]) == sorted([old, new])
    access, records = _read(live_server.url, org, made.json()["pickup_code"])
    owner.post("/api/v1/records", json={"type": "income", "data": INCOME | {"year": 2026}})
    assert sorted(r["id"] for r in _records(live_server.url, access)) == sorted([old, new])


def test_the_owner_grant_form_picks_records_and_later_is_off_by_default(
        live_server, make_owner, register_org):
    base = live_server.url
    owner, org = make_owner(), register_org()
    _old, new = _two_incomes(owner)
    http = signed_in(base, owner)
    page = http.get(f"{base}/grants/new", timeout=30).text
    assert f'name="record:income" value="{new}">' in page  # listed, not ticked
    assert 'name="later:income" value="1">' in page  # "later" not ticked
    assert "2025, ACME BV" in page
    resp = http.post(f"{base}/grants/new", timeout=30, data={
        "csrf_token": CSRF.search(page).group(1), "client_id": org.client_id,
        "purpose": "income-verification", "days": "10", "retention": "30",
        "field:income": ["year", "gross_amount_cents"], "pick:income": "1",
        "record:income": [new], "pick:person": "1"})
    assert resp.status_code == 200, resp.text
    code = re.search(r'id="pickup-code">([^<]+)<', resp.text).group(1)
    grant = owner.get("/api/v1/grants").json()["grants"][0]
    assert grant["record_ids"] == {"income": [new]} and grant["include_later"] == []
    access, records = _read(base, org, code)
    assert [r["id"] for r in records] == [new]

    # Ticking only "later" for a type shares none held now, and those added later.
    page = http.get(f"{base}/grants/new", timeout=30).text
    resp = http.post(f"{base}/grants/new", timeout=30, data={
        "csrf_token": CSRF.search(page).group(1), "client_id": org.client_id,
        "purpose": "income-verification", "days": "10", "retention": "30",
        "field:income": ["year"], "pick:income": "1", "later:income": "1"})
    assert resp.status_code == 200, resp.text
    code = re.search(r'id="pickup-code">([^<]+)<', resp.text).group(1)
    access, records = _read(base, org, code)
    assert records == []
    added = owner.post("/api/v1/records", json={"type": "income",
                                                "data": INCOME | {"year": 2026}}).json()["id"]
    assert [r["id"] for r in _records(base, access)] == [added]
