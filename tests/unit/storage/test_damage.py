"""A damaged access journal is replaced and its loss logged; a damaged vault is a clear error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vault.grants.repository import add_reads
from vault.storage import db, journal
from vault.storage.cache import CONNECTIONS
from vault.storage.errors import VaultDamaged
from vault.storage.vaults import EventDetail, open_vault


@pytest.fixture
def backend() -> str:
    """These tests are about SQLCipher files themselves: the file backend only."""
    return ""



def _flip(path: str | Path, count: int = 16, at: int = 0) -> None:
    with open(path, "r+b") as handle:
        handle.seek(at)
        data = handle.read(count)
        handle.seek(at)
        handle.write(bytes(b ^ 0xFF for b in data))


def _read(conn, at: str) -> None:
    journal.append(conn, at=at, actor="org:c", action="grant.read", grant_id="g1",
                   detail=EventDetail.of({"records": 1}))


@pytest.fixture
def journalled(instance, vault_and_key, settings):
    """A vault whose journal holds two merged reads and one not yet merged."""
    vault, dek = vault_and_key
    path = str(instance.vault_path(vault.id))
    ref = journal.ref(vault, path)
    with journal.opened(ref, settings) as conn:
        _read(conn, "2026-11-22T10:00:00Z")
        _read(conn, "2026-11-22T10:00:05Z")
    journal.merge_pending(vault, path, settings, on_merged=journal.no_derived_rows)
    with journal.opened(ref, settings) as conn:
        _read(conn, "2026-11-22T10:07:00Z")
    CONNECTIONS.clear()  # let go of the journal file, as a restarted server would
    return vault, dek, ref


def test_a_journal_with_flipped_bytes_is_moved_aside_and_its_loss_logged(journalled, settings,
                                                                        instance):
    vault, _, ref = journalled
    _flip(ref.path)
    merged = journal.merge_pending(vault, str(instance.vault_path(vault.id)), settings,
                                   on_merged=journal.no_derived_rows)
    assert merged == 0
    aside = [p for p in os.listdir(Path(ref.path).parent) if ".damaged-" in p]
    assert len(aside) == 1 and aside[0].startswith(Path(ref.path).name + ".damaged-")
    [event] = [e for e in vault.events() if e.action == "access-journal.damaged"]
    assert event.actor == "system"
    assert event.detail["lost_after"] == "2026-11-22T10:00:05Z"  # the newest read merged
    assert event.detail["reads_lost"] is None and event.detail["lost_until"]
    assert event.detail["moved_to"] == aside[0]
    assert vault.verify_log() == []
    # A new journal takes reads again and merges them.
    with journal.opened(ref, settings, vault=vault) as conn:
        _read(conn, "2026-11-22T11:00:00Z")
    journal.merge_pending(vault, str(instance.vault_path(vault.id)), settings,
                          on_merged=journal.no_derived_rows)
    assert [e.at for e in vault.events() if e.action == "grant.read"][0] == "2026-11-22T11:00:00Z"


def test_a_vault_restored_without_its_journal_gets_a_new_one(journalled, settings, instance):
    vault, _, ref = journalled
    os.replace(ref.path, ref.path + ".elsewhere")
    other = db.connect(ref.path, os.urandom(32))  # a journal under some other key
    other.execute("CREATE TABLE entries (seq INTEGER PRIMARY KEY)")
    other.close()
    with journal.opened(ref, settings, vault=vault) as conn:
        _read(conn, "2026-11-22T12:00:00Z")
    assert sum(e.action == "access-journal.damaged" for e in vault.events()) == 1


def test_two_recoveries_of_one_journal_log_it_once(journalled, instance):
    vault, _, ref = journalled
    _flip(ref.path)
    assert journal.recover(vault, ref) is not None
    assert journal.recover(vault, ref) is None  # it opens now
    assert sum(e.action == "access-journal.damaged" for e in vault.events()) == 1


def test_without_its_vault_a_damaged_journal_still_raises(journalled, settings):
    from vault.crypto.errors import WrongKey

    _, _, ref = journalled
    _flip(ref.path)
    with pytest.raises(WrongKey):
        with journal.opened(ref, settings):
            pass


def test_a_damaged_vault_file_raises_vault_damaged(instance, vault_and_key):
    vault, dek = vault_and_key
    vault.close()
    CONNECTIONS.clear()
    _flip(instance.vault_path(vault.id))
    with pytest.raises(VaultDamaged) as caught:
        open_vault(instance, vault.id, dek)
    assert caught.value.code == "vault-damaged" and caught.value.status == 503


def test_merge_records_when_the_newest_merged_read_happened(journalled, settings, instance):
    vault, _, _ = journalled
    journal.merge_pending(vault, str(instance.vault_path(vault.id)), settings,
                          on_merged=add_reads)
    assert vault.get_meta("journal_merged_at") == "2026-11-22T10:07:00Z"


def test_a_journal_damaged_past_its_first_page_is_replaced_at_the_merge(journalled, settings,
                                                                         instance):
    vault, _, ref = journalled
    with journal.opened(ref, settings) as conn:  # grow it past one page
        for i in range(200):
            _read(conn, f"2026-11-22T10:08:{i % 60:02d}Z")
    CONNECTIONS.clear()
    size = Path(ref.path).stat().st_size + (Path(ref.path + "-wal").stat().st_size
                                            if Path(ref.path + "-wal").exists() else 0)
    assert Path(ref.path).stat().st_size > 8192, size
    _flip(ref.path, count=64, at=Path(ref.path).stat().st_size - 2048)  # inside the last page
    merged = journal.merge_pending(vault, str(instance.vault_path(vault.id)), settings,
                                   on_merged=journal.no_derived_rows)
    assert merged == 0
    assert sum(e.action == "access-journal.damaged" for e in vault.events()) == 1
    with journal.opened(ref, settings, vault=vault) as conn:
        _read(conn, "2026-11-22T11:00:00Z")
