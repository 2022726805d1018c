"""Storage faults over real HTTP: a damaged access journal never locks the owner out, a damaged
vault file is a clear problem, a rolled-back vault is refused until its owner accepts it."""

from __future__ import annotations

import shutil
import subprocess
import sys

import requests

from tests.conftest import ROOT, settings_env
from vault.grants.redemption import HANDLES
from vault.storage.cache import CONNECTIONS


def _restart_caches() -> None:
    """What a restarted server would have: no open vault or journal, no grant handle."""
    CONNECTIONS.clear()
    HANDLES.clear()


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
