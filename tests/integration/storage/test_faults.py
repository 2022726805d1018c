"""Storage faults over real HTTP: a damaged access journal never locks the owner out, a damaged
vault file is a clear problem, a rolled-back vault is refused until its owner accepts it.

Each fault is done to the files of the file backend, and again to the rows of the PostgreSQL
backend (the tests marked ``ON_POSTGRESQL``)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import requests

from tests.conftest import ROOT, settings_env
from vault.crypto.rowseal import RowKeys
from vault.grants.redemption import HANDLES
from vault.storage.cache import CONNECTIONS, MIRRORS

#: A test of these faults done to PostgreSQL's rows instead of files.
ON_POSTGRESQL = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@pytest.fixture
def settings(make_settings, request):
    """Files, whatever KLUIS_TEST_BACKEND says (these faults are done to vault and journal
    files); PostgreSQL for a test marked ``ON_POSTGRESQL``."""
    if "backend" in request.fixturenames:
        return make_settings(database_url=request.getfixturevalue("backend"))
    return make_settings(database_url="")


def _restart_caches() -> None:
    """What a restarted server would have: no open vault or journal, no grant handle."""
    CONNECTIONS.clear()
    MIRRORS.clear()
    HANDLES.clear()


def _sql(settings, statement: str, *params):
    """One statement in the vaults' database, as its administrator would run it."""
    import psycopg

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description is not None else cur.rowcount


def _flip(path, count: int = 16) -> None:
    with open(path, "r+b") as handle:
        head = handle.read(count)
        handle.seek(0)
        handle.write(bytes(b ^ 0xFF for b in head))


def _records(live_server, token):
    return requests.get(f"{live_server.url}/api/v1/grant/records", timeout=30,
                        headers={"Authorization": f"Bearer {token}"})


def _cli(settings, *args, stdin: str | None = None, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vault.cli", *args], input=stdin,
                          env=settings_env(settings) | env, cwd=str(ROOT), capture_output=True,
                          text=True, timeout=60)


def _refused_until_the_owner_accepts(live_server, owner, settings) -> None:
    """The vault put back from before is refused (409, with what the owner can do) until its
    owner accepts the older state; then it opens as it was, its log says so and is intact."""
    resp = requests.post(f"{live_server.url}/api/v1/tokens", timeout=30, json={
        "username": owner.username, "password": owner.password, "name": "after"})
    assert resp.status_code == 409, resp.text  # before the fix: 201, the record silently gone
    problem = resp.json()
    assert problem["type"].endswith(":vault-rolled-back")
    assert problem["known_log_seq"] > problem["vault_log_seq"]
    assert "accept-older-state" in problem["detail"]
    assert owner.get("/api/v1/records").status_code == 409

    result = _cli(settings, "vault", "accept-older-state", "--username", owner.username,
                  stdin=owner.password + "\n")
    assert result.returncode == 0, result.stderr
    assert "accepted" in result.stdout
    _restart_caches()
    assert owner.get("/api/v1/records").json()["records"] == []
    events = owner.get("/api/v1/events?limit=50").json()["events"]
    assert any(e["action"] == "vault.older-state-accepted" for e in events)
    assert owner.get("/api/v1/access-log").json()["log_intact"] is True


def test_a_damaged_access_journal_never_locks_the_owner_or_the_organisation_out(
        live_server, granted, settings):
    owner, _org, token = granted()
    assert _records(live_server, token["access_token"]).status_code == 200
    journal_path = settings.home_path / "vaults" / f"{owner.vault_id}.db.access"
    _restart_caches()
    _flip(journal_path)

    login = requests.post(f"{live_server.url}/api/v1/tokens", timeout=30, json={
        "username": owner.username, "password": owner.password, "name": "after"})
    assert login.status_code == 201, login.text  # before the fix: 500
    assert owner.get("/api/v1/records").status_code == 200
    assert _records(live_server, token["access_token"]).status_code == 200  # before: 503
    events = owner.get("/api/v1/events?limit=50").json()["events"]
    damaged = [e for e in events if e["action"] == "access-journal.damaged"]
    assert len(damaged) == 1 and damaged[0]["detail"]["lost_until"]
    assert owner.get("/api/v1/access-log").json()["log_intact"] is True
    assert list(journal_path.parent.glob(f"{journal_path.name}.damaged-*"))


@ON_POSTGRESQL
def test_a_changed_journal_row_in_postgresql_never_locks_the_owner_or_the_organisation_out(
        live_server, granted, settings, backend):
    owner, _org, token = granted(max_uses=50)  # a usage limit: every read counts the journal
    assert _records(live_server, token["access_token"]).status_code == 200
    _restart_caches()
    assert _sql(settings, "UPDATE kluis_journal SET sealed = overlay(sealed PLACING"
                " '\\x0000'::bytea FROM 20) WHERE vault_id = %s", owner.vault_id) == 1

    # The organisation first: its read counts the rows in the journal.
    assert _records(live_server, token["access_token"]).status_code == 200  # before: 503
    grant = requests.get(f"{live_server.url}/api/v1/grant", timeout=30,  # merges the journal
                         headers={"Authorization": f"Bearer {token['access_token']}"})
    assert grant.status_code == 200, grant.text  # before the fix: 503
    login = requests.post(f"{live_server.url}/api/v1/tokens", timeout=30, json={
        "username": owner.username, "password": owner.password, "name": "after"})
    assert login.status_code == 201, login.text
    assert owner.get("/api/v1/records").status_code == 200
    events = owner.get("/api/v1/events?limit=50").json()["events"]
    damaged = [e for e in events if e["action"] == "access-journal.damaged"]
    assert len(damaged) == 1 and damaged[0]["detail"]["reads_lost"] == 1
    assert [e["action"] for e in events].count("grant.read") == 1  # the second read is there
    assert owner.get("/api/v1/access-log").json()["log_intact"] is True
    assert _sql(settings, "SELECT count(*) FROM kluis_journal WHERE vault_id = %s",
                owner.vault_id) == [(0,)]


def test_a_damaged_vault_file_is_a_problem_and_verify_log_says_so_in_one_line(
        live_server, make_owner, settings):
    owner = make_owner()
    _restart_caches()
    _flip(settings.home_path / "vaults" / f"{owner.vault_id}.db")
    resp = owner.get("/api/v1/records")
    assert resp.status_code == 503
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert resp.json()["type"].endswith(":vault-damaged")
    result = _cli(settings, "verify-log", KLUIS_OWNER_TOKEN=owner.token)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "Error: This vault's file is damaged."
    assert "sqlcipher" not in result.stderr.lower()


def test_a_damaged_vault_is_said_on_the_page_in_the_persons_language(live_server, make_owner):
    from tests.integration.records.test_forms import login

    owner = make_owner()
    pages = {lang: login(live_server.url, owner, lang) for lang in ("nl", "en")}
    _restart_caches()
    _flip(live_server.app.extensions["kluis"].instance.vault_path(owner.vault_id))
    said = {}
    for lang, http in pages.items():
        resp = http.get(f"{live_server.url}/dashboard", timeout=30)
        assert resp.status_code == 503
        assert resp.headers["Content-Type"].startswith("text/html")
        said[lang] = resp.text
    assert "Je kluis opent niet" in said["nl"] and "back-up" in said["nl"]
    assert "Your vault does not open" in said["en"]
    for text in said.values():  # no technical words, no stack
        assert "file is damaged" not in text and "sqlcipher" not in text.lower()
        assert "Traceback" not in text


@ON_POSTGRESQL
def test_a_changed_vault_row_in_postgresql_is_a_problem_and_verify_log_says_so_in_one_line(
        live_server, make_owner, settings, backend):
    owner = make_owner()
    svc = live_server.app.extensions["kluis"]
    slot, dek = svc.accounts.unlock_token(owner.token)
    row_key = RowKeys(dek, owner.vault_id).row_id("events", 1)  # the log's first event
    _restart_caches()
    assert _sql(settings, "UPDATE kluis_rows SET sealed = overlay(sealed PLACING"
                " '\\x0000'::bytea FROM 20) WHERE vault_id = %s AND row_key = %s",
                owner.vault_id, row_key) == 1
    resp = owner.get("/api/v1/records")
    assert resp.status_code == 503
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert resp.json()["type"].endswith(":vault-damaged")
    result = _cli(settings, "verify-log", KLUIS_OWNER_TOKEN=owner.token)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "Error: This vault's file is damaged."
    assert "psycopg" not in result.stderr.lower()


def test_a_rolled_back_vault_is_refused_until_its_owner_accepts_the_older_state(
        live_server, make_owner, settings, tmp_path):
    owner = make_owner()
    path = settings.home_path / "vaults" / f"{owner.vault_id}.db"
    _restart_caches()
    shutil.copyfile(path, tmp_path / "old.db")
    made = owner.post("/api/v1/records", json={"type": "person", "data": {
        "given_names": "Anna", "surname": "Jansen"}})
    assert made.status_code == 201, made.text
    _restart_caches()
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    shutil.copyfile(tmp_path / "old.db", path)

    _refused_until_the_owner_accepts(live_server, owner, settings)


@ON_POSTGRESQL
def test_a_vault_put_back_in_postgresql_from_before_is_refused_until_its_owner_accepts_it(
        live_server, make_owner, settings, backend):
    owner = make_owner()
    _restart_caches()
    # What a restore of the vault's rows (not of the whole database) from earlier puts back.
    [vault_row] = _sql(settings, "SELECT version, purged_upto, header FROM kluis_vaults"
                       " WHERE vault_id = %s", owner.vault_id)
    rows = _sql(settings, "SELECT row_key, version, sealed FROM kluis_rows WHERE vault_id = %s",
                owner.vault_id)
    made = owner.post("/api/v1/records", json={"type": "person", "data": {
        "given_names": "Anna", "surname": "Jansen"}})
    assert made.status_code == 201, made.text
    _restart_caches()
    import psycopg

    with psycopg.connect(settings.database_url) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM kluis_rows WHERE vault_id = %s", (owner.vault_id,))
        cur.execute("UPDATE kluis_vaults SET version = %s, purged_upto = %s, header = %s"
                    " WHERE vault_id = %s", (*vault_row, owner.vault_id))
        cur.executemany("INSERT INTO kluis_rows (vault_id, row_key, version, sealed)"
                        " VALUES (%s, %s, %s, %s)", [(owner.vault_id, *r) for r in rows])

    _refused_until_the_owner_accepts(live_server, owner, settings)
