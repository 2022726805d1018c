"""Income, expenses and balance per month: pure functions over plain values.

- **Window**: the 12 calendar months up to and including the month of the newest
  transaction (so a vault whose bank data stops in March shows April-March, and a
  vault kept fresh by its bank connection shows the last 12 months). Without
  transactions: the 12 months up to ``today``.
- **Income** of a month: the sum of the positive amounts booked in it; **expenses**:
  the sum of the negative amounts, as a positive number; **net** (the month's
  balance): income minus expenses.
- **Balance at month end**: for each account whose bank reported a balance on a day
  (``bank-account``: ``balance_cents`` on ``balance_date``, which includes that day's
  bookings), that balance minus what was booked after the month's end up to that day,
  plus what was booked after that day up to the month's end; summed over those
  accounts. Unknown (None) when no account reported a balance.
- **Declared income**: the owner's ``income`` records for the month's year (net, or
  gross without net) divided by 12, rounded down; shown beside the bank figures, never
  added to them (the salary on the bank account is the same money).
- Only euro transactions count (a transaction without currency counts as euro); others
  are counted in ``skipped_foreign_currency``.
- Averages divide by the months from the first month with a transaction to the last
  month of the window, rounded down to the cent.

Everything is integer cents; nothing here is a float.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from vault.finance.models import AccountBalance, CategoryTotal, Month, Overview, Transaction
from vault.finance.rules import CATEGORIES

WINDOW = 12


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def shift_month(key: str, delta: int) -> str:
    index = int(key[:4]) * 12 + int(key[5:7]) - 1 + delta
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_end(key: str) -> date:
    nxt = shift_month(key, 1)
    return date(int(nxt[:4]), int(nxt[5:7]), 1) - timedelta(days=1)


def window(last: str, count: int = WINDOW) -> list[str]:
    """``count`` month keys ending at ``last``, oldest first."""
    return [shift_month(last, -i) for i in range(count - 1, -1, -1)]


def counted(tx: Transaction) -> bool:
    return (tx.currency or "EUR").upper() == "EUR"


def closing_balance(key: str, transactions: Iterable[Transaction],
                    balances: Iterable[AccountBalance]) -> int | None:
    """The summed balance at the end of month ``key`` of the accounts with a known balance."""
    end = month_end(key)
    total: int | None = None
    txs = list(transactions)
    for known in balances:
        value = known.balance_cents
        for tx in txs:
            if tx.account_iban != known.iban:
                continue
            if end < tx.booking_date <= known.on:
                value -= tx.amount_cents
            elif known.on < tx.booking_date <= end:
                value += tx.amount_cents
        total = value if total is None else total + value
    return total


def compute(transactions: Iterable[Transaction], *, today: date,
            balances: Iterable[AccountBalance] = (),
            declared_per_year: dict[int, int] | None = None,
            count: int = WINDOW) -> Overview:
    """The overview of the ``count`` months up to the newest transaction (see the module)."""
    every = list(transactions)
    euro = [tx for tx in every if counted(tx)]
    last = month_key(max(tx.booking_date for tx in euro)) if euro else month_key(today)
    keys = window(last, count)
    months = {key: Month(key) for key in keys}
    in_window: list[Transaction] = []
    for tx in euro:
        month = months.get(month_key(tx.booking_date))
        if month is None:
            continue
        in_window.append(tx)
        month.transaction_count += 1
        split = month.by_category.setdefault(tx.category, [0, 0])
        if tx.amount_cents >= 0:
            month.income_cents += tx.amount_cents
            split[0] += tx.amount_cents
        else:
            month.expenses_cents += -tx.amount_cents
            split[1] += -tx.amount_cents
    known = [b for b in balances]
    declared = declared_per_year or {}
    for key, month in months.items():
        if known:
            month.closing_balance_cents = closing_balance(key, euro, known)
        if int(key[:4]) in declared:
            month.declared_income_cents = declared[int(key[:4])]
    totals = []
    for category in CATEGORIES:
        income = sum(m.by_category.get(category, [0, 0])[0] for m in months.values())
        expenses = sum(m.by_category.get(category, [0, 0])[1] for m in months.values())
        if income or expenses:
            totals.append(CategoryTotal(category, income, expenses))
    first_with_data = next((i for i, k in enumerate(keys) if months[k].transaction_count), None)
    covered = count - first_with_data if first_with_data is not None else 0
    in_window.sort(key=lambda tx: (tx.booking_date, tx.record_id), reverse=True)
    return Overview(months=[months[k] for k in keys], transactions=in_window,
                    category_totals=totals, covered_months=covered,
                    skipped_foreign_currency=len(every) - len(euro))


def declared_income(incomes: Iterable[tuple[int, int]]) -> dict[int, int]:
    """``{year: cents per month}`` from ``(year, yearly cents)`` of income records."""
    yearly: dict[int, int] = {}
    for year, amount in incomes:
        yearly[year] = yearly.get(year, 0) + amount
    return {year: amount // 12 for year, amount in yearly.items()}
