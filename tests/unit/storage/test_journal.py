"""The access journal and the log's bookkeeping triggers, on real SQLCipher files."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.crypto import keys
from vault.grants.repository import add_reads
from vault.records.service import create_record, delete_record, update_record
from vault.storage import db, journal
from vault.storage.vaults import EventDetail, event_hash


@pytest.fixture
def vault(vault_and_key):
    return vault_and_key[0]


def _grant(vault, grant_id: str = "g1") -> str:
    with vault.transaction() as tx:
        tx.execute(
            "INSERT INTO grants (id, client_id, organisation, purpose, retention, conditions,"
            " not_before, expires_at, created_at) VALUES (?, 'c', '{}', 'p', 'P1D', '[]',"
            " '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            (grant_id,))
    return grant_id


def _write(instance, vault, settings, *ats: str, grant_id: str = "g1") -> journal.JournalRef:
    ref = journal.ref(vault, str(instance.vault_path(vault.id)))
    with journal.opened(ref, settings) as conn:
        for at in ats:
            with journal.locked(conn):
                journal.append(conn, at=at, actor="org:c", action="grant.read",
                               grant_id=grant_id, detail=EventDetail.of({"records": 1, "at": at}))
    return ref


@settings(max_examples=200, deadline=None)
@given(st.text(), st.integers(min_value=1, max_value=2**53), st.text(), st.text(),
       st.one_of(st.none(), st.text()),
       st.dictionaries(st.text(), st.one_of(st.integers(), st.text(), st.lists(st.text()))))
def test_the_chain_hash_is_the_canonical_json_of_the_event(prev, seq, at, actor, grant_id, detail):
    import hashlib

    body = json.dumps([prev, seq, at, actor, "grant.read", grant_id, detail], sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False)
    expected = hashlib.sha256(body.encode()).hexdigest()
    assert event_hash(prev, seq, at, actor, "grant.read", grant_id, detail) == expected


def test_merge_moves_rows_into_the_chain_once(instance, vault, settings):
    grant_id = _grant(vault)
    ref = _write(instance, vault, settings, "2026-11-22T10:00:00Z", "2026-11-22T10:00:05Z")
    with journal.opened(ref, settings) as conn:
        assert journal.pending_reads(conn, grant_id, vault.get_meta("journal_merged")) == 2
        assert journal.merge(vault, conn, on_merged=add_reads) == 2
        assert journal.merge(vault, conn, on_merged=add_reads) == 0  # nothing left, nothing twice
        assert journal.pending_reads(conn, grant_id, vault.get_meta("journal_merged")) == 0
    reads = [e for e in reversed(vault.events()) if e.action == "grant.read"]
    assert [e.at for e in reads] == ["2026-11-22T10:00:00Z", "2026-11-22T10:00:05Z"]
    assert reads[0].detail == {"records": 1, "at": "2026-11-22T10:00:00Z"}
    assert vault.verify_log() == []
    row = vault.conn.execute("SELECT access_count, last_access_at FROM grants").fetchone()
    assert tuple(row) == (2, "2026-11-22T10:00:05Z")


@pytest.mark.parametrize("backend", [""])  # the journal file's own bookkeeping
def test_a_merge_cut_short_after_the_vault_commit_moves_nothing_twice(instance, vault, settings):
    _grant(vault)
    ref = _write(instance, vault, settings, "2026-11-22T10:00:00Z")
    with journal.opened(ref, settings) as conn:
        assert journal.merge(vault, conn, on_merged=add_reads) == 1
    # The same row again, as if the journal's delete had not been committed: same journal id,
    # same row number as the vault already recorded.
    ref = _write(instance, vault, settings, "2026-11-22T10:00:00Z")
    with journal.opened(ref, settings) as conn:
        journal_id = conn.execute("SELECT value FROM journal_meta WHERE key = 'id'").fetchone()[0]
        with vault.transaction() as tx:
            vault.set_meta(tx, "journal_merged", f"{journal_id}:1")
        assert journal.merge(vault, conn, on_merged=add_reads) == 0
    assert sum(e.action == "grant.read" for e in vault.events()) == 1


@pytest.mark.parametrize("backend", [""])  # the journal file's own bookkeeping
def test_a_merge_from_a_stale_snapshot_moves_nothing(instance, vault, settings):
    _grant(vault)
    ref = _write(instance, vault, settings, "2026-11-22T10:00:00Z", "2026-11-22T10:00:01Z")
    with journal.opened(ref, settings) as conn:
        stale_id, stale_rows = journal.snapshot(conn)
        assert journal.merge(vault, conn, on_merged=add_reads) == 2  # another merger: moves both, renames
    ref = _write(instance, vault, settings, "2026-11-22T10:00:02Z")
    with journal.opened(ref, settings) as conn:
        assert journal.merge(vault, conn, on_merged=add_reads) == 1
        # The first merger wakes up with its old rows: the journal was renamed since.
        assert journal.to_vault(vault, conn, stale_id, stale_rows, on_merged=add_reads) == 0
    assert sum(e.action == "grant.read" for e in vault.events()) == 3
    assert vault.conn.execute("SELECT access_count FROM grants").fetchone()[0] == 3
    assert vault.verify_log() == []


@pytest.mark.parametrize("backend", [""])  # the journal file's own bookkeeping
def test_reads_between_the_vault_commit_and_the_delete_count_once(instance, vault, settings):
    grant_id = _grant(vault)
    ref = _write(instance, vault, settings, "2026-11-22T10:00:00Z", "2026-11-22T10:00:01Z")
    with journal.opened(ref, settings) as conn:
        journal_id, rows = journal.snapshot(conn)
        assert journal.to_vault(vault, conn, journal_id, rows, on_merged=add_reads) == 2
        # Rows still in the journal, already in the vault's count: not counted again.
        assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == 2
        mark = vault.get_meta("journal_merged")
        assert journal.pending_reads(conn, grant_id, mark) == 0
        with db.transaction(conn):
            journal.append(conn, at="2026-11-22T10:00:02Z", actor="org:c", action="grant.read",
                           grant_id=grant_id, detail=EventDetail.of({"records": 1}))
        assert journal.pending_reads(conn, grant_id, mark) == 1
        journal.forget(conn, journal_id, rows[-1]["seq"])
        assert journal.pending_reads(conn, grant_id, mark) == 1
        assert journal.merge(vault, conn, on_merged=add_reads) == 1
    assert vault.conn.execute("SELECT access_count FROM grants").fetchone()[0] == 3


@pytest.mark.parametrize("backend", [""])  # the journal file's own bookkeeping
def test_reads_are_logged_while_a_merge_commits_to_the_vault(instance, vault, settings,
                                                              monkeypatch):
    """A merge holds the journal's lock only for its delete: a read that arrives while the
    merge writes the vault commits its event at once instead of waiting."""
    grant_id = _grant(vault)
    ref = _write(instance, vault, settings, "2026-11-22T10:00:00Z")
    reader = db.connect(ref.path, ref.key)
    reader.execute("PRAGMA busy_timeout = 0")  # waiting would fail, not hang
    appended = []
    original = vault.append_events

    def append_events(tx, events):
        with db.transaction(reader):
            appended.append(journal.append(
                reader, at="2026-11-22T10:00:01Z", actor="org:c", action="grant.read",
                grant_id=grant_id, detail=EventDetail.of({"records": 1})))
        return original(tx, events)

    monkeypatch.setattr(vault, "append_events", append_events)
    try:
        with journal.opened(ref, settings) as conn:
            assert journal.merge(vault, conn, on_merged=add_reads) == 1
            assert appended == [2]
            monkeypatch.undo()
            assert journal.pending_reads(conn, grant_id, vault.get_meta("journal_merged")) == 1
            assert journal.merge(vault, conn, on_merged=add_reads) == 1
    finally:
        reader.close()
    assert sum(e.action == "grant.read" for e in vault.events()) == 2


@pytest.mark.parametrize("backend", [""])  # the journal file's own bookkeeping
def test_the_journal_does_not_open_without_the_key_in_the_vault(instance, vault, settings):
    from vault.crypto.errors import WrongKey

    ref = _write(instance, vault, settings, "2026-11-22T10:00:00Z")
    with pytest.raises(WrongKey):
        db.connect(ref.path, keys.random_key())
    from pathlib import Path

    for name in (ref.path, ref.path + "-wal"):
        if Path(name).exists():
            assert b"org:c" not in Path(name).read_bytes()


def test_records_rev_moves_with_every_record_change(vault):
    def rev() -> int:
        return int(vault.get_meta("records_rev"))

    start = rev()
    record = create_record(vault, "person", {"given_names": "Anna", "surname": "Jansen"})
    after_create = rev()
    assert after_create > start
    update_record(vault, record.id, {"given_names": "Anna", "surname": "de Vries"})
    after_update = rev()
    assert after_update > after_create
    delete_record(vault, record.id)
    assert rev() > after_update


def test_the_log_head_follows_every_event(vault):
    with vault.transaction() as tx:
        event = vault.append_event(tx, actor="owner", action="test")
    assert vault.get_meta("log_head") == f"{event.seq}:{event.hash}"
