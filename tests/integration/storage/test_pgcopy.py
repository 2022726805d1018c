"""instance.db is copied into PostgreSQL at the first start after KLUIS_DATABASE_URL was set
(vault/storage/pgcopy.py): whole, once, with its signing keys sealed; killed at any step it
leaves one whole instance; it never merges into another instance's tables."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
import requests

from tests.conftest import free_port, settings_env
from tests.integration.storage import steps
from tests.pgserver import dump_holds
from vault.app import create_app
from vault.storage import db, pgcopy
from vault.storage.instance import Instance, init_home, read_instance_key

CHILD = Path(__file__).with_name("copy_child.py")


@pytest.fixture
def settings(make_settings):
    """The instance starts on files, whatever KLUIS_TEST_BACKEND says."""
    return make_settings(database_url="")


@pytest.fixture
def pg_settings(settings, postgres_database):
    """The same KLUIS_HOME once the operator set KLUIS_DATABASE_URL (an empty database)."""
    return settings.with_overrides(database_url=postgres_database())


def _counts(conn, tables) -> dict[str, int]:
    return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}


def _file_tables(settings) -> tuple[dict[str, int], Path]:
    """Row counts of every table of instance.db, and a copy of the file to compare with."""
    path = settings.home_path / "instance.db"
    conn = db.connect(path, read_instance_key(settings))
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        counts = _counts(conn, tables)
    finally:
        conn.close()
    aside = path.with_name("instance.db.compare")
    shutil.copyfile(path, aside)
    return counts, aside


def _pg_counts(pg_settings, tables) -> dict[str, int]:
    with psycopg.connect(pg_settings.database_url) as conn:
        return _counts(conn, tables)


def _copied(counts: dict[str, int]) -> dict[str, int]:
    """What the database holds after the copy: every row, and the copy marker."""
    return counts | {"instance_meta": counts["instance_meta"] + 1}


def _marker_rows(pg_settings) -> int:
    with psycopg.connect(pg_settings.database_url) as conn:
        return int(conn.execute("SELECT count(*) FROM instance_meta WHERE key = %s",
                                (pgcopy.MARKER,)).fetchone()[0])


def test_a_file_instance_is_copied_whole_and_goes_on_in_postgresql(
        settings, pg_settings, live_server, granted, make_live_server, postgres_server):
    owner, _org, token = granted({"income": None})
    jwks_before = requests.get(f"{live_server.url}/.well-known/jwks.json", timeout=30).json()
    receipt = owner.get(f"/api/v1/grants/{owner.get('/api/v1/grants').json()['grants'][0]['id']}"
                        "/receipt")
    assert receipt.status_code == 200, receipt.text
    counts, aside = _file_tables(settings)
    assert counts["vaults"] == 1 and counts["key_slots"] >= 3 and counts["oauth_clients"] == 1
    before = Instance(settings)
    try:
        secret_d = before.signing_key()["d"].encode()
    finally:
        before.close()
    instance = Instance(pg_settings)  # the first start with the URL set
    try:
        assert not (settings.home_path / "instance.db").exists()
        assert _pg_counts(pg_settings, counts) == _copied(counts)  # every row of every table
        assert _marker_rows(pg_settings) == 1
        assert instance.public_jwks() == jwks_before["keys"]  # the same keys, still checkable
        assert instance.signing_key()["d"] == secret_d.decode()
    finally:
        instance.close()
    dump = postgres_server.dump(pg_settings.database_url.rsplit("/", 1)[1])
    assert not dump_holds(dump, secret_d)  # sealed under an instance subkey in the database
    assert owner.username.encode() in dump  # (instance data, as docs/threat-model.md says)

    # Kluis restarted on the database: the owner signs in, the organisation reads, the
    # receipt signed before the copy still verifies against the published keys.
    port = free_port()
    app = create_app({"settings": pg_settings.with_overrides(
        base_url=f"http://127.0.0.1:{port}"), "TESTING": True})
    try:
        node = make_live_server(app, port)
        login = requests.post(f"{node.url}/api/v1/tokens", timeout=30, json={
            "username": owner.username, "password": owner.password, "name": "na de kopie"})
        assert login.status_code == 201, login.text
        read = requests.get(f"{node.url}/api/v1/grant/records", timeout=30,
                            headers={"Authorization": f"Bearer {token['access_token']}"})
        assert read.status_code == 200, read.text
        keys = requests.get(f"{node.url}/.well-known/jwks.json", timeout=30).json()
        assert keys == jwks_before
        from vault.grants import receipts

        assert receipts.verify(receipt.json(), keys["keys"])["kluis"]["grant_id"] == \
            token["grant_id"]
    finally:
        app.extensions["kluis"].close()


def _child(pg_settings, pause: str = "") -> subprocess.Popen:
    env = settings_env(pg_settings) | {"COPY_PAUSE": pause}
    return steps.spawn(CHILD, env)


def _file_instance(settings, vaults: int = 3) -> dict[str, int]:
    instance = Instance(settings)
    try:
        for n in range(vaults):
            with instance.transaction() as tx:
                instance.add_vault(tx, f"v{n:031d}", f"lid{n}", os.urandom(32))
        with instance.transaction() as tx:
            tx.execute("INSERT INTO inbox_items (vault_id, source, created_at, sealed)"
                       " VALUES (?, 'test', '2026-12-01T00:00:00Z', ?)",
                       (f"v{0:031d}", b"\x01" * 64))
            # A vault from before inbox keys were tagged (migration 0009).
            tx.execute("UPDATE vaults SET inbox_key_tag = NULL WHERE id = ?", (f"v{0:031d}",))
    finally:
        instance.close()
    counts, _aside = _file_tables(settings)
    return counts


@pytest.mark.parametrize("step", ["locked", "written", "committed"])
def test_a_copy_killed_at_any_step_leaves_one_whole_instance(settings, pg_settings, step):
    counts = _file_instance(settings)
    steps.kill_at(_child(pg_settings, pause=step), step)
    committed = step == "committed"
    assert (settings.home_path / "instance.db").exists()  # removed only after the commit
    assert _marker_rows(pg_settings) == (1 if committed else 0)
    assert _pg_counts(pg_settings, ["vaults"])["vaults"] == (3 if committed else 0)
    # The next start finishes it: copies (before the commit) or only removes the file.
    proc = _child(pg_settings)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = out.split("\n")
    assert ("written" in lines) == (not committed)
    assert "vaults 3" in lines
    assert not (settings.home_path / "instance.db").exists()
    assert _pg_counts(pg_settings, counts) == _copied(counts)  # once, not twice
    assert _marker_rows(pg_settings) == 1
    instance = Instance(pg_settings)
    try:  # every inbox key carries its tag in the database, the untagged one tagged by the copy
        for n in range(3):
            assert len(instance.inbox_public_key(f"v{n:031d}")) == 32
    finally:
        instance.close()


def test_two_processes_starting_at_once_copy_once(settings, pg_settings):
    counts = _file_instance(settings)
    first = _child(pg_settings, pause="locked")  # holds the instance write lock there
    second = None
    try:
        steps.until(first, "locked")
        second = _child(pg_settings)
        steps.until_one_waits(pg_settings.database_url)  # the second waits on the first's lock
        (out1, _), (out2, _) = steps.finish(first, second)
    finally:
        steps.reap(first, second)
    assert "written" in out1.split("\n") and "vaults 3" in out1.split("\n")
    assert "written" not in out2.split("\n") and "vaults 3" in out2.split("\n")
    assert _pg_counts(pg_settings, counts) == _copied(counts)


def test_a_database_holding_another_instance_is_refused_and_nothing_changes(
        settings, make_settings, pg_settings):
    counts = _file_instance(settings)
    other = make_settings("other", database_url=pg_settings.database_url)  # its own key
    instance = Instance(other)
    try:
        with instance.transaction() as tx:
            instance.add_vault(tx, "o" * 32, "iemand-anders", os.urandom(32))
    finally:
        instance.close()
    with pytest.raises(pgcopy.InstanceConflict, match="already holds an instance"):
        Instance(pg_settings)
    assert (settings.home_path / "instance.db").exists()
    assert _pg_counts(pg_settings, ["vaults"])["vaults"] == 1
    assert _marker_rows(pg_settings) == 0
    # Back on files, the instance is as it was.
    instance = Instance(settings)
    try:
        assert instance.conn.execute("SELECT count(*) FROM vaults").fetchone()[0] == counts["vaults"]
    finally:
        instance.close()


def test_a_marker_under_another_instance_key_is_refused(settings, pg_settings):
    _file_instance(settings, vaults=1)
    with psycopg.connect(pg_settings.database_url) as conn:
        conn.execute("INSERT INTO instance_meta (key, value) VALUES (%s, %s)",
                     (pgcopy.MARKER, pgcopy.marker(os.urandom(32))))
    with pytest.raises(pgcopy.InstanceConflict, match="another instance"):
        Instance(pg_settings)
    assert (settings.home_path / "instance.db").exists()


def test_a_node_that_started_first_on_the_empty_database_keeps_its_key_retired(
        settings, make_settings, pg_settings):
    _file_instance(settings, vaults=1)
    node2 = make_settings("node2", database_url=pg_settings.database_url,
                          instance_key=read_instance_key(settings).hex())
    init_home(node2)  # a second node, no instance.db, started first: it made a signing key
    instance = Instance(node2)
    try:
        early = instance.signing_key()["kid"]
    finally:
        instance.close()
    instance = Instance(pg_settings)
    try:
        keys = {k["kid"]: k for k in instance.public_jwks()}
        assert early in keys and keys[early].get("kluis_retired_at")
        current = instance.signing_key()["kid"]
        assert current != early and not keys[current].get("kluis_retired_at")
        assert instance.conn.execute("SELECT count(*) FROM vaults").fetchone()[0] == 1
    finally:
        instance.close()
