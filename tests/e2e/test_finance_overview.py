"""In a real browser at 390 and 1280 px: the finance overview after a PSD2 refresh.

No horizontal scroll, the chart is an image with a name, the table holds the figures,
and recategorising through the form moves the payment to its new category.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.integration.connectors.conftest import add_connection, wait_state
from tests.standins.fixtures import psd2_standin  # noqa: F401
from tests.standins.psd2 import fix_iban

PSD2_IBAN = fix_iban("DE2310010010123456789")


def no_horizontal_scroll(page) -> bool:
    return page.evaluate(
        "() => document.documentElement.scrollWidth <= window.innerWidth"
        " && document.body.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", [390, 1280])
def test_finance_overview_fits_the_screen_and_recategorises(page, live_server, make_owner,
                                                            start_worker, psd2_standin,  # noqa: F811
                                                            width):
    page.set_viewport_size({"width": width, "height": 900})
    owner = make_owner()
    start_worker()
    connection = add_connection(owner, "psd2", {"base_url": psd2_standin.base_url,
                                                "iban": PSD2_IBAN})
    wait_state(owner, connection["id"], {"ok"})

    page.goto(f"{live_server.url}/login")
    page.fill("#username", owner.username)
    page.fill("#password", owner.password)
    page.click("#login-submit")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    if width < 768:  # on a phone the menu sits behind its button
        page.click("#menu-button")
    page.click("text=Financiën")
    expect(page).to_have_url(re.compile(r"/finance$"))

    expect(page.locator("h1")).to_have_text("Inkomsten en uitgaven")
    chart = page.locator('figure.finance-chart svg[role="img"]')
    expect(chart).to_be_visible()
    assert chart.evaluate("el => el.getBoundingClientRect().right <= window.innerWidth")
    october = page.locator('tr.month[data-month="2017-10"]')
    expect(october.locator("td.income")).to_have_text("EUR 343,01")
    expect(october.locator("td.expenses")).to_have_text("EUR 256,67")
    expect(october.locator("td.net")).to_have_text("EUR 86,34")
    assert no_horizontal_scroll(page)

    paul = page.locator("li.transaction", has_text="Paul Simpson")
    expect(paul).to_contain_text("25 oktober 2017")
    paul.locator("select").select_option("salary")
    paul.locator("button[type=submit]").click()
    expect(page.locator(".flash")).to_contain_text("Kluis onthoudt dit voor Paul Simpson")
    expect(page.locator('tr.category[data-category="salary"] td.income')).to_have_text(
        "EUR 343,01")
    expect(page.locator("li.transaction", has_text="Paul Simpson")).to_have_attribute(
        "data-category", "salary")
    assert no_horizontal_scroll(page)
