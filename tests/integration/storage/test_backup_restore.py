"""``kluis backup`` of an instance serving writes over HTTP, and ``kluis restore`` of it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time

import pytest
import requests

from tests.conftest import ROOT, free_port, settings_env
from vault.app import create_app
from vault.grants.redemption import HANDLES
from vault.storage.cache import CONNECTIONS


@pytest.fixture
def settings(make_settings):
    """Files, whatever KLUIS_TEST_BACKEND says: ``kluis backup`` copies the file backend (with
    PostgreSQL the database is backed up with its own tools: the last test)."""
    return make_settings(database_url="")


def _cli(settings, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vault.cli", *args], env=settings_env(settings),
                          cwd=str(ROOT), capture_output=True, text=True, timeout=120)


def test_a_backup_under_writes_restores_every_vault_and_every_acknowledged_write(
        live_server, make_owner, granted, settings, make_live_server, tmp_path):
    owners = [make_owner() for _ in range(3)]
    reader_owner, _org, token = granted()
    acked: dict[str, list[tuple[str, float]]] = {o.username: [] for o in owners}
    reads: list[float] = []
    stop = threading.Event()

    def write(owner) -> None:
        i = 0
        while not stop.is_set():
            resp = owner.post("/api/v1/records", json={"type": "person", "data": {
                "given_names": f"N{i}", "surname": owner.username}})
            if resp.status_code == 201:
                acked[owner.username].append((resp.json()["id"], time.monotonic()))
            i += 1

    def read() -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token['access_token']}"
        while not stop.is_set():
            if http.get(f"{live_server.url}/api/v1/grant/records", timeout=30).status_code == 200:
                reads.append(time.monotonic())
            time.sleep(0.01)

    threads = [threading.Thread(target=write, args=(o,)) for o in owners]
    threads.append(threading.Thread(target=read))
    for t in threads:
        t.start()
    try:
        time.sleep(0.8)
        started = time.monotonic()
        result = _cli(settings, "backup", str(tmp_path / "backup"))
        time.sleep(0.3)  # writes go on after the backup too
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert result.returncode == 0, result.stderr
    assert "backed up 4 vaults" in result.stdout
    after = {u: [r for r, at in rows if at > started] for u, rows in acked.items()}
    assert all(after.values()), "writes went on during and after the backup"
    manifest = json.loads((tmp_path / "backup" / "kluis-backup.json").read_text())
    assert "instance.key" not in manifest["files"]
    assert f"vaults/{reader_owner.vault_id}.db.access" in manifest["files"]

    # Restore on a fresh home that has only the instance key.
    home = tmp_path / "restored"
    home.mkdir()
    shutil.copyfile(settings.home_path / "instance.key", home / "instance.key")
    restored = settings.with_overrides(home=str(home))
    result = _cli(restored, "restore", str(tmp_path / "backup"))
    assert result.returncode == 0, result.stderr
    CONNECTIONS.clear()  # the first server's open files are of the other home
    HANDLES.clear()
    port = free_port()
    app = create_app({"settings": restored.with_overrides(base_url=f"http://127.0.0.1:{port}"),
                      "TESTING": True})
    try:
        server = make_live_server(app, port)
        for owner in owners + [reader_owner]:
            http = requests.Session()
            http.headers["Authorization"] = f"Bearer {owner.token}"
            resp = http.get(f"{server.url}/api/v1/records", timeout=30)
            assert resp.status_code == 200, resp.text  # opens: no rollback refusal
            have = {r["id"] for r in resp.json()["records"]}
            before = [r for r, at in acked.get(owner.username, []) if at < started]
            assert set(before) <= have, "a write acknowledged before the backup is missing"
            log = http.get(f"{server.url}/api/v1/access-log?limit=500", timeout=30).json()
            assert log["log_intact"] is True
            if owner is reader_owner:
                served = sum(1 for at in reads if at < started)
                logged = sum(1 for e in log["events"] if e["action"] == "grant.read")
                assert logged >= served > 0
        again = requests.get(f"{server.url}/api/v1/grant/records", timeout=30,
                             headers={"Authorization": f"Bearer {token['access_token']}"})
        assert again.status_code == 200
    finally:
        app.extensions["kluis"].close()


def test_restore_refuses_a_home_with_an_instance_and_a_changed_file(live_server, make_owner,
                                                                    settings, tmp_path):
    make_owner()
    assert _cli(settings, "backup", str(tmp_path / "b")).returncode == 0
    refused = _cli(settings, "restore", str(tmp_path / "b"))
    assert refused.returncode == 1 and "--replace" in refused.stderr
    assert "Traceback" not in refused.stderr
    not_empty = _cli(settings, "backup", str(tmp_path / "b"))
    assert not_empty.returncode == 1 and "not empty" in not_empty.stderr
    vault_file = next((tmp_path / "b" / "vaults").glob("*.db"))
    data = bytearray(vault_file.read_bytes())
    data[5000] ^= 1
    vault_file.write_bytes(bytes(data))
    home = tmp_path / "other"
    home.mkdir()
    shutil.copyfile(settings.home_path / "instance.key", home / "instance.key")
    damaged = _cli(settings.with_overrides(home=str(home)), "restore", str(tmp_path / "b"))
    assert damaged.returncode == 1 and "differs from the backup's manifest" in damaged.stderr
    assert not (home / "instance.db").exists()


def test_a_backup_of_an_instance_in_postgresql_says_to_use_postgresqls_tools(
        make_settings, postgres_database, tmp_path):
    settings = make_settings("pg", database_url=postgres_database())
    result = _cli(settings, "backup", str(tmp_path / "backup"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "in PostgreSQL" in result.stderr and "pg_dump" in result.stderr  # before: no instance.db
    assert not (tmp_path / "backup").exists()
