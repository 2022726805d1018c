"""The owner opens an organisation's request link, checks the consent screen, approves, and
revokes from the overview with one click."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import expect

from tests.integration.grants.conftest import INCOME, PERSON
from vault.grants.oauth import pkce_challenge

pytestmark = pytest.mark.e2e

REDIRECT = "https://dekern.example/oauth/callback"


def test_request_link_consent_approve_then_one_click_revoke(page, live_server, make_owner):
    base = live_server.url
    owner = make_owner()
    for type_id, data in (("income", INCOME), ("person", PERSON)):
        assert owner.post("/api/v1/records", json={"type": type_id, "data": data}).status_code == 201
    reg = requests.post(f"{base}/oauth/register", timeout=30, json={
        "client_name": "Woonstichting De Kern", "client_uri": "https://dekern.example",
        "redirect_uris": [REDIRECT]}).json()
    auth = (reg["client_id"], reg["client_secret"])
    verifier = "v" * 20 + "erifier-0123456789-abcdefghijklmnop"
    pushed = requests.post(f"{base}/oauth/par", auth=auth, timeout=30, data={
        "response_type": "code", "client_id": reg["client_id"], "redirect_uri": REDIRECT,
        "state": "s1", "code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256",
        "authorization_details": json.dumps([{
            "type": "kluis_records", "purpose": "rental-eligibility", "retention": "P60D",
            "duration": "P30D",
            "records": [{"record_type": "income", "fields": ["year", "gross_amount_cents"]},
                        {"record_type": "person", "fields": ["surname", "bsn"]}]}]),
    }).json()

    # The organisation's callback is not a real site: answer it in the browser.
    page.route("https://dekern.example/**", lambda route: route.fulfill(body="bedankt"))

    page.goto(pushed["link"])
    # Logged out: the link leads to login, which returns to the request afterwards.
    expect(page).to_have_url(re.compile(r"/login\?next=/oauth/authorize"))
    page.fill("#username", owner.username)
    page.fill("#password", owner.password)
    page.click("#login-submit")

    expect(page.locator("#org-name")).to_contain_text("Woonstichting De Kern")
    expect(page.locator("#org-domain")).to_have_text("dekern.example")
    expect(page.locator("#purpose")).to_contain_text("huurwoning")
    expect(page.locator('[data-value="income.gross_amount_cents"]')).to_contain_text("EUR 54.000,00")
    expect(page.locator('[data-value="person.surname"]')).to_contain_text("de Vries")
    expect(page.locator('[data-value="person.bsn"]')).to_contain_text("111222333")
    expect(page.locator("#duration")).to_contain_text("30 dagen")

    page.uncheck('[data-field="person.bsn"]')
    page.click("#approve")
    # A confirmation page with what was shared, then a button back to the organisation.
    expect(page.locator("#shared")).to_contain_text("2025, ACME BV")
    page.click("#continue")
    expect(page).to_have_url(re.compile(r"^https://dekern\.example/oauth/callback\?"))
    query = parse_qs(urlsplit(page.url).query)
    assert query["state"] == ["s1"]

    token = requests.post(f"{base}/oauth/token", auth=auth, timeout=30, data={
        "grant_type": "authorization_code", "code": query["code"][0],
        "redirect_uri": REDIRECT, "code_verifier": verifier}).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    records = requests.get(f"{base}/api/v1/grant/records", headers=bearer, timeout=30).json()
    assert {r["type"]: r["data"] for r in records["records"]}["person"] == {"surname": "de Vries"}

    page.goto(f"{base}/grants")
    row = page.locator(f'#active-grants tr[data-grant="{token["grant_id"]}"]')
    expect(row).to_contain_text("Woonstichting De Kern")
    expect(row).to_contain_text("Inkomen (Jaar, Bruto bedrag)")  # labels, not field ids
    expect(row).to_contain_text("Persoon (Geslachtsnaam)")  # the BSN was unticked
    expect(row.locator("td").nth(5)).to_have_text("1")
    expect(page.locator("#revoke-note")).to_contain_text("niet terughalen")
    row.locator("button.revoke").click()
    expect(page.locator("#no-active")).to_be_visible()
    expect(page.locator(f'#past-grants tr[data-grant="{token["grant_id"]}"] .status')
           ).to_have_text("ingetrokken")
    resp = requests.get(f"{base}/api/v1/grant/records", headers=bearer, timeout=30)
    assert resp.status_code == 401
