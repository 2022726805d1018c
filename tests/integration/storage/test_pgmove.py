"""A file vault moves into PostgreSQL the first time a key slot opens it after
KLUIS_DATABASE_URL was set (vault/storage/pgmove.py): by an owner login, by an organisation's
read, interrupted by kill -9 at every step, and by two processes at once (moved once).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, free_port, settings_env
from tests.integration.storage import steps
from vault.app import create_app
from vault.crypto import keys
from vault.grants.redemption import HANDLES
from vault.storage import journal, pg, pgmove
from vault.storage.cache import CONNECTIONS, forget_cached
from vault.storage.errors import VaultRolledBack
from vault.storage.instance import Instance
from vault.storage.vaults import EventDetail, create_vault_file, new_vault_id, open_vault

CHILD = Path(__file__).with_name("move_child.py")
SUFFIXES = ("", "-wal", "-shm", ".access", ".access-wal", ".access-shm")


@pytest.fixture
def settings(make_settings):
    """The instance starts on files, whatever KLUIS_TEST_BACKEND says."""
    return make_settings(database_url="")


@pytest.fixture
def pg_settings(settings, postgres_database):
    """The same KLUIS_HOME after the operator set KLUIS_DATABASE_URL (an empty database: its
    first start copies instance.db into it, storage.pgcopy)."""
    return settings.with_overrides(database_url=postgres_database())


@pytest.fixture
def pg_live(make_live_server, pg_settings):
    """Starts the app again on the same KLUIS_HOME with KLUIS_DATABASE_URL set (called after
    the file instance did its part: that start copies instance.db into the database)."""
    apps = []

    def start():
        port = free_port()
        app = create_app({"settings": pg_settings.with_overrides(
            base_url=f"http://127.0.0.1:{port}"), "TESTING": True})
        apps.append(app)
        return make_live_server(app, port)

    yield start
    for app in apps:
        app.extensions["kluis"].close()


def _restart() -> None:
    """What a restart forgets: this process's cached vault connections and grant handles."""
    CONNECTIONS.clear()
    HANDLES.clear()


def _cli_text(settings, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "vault.cli", *args], env=settings_env(settings),
                          cwd=str(ROOT), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _cli(settings, *args: str) -> dict:
    return json.loads(_cli_text(settings, *args))


def _location(pg_settings, vault_id: str) -> str:
    status = _cli(pg_settings, "storage", "status", "--json")
    return {v["vault_id"]: v["location"] for v in status["vaults"]}[vault_id]


def _files(settings, vault_id: str) -> list[str]:
    base = settings.home_path / "vaults" / f"{vault_id}.db"
    return [s for s in SUFFIXES if os.path.exists(str(base) + s)]


def _read(base: str, token: str) -> requests.Response:
    return requests.get(f"{base}/api/v1/grant/records", timeout=30,
                        headers={"Authorization": f"Bearer {token}"})


def _events(base: str, owner) -> dict:
    resp = owner.http.get(f"{base}/api/v1/access-log", params={"limit": 500}, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _access_count(base: str, owner, grant_id: str) -> int:
    resp = owner.http.get(f"{base}/api/v1/grants/{grant_id}", timeout=30)
    assert resp.status_code == 200, resp.text
    return int(resp.json()["access_count"])


def _grant_id(owner) -> str:
    [grant] = owner.get("/api/v1/grants").json()["grants"]
    return grant["id"]


def test_an_owner_login_moves_a_file_vault_with_everything_in_it(
        live_server, granted, pg_live, settings, pg_settings):
    owner, _org, token = granted({"income": None})
    content = b"%PDF-1.4\n" + os.urandom(40_000)
    resp = owner.post("/api/v1/documents", data={"category": "annual-statement"},
                      files={"file": ("jaaropgave.pdf", content, "application/pdf")})
    assert resp.status_code == 201, resp.text
    document_id = resp.json()["id"]
    records = owner.get("/api/v1/records").json()
    grant_id = _grant_id(owner)
    before = _events(live_server.url, owner)
    assert before["log_intact"]
    # An organisation reads on the file backend: its event waits in the journal file.
    assert _read(live_server.url, token["access_token"]).status_code == 200
    assert ".access" in _files(settings, owner.vault_id)
    status = _cli_text(pg_settings, "storage", "status")
    assert f"{owner.vault_id}  file" in status and owner.username in status
    assert "1 vaults not moved yet" in status
    stats = _cli(pg_settings, "operator", "stats")
    assert stats["vaults_not_moved"] == 1 and stats["vaults_by_location"]["file"] == 1

    _restart()  # the operator set KLUIS_DATABASE_URL and restarted Kluis
    pg_node = pg_live()
    login = requests.post(f"{pg_node.url}/api/v1/tokens", timeout=30, json={
        "username": owner.username, "password": owner.password, "name": "after the move"})
    assert login.status_code == 201, login.text

    assert _files(settings, owner.vault_id) == []
    assert _location(pg_settings, owner.vault_id) == pgmove.POSTGRESQL
    with pg.database(pg_settings.database_url).connection() as pgc:
        rows = pgc.execute("SELECT count(*) FROM kluis_rows WHERE vault_id = %s",
                           (owner.vault_id,)).fetchone()[0]
    assert rows > 10
    assert owner.http.get(f"{pg_node.url}/api/v1/records", timeout=30).json() == records
    got = owner.http.get(f"{pg_node.url}/api/v1/records/{document_id}/content", timeout=30)
    assert got.status_code == 200 and got.content == content
    after = _events(pg_node.url, owner)
    assert after["log_intact"], after["problems"]
    old = [(e["seq"], e["hash"]) for e in before["events"]]
    assert [(e["seq"], e["hash"]) for e in after["events"]][-len(old):] == old
    assert [e["action"] for e in after["events"]].count("grant.read") == 1  # from the journal
    assert _access_count(pg_node.url, owner, grant_id) == 1
    # The organisation's token still reads, now from PostgreSQL, and the owner sees it.
    assert _read(pg_node.url, token["access_token"]).status_code == 200
    assert [e["action"] for e in _events(pg_node.url, owner)["events"]].count("grant.read") == 2
    assert _access_count(pg_node.url, owner, grant_id) == 2
    stats = _cli(pg_settings, "operator", "stats")
    assert stats["vaults_not_moved"] == 0 and stats["vaults_by_location"]["postgresql"] == 1


def test_an_organisations_read_moves_the_vault_and_is_in_the_owners_log(
        live_server, granted, pg_live, settings):
    owner, _org, token = granted({"income": None, "person": None})
    grant_id = _grant_id(owner)
    first = _read(live_server.url, token["access_token"])
    assert first.status_code == 200
    _restart()
    pg_node = pg_live()
    second = _read(pg_node.url, token["access_token"])  # the first open since the URL was set
    assert second.status_code == 200, second.text
    assert second.json()["records"] == first.json()["records"]
    assert _files(settings, owner.vault_id) == []
    log = _events(pg_node.url, owner)
    assert log["log_intact"], log["problems"]
    reads = [e for e in log["events"] if e["action"] == "grant.read"]
    assert len(reads) == 2 and {e["grant_id"] for e in reads} == {grant_id}
    assert _access_count(pg_node.url, owner, grant_id) == 2


# -- kill -9 inside a move, and two movers at once (storage level, in subprocesses) ----------


def _file_vault(settings) -> tuple[str, bytes, int]:
    """A file vault with meta, a 200 kB blob, 20 events and one unmerged journal row;
    returns its id, data key and number of events."""
    instance = Instance(settings)
    try:
        vault_id, dek = new_vault_id(), keys.random_key()
        vault, public = create_vault_file(instance, vault_id, dek)
        with instance.transaction() as tx:
            instance.add_vault(tx, vault_id, f"mover-{vault_id[:8]}", public)
        with vault.transaction() as tx:
            vault.set_meta(tx, "canary", "kanarie-verhuis")
            vault.set_meta(tx, "blob", b"\x07" * 200_000)
            for i in range(20):
                vault.append_event(tx, actor="owner", action="test.event", detail={"i": i})
        ref = journal.ref(vault, str(instance.vault_path(vault_id)))
        with journal.opened(ref, settings, vault=vault) as conn, journal.locked(conn):
            journal.append(conn, at="2026-01-01T00:00:00Z", actor="org:test",
                           action="grant.read", grant_id=None,
                           detail=EventDetail.of({"fields": ["a"]}))
        events = len(vault.events(limit=1000))
        vault.close()
    finally:
        instance.close()
        CONNECTIONS.forget(vault_id)
    return vault_id, dek, events


def _child(pg_settings, vault_id: str, dek: bytes, pause: str = "") -> subprocess.Popen:
    env = settings_env(pg_settings) | {"MOVE_VAULT": vault_id, "MOVE_DEK": dek.hex(),
                                       "MOVE_PAUSE": pause}
    return steps.spawn(CHILD, env)


def _check_moved(pg_settings, vault_id: str, dek: bytes, events: int) -> None:
    """The vault opens from PostgreSQL with all its data; the journal row merges into its
    log; no file of it is left."""
    instance = Instance(pg_settings)
    try:
        vault = open_vault(instance, vault_id, dek)
        assert vault.get_meta("canary") == "kanarie-verhuis"
        assert bytes(vault.get_meta("blob")) == b"\x07" * 200_000
        assert len(vault.events(limit=1000)) == events
        assert journal.merge_pending(vault, str(instance.vault_path(vault_id)), pg_settings,
                                     on_merged=journal.no_derived_rows) == 1
        assert [e.action for e in vault.events(limit=1000)].count("grant.read") == 1
        assert vault.verify_log() == []
        vault.close()
    finally:
        instance.close()
    assert _files(pg_settings, vault_id) == []
    instance = Instance(pg_settings)
    try:
        assert pgmove.locations(instance)[vault_id] == pgmove.POSTGRESQL
    finally:
        instance.close()


@pytest.mark.parametrize("step", ["locked", "read", "written", "committed", "journal-removed"])
def test_a_move_killed_at_any_step_leaves_one_whole_vault(settings, pg_settings, step):
    vault_id, dek, events = _file_vault(settings)
    steps.kill_at(_child(pg_settings, vault_id, dek, pause=step), step)
    # Before the commit the file is the vault (nothing in the database); after it, the
    # database is, and what is left of the file goes at the next open.
    instance = Instance(pg_settings)
    try:
        where = pgmove.locations(instance)[vault_id]
    finally:
        instance.close()
    committed = step in ("committed", "journal-removed")
    assert where == (pgmove.POSTGRESQL if committed else pgmove.FILE)
    assert (".access" in _files(settings, vault_id)) == (step != "journal-removed")
    assert "" in _files(settings, vault_id)  # the vault file itself is still there
    _check_moved(pg_settings, vault_id, dek, events)


def test_two_processes_opening_a_file_vault_at_once_move_it_once(settings, pg_settings):
    vault_id, dek, events = _file_vault(settings)
    first = _child(pg_settings, vault_id, dek, pause="read")  # holds the move lock there
    second = None
    try:
        first_steps = steps.until(first, "read")
        second = _child(pg_settings, vault_id, dek)
        # The second waits on the first's lock.
        steps.until_one_waits(pg_settings.database_url, pgmove.lock_key(vault_id))
        (out1, _), (out2, _) = steps.finish(first, second, seconds=30)
    finally:
        steps.reap(first, second)
    first_steps += out1.split("\n")
    assert "written" in first_steps and "opened kanarie-verhuis" in first_steps
    second_steps = out2.split("\n")
    assert "locked" in second_steps and "written" not in second_steps  # found it moved
    assert "opened kanarie-verhuis" in second_steps
    with pg.database(pg_settings.database_url).connection() as pgc:
        version = pgc.execute("SELECT version FROM kluis_vaults WHERE vault_id = %s",
                              (vault_id,)).fetchone()[0]
    assert version == 1  # written once
    _check_moved(pg_settings, vault_id, dek, events)


def test_an_older_copy_of_the_file_is_refused_and_not_moved(settings, pg_settings):
    """The rollback commitment carries over: a file put back from before later writes does
    not open (so does not move) until its owner accepts the older state."""
    vault_id, dek, _ = _file_vault(settings)
    path = settings.home_path / "vaults" / f"{vault_id}.db"
    older = path.with_name("older.copy")
    shutil.copyfile(path, older)
    instance = Instance(settings)
    try:
        vault = open_vault(instance, vault_id, dek)
        with vault.transaction() as tx:
            vault.append_event(tx, actor="owner", action="test.after-the-copy")
        vault.close()
    finally:
        instance.close()
    forget_cached(vault_id)
    os.replace(older, path)
    for suffix in ("-wal", "-shm"):
        if os.path.exists(str(path) + suffix):
            os.unlink(str(path) + suffix)
    instance = Instance(pg_settings)
    try:
        with pytest.raises(VaultRolledBack):
            open_vault(instance, vault_id, dek)
        assert pgmove.locations(instance)[vault_id] == pgmove.FILE
        # Accepting the older state (check_head=False) moves it; the commitment follows.
        open_vault(instance, vault_id, dek, check_head=False).close()
        assert pgmove.locations(instance)[vault_id] == pgmove.POSTGRESQL
    finally:
        instance.close()


def test_a_damaged_journal_file_is_set_aside_and_said_in_the_log_and_the_vault_moves(
        settings, pg_settings):
    vault_id, dek, events = _file_vault(settings)
    journal_path = settings.home_path / "vaults" / f"{vault_id}.db.access"
    journal_path.write_bytes(os.urandom(8192))  # not a journal under its key any more
    instance = Instance(pg_settings)
    try:
        vault = open_vault(instance, vault_id, dek)
        actions = [e.action for e in vault.events(limit=1000)]
        assert actions.count("access-journal.damaged") == 1 and len(actions) == events + 1
        assert vault.get_meta("canary") == "kanarie-verhuis" and vault.verify_log() == []
        vault.close()
        assert pgmove.locations(instance)[vault_id] == pgmove.POSTGRESQL
    finally:
        instance.close()
    assert _files(settings, vault_id) == []
    # The damaged journal is kept beside, as the file backend keeps it.
    assert [p.name.split(".access.")[1][:8] for p in journal_path.parent.glob(f"{vault_id}*")
            ] == ["damaged-"]
