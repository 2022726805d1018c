"""The grants migrations apply to empty databases and to ones that already hold data."""

from __future__ import annotations

import os

from vault.storage import db, migrations


def tables(conn) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_instance_migration_applies_to_an_empty_database(tmp_path):
    conn = db.connect(tmp_path / "i.db", os.urandom(32))
    migrations.apply(conn, "instance")
    assert {"oauth_clients", "oauth_pushed_requests", "oauth_codes"} <= tables(conn)
    conn.close()


def test_vault_migration_keeps_existing_records_and_events(tmp_path):
    conn = db.connect(tmp_path / "v.db", os.urandom(32))
    first = [m for m in migrations.load("vault") if m.number == 1]
    for statement in migrations._split(first[0].sql):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO records (id, type, created_at, updated_at, current_version)"
                 " VALUES ('r1', 'person', 'x', 'x', 1)")
    conn.execute("INSERT INTO events (at, actor, action, prev_hash, hash)"
                 " VALUES ('x', 'owner', 'account.created', '0', '1')")
    migrations.apply(conn, "vault")
    assert {"grants", "data_requests"} <= tables(conn)
    assert conn.execute("SELECT count(*) FROM records").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    columns = {r[1] for r in conn.execute("PRAGMA table_info(grants)")}
    assert {"slot_id", "conditions", "expires_at", "access_count", "receipt"} <= columns
    conn.close()


def test_the_logo_migration_keeps_existing_organisations(tmp_path):
    conn = db.connect(tmp_path / "i.db", os.urandom(32))
    before = [m for m in migrations.load("instance") if m.number < 6]
    for migration in before:
        for statement in migrations._split(migration.sql):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {migration.number}")
    conn.execute("INSERT INTO oauth_clients (client_id, source, metadata, created_at)"
                 " VALUES ('org_1', 'registered', '{}', 'x')")
    migrations.apply(conn, "instance")
    assert "oauth_client_logos" in tables(conn)
    assert conn.execute("SELECT count(*) FROM oauth_clients").fetchone()[0] == 1
    columns = {r[1] for r in conn.execute("PRAGMA table_info(oauth_client_logos)")}
    assert {"client_id", "media_type", "content", "sha256"} <= columns
    conn.close()
