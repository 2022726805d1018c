"""The PostgreSQL backend end to end: the real app over HTTP with KLUIS_DATABASE_URL set.

Also runs some of the file backend's own integration tests again, on PostgreSQL (imported
below: pytest collects them here, with this module's ``settings``).
"""

from __future__ import annotations

import threading

import pytest
import requests

from tests.integration.grants.test_redemption import (  # noqa: F401 - collected here again
    test_no_read_succeeds_after_the_revoke_call_returned,
    test_owner_revoke_all_needs_one_call_and_ends_every_grant,
)
from tests.integration.records.test_api import (  # noqa: F401 - collected here again
    test_document_upload_and_download_are_byte_identical,
)
from tests.pgserver import dump_holds
from vault.crypto import keys
from vault.grants.organisations import PICKUP_GRANT_TYPE
from vault.storage.cache import MIRRORS
from vault.storage.instance import Instance
from vault.storage.vaults import create_vault_file, new_vault_id, open_vault

CANARY_RECORD = "Kanariepietje-Vermeulen-7731"
CANARY_FIELD_VALUE = "Kanarieweg 88 Utrecht"
CANARY_DOCUMENT = b"KANARIE-DOCUMENT-BYTES-0042"
CANARY_DOCUMENT_NAME = "kanarie-jaaropgave.pdf"
CANARY_CREDENTIAL = "kanarie-api-key-5583"
CANARY_ORG = "Woonstichting Kanariegeel"


@pytest.fixture
def settings(make_settings, postgres_database):
    return make_settings(database_url=postgres_database())


def test_pg_dump_holds_none_of_the_canaries(live_server, make_owner, register_org,
                                            postgres_server, settings):
    owner = make_owner()
    resp = owner.post("/api/v1/records", json={"type": "person", "data": {
        "given_names": CANARY_RECORD, "surname": CANARY_RECORD,
        "birth_place": CANARY_FIELD_VALUE, "birth_date": "1990-01-01"}})
    assert resp.status_code == 201, resp.text
    content = b"%PDF-1.4\n" + CANARY_DOCUMENT * 50
    resp = owner.post("/api/v1/documents", files={"file": (CANARY_DOCUMENT_NAME, content,
                                                           "application/pdf")},
                      data={"category": "annual-statement"})
    assert resp.status_code == 201, resp.text
    resp = owner.post("/api/v1/connections", json={
        "connector": "brp", "options": {"bsn": "999993653", "base_url": "http://127.0.0.1:9"},
        "credentials": {"api_key": CANARY_CREDENTIAL}})
    assert resp.status_code == 201, resp.text
    # An organisation with a canary name reads under a grant: the grant, its conditions, the
    # access journal and the log all carry the name, inside the vault.
    org = register_org(name=CANARY_ORG)
    resp = owner.post("/api/v1/grants", json={"client_id": org.client_id, "authorization_details": [{
        "type": "kluis_records", "purpose": "rental-eligibility", "retention": "P60D",
        "duration": "P30D", "records": [{"record_type": "person"}]}]})
    assert resp.status_code == 201, resp.text
    token = requests.post(f"{live_server.url}/oauth/token", timeout=30,
                          auth=(org.client_id, org.client_secret),
                          data={"grant_type": PICKUP_GRANT_TYPE,
                                "code": resp.json()["pickup_code"]}).json()["access_token"]
    read = requests.get(f"{live_server.url}/api/v1/grant/records", timeout=30,
                        headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 200 and CANARY_RECORD in read.text
    assert owner.get("/api/v1/records").status_code == 200  # merges the journal into the log

    dump = postgres_server.dump(settings.database_url.rsplit("/", 1)[1])
    assert b"kluis_rows" in dump and len(dump) > len(content)  # the vault is in there
    for canary in (CANARY_RECORD.encode(), CANARY_FIELD_VALUE.encode(), CANARY_DOCUMENT,
                   CANARY_DOCUMENT_NAME.encode(), CANARY_CREDENTIAL.encode(),
                   b"person", b"given_names", b"rental-eligibility"):
        assert not dump_holds(dump, canary), canary
    # No vault file was written: the vault lives in PostgreSQL only.
    assert list((settings.home_path / "vaults").glob("*.db")) == []
    # With the instance tables in PostgreSQL too, the username (table vaults) and the
    # organisation's registered name (its public client metadata, and webhook bodies naming
    # it) are instance data a DBA can read, as they are inside instance.db to whoever holds the
    # instance key (docs/threat-model.md, "PostgreSQL backend"). They must be there and
    # nowhere else: not in the vault's rows, nor its journal.
    tables = tables_holding(dump, CANARY_ORG.encode())
    assert tables and tables <= {"oauth_clients", "webhook_events"}, tables
    assert tables_holding(dump, owner.username.encode()) == {"vaults"}


def tables_holding(dump: bytes, needle: bytes) -> set[str]:
    """The tables whose data in a plain-format ``pg_dump`` holds ``needle``."""
    found: set[str] = set()
    for block in dump.split(b"\nCOPY ")[1:]:
        name, _, rest = block.partition(b" ")
        data = rest.split(b"\n\\.\n", 1)[0]
        if needle in data:
            found.add(name.decode().removeprefix("public."))
    return found


def test_a_write_by_one_process_is_seen_by_the_next_open_in_another(settings):
    """Two Instances with separate mirror caches stand for two web workers (or nodes)."""
    first, second = Instance(settings), Instance(settings)
    try:
        vault_id, dek = new_vault_id(), keys.random_key()
        vault, public = create_vault_file(first, vault_id, dek)
        with first.transaction() as tx:
            first.add_vault(tx, vault_id, "pg-two", public)
        vault.close()
        a = open_vault(first, vault_id, dek)
        a_conn = a.conn
        a.close()  # cached, as a web worker keeps it
        MIRRORS.forget(vault_id)
        b = open_vault(second, vault_id, dek)
        with b.transaction() as tx:
            b.set_meta(tx, "seen", "from-b")
            b.append_event(tx, actor="owner", action="test.event")
        b.close()
        again = open_vault(first, vault_id, dek)
        assert again.get_meta("seen") == "from-b"
        assert again.verify_log() == []
        with again.transaction() as tx:
            tx.execute("DELETE FROM meta WHERE key = 'seen'")
        again.close()
        third = open_vault(second, vault_id, dek)
        assert third.get_meta("seen") is None  # the deletion reached the other mirror too
        third.close()
        assert a_conn is not None
    finally:
        first.close()
        second.close()


def test_concurrent_writers_on_separate_mirrors_lose_nothing(settings):
    instance = Instance(settings)
    try:
        vault_id, dek = new_vault_id(), keys.random_key()
        vault, public = create_vault_file(instance, vault_id, dek)
        with instance.transaction() as tx:
            instance.add_vault(tx, vault_id, "pg-race", public)
        vault.close()
        MIRRORS.clear()
        # Each thread opens its own mirror (none is cached while all are open).
        opened = [open_vault(instance, vault_id, dek) for _ in range(4)]
        errors: list[BaseException] = []

        def write(v, n: int) -> None:
            try:
                for i in range(10):
                    with v.transaction() as tx:
                        v.append_event(tx, actor="owner", action="test.event",
                                       detail={"writer": n, "i": i})
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(v, n)) for n, v in enumerate(opened)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        for v in opened:
            v.close()
        MIRRORS.clear()
        check = open_vault(instance, vault_id, dek)
        events = [e for e in check.events(limit=1000) if e.action == "test.event"]
        assert len(events) == 40 and check.verify_log() == []
        check.close()
    finally:
        instance.close()


def test_a_row_put_back_from_an_older_version_is_refused(settings):
    from vault.storage.errors import VaultDamaged

    instance = Instance(settings)
    try:
        vault_id, dek = new_vault_id(), keys.random_key()
        vault, _ = create_vault_file(instance, vault_id, dek)
        with vault.transaction() as tx:
            vault.set_meta(tx, "note", "old")
        with instance.pg.connection() as pgc:
            old = pgc.execute("SELECT row_key, version, sealed FROM kluis_rows WHERE vault_id = %s",
                              (vault_id,)).fetchall()
        with vault.transaction() as tx:
            vault.set_meta(tx, "note", "new")
        vault.close()
        MIRRORS.clear()
        with instance.pg.connection() as pgc, pgc.cursor() as cur:
            cur.executemany("UPDATE kluis_rows SET version = %s, sealed = %s"
                            " WHERE vault_id = %s AND row_key = %s",
                            [(v, s, vault_id, k) for k, v, s in old])
        with pytest.raises(VaultDamaged):
            open_vault(instance, vault_id, dek)
    finally:
        instance.close()
