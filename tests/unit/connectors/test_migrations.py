"""The connector migrations apply to empty databases and to ones with data."""

from __future__ import annotations

import shutil

from vault.crypto import keys
from vault.storage import db, migrations


def _columns(conn, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _partial_root(tmp_path, kind: str, upto: int):
    root = tmp_path / "m"
    (root / kind).mkdir(parents=True)
    for path in sorted((migrations.migrations_root() / kind).glob("*.sql")):
        if int(path.name[:4]) <= upto:
            shutil.copy(path, root / kind / path.name)
    return root


def test_instance_migration_on_empty_and_populated_db(tmp_path):
    key = keys.random_key()
    conn = db.connect(tmp_path / "i.db", key)
    migrations.apply(conn, "instance", _partial_root(tmp_path, "instance", 1))
    conn.execute("INSERT INTO vaults (id, username, created_at, inbox_public_key)"
                 " VALUES ('v1', 'anne', '2026-01-01', x'00')")
    migrations.apply(conn, "instance")
    assert {"id", "vault_id", "connector", "options_enc", "credentials_enc", "state_enc",
            "status", "next_run_at"} <= _columns(conn, "connections")
    assert conn.execute("SELECT username FROM vaults").fetchone()[0] == "anne"
    conn.close()
    empty = db.connect(tmp_path / "e.db", key)
    migrations.apply(empty, "instance")
    assert "connections" in {r[0] for r in empty.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    empty.close()


def test_vault_migration_on_empty_and_populated_db(tmp_path):
    key = keys.random_key()
    conn = db.connect(tmp_path / "v.db", key)
    migrations.apply(conn, "vault", _partial_root(tmp_path, "vault", 1))
    conn.execute("INSERT INTO merged_inbox (item_key, merged_at) VALUES ('run:x:y', 'now')")
    migrations.apply(conn, "vault")
    assert {"item_key", "connection_id", "created", "updated", "changes"} <= _columns(
        conn, "connector_changes")
    assert conn.execute("SELECT count(*) FROM merged_inbox").fetchone()[0] == 1
    conn.close()
