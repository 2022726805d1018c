"""An owner in a real browser: sign up, log in, add a record, see it, log out."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_sign_up_log_in_add_record_and_log_out(page, live_server):
    base = live_server.url
    page.goto(f"{base}/signup")
    expect(page.locator("h1")).to_have_text("Maak je kluis aan")
    page.fill("#username", "annemarie")
    page.fill("#password", "mijn lange wachtzin 2026")
    page.fill("#password_repeat", "mijn lange wachtzin 2026")
    page.click("#signup-submit")
    code = page.locator("#recovery-code").inner_text()
    assert re.fullmatch(r"([0-9A-Z]{4}-){7}[0-9A-Z]{4}", code.strip())
    expect(page.locator("#print-code")).to_be_visible()  # print.js ran under the strict CSP
    page.check("#recovery-saved")  # "Heb je hem bewaard?"
    page.click("#recovery-continue")
    expect(page).to_have_url(re.compile(r"/dashboard$"))

    # log out and in again with the password
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.fill("#username", "annemarie")
    page.fill("#password", "mijn lange wachtzin 2026")
    page.click("#login-submit")
    expect(page).to_have_url(re.compile(r"/dashboard$"))

    # add an income record through the generated form
    page.click("text=+ Inkomen")
    page.fill("#field-year", "2025")
    page.fill("#field-source", "Woonstichting De Kern")
    page.fill("#field-gross_amount_cents", "42.500,00")
    page.click("#record-save")
    expect(page.locator(".card dl.fields").first).to_contain_text("EUR 42.500,00")

    page.goto(f"{base}/dashboard")
    row = page.locator("#category-finance tr.record")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("2025 Woonstichting De Kern")
    expect(row).to_contain_text("zelf ingevoerd")

    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto(f"{base}/dashboard")
    expect(page).to_have_url(re.compile(r"/login\?next=/dashboard$"))


def test_bad_form_input_shows_a_plain_message_and_saves_nothing(page, live_server, make_owner):
    owner = make_owner()
    page.goto(f"{live_server.url}/login")
    page.fill("#username", owner.username)
    page.fill("#password", owner.password)
    page.click("#login-submit")
    page.goto(f"{live_server.url}/records/new/person")
    page.fill("#field-given_names", "Jan")
    page.fill("#field-surname", "Jansen")
    page.fill("#field-bsn", "123456789")
    page.click("#record-save")
    expect(page.locator(".flash.error")).to_contain_text("Controleer de gemarkeerde velden")
    expect(page.locator("label.invalid")).to_contain_text("BSN")
    assert owner.get("/api/v1/records").json()["records"] == []


def test_upload_a_salary_statement_and_attach_the_income_it_proves(page, live_server,
                                                                    make_owner, tmp_path):
    owner = make_owner()
    page.goto(f"{live_server.url}/login")
    page.fill("#username", owner.username)
    page.fill("#password", owner.password)
    page.click("#login-submit")
    statement = tmp_path / "jaaropgave-2025.pdf"
    statement.write_bytes(b"%PDF-1.4\n% jaaropgave 2025\n")
    page.goto(f"{live_server.url}/documents/upload")
    page.set_input_files("#file", str(statement))
    page.click("#upload-submit")
    expect(page.locator("h1")).to_have_text("Document")
    page.click("a.cite:has-text('Inkomen')")
    expect(page.locator("#field-document_sha256 option:checked")).to_have_text(
        "jaaropgave-2025.pdf")
    page.fill("#field-year", "2025")
    page.fill("#field-source", "Gemeente Utrecht")
    page.fill("#field-gross_amount_cents", "48.000")
    page.click("#record-save")
    expect(page.locator(".card dl.fields").first).to_contain_text("jaaropgave-2025.pdf")
    income = owner.get("/api/v1/records", params={"type": "income"}).json()["records"][0]
    assert income["provenance"]["evidence"]["document_sha256"] == income["data"]["document_sha256"]
