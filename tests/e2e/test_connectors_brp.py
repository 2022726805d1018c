"""In a real browser: add the BRP source, watch the progress bar, refresh, see the records."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.standins.fixtures import API_KEY, BRP_BSN, brp_standin  # noqa: F401


def test_add_brp_watch_progress_and_see_person_and_household(page, live_server, make_owner,
                                                              start_worker, brp_standin):  # noqa: F811
    owner = make_owner()
    brp_standin.slow_seconds = 2
    brp_standin.misbehave("slow", times=2)  # slow enough to watch the bar move
    start_worker()
    page.goto(f"{live_server.url}/login")
    page.fill("#username", owner.username)
    page.fill("#password", owner.password)
    page.click("#login-submit")
    expect(page).to_have_url(re.compile(r"/dashboard$"))

    page.goto(f"{live_server.url}/connections")
    page.click("#add-brp")
    page.fill('input[name="options.base_url"]', brp_standin.base_url)
    page.fill('input[name="options.bsn"]', BRP_BSN)
    page.fill('input[name="credentials.api_key"]', API_KEY)
    page.click("#save-connection")
    expect(page).to_have_url(re.compile(r"/connections$"))

    row = page.locator("tr.connection")
    state = row.locator(".state")
    bar = row.locator("progress.refresh-progress")
    expect(state).to_have_attribute("data-state", "running", timeout=20_000)
    assert bar.evaluate("el => el.value < el.max")
    expect(state).to_have_attribute("data-state", "ok", timeout=30_000)
    expect(state).to_have_text("bijgewerkt")
    assert bar.evaluate("el => el.value === el.max && el.max > 0")
    expect(row.locator(".last-success")).not_to_have_text("nog nooit")

    # Refresh now: the bar runs again and completes.
    row.locator("button.refresh").click()
    expect(page).to_have_url(re.compile(r"/connections$"))
    state = page.locator("tr.connection .state")
    expect(state).to_have_attribute("data-state", "running", timeout=20_000)
    expect(state).to_have_attribute("data-state", "ok", timeout=30_000)

    page.goto(f"{live_server.url}/dashboard")
    identity = page.locator("#category-identity")
    expect(identity.locator("tr.record")).to_have_count(5)
    expect(identity).to_contain_text("Tina")
    expect(identity).to_contain_text("Tester")  # the partner

    page.goto(f"{live_server.url}/changes")
    summaries = page.locator(".change .summary")
    expect(summaries).to_have_count(2)
    expect(summaries.first).to_have_text("Niets veranderd.")  # the second refresh
    expect(summaries.last).to_contain_text("5 gegevens bijgewerkt: Persoon, Adres, Huisgenoot")
