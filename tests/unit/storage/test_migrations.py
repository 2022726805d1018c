"""Every migration applied to an empty database and to one with data (STYLE item 9)."""

import pytest

from vault.crypto import keys
from vault.storage import db, migrations


@pytest.fixture
def backend() -> str:
    """These tests are about SQLCipher files themselves: the file backend only."""
    return ""



def _tables(conn) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def test_instance_migrations_build_the_schema_from_empty(tmp_path):
    conn = db.connect(tmp_path / "i.db", keys.random_key())
    applied = migrations.apply(conn, "instance")
    assert applied and applied[0] == "0001_init"
    assert {"vaults", "key_slots", "inbox_items", "invites", "signing_keys"} <= _tables(conn)
    assert migrations.current_version(conn) == max(m.number for m in migrations.load("instance"))
    assert migrations.apply(conn, "instance") == []


def test_vault_migrations_build_the_schema_from_empty(tmp_path):
    conn = db.connect(tmp_path / "v.db", keys.random_key())
    migrations.apply(conn, "vault")
    assert {"meta", "records", "record_versions", "documents", "events"} <= _tables(conn)


def test_later_migrations_keep_data_written_at_the_first(tmp_path):
    for kind, insert, check in [
        ("vault", "INSERT INTO meta (key, value) VALUES ('k', 'kept')",
         "SELECT value FROM meta WHERE key = 'k'"),
        ("instance", "INSERT INTO instance_meta (key, value) VALUES ('k', 'kept')",
         "SELECT value FROM instance_meta WHERE key = 'k'"),
    ]:
        conn = db.connect(tmp_path / f"{kind}.db", keys.random_key())
        first = migrations.load(kind)[0]
        with db.transaction(conn):
            for statement in migrations._split(first.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {first.number}")
            conn.execute(insert)
        migrations.apply(conn, kind)
        assert conn.execute(check).fetchone()[0] == "kept"
        assert migrations.current_version(conn) == max(m.number for m in migrations.load(kind))


def test_instance_migration_0004_adds_the_vault_log_commitments(tmp_path):
    conn = db.connect(tmp_path / "i.db", keys.random_key())
    migrations.apply(conn, "instance")
    assert "vault_heads" in _tables(conn)
    with db.transaction(conn):
        conn.execute("INSERT INTO vaults (id, username, created_at, inbox_public_key)"
                     " VALUES ('v1', 'u', 'now', x'00')")
        conn.execute("INSERT INTO vault_heads VALUES ('v1', 3, 'h', x'00', 'now')")
        conn.execute("DELETE FROM vaults WHERE id = 'v1'")
    assert conn.execute("SELECT count(*) FROM vault_heads").fetchone()[0] == 0


def test_instance_migration_0008_keeps_slots_and_the_grant_fate_trigger(tmp_path):
    conn = db.connect(tmp_path / "i.db", keys.random_key())
    with db.transaction(conn):
        for migration in migrations.load("instance"):
            if migration.number > 7:
                break
            for statement in migrations._split(migration.sql):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 7")
        conn.execute("INSERT INTO vaults (id, username, created_at, inbox_public_key)"
                     " VALUES ('v1', 'u', 'now', x'00')")
        conn.execute("INSERT INTO key_slots (id, vault_id, kind, kdf, params, salt, nonce,"
                     " wrapped, check_value, token_hash, grant_id, created_at) VALUES"
                     " ('s1', 'v1', 'grant', 'hkdf-sha256', '{}', x'00', x'00', x'00', x'00',"
                     " 'h1', 'g1', 'now')")
    assert migrations.apply(conn, "instance")[0] == "0008_security"
    assert {"passkeys", "key_slots"} <= _tables(conn)
    assert conn.execute("SELECT grant_id FROM key_slots WHERE id = 's1'").fetchone()[0] == "g1"
    with db.transaction(conn):
        conn.execute("INSERT INTO key_slots (id, vault_id, kind, kdf, params, salt, nonce,"
                     " wrapped, check_value, created_at) VALUES ('s2', 'v1', 'passkey',"
                     " 'webauthn-prf-hkdf-sha256', '{}', x'00', x'00', x'00', x'00', 'now')")
        conn.execute("DELETE FROM key_slots WHERE id = 's1'")
    fate = conn.execute("SELECT reason FROM token_fates WHERE token_hash = 'h1'").fetchone()
    assert fate[0] == "revoked"  # the trigger came back with the rebuilt table
    with db.transaction(conn):
        conn.execute("INSERT INTO passkeys (id, vault_id, credential_id, public_key, created_at)"
                     " VALUES ('p1', 'v1', 'c1', x'00', 'now')")
        conn.execute("DELETE FROM vaults WHERE id = 'v1'")
    assert conn.execute("SELECT count(*) FROM passkeys").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM key_slots").fetchone()[0] == 0
