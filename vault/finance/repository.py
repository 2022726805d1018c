"""The SQL of what the owner taught the categoriser (tables of migration 0006_finance)."""

from __future__ import annotations

from vault.storage.db import Connection


def overrides(conn: Connection) -> dict[str, str]:
    """``{record id: category}`` the owner chose per transaction."""
    rows = conn.execute("SELECT record_id, category FROM finance_overrides").fetchall()
    return {str(r["record_id"]): str(r["category"]) for r in rows}


def learnt_rules(conn: Connection) -> dict[str, str]:
    """``{counterparty key: category}`` learnt from the owner's choices."""
    rows = conn.execute("SELECT counterparty, category FROM finance_rules").fetchall()
    return {str(r["counterparty"]): str(r["category"]) for r in rows}


def set_override(conn: Connection, record_id: str, category: str, at: str) -> None:
    conn.execute(
        "INSERT INTO finance_overrides (record_id, category, decided_at) VALUES (?, ?, ?)"
        " ON CONFLICT(record_id) DO UPDATE SET category = excluded.category,"
        " decided_at = excluded.decided_at",
        (record_id, category, at),
    )


def learn(conn: Connection, counterparty: str, category: str, record_id: str, at: str) -> None:
    conn.execute(
        "INSERT INTO finance_rules (counterparty, category, learnt_from, learnt_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT(counterparty) DO UPDATE SET"
        " category = excluded.category, learnt_from = excluded.learnt_from,"
        " learnt_at = excluded.learnt_at",
        (counterparty, category, record_id, at),
    )
