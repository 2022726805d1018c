"""The finance overview of an open vault: read, recategorise, derive ``monthly-finances``."""

from __future__ import annotations

from datetime import date
from typing import Any

from vault.clock import now_iso
from vault.finance import months as monthly
from vault.finance import repository
from vault.finance.errors import NoBankData, TransactionNotFound, UnknownCategory
from vault.finance.models import AccountBalance, Overview, Transaction
from vault.finance.rules import CATEGORIES, categorise, counterparty_keys
from vault.records.models import Provenance, Record
from vault.records.service import (
    RecordNotFound,
    create_record,
    get_record,
    list_records,
    record_by_source_key,
    update_record,
)
from vault.storage.vaults import VaultDB

TRANSACTION_TYPE = "bank-transaction"
SUMMARY_TYPE = "monthly-finances"
#: The one ``monthly-finances`` record: deriving again adds a version to it.
SUMMARY_SOURCE_KEY = "finance:monthly-finances"
SOURCE = "finance"


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    return str(value) if value is not None else ""


def transaction_of(record: Record, overrides: dict[str, str],
                   learnt: dict[str, str]) -> Transaction:
    data = record.data
    amount = int(data["amount_cents"])
    category, reason = categorise(
        amount_cents=amount, counterparty_name=_text(data, "counterparty_name"),
        counterparty_iban=_text(data, "counterparty_iban"),
        remittance=_text(data, "remittance"), booking_code=_text(data, "booking_code"),
        purpose_code=_text(data, "purpose_code"), override=overrides.get(record.id),
        learnt=learnt,
    )
    return Transaction(
        record_id=record.id, account_iban=_text(data, "account_iban"),
        booking_date=date.fromisoformat(str(data["booking_date"])), amount_cents=amount,
        currency=_text(data, "currency") or "EUR",
        counterparty_name=_text(data, "counterparty_name"),
        counterparty_iban=_text(data, "counterparty_iban"),
        remittance=_text(data, "remittance"), booking_code=_text(data, "booking_code"),
        purpose_code=_text(data, "purpose_code"), category=category, reason=reason,
    )


def transactions(vault: VaultDB) -> list[Transaction]:
    """Every ``bank-transaction`` record, categorised."""
    overrides = repository.overrides(vault.conn)
    learnt = repository.learnt_rules(vault.conn)
    return [transaction_of(r, overrides, learnt) for r in list_records(vault, [TRANSACTION_TYPE])]


def balances(vault: VaultDB) -> list[AccountBalance]:
    out = []
    for record in list_records(vault, ["bank-account"]):
        data = record.data
        if data.get("balance_cents") is None or not data.get("balance_date"):
            continue
        out.append(AccountBalance(str(data["iban"]).replace(" ", ""), int(data["balance_cents"]),
                                  date.fromisoformat(str(data["balance_date"]))))
    return out


def declared(vault: VaultDB) -> dict[int, int]:
    incomes = []
    for record in list_records(vault, ["income"]):
        amount = record.data.get("net_amount_cents")
        if amount is None:
            amount = record.data.get("gross_amount_cents")
        if amount is not None:
            incomes.append((int(record.data["year"]), int(amount)))
    return monthly.declared_income(incomes)


def overview(vault: VaultDB, *, today: date | None = None) -> Overview:
    """The last 12 months of the vault's bank transactions (see :mod:`vault.finance.months`)."""
    return monthly.compute(transactions(vault), today=today or date.today(),
                           balances=balances(vault), declared_per_year=declared(vault))


def recategorise(vault: VaultDB, record_id: str, category: str) -> Transaction:
    """Put one transaction in ``category`` and learn it for the transaction's counterparty."""
    if category not in CATEGORIES:
        raise UnknownCategory(category)
    try:
        record = get_record(vault, record_id)
    except RecordNotFound:
        raise TransactionNotFound(record_id) from None
    if record.type != TRANSACTION_TYPE:
        raise TransactionNotFound(record_id)
    at = now_iso()
    with vault.transaction() as tx:
        repository.set_override(tx, record.id, category, at)
        for key in counterparty_keys(record.data.get("counterparty_iban"),
                                     record.data.get("counterparty_name")):
            repository.learn(tx, key, category, record.id, at)
    return transaction_of(record, repository.overrides(vault.conn),
                          repository.learnt_rules(vault.conn))


def summary_data(result: Overview) -> dict[str, Any]:
    """The ``monthly-finances`` record data of an overview (the 12 months in one record)."""
    months = []
    for month in result.months:
        entry: dict[str, Any] = {"month": month.month, "income_cents": month.income_cents,
                                 "expenses_cents": month.expenses_cents,
                                 "net_cents": month.net_cents}
        if month.closing_balance_cents is not None:
            entry["closing_balance_cents"] = month.closing_balance_cents
        months.append(entry)
    return {
        "period_start": result.months[0].first_day.isoformat(),
        "period_end": monthly.month_end(result.months[-1].month).isoformat(),
        "months": months,
        "average_income_cents": result.average_income_cents,
        "average_expenses_cents": result.average_expenses_cents,
        "category_totals": [{"category": c.category, "income_cents": c.income_cents,
                             "expenses_cents": c.expenses_cents}
                            for c in result.category_totals],
        "transaction_count": len(result.transactions),
    }


def derive_summary(vault: VaultDB, *, today: date | None = None) -> tuple[Record, bool]:
    """Create or update the one ``monthly-finances`` record; ``(record, changed)``.

    One record for the 12 months rather than one per month: an organisation asks for
    "the last 12 months" and gets one consistent set (one period, one version, made at
    one moment), the owner sees one item on the consent screen, and deriving again next
    month adds a version to the same record instead of leaving stale months around.
    """
    result = overview(vault, today=today)
    if not result.has_data:
        raise NoBankData("no bank transactions in the last 12 months")
    data = summary_data(result)
    provenance = Provenance(SOURCE, now_iso(), {"derived_from": TRANSACTION_TYPE,
                                                "transactions": len(result.transactions)})
    existing = record_by_source_key(vault, SUMMARY_SOURCE_KEY)
    if existing is None:
        return create_record(vault, SUMMARY_TYPE, data, provenance=provenance,
                             source_key=SUMMARY_SOURCE_KEY), True
    return update_record(vault, existing.id, data, provenance=provenance)


def summary_record(vault: VaultDB) -> Record | None:
    """The ``monthly-finances`` record, if the owner made one."""
    return record_by_source_key(vault, SUMMARY_SOURCE_KEY)
