"""The finance overview over a real vault file: records in, categories, learning, the summary."""

from __future__ import annotations

import os
from datetime import date

import pytest

from vault.finance import overview
from vault.finance.errors import NoBankData, TransactionNotFound, UnknownCategory
from vault.records.service import (
    RecordNotFound,
    create_record,
    delete_record,
    get_record,
    validate_data,
    versions,
)
from vault.storage import db, migrations

IBAN = "NL91ABNA0417164300"


def add_tx(vault, day: str, cents: int, name: str, iban: str | None = None, text: str = ""):
    data = {"account_iban": IBAN, "booking_date": day, "amount_cents": cents,
            "counterparty_name": name, "currency": "EUR"}
    if iban:
        data["counterparty_iban"] = iban
    if text:
        data["remittance"] = text
    return create_record(vault, "bank-transaction", data)


def test_recategorising_one_transaction_learns_for_its_counterparty(vault):
    first = add_tx(vault, "2026-02-25", 180_000, "Stichting Zorg", "NL20INGB0001234567",
                   "februari")
    add_tx(vault, "2026-02-26", -4_000, "Jumbo")
    before = overview.overview(vault)
    assert {t.record_id: t.category for t in before.transactions}[first.id] == "other"
    assert before.months[-1].by_category == {"other": [180_000, 0], "groceries": [0, 4_000]}

    changed = overview.recategorise(vault, first.id, "salary")
    assert (changed.category, changed.reason) == ("salary", "owner")
    after = overview.overview(vault)
    assert after.months[-1].by_category == {"salary": [180_000, 0], "groceries": [0, 4_000]}
    assert after.months[-1].income_cents == before.months[-1].income_cents

    # The next payment of that counterparty (same IBAN, name spelt differently) is salary.
    nxt = add_tx(vault, "2026-03-25", 180_000, "STICHTING ZORG BV", "NL20INGB0001234567")
    by_id = {t.record_id: t for t in overview.overview(vault).transactions}
    assert (by_id[nxt.id].category, by_id[nxt.id].reason) == ("salary", "learnt")
    # And by name when the bank sends no IBAN.
    by_name = add_tx(vault, "2026-03-26", 1_000, "Stichting Zorg")
    by_id = {t.record_id: t for t in overview.overview(vault).transactions}
    assert by_id[by_name.id].category == "salary"


def test_recategorise_refuses_unknown_categories_and_records(vault):
    person = create_record(vault, "person", {"given_names": "A", "surname": "B"})
    record = add_tx(vault, "2026-01-01", -100, "X")
    with pytest.raises(UnknownCategory):
        overview.recategorise(vault, record.id, "gambling")
    with pytest.raises(TransactionNotFound):
        overview.recategorise(vault, person.id, "other")
    with pytest.raises(TransactionNotFound):
        overview.recategorise(vault, "nope", "other")


def test_the_summary_is_one_valid_record_versioned_on_each_change(vault):
    with pytest.raises(NoBankData):
        overview.derive_summary(vault)
    add_tx(vault, "2026-03-01", 250_000, "ACME", text="salaris")
    add_tx(vault, "2026-03-02", -95_000, "Woonstichting De Kern")
    record, changed = overview.derive_summary(vault)
    assert changed and record.type == "monthly-finances"
    assert validate_data("monthly-finances", record.data) == record.data
    assert record.data["period_start"] == "2025-04-01"
    assert record.data["period_end"] == "2026-03-31"
    assert record.data["months"][-1] == {"month": "2026-03", "income_cents": 250_000,
                                         "expenses_cents": 95_000, "net_cents": 155_000}
    assert len(record.data["months"]) == 12
    assert record.data["average_income_cents"] == 250_000
    assert record.data["category_totals"] == [
        {"category": "salary", "income_cents": 250_000, "expenses_cents": 0},
        {"category": "housing", "income_cents": 0, "expenses_cents": 95_000}]
    assert record.provenance.source == "finance"
    again, changed = overview.derive_summary(vault)
    assert again.id == record.id and not changed
    add_tx(vault, "2026-03-03", -1_000, "Ziggo")
    third, changed = overview.derive_summary(vault)
    assert third.id == record.id and changed and len(versions(vault, record.id)) == 2


def test_income_records_show_beside_bank_figures(vault):
    create_record(vault, "income", {"year": 2026, "source": "ACME", "gross_amount_cents": 6_000_000,
                                    "net_amount_cents": 3_900_000})
    add_tx(vault, "2026-03-01", 250_000, "ACME", text="salaris")
    result = overview.overview(vault, today=date(2026, 3, 5))
    assert result.months[-1].declared_income_cents == 3_900_000 // 12
    assert result.months[-1].income_cents == 250_000


def test_choices_are_removed_with_their_transaction(vault):
    record = add_tx(vault, "2026-01-01", -100, "X")
    overview.recategorise(vault, record.id, "transport")
    delete_record(vault, record.id)
    assert vault.conn.execute("SELECT count(*) FROM finance_overrides").fetchone()[0] == 0
    with pytest.raises(RecordNotFound):
        get_record(vault, record.id)


def test_finance_migration_applies_to_a_vault_that_holds_data(tmp_path):
    conn = db.connect(tmp_path / "v.db", os.urandom(32))
    for migration in migrations.load("vault"):
        if migration.number >= 6:
            break
        for statement in migrations._split(migration.sql):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {migration.number}")
    conn.execute("INSERT INTO records (id, type, created_at, updated_at, current_version)"
                 " VALUES ('r1', 'bank-transaction', 'x', 'x', 1)")
    # The migrations up to this one only: later ones (other features) apply on top of it.
    root = tmp_path / "migrations"
    (root / "vault").mkdir(parents=True)
    for path in sorted((migrations.migrations_root() / "vault").glob("*.sql")):
        if int(path.name[:4]) <= 6:
            (root / "vault" / path.name).write_text(path.read_text("utf-8"), "utf-8")
    assert migrations.apply(conn, "vault", root) == ["0006_finance"]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"finance_overrides", "finance_rules"} <= tables
    assert conn.execute("SELECT count(*) FROM records").fetchone()[0] == 1
    conn.execute("INSERT INTO finance_overrides VALUES ('r1', 'salary', 'x')")
    conn.execute("DELETE FROM records WHERE id = 'r1'")
    assert conn.execute("SELECT count(*) FROM finance_overrides").fetchone()[0] == 0
    conn.close()


def test_transactions_from_an_uploaded_bank_statement_count(vault):
    from vault.connectors.upload.service import add_upload

    document, made = add_upload(vault, b"%PDF-1.4 statement", name="afschrift.pdf", facts=[
        {"type": "bank-transaction", "data": {"account_iban": IBAN, "booking_date": "2026-03-01",
                                              "amount_cents": -95_000,
                                              "counterparty_name": "Woonstichting De Kern"}}])
    assert made[0].data["document_sha256"] == document.data["sha256"]
    [tx] = overview.overview(vault).transactions
    assert (tx.category, tx.amount_cents) == ("housing", -95_000)
