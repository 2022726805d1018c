"""An organisation asks for ``monthly-finances`` instead of the transactions, and gets only that."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.unit.grants.conftest import auth_params, pkce
from vault.finance import overview

TXS = [
    {"account_iban": "NL91ABNA0417164300", "booking_date": "2026-02-25",
     "amount_cents": 310_000, "counterparty_name": "ACME BV", "remittance": "salaris feb"},
    {"account_iban": "NL91ABNA0417164300", "booking_date": "2026-03-01",
     "amount_cents": -95_000, "counterparty_name": "Woningcorporatie Eigen Haard"},
]


def test_a_kluis_records_grant_naming_monthly_finances_reads_the_summary_only(
        grants, make_vault, make_org):
    owner = make_vault({"bank-transaction": TXS})
    with owner.open() as vault:
        summary, _ = overview.derive_summary(vault)
    org = make_org()
    verifier, challenge = pkce()
    pushed = grants.push(org.client_id, auth_params(
        org, challenge, {"monthly-finances": ["period_start", "period_end", "months"]}))
    with owner.open() as vault:
        request = grants.bind(vault, {"request_uri": pushed.request_uri})
        decision = grants.approve(vault, owner.dek, request.id)
    code = parse_qs(urlsplit(decision.redirect_uri).query)["code"][0]
    token = grants.exchange(org.client_id, "authorization_code", {
        "code": code, "code_verifier": verifier, "redirect_uri": org.redirect_uri})

    read = grants.redeem(token["access_token"])
    [record] = read["records"]
    assert record["type"] == "monthly-finances" and record["id"] == summary.id
    assert set(record["data"]) == {"period_start", "period_end", "months"}
    assert record["data"]["months"][-2:] == [
        {"month": "2026-02", "income_cents": 310_000, "expenses_cents": 0, "net_cents": 310_000},
        {"month": "2026-03", "income_cents": 0, "expenses_cents": 95_000, "net_cents": -95_000}]
    # No transaction, counterparty or description reaches the organisation.
    assert "Eigen Haard" not in str(read) and "ACME" not in str(read)
    assert "salaris" not in str(read)
