"""Finished archives waiting for their download (vault/portability/pending.py): handed out
once, gone after an hour, erased with the vault, and, with PostgreSQL, downloadable from a
web node other than the one that built it."""

from __future__ import annotations

import dataclasses
import os
import time

import psycopg
import pytest
import requests

from tests.conftest import free_port
from vault.app import create_app
from vault.portability import pending, service
from vault.portability.jobs import TTL
from vault.storage.instance import Instance, init_home, read_instance_key

PASSPHRASE = "a long passphrase for the archive"


@pytest.fixture
def settings(make_settings, backend):
    return make_settings(database_url=backend)


@pytest.fixture
def instance(settings):
    inst = Instance(settings)
    yield inst
    inst.close()


def _vault(instance, name: str = "lid") -> str:
    vault_id = os.urandom(16).hex()
    with instance.transaction() as tx:
        instance.add_vault(tx, vault_id, name, os.urandom(32))
    return vault_id


def _age(instance, store, name: str, seconds: float) -> None:
    """Make a waiting archive ``seconds`` old."""
    if isinstance(store, pending.FileArchives):
        path = store.directory / name
        then = time.time() - seconds
        os.utime(path, (then, then))
    else:
        with instance.pg.connection() as conn:
            conn.execute("UPDATE kluis_pending_archives SET created_at = now() - "
                         "make_interval(secs => %s) WHERE name = %s", (seconds, name))


def test_an_archive_is_handed_out_once(instance):
    store = pending.store(instance)
    vault_id = _vault(instance)
    blob = os.urandom(300_000)
    name = store.put(vault_id, "job1", blob)
    assert store.take(name) == blob
    assert store.take(name) is None  # once only
    assert store.take("nothing-by-that-name.kluis") is None


def test_an_archive_left_past_the_hour_is_not_handed_out_and_is_swept(instance):
    store = pending.store(instance)
    vault_id = _vault(instance)
    old = store.put(vault_id, "old", b"old archive")
    fresh = store.put(vault_id, "fresh", b"fresh archive")
    stale = store.put(vault_id, "stale", b"stale archive")
    _age(instance, store, old, TTL + 5)
    _age(instance, store, stale, TTL + 5)
    assert store.take(stale) is None  # expired, even though still there
    assert store.sweep() == 1  # the old one (the stale one went with its take)
    assert store.take(old) is None
    assert store.take(fresh) == b"fresh archive"


def test_erasing_the_vault_removes_its_waiting_archives(instance, settings, redis_client):
    from vault.accounts.service import Accounts

    store = pending.store(instance)
    vault_id, other = _vault(instance, "weg"), _vault(instance, "blijft")
    mine = store.put(vault_id, "a", b"mine")
    theirs = store.put(other, "b", b"theirs")
    service.erase_owner_vault(Accounts(instance, redis_client, settings), vault_id)
    assert store.take(mine) is None
    assert store.take(theirs) == b"theirs"


def test_an_archive_built_on_one_node_downloads_from_another(make_settings, postgres_database,
                                                            make_live_server, tmp_path):
    url = postgres_database()
    one_port, two_port = free_port(), free_port()
    one = make_settings("node1", database_url=url, base_url=f"http://127.0.0.1:{one_port}")
    two = dataclasses.replace(one, home=str(tmp_path / "node2"),
                              instance_key=read_instance_key(one).hex())
    init_home(two)
    apps = [create_app({"settings": s, "TESTING": True}) for s in (one, two)]
    try:
        node1 = make_live_server(apps[0], one_port)
        node2 = make_live_server(apps[1], two_port)
        made = requests.post(f"{node1.url}/api/v1/accounts", timeout=30,
                             json={"username": "anna", "password": "correct horse staple 42"})
        assert made.status_code == 201, made.text
        token = requests.post(f"{node1.url}/api/v1/tokens", timeout=30, json={
            "username": "anna", "password": "correct horse staple 42"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        started = requests.post(f"{node1.url}/api/v1/vault/archive", headers=headers,
                                json={"passphrase": PASSPHRASE}, timeout=30)
        assert started.status_code == 202, started.text
        status_url = started.json()["status_url"]
        deadline = time.monotonic() + 60
        job = started.json()
        while job["state"] == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
            job = requests.get(f"{node2.url}{status_url}", headers=headers, timeout=30).json()
        assert job["state"] == "done", job
        got = requests.get(f"{node2.url}{job['download_url']}", headers=headers, timeout=60)
        assert got.status_code == 200, got.text
        assert len(got.content) > 1000
        again = requests.get(f"{node1.url}{job['download_url']}", headers=headers, timeout=60)
        assert again.status_code in (404, 410)  # once, on whichever node
        assert not any((tmp_path / n / "exports").exists() and
                       any((tmp_path / n / "exports").iterdir()) for n in ("node1", "node2"))
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM kluis_pending_archives").fetchone()[0] == 0
    finally:
        for app in apps:
            app.extensions["kluis"].close()
