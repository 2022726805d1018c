"""The organisation portal in a browser (issue 17): two Kluis instances and one portal on
loopback. An admin invites a caseworker; the caseworker asks with the rental template; the
applicant, whose vault is on the second instance, opens the short link on a phone, picks that
instance, shares one income of two and her annual statement; the caseworker sees exactly those
values and downloads the document; the applicant revokes and the dossier says "ingetrokken",
its data is gone and her grant page shows the deletion statement."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.integration.portal.conftest import (  # noqa: F401 - fixtures
    INCOME_2024,
    INCOME_2025,
    make_instance,
    make_portal,
)
from tests.integration.portal.test_flow import STATEMENT
from vault.accounts.totp import current_code
from vault.portal import staff

pytestmark = pytest.mark.e2e


def _accept(page, link: str, username: str, name: str) -> None:
    page.goto(link)
    secret = page.locator("#totp-secret").inner_text().strip()
    page.fill("#username", username)
    page.fill("#display_name", name)
    page.fill("#password", "een lange wachtzin voor het portaal")
    page.fill("#code", current_code(secret))
    page.click("#invite-submit")
    expect(page.locator("#logout")).to_contain_text(name)


def test_a_caseworker_asks_the_applicant_shares_revokes_and_the_data_is_deleted(
        browser, make_instance, make_portal, make_owner, start_worker,  # noqa: F811 - fixtures
        tmp_path: Path):
    first, second = make_instance("kluis-a"), make_instance("kluis-b")
    start_worker(second.settings)
    portal = make_portal([first.url, second.url])
    owner = make_owner(server=second)
    ids = {key: owner.post("/api/v1/records", json={"type": "income", "data": data}).json()["id"]
           for key, data in (("2024", INCOME_2024), ("2025", INCOME_2025))}
    ids["doc"] = owner.post("/api/v1/documents", data={"category": "annual-statement"}, files={
        "file": ("jaaropgave-2025.pdf", STATEMENT, "application/pdf")}).json()["id"]

    contexts = [browser.new_context(locale="nl-NL") for _ in range(2)]
    phone = browser.new_context(locale="nl-NL", viewport={"width": 390, "height": 844})
    try:
        admin, fatima = (c.new_page() for c in contexts)
        applicant = phone.new_page()
        for page in (admin, fatima, applicant):
            page.set_default_timeout(15_000)

        # The first admin comes from `kluis portal invite --role admin`; she invites Fatima.
        _accept(admin, f"{portal.url}/invite/{staff.create_invite(portal.store, 'admin')}",
                "beheer", "Beheer")
        admin.click("#nav-staff")
        admin.select_option("#role", "caseworker")
        admin.click("#invite")
        link = admin.locator("#invite-link").inner_text().strip()
        _accept(fatima, link, "fatima", "Fatima")
        expect(fatima.locator("#nav-staff")).to_have_count(0)

        fatima.click("#nav-new")
        fatima.select_option("#template", label="Huurwoning toewijzen")
        fatima.fill("#applicant_name", "A. de Vries")
        fatima.fill("#reference", "2026-0412")
        fatima.click("#create-request")
        expect(fatima.locator("#dossier-status")).to_have_attribute("data-status", "new")
        short = fatima.locator("#short-link").inner_text().strip()
        assert re.fullmatch(re.escape(portal.url) + r"/a/[a-z0-9]{10}", short)
        letter = fatima.request.get(portal.url + fatima.locator("#letter").get_attribute("href"))
        assert letter.status == 200 and letter.body()[:4] == b"%PDF"

        applicant.goto(short)
        expect(applicant.locator("#ask-title")).to_have_text(
            "Woonstichting De Kern vraagt je om gegevens")
        expect(applicant.locator("legend")).to_have_text("Waar staat je Kluis?")
        assert applicant.evaluate("document.documentElement.scrollWidth") <= 391
        applicant.check(f'[data-instance="{second.url}"]')
        applicant.click("#to-vault")
        applicant.wait_for_url(re.compile("^" + re.escape(second.url)))
        applicant.fill("#username", owner.username)
        applicant.fill("#password", owner.password)
        applicant.click("#login-submit")
        expect(applicant.locator(f'[data-record="{ids["2025"]}"]')).to_be_checked()
        applicant.uncheck(f'[data-record="{ids["2024"]}"]')
        expect(applicant.locator(f'[data-record="{ids["doc"]}"]')).to_be_checked()
        assert applicant.evaluate("document.documentElement.scrollWidth") <= 391
        applicant.click("#approve")
        applicant.click("#continue")
        expect(applicant.locator("#done")).to_have_attribute("data-status", "approved")

        fatima.reload()
        expect(fatima.locator("#dossier-status")).to_have_attribute("data-status", "approved")
        records = fatima.locator("#records")
        expect(records).to_contain_text("EUR 54.712,34")
        expect(records).to_contain_text("ACME BV")
        expect(records).not_to_contain_text("Oud BV")
        expect(fatima.locator('#records [data-type="income"]')).to_have_count(1)
        expect(fatima.locator("#receipt-verified")).to_have_attribute("data-verified", "1")
        with fatima.expect_download() as download:
            fatima.click(f'[data-download="{ids["doc"]}"]')
        saved = tmp_path / "jaaropgave.pdf"
        download.value.save_as(saved)
        assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(STATEMENT).digest()

        # The applicant revokes in her own vault; the webhook turns the dossier "ingetrokken".
        grant_id = portal.store.conn.execute("SELECT grant_id FROM dossiers").fetchone()[0]
        applicant.goto(f"{second.url}/grants/{grant_id}")
        applicant.locator("button.revoke").click()
        # The signed webhook (not the page's own status check) is what tells the portal.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not portal.store.conn.execute(
                "SELECT 1 FROM webhook_events WHERE type = 'grant.revoked'").fetchone():
            time.sleep(0.2)
        assert portal.store.conn.execute("SELECT status FROM dossiers").fetchone()[0] == \
            "revoked"
        fatima.reload()
        expect(fatima.locator("#dossier-status")).to_have_text("ingetrokken")
        expect(fatima.locator("#deleted-on")).to_be_visible(timeout=10_000)
        expect(fatima.locator("#records")).to_have_count(0)
        applicant.goto(f"{second.url}/grants/{grant_id}")
        expect(applicant.locator("body")).to_contain_text(
            "Woonstichting De Kern verklaarde op")

        admin.goto(f"{portal.url}/admin/audit")
        expect(admin.locator('#audit tr[data-action="dossier.viewed"]').first).to_contain_text(
            "Fatima")
        expect(admin.locator('#audit tr[data-action="document.downloaded"]')).to_contain_text(
            "jaaropgave-2025.pdf")
    finally:
        for context in (*contexts, phone):
            context.close()
