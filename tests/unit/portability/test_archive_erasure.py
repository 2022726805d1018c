"""Whole-vault archives between two real instances, and erasure that leaves no values behind."""

from __future__ import annotations

import json

import pytest

from tests.pgserver import dump_holds
from tests.unit.portability.conftest import DOCUMENT, PASSWORD, SAMPLE
from vault.accounts.errors import InvalidCredentials
from vault.portability import archive, erasure, service
from vault.records import service as records
from vault.storage import journal
from vault.storage.vaults import EventDetail

PASSPHRASE = "my vault goes to a new home"


@pytest.fixture
def make_settings(make_settings, request):
    """tests/conftest.py's; a test that takes ``backend`` looks at what storage keeps, so it
    chooses: it runs once on each backend (all its owners in one home, one database)."""
    if "backend" not in request.fixturenames:
        return make_settings
    url = request.getfixturevalue("backend")
    return lambda *args, **overrides: make_settings(*args, **{"database_url": url, **overrides})


def _snapshot(vault):
    out = {}
    for record in records.list_records(vault):
        out[record.id] = [(v.version, v.data, v.digest, v.provenance.to_dict(), v.created_at)
                          for v in records.versions(vault, record.id)]
    events = [(e.seq, e.at, e.actor, e.action, e.hash) for e in vault.events(limit=10_000)]
    return out, events


def test_export_then_import_on_another_instance_keeps_everything(make_vault):
    old = make_vault("old")
    with old.open() as vault:
        blob = archive.export_archive(vault, PASSPHRASE, username=old.username,
                                      source=old.settings.public_url)
        before_records, before_events = _snapshot(vault)
    assert b"Br\xc3\xbcgge" not in blob and DOCUMENT not in blob

    new = make_vault("new", username="someone", sample=False)
    outcome = service.import_vault_archive(new.accounts, blob, PASSPHRASE, username="anna2",
                                           password=PASSWORD)
    dek = new.accounts.unlock_password("anna2", PASSWORD).dek
    with new.accounts.open(outcome.vault_id, dek) as vault:
        after_records, after_events = _snapshot(vault)
        assert after_records == before_records
        assert after_events[1:] == before_events  # plus the import event on top
        assert after_events[0][3] == "vault.imported"
        assert vault.verify_log() == []
        sha = records.list_records(vault, ["document"])[0].data["sha256"]
        assert records.document_content(vault, sha)[0] == DOCUMENT
    assert outcome.result.records == len(SAMPLE) + 1
    assert "did not carry over" in outcome.to_dict()["notice"] or "never carry" in \
        outcome.to_dict()["notice"]


def test_active_grants_are_ended_on_import_and_the_owner_is_told(make_vault):
    old = make_vault("old")
    with old.open() as vault:
        vault.conn.execute(
            "INSERT INTO grants (id, client_id, organisation, purpose, retention, conditions,"
            " not_before, expires_at, created_at, status, slot_id) VALUES"
            " ('g1', 'c1', 'Woonstad Rotterdam', 'huur', 'P30D', '[]',"
            " '2020-01-01T00:00:00.000000Z', '2999-01-01T00:00:00.000000Z',"
            " '2020-01-01T00:00:00.000000Z', 'active', 'slot1')"
        )
        blob = archive.export_archive(vault, PASSPHRASE, username="anna", source="x")
    new = make_vault("new", username="someone", sample=False)
    outcome = service.import_vault_archive(new.accounts, blob, PASSPHRASE, username="anna2",
                                           password=PASSWORD)
    assert outcome.result.grants_ended == [
        {"id": "g1", "organisation": "Woonstad Rotterdam", "purpose": "huur"}]
    assert "Woonstad Rotterdam" in outcome.to_dict()["notice"]
    dek = new.accounts.unlock_password("anna2", PASSWORD).dek
    with new.accounts.open(outcome.vault_id, dek) as vault:
        row = vault.conn.execute("SELECT status, revoked_by, slot_id FROM grants").fetchone()
    assert tuple(row) == ("revoked", "moved", None)


def test_a_wrong_passphrase_imports_nothing(make_vault):
    old = make_vault("old")
    with old.open() as vault:
        blob = archive.export_archive(vault, PASSPHRASE, username="anna", source="x")
    new = make_vault("new", username="someone", sample=False)
    vaults_before = new.instance.count_vaults()
    files_before = sorted(p.name for p in (new.instance.home / "vaults").iterdir())
    with pytest.raises(archive.WrongPassphrase):
        service.import_vault_archive(new.accounts, blob, "not the passphrase!!",
                                     username="anna2", password=PASSWORD)
    assert new.instance.count_vaults() == vaults_before
    assert new.instance.vault_by_username("anna2") is None
    assert sorted(p.name for p in (new.instance.home / "vaults").iterdir()) == files_before


def test_a_changed_byte_in_the_archive_is_refused(make_vault):
    old = make_vault("old")
    with old.open() as vault:
        blob = bytearray(archive.export_archive(vault, PASSPHRASE, username="a", source="x"))
    blob[-40] ^= 1
    with pytest.raises(archive.WrongPassphrase):
        archive.open_archive(bytes(blob), PASSPHRASE)
    with pytest.raises(archive.BadArchive):
        archive.open_archive(b"PK\x03\x04 a zip file", PASSPHRASE)


def test_a_short_passphrase_is_refused():
    with pytest.raises(archive.WeakPassphrase):
        archive.check_passphrase("short")


def test_a_failed_restore_removes_the_new_account(make_vault):
    old = make_vault("old")
    with old.open() as vault:
        contents = archive.dump_vault(vault, username="a", source="x")
    contents["tables"]["records"]["rows"].append(["broken"])
    blob = archive.seal(contents, PASSPHRASE)
    new = make_vault("new", username="someone", sample=False)
    with pytest.raises(archive.BadArchive):
        service.import_vault_archive(new.accounts, blob, PASSPHRASE, username="anna2",
                                     password=PASSWORD)
    assert new.instance.vault_by_username("anna2") is None
    assert new.instance.count_vaults() == 1


def _all_bytes(home):
    for path in home.rglob("*"):
        if path.is_file():
            yield path, path.read_bytes()


def test_after_erasure_no_file_under_home_holds_any_record_value(make_vault, backend, request):
    made = make_vault()
    other = make_vault("home", username="bert", sample=False)  # same home, second owner
    del other
    with made.open() as vault:
        values = []
        for record in records.list_records(vault):
            for value in record.data.values():
                text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) \
                    else value
                if len(text) >= 4:
                    values.append(text.encode())
        # An organisation's read not merged yet: the access journal holds something too.
        access = journal.ref(vault, str(made.instance.vault_path(made.vault_id)))
        with journal.opened(access, made.settings) as conn:
            journal.append(conn, at="2026-11-30T09:00:00Z", actor="org:c", action="grant.read",
                           grant_id="g1", detail=EventDetail.of({"organisation": ORG_CANARY}))
    values.append(DOCUMENT[:40])
    values.append(ORG_CANARY.encode())
    report = erasure.erase_vault(made.instance, made.vault_id)
    assert report.slots_destroyed == 2
    if backend:
        assert report.files_removed == []  # it had none: its rows went with its vault row
        assert report.rows_removed > 5  # and the report says how many
        _assert_nothing_of_it_in_postgresql(request.getfixturevalue("postgres_server"), backend,
                                            made, values)
    else:
        assert f"{made.vault_id}.db" in report.files_removed
        assert f"{made.vault_id}.db.access" in report.files_removed
        assert report.rows_removed == 0
    assert report.kept == {"vaults_erased": 1}
    assert not made.instance.vault_exists(made.vault_id)
    assert made.instance.slots(made.vault_id) == []
    assert not list((made.instance.home / "vaults").glob(f"{made.vault_id}*"))
    for path, data in _all_bytes(made.instance.home):
        for value in values:
            assert value not in data, (path, value)
    with pytest.raises(InvalidCredentials):
        made.accounts.unlock_password(made.username, PASSWORD)
    again = erasure.erase_vault(made.instance, made.vault_id)
    assert again.kept == {"vaults_erased": 1} and again.files_removed == []
    assert again.rows_removed == 0


ORG_CANARY = "Woonstichting Wisgoed"


def _assert_nothing_of_it_in_postgresql(server, url: str, made, values: list[bytes]) -> None:
    """No row of any table names the erased vault, and the database's administrator's
    pg_dump holds no value of it, nor its username or id."""
    import psycopg

    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND column_name IN ('vault_id', 'id')").fetchall()
        for table, column in tables:
            found = conn.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text = %s',
                                 (made.vault_id,)).fetchone()[0]
            assert found == 0, (table, column)
        assert conn.execute("SELECT count(*) FROM kluis_rows").fetchone()[0] > 0  # bert's
    dump = server.dump(url.rsplit("/", 1)[1])
    assert b"kluis_journal" in dump and b"bert" in dump  # the dump is of this instance
    for value in [*values, made.vault_id.encode(), made.username.encode()]:
        assert not dump_holds(dump, value), value
