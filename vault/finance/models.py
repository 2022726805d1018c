"""Plain values of the finance overview. Amounts are integer euro cents."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Transaction:
    """A ``bank-transaction`` record as the overview reads it, with its category.

    ``amount_cents`` is signed from the account holder's side (in > 0, out < 0).
    ``reason`` says where the category came from: ``owner`` (chosen for this
    transaction), ``learnt`` (from the owner's choice for this counterparty),
    ``rule:<id>`` (a built-in rule) or ``default`` (nothing matched: other).
    """

    record_id: str
    account_iban: str
    booking_date: date
    amount_cents: int
    currency: str = "EUR"
    counterparty_name: str = ""
    counterparty_iban: str = ""
    remittance: str = ""
    booking_code: str = ""
    purpose_code: str = ""
    category: str = "other"
    reason: str = "default"

    @property
    def incoming(self) -> bool:
        return self.amount_cents > 0


@dataclass(frozen=True)
class AccountBalance:
    """A balance the bank reported for an account on a day (from a ``bank-account`` record)."""

    iban: str
    balance_cents: int
    on: date


@dataclass
class Month:
    """One calendar month: money in, money out, the difference, and the month-end balance."""

    month: str  # "2025-03"
    income_cents: int = 0
    expenses_cents: int = 0
    # Balance of the accounts whose bank reported one, at the end of the month; None: unknown.
    closing_balance_cents: int | None = None
    # Income the owner's income records state for this month's year, per month; None: none.
    declared_income_cents: int | None = None
    transaction_count: int = 0
    # category -> [income cents, expenses cents]
    by_category: dict[str, list[int]] = field(default_factory=dict)

    @property
    def net_cents(self) -> int:
        return self.income_cents - self.expenses_cents

    @property
    def first_day(self) -> date:
        return date(int(self.month[:4]), int(self.month[5:7]), 1)


@dataclass(frozen=True)
class CategoryTotal:
    category: str
    income_cents: int
    expenses_cents: int


@dataclass(frozen=True)
class Overview:
    """The last 12 months (oldest first) and the transactions in them (newest first)."""

    months: list[Month]
    transactions: list[Transaction]
    category_totals: list[CategoryTotal]
    # Months from the first one with a transaction to the last one: what averages divide by.
    covered_months: int
    skipped_foreign_currency: int = 0

    @property
    def has_data(self) -> bool:
        return bool(self.transactions)

    @property
    def income_cents(self) -> int:
        return sum(m.income_cents for m in self.months)

    @property
    def expenses_cents(self) -> int:
        return sum(m.expenses_cents for m in self.months)

    @property
    def average_income_cents(self) -> int:
        """Rounded down to the cent."""
        return self.income_cents // self.covered_months if self.covered_months else 0

    @property
    def average_expenses_cents(self) -> int:
        """Rounded down to the cent."""
        return self.expenses_cents // self.covered_months if self.covered_months else 0
