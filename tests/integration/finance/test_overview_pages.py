"""The finance overview over HTTP: a PSD2 refresh against the stand-in, figures checked by hand.

The expected figures are computed here from the fixture's own transactions
(``transactionsExample1_RegularAccount_json`` of the Berlin Group 1.3.9 document),
not with vault.finance.
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal

import requests

from tests.integration.connectors.conftest import add_connection, records, wait_state
from tests.standins.psd2 import fix_iban

PSD2_IBAN = fix_iban("DE2310010010123456789")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(base: str, owner) -> requests.Session:
    http = requests.Session()
    token = CSRF.search(http.get(base + "/login", timeout=30).text).group(1)
    resp = http.post(base + "/login", data={"csrf_token": token, "username": owner.username,
                                            "password": owner.password}, timeout=30)
    assert resp.status_code == 200 and "/dashboard" in resp.url
    return http


def hand_computation(booked: list[dict]) -> dict[str, dict[str, int]]:
    """Per month: money in (a debtor paid the holder) and out (the holder paid a creditor)."""
    months: dict[str, dict[str, int]] = {}
    for tx in booked:
        cents = int(Decimal(tx["transactionAmount"]["amount"]) * 100)
        month = months.setdefault(tx["bookingDate"][:7], {"income": 0, "expenses": 0})
        if "debtorName" in tx:
            month["income"] += abs(cents)
        else:
            month["expenses"] += abs(cents)
    return months


def cells(html: str, month: str) -> dict[str, int]:
    row = re.search(rf'<tr class="month" data-month="{month}">(.*?)</tr>', html, re.S).group(1)
    return {k: int(v) for k, v in re.findall(r'class="num (\w+)" data-cents="(-?\d+)"', row)}


def categories(html: str) -> dict[str, tuple[int, int]]:
    table = re.search(r'id="finance-categories">(.*?)</table>', html, re.S).group(1)
    out = {}
    for cat, body in re.findall(r'data-category="(\w+)">(.*?)</tr>', table, re.S):
        amounts = [int(v) for v in re.findall(r'data-cents="(-?\d+)"', body)]
        out[cat] = (amounts[0], amounts[1])
    return out


def tx_categories(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-record="([^"]+)" data-category="(\w+)"', html))


def test_overview_figures_equal_a_hand_computation_and_learn_from_a_recategorisation(
        make_owner, start_worker, psd2_standin, live_server):
    # The stand-in serves the spec's example; this test adds a transaction to its own copy.
    psd2_standin.transactions = copy.deepcopy(psd2_standin.transactions)
    booked = psd2_standin.transactions["booked"]
    expected = hand_computation(booked)
    assert expected == {"2017-10": {"income": 34301, "expenses": 25667}}  # the fixture's two

    owner = make_owner()
    start_worker()
    connection = add_connection(owner, "psd2", {"base_url": psd2_standin.base_url,
                                                "iban": PSD2_IBAN})
    wait_state(owner, connection["id"], {"ok"})
    txs = records(owner, "bank-transaction")
    assert len(txs) == len(booked)
    http = login(live_server.url, owner)

    page = http.get(live_server.url + "/finance", timeout=30)
    assert page.status_code == 200
    html = page.text
    for month, figures in expected.items():
        assert cells(html, month) == {
            "income": figures["income"], "expenses": figures["expenses"],
            "net": figures["income"] - figures["expenses"],
            # The bank's closingBooked balance of 500.00 on 2017-10-25 includes that day.
            "balance": 50000}
    assert cells(html, "2017-09")["balance"] == 50000 - (34301 - 25667)
    assert len(re.findall(r'<tr class="month"', html)) == 12
    assert 'data-month="2016-11"' in html and 'data-month="2017-10"' in html
    assert "EUR 343,01" in html and "EUR 256,67" in html  # Dutch amounts
    assert "25 oktober 2017" in html  # Dutch dates
    assert 'role="img"' in html and "<title id=\"chart-title\">" in html
    assert "style=" not in html and "<script" not in html
    assert categories(html) == {"other": (34301, 25667)}

    # Recategorise Paul Simpson's payment (money in) as salary.
    paul = next(r for r in txs if r["data"].get("counterparty_name") == "Paul Simpson")
    csrf = CSRF.search(html).group(1)
    resp = http.post(f"{live_server.url}/finance/transactions/{paul['id']}/category",
                     data={"csrf_token": csrf, "category": "salary"}, timeout=30)
    assert resp.status_code == 200
    html = resp.text
    assert "Kluis onthoudt dit voor Paul Simpson" in html
    assert categories(html) == {"salary": (34301, 0), "other": (0, 25667)}
    assert cells(html, "2017-10")["income"] == 34301  # the totals stay the money that moved
    assert tx_categories(html)[paul["id"]] == "salary"

    # The bank books another payment from Paul Simpson; after the refresh it is salary too.
    booked.append({"transactionId": "1234570", "debtorName": "Paul Simpson",
                   "debtorAccount": {"iban": "NL76RABO0359400371"},
                   "transactionAmount": {"currency": "EUR", "amount": "343.01"},
                   "bookingDate": "2017-11-24", "valueDate": "2017-11-24",
                   "remittanceInformationUnstructured": "Example 4"})
    assert owner.post(f"/api/v1/connections/{connection['id']}/refresh").status_code == 202
    wait_state(owner, connection["id"], {"ok"})
    new = next(r for r in records(owner, "bank-transaction")
               if r["data"].get("transaction_id") == "1234570")
    html = http.get(live_server.url + "/finance", timeout=30).text
    assert tx_categories(html)[new["id"]] == "salary"
    assert categories(html) == {"salary": (2 * 34301, 0), "other": (0, 25667)}
    assert cells(html, "2017-11")["income"] == 34301
    assert 'data-month="2017-11"' in html and 'data-month="2016-11"' not in html

    # "Maak maandoverzicht": one monthly-finances record with the same figures.
    csrf = CSRF.search(html).group(1)
    resp = http.post(f"{live_server.url}/finance/summary", data={"csrf_token": csrf},
                     timeout=30)
    assert resp.status_code == 200 and "/records/" in resp.url
    [summary] = records(owner, "monthly-finances")
    by_month = {m["month"]: m for m in summary["data"]["months"]}
    assert by_month["2017-10"]["income_cents"] == 34301
    assert by_month["2017-10"]["expenses_cents"] == 25667
    assert by_month["2017-11"]["net_cents"] == 34301
    assert summary["provenance"]["source"] == "finance"
    http.close()


def test_the_pages_need_a_session_and_refuse_bad_input(make_owner, live_server):
    owner = make_owner()
    assert owner.get("/finance").status_code == 403  # an app token is not a page session
    http = login(live_server.url, owner)
    html = http.get(live_server.url + "/finance", timeout=30).text
    assert 'id="finance-empty"' in html
    csrf = CSRF.search(html).group(1)
    resp = http.post(f"{live_server.url}/finance/transactions/nope/category",
                     data={"csrf_token": csrf, "category": "salary"}, timeout=30)
    assert resp.status_code == 404
    resp = http.post(f"{live_server.url}/finance/summary", data={"csrf_token": csrf}, timeout=30)
    assert "Er zijn nog geen banktransacties om samen te vatten." in resp.text
    en = http.post(f"{live_server.url}/lang", data={"csrf_token": csrf, "lang": "en",
                                                    "next": "/finance"}, timeout=30)
    assert "Income and expenses" in en.text
    http.close()
