"""The consent page in a browser, phone and desktop width: two incomes, two documents; the
person shares one of each, sees end dates and warnings, then reads her receipt."""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from playwright.sync_api import expect
from pypdf import PdfReader

from tests.integration.grants.conftest import INCOME
from vault.grants.oauth import pkce_challenge

pytestmark = pytest.mark.e2e

REDIRECT = "https://dekern.example/oauth/callback"
INCOME_2024 = INCOME | {"year": 2024, "gross_amount_cents": 4_812_345, "source": "Oud BV"}
STATEMENT = b"%PDF-1.4 jaaropgave " + secrets.token_bytes(50_000)
PAYSLIP = b"%PDF-1.4 loonstrook " + secrets.token_bytes(3_000)


@pytest.mark.parametrize("width", [390, 1280])
def test_the_person_picks_one_income_and_one_document(page, live_server, make_owner, width):
    page.set_viewport_size({"width": width, "height": 900})
    base = live_server.url
    owner = make_owner()
    ids = {}
    for name, content, category in (("jaaropgave-2025.pdf", STATEMENT, "annual-statement"),
                                    ("loonstrook-maart.pdf", PAYSLIP, "payslip")):
        ids[name] = owner.post("/api/v1/documents", data={"category": category}, files={
            "file": (name, content, "application/pdf")}).json()["id"]
    for key, data in (("2024", INCOME_2024), ("2025", INCOME)):
        ids[key] = owner.post("/api/v1/records", json={"type": "income", "data": data}).json()["id"]
    reg = requests.post(f"{base}/oauth/register", timeout=30, json={
        "client_name": "Woonstichting De Kern", "client_uri": "https://dekern.example",
        "policy_uri": "https://dekern.example/privacy", "contacts": ["privacy@dekern.example"],
        "redirect_uris": [REDIRECT]}).json()
    auth = (reg["client_id"], reg["client_secret"])
    verifier = secrets.token_urlsafe(48)
    pushed = requests.post(f"{base}/oauth/par", auth=auth, timeout=30, data={
        "response_type": "code", "client_id": reg["client_id"], "redirect_uri": REDIRECT,
        "state": "s1", "code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256",
        "authorization_details": json.dumps([{
            "type": "kluis_records", "purpose": "rental-eligibility", "retention": "P400D",
            "duration": "P120D", "max_uses": 500,
            "purpose_description": "Toewijzing Kerkstraat 5",
            "records": [{"record_type": "income"},
                        {"record_type": "document", "categories": ["annual-statement"]},
                        {"record_type": "pension"}]}]),
    }).json()
    page.route("https://dekern.example/**", lambda route: route.fulfill(body="bedankt"))
    page.goto(pushed["link"])
    page.fill("#username", owner.username)
    page.fill("#password", owner.password)
    page.click("#login-submit")

    expect(page.locator("#unverified")).to_contain_text("domein niet geverifieerd")
    expect(page.locator("#policy")).to_have_attribute("href", "https://dekern.example/privacy")
    expect(page.locator("#contacts")).to_have_text("privacy@dekern.example")
    for warning in ("duration", "retention", "max_uses"):
        expect(page.locator(f'[data-warning="{warning}"]')).to_be_visible()
    expect(page.locator("#warnings")).to_contain_text("Toewijzing Kerkstraat 5")
    expect(page.locator("#access-end")).to_contain_text(re.compile(
        r"tot \d{1,2} (januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|"
        r"november|december) 20\d\d"))
    expect(page.locator("#retention")).to_contain_text("uiterlijk tot")
    expect(page.locator('[data-nothing="pension"]')).to_contain_text(
        "je hebt hier nog niets van; er wordt niets gedeeld".capitalize())
    # Newest first, each with its own values; only what matches the request is ticked.
    incomes = page.locator('fieldset[data-type="income"] li.record-choice')
    expect(incomes.nth(0)).to_contain_text("2025, ACME BV")
    expect(incomes.nth(1)).to_contain_text("EUR 48.123,45")
    expect(page.locator(f'[data-record="{ids["2025"]}"]')).to_be_checked()
    expect(page.locator(f'[data-record="{ids["loonstrook-maart.pdf"]}"]')).to_be_disabled()
    expect(page.locator(f'[data-record="{ids["jaaropgave-2025.pdf"]}"]')).to_be_checked()
    expect(page.locator('[data-later="income"]')).not_to_be_checked()
    # Measured once the stylesheet is in (the checks above can pass on the DOM before it is:
    # a loaded machine once measured the unstyled page, 668 px wide at 390).
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1

    page.uncheck(f'[data-record="{ids["2024"]}"]')
    page.click("#approve")
    expect(page.locator("#shared")).to_contain_text("2025, ACME BV")
    expect(page.locator("#shared")).not_to_contain_text("Oud BV")
    expect(page.locator("#approved-dates")).to_contain_text("uiterlijk tot")
    page.click("#continue")
    expect(page).to_have_url(re.compile(r"^https://dekern\.example/oauth/callback\?"))
    code = parse_qs(urlsplit(page.url).query)["code"][0]
    token = requests.post(f"{base}/oauth/token", auth=auth, timeout=30, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": verifier}).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    read = requests.get(f"{base}/api/v1/grant/records", headers=bearer, timeout=30)
    assert sorted(r["id"] for r in read.json()["records"]) == sorted(
        [ids["2025"], ids["jaaropgave-2025.pdf"]])
    assert "4812345" not in read.text and "loonstrook" not in read.text
    document = next(r for r in read.json()["records"] if r["type"] == "document")
    got = requests.get(document["download_url"], headers=bearer, timeout=30)
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(STATEMENT).digest()
    # A record added later is not shared: the "later" box stayed off.
    owner.post("/api/v1/records", json={"type": "income", "data": INCOME | {"year": 2026}})
    again = requests.get(f"{base}/api/v1/grant/records", headers=bearer, timeout=30).json()
    assert [r["id"] for r in again["records"] if r["type"] == "income"] == [ids["2025"]]

    page.goto(f"{base}/grants/{token['grant_id']}/receipt")
    expect(page.locator("#receipt-rows")).to_contain_text("Woonstichting De Kern")
    pdf = page.request.get(f"{base}/grants/{token['grant_id']}/receipt.pdf")
    assert pdf.status == 200
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
    flat = " ".join(text.split())
    for expected in ("Woonstichting De Kern", "Toewijzing Kerkstraat 5", "2025, ACME BV",
                     "jaaropgave-2025.pdf"):
        assert expected in flat, expected
    assert "Oud BV" not in flat
    assert len(re.findall(r"\d{1,2} (?:januari|februari|maart|april|mei|juni|juli|augustus|"
                          r"september|oktober|november|december) 20\d\d", flat)) >= 3

    # The grant's history: created, token collected, each read and the download, by whom.
    page.goto(f"{base}/grants/{token['grant_id']}")
    history = page.locator("#grant-history")
    expect(history.locator('tr[data-kind="created"]')).to_contain_text("jij")
    expect(history.locator('tr[data-kind="token-issued"]')).to_contain_text(
        "Woonstichting De Kern")
    expect(history.locator('tr[data-kind="read"]')).to_have_count(2)
    expect(history.locator('tr[data-kind="download"]')).to_contain_text(
        "Document jaaropgave-2025.pdf gedownload")
    expect(page.locator("#grant-what")).to_contain_text("2025, ACME BV")
    expect(page.locator("#grant-until")).to_contain_text("tot ")
    page.locator("button.revoke").click()
    page.goto(f"{base}/grants/{token['grant_id']}")
    expect(page.locator("#grant-until")).to_contain_text("ingetrokken op ")
    expect(page.locator('#grant-history tr[data-kind="revoked"]')).to_contain_text("jij")
