"""The owner takes a certified copy along and leaves: export pages in a real browser."""

from __future__ import annotations

import json
import re

import requests
from playwright.sync_api import expect


def test_download_certified_copies_then_delete_the_vault(page, live_server, make_owner,
                                                         tmp_path):
    owner = make_owner()
    assert owner.post("/api/v1/records", json={"type": "income", "data": {
        "year": 2025, "source": "Woonstichting Werk BV", "gross_amount_cents": 4_250_000}}
    ).status_code == 201
    page.goto(f"{live_server.url}/login")
    page.fill("#username", owner.username)
    page.fill("#password", owner.password)
    page.click("#login-submit")

    page.goto(f"{live_server.url}/portability/")
    page.select_option("select[name=format]", "json")
    with page.expect_download() as download_info:
        page.click("form[action$='/export'] button[type=submit]")
    bundle_path = tmp_path / "bundle.json"
    download_info.value.save_as(bundle_path)
    bundle = json.loads(bundle_path.read_text())
    verdict = requests.post(f"{live_server.url}/api/v1/verify", json=bundle, timeout=30).json()
    assert verdict["valid"] is True, verdict

    page.select_option("select[name=format]", "pdf")
    with page.expect_download() as download_info:
        page.click("form[action$='/export'] button[type=submit]")
    pdf_path = tmp_path / "bundle.pdf"
    download_info.value.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF-")

    page.goto(f"{live_server.url}/portability/delete")
    page.fill("input[name=confirm]", owner.username)
    page.fill("input[name=password]", owner.password)
    page.click("button.danger")
    expect(page.locator("h1")).to_be_visible()
    token = requests.post(f"{live_server.url}/api/v1/tokens", timeout=30, json={
        "username": owner.username, "password": owner.password})
    assert token.status_code == 401
    page.goto(f"{live_server.url}/dashboard")
    expect(page).to_have_url(re.compile(r"/login"))
