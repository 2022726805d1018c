"""The monthly computation: window, income, expenses, net, month-end balance, declared income."""

from __future__ import annotations

from datetime import date

from vault.finance.models import AccountBalance, Transaction
from vault.finance.months import compute, declared_income, month_end, shift_month, window

IBAN = "NL91ABNA0417164300"


def tx(day: str, cents: int, category: str = "other", *, currency: str = "EUR",
       iban: str = IBAN, rid: str | None = None) -> Transaction:
    return Transaction(rid or f"{day}{cents}", iban, date.fromisoformat(day), cents,
                       currency=currency, category=category)


def test_month_arithmetic():
    assert shift_month("2026-01", -1) == "2025-12"
    assert shift_month("2025-12", 1) == "2026-01"
    assert month_end("2024-02") == date(2024, 2, 29)
    assert window("2026-03") == ["2025-04", "2025-05", "2025-06", "2025-07", "2025-08",
                                 "2025-09", "2025-10", "2025-11", "2025-12", "2026-01",
                                 "2026-02", "2026-03"]


def test_income_expenses_and_net_per_month_in_cents():
    result = compute([
        tx("2026-03-01", 250_000, "salary"), tx("2026-03-02", -95_000, "housing"),
        tx("2026-03-15", -4_312, "groceries"), tx("2026-02-25", 250_000, "salary"),
        tx("2026-02-26", -95_001, "housing"),
        tx("2025-03-31", 999, "other"),  # 13 months back: outside the window
    ], today=date(2030, 1, 1))
    assert [m.month for m in result.months][0] == "2025-04"
    march, feb = result.months[-1], result.months[-2]
    assert (march.income_cents, march.expenses_cents, march.net_cents) == (250_000, 99_312,
                                                                           150_688)
    assert (feb.income_cents, feb.expenses_cents, feb.net_cents) == (250_000, 95_001, 154_999)
    assert march.by_category == {"salary": [250_000, 0], "housing": [0, 95_000],
                                 "groceries": [0, 4_312]}
    assert all(m.income_cents == m.expenses_cents == 0 for m in result.months[:-2])
    assert len(result.transactions) == 5
    assert result.transactions[0].booking_date == date(2026, 3, 15)  # newest first
    # Averages over the two months that have data, rounded down.
    assert result.covered_months == 2
    assert result.average_income_cents == 250_000
    assert result.average_expenses_cents == (99_312 + 95_001) // 2
    totals = {t.category: (t.income_cents, t.expenses_cents) for t in result.category_totals}
    assert totals == {"salary": (500_000, 0), "housing": (0, 190_001), "groceries": (0, 4_312)}
    assert all(isinstance(m.income_cents, int) for m in result.months)


def test_without_transactions_the_window_ends_today():
    result = compute([], today=date(2026, 12, 1))
    assert result.months[-1].month == "2026-12" and not result.has_data
    assert result.average_income_cents == 0


def test_other_currencies_do_not_count():
    result = compute([tx("2026-03-01", 10_000), tx("2026-03-02", 99_999, currency="USD")],
                     today=date(2026, 3, 5))
    assert result.months[-1].income_cents == 10_000
    assert result.skipped_foreign_currency == 1


def test_month_end_balance_walks_back_and_forward_from_the_reported_balance():
    txs = [tx("2026-01-10", 100_000), tx("2026-02-05", -30_000), tx("2026-02-20", 5_000),
           tx("2026-03-03", -1_000), tx("2026-02-10", 7_777, iban="NL02OTHER")]
    # The bank said 200.000 cents on 15 February, including that day's bookings.
    balances = [AccountBalance(IBAN, 200_000, date(2026, 2, 15))]
    result = compute(txs, today=date(2026, 3, 5), balances=balances)
    by_month = {m.month: m.closing_balance_cents for m in result.months}
    assert by_month["2026-02"] == 200_000 + 5_000
    assert by_month["2026-03"] == 200_000 + 5_000 - 1_000
    assert by_month["2026-01"] == 200_000 + 30_000
    assert by_month["2025-12"] == 200_000 + 30_000 - 100_000
    assert compute(txs, today=date(2026, 3, 5)).months[-1].closing_balance_cents is None


def test_declared_income_is_a_twelfth_of_the_year_beside_the_bank_figures():
    assert declared_income([(2025, 3_900_000), (2025, 120_001), (2026, 12)]) == {
        2025: 4_020_001 // 12, 2026: 1}
    result = compute([tx("2025-06-01", 100)], today=date(2026, 1, 1),
                     declared_per_year={2025: 325_000})
    assert result.months[-1].declared_income_cents == 325_000
    assert result.months[-1].income_cents == 100
