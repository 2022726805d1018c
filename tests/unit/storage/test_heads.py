"""Rollback detection: the instance's keyed commitment to each vault's log head."""

from __future__ import annotations

import pickle
import shutil

import pytest

from vault.storage import heads
from vault.storage.cache import CONNECTIONS, MIRRORS
from vault.storage.errors import VaultRolledBack
from vault.storage.vaults import open_vault


def _events(vault, n: int, tag: str = "e") -> None:
    with vault.transaction() as tx:
        for i in range(n):
            vault.append_event(tx, actor="owner", action="test.event", detail={tag: i})


def _clear() -> None:
    CONNECTIONS.clear()
    MIRRORS.clear()


def _snapshot(instance, vault, dest) -> None:
    """Copy the vault's file as it is (its connections closed, so the WAL is folded in); with
    PostgreSQL, its rows, as a database restore would put them back."""
    vault.close()
    _clear()
    if instance.pg is not None:
        with instance.pg.connection() as pgc:
            copy = [pgc.execute(f"SELECT * FROM {table} WHERE vault_id = %s",
                                (vault.id,)).fetchall()
                    for table in ("kluis_vaults", "kluis_rows")]
        dest.write_bytes(pickle.dumps(copy))
        return
    shutil.copyfile(instance.vault_path(vault.id), dest)


def _put_back(instance, vault_id, src) -> None:
    _clear()
    if instance.pg is not None:
        vaults, rows = pickle.loads(src.read_bytes())  # noqa: S301 - the test's own file
        with instance.pg.connection() as pgc:
            pgc.execute("DELETE FROM kluis_rows WHERE vault_id = %s", (vault_id,))
            pgc.execute("UPDATE kluis_vaults SET version = %s, purged_upto = %s, header = %s"
                        " WHERE vault_id = %s", (*vaults[0][1:], vault_id))
            with pgc.cursor() as cur:
                cur.executemany("INSERT INTO kluis_rows VALUES (%s, %s, %s, %s)", rows)
        return
    path = instance.vault_path(vault_id)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    shutil.copyfile(src, path)


def test_every_committed_append_moves_the_commitment(instance, vault_and_key):
    vault, _ = vault_and_key
    _events(vault, 3)
    known = heads.committed(instance, vault.id)
    assert known is not None and known.valid
    assert (known.seq, known.head) == heads.log_head(vault) and known.seq == 3


def test_a_rolled_back_transaction_leaves_the_commitment(instance, vault_and_key):
    vault, _ = vault_and_key
    _events(vault, 1)
    with pytest.raises(RuntimeError), vault.transaction() as tx:
        vault.append_event(tx, actor="owner", action="test.event")
        raise RuntimeError("no")
    assert heads.committed(instance, vault.id).seq == 1


def test_a_vault_file_rolled_back_to_an_older_copy_is_refused(instance, vault_and_key, tmp_path):
    vault, dek = vault_and_key
    _events(vault, 2)
    _snapshot(instance, vault, tmp_path / "old.db")
    again = open_vault(instance, vault.id, dek)
    _events(again, 3)
    again.close()
    _put_back(instance, vault.id, tmp_path / "old.db")
    with pytest.raises(VaultRolledBack) as caught:
        open_vault(instance, vault.id, dek)
    assert caught.value.status == 409 and caught.value.code == "vault-rolled-back"
    assert (caught.value.vault_seq, caught.value.known_seq) == (2, 5)
    assert "ends at event 2" in str(caught.value) and "event 5" in str(caught.value)


def test_an_older_copy_written_to_since_is_refused_too(instance, vault_and_key, tmp_path):
    vault, dek = vault_and_key
    _events(vault, 2)
    _snapshot(instance, vault, tmp_path / "old.db")
    again = open_vault(instance, vault.id, dek)
    _events(again, 3)
    again.close()
    _put_back(instance, vault.id, tmp_path / "old.db")
    # The old copy grows to the same length by other events (the rollback is then written to).
    forked = open_vault(instance, vault.id, dek, check_head=False)
    _events(forked, 3, tag="other")
    forked.close()
    _clear()
    with pytest.raises(VaultRolledBack, match="replaced by another copy"):
        open_vault(instance, vault.id, dek)


def test_a_vault_ahead_of_its_commitment_opens_and_catches_it_up(instance, vault_and_key):
    vault, dek = vault_and_key
    _events(vault, 2)
    with instance.transaction() as tx:  # as if the process died between the two commits
        heads._force(instance, tx, vault.id, 1, _hash_at(vault, 1))
    assert heads.committed(instance, vault.id).seq == 1
    vault.close()
    _clear()
    open_vault(instance, vault.id, dek).close()
    assert heads.committed(instance, vault.id).seq == 2


def _hash_at(vault, seq: int) -> str:
    return vault.conn.execute("SELECT hash FROM events WHERE seq = ?", (seq,)).fetchone()[0]


def test_a_commitment_that_does_not_verify_is_refused(instance, vault_and_key):
    vault, dek = vault_and_key
    _events(vault, 2)
    with instance.transaction() as tx:
        tx.execute("UPDATE vault_heads SET mac = ? WHERE vault_id = ?", (bytes(32), vault.id))
    vault.close()
    _clear()
    with pytest.raises(VaultRolledBack, match="does not verify"):
        open_vault(instance, vault.id, dek)


def test_a_vault_without_a_commitment_gets_one_when_opened(instance, vault_and_key):
    vault, dek = vault_and_key
    _events(vault, 2)
    with instance.transaction() as tx:
        tx.execute("DELETE FROM vault_heads")
    vault.close()
    _clear()
    open_vault(instance, vault.id, dek).close()
    assert heads.committed(instance, vault.id).seq == 2


def test_accepting_the_older_state_opens_it_and_logs_what_was_lost(instance, vault_and_key,
                                                                   tmp_path):
    vault, dek = vault_and_key
    _events(vault, 2)
    _snapshot(instance, vault, tmp_path / "old.db")
    again = open_vault(instance, vault.id, dek)
    _events(again, 3)
    again.close()
    _put_back(instance, vault.id, tmp_path / "old.db")
    old = open_vault(instance, vault.id, dek, check_head=False)
    detail = heads.accept(instance, old)
    assert detail["log_seq_now"] == 2 and detail["log_seq_known"] == 5
    assert detail["events_missing"] == 3
    old.close()
    _clear()
    reopened = open_vault(instance, vault.id, dek)
    [event] = [e for e in reopened.events() if e.action == "vault.older-state-accepted"]
    assert event.seq == 3 and reopened.verify_log() == []
    assert heads.committed(instance, vault.id).seq == 3
    reopened.close()


def test_erasing_a_vaults_row_drops_its_commitment(instance, vault_and_key):
    vault, _ = vault_and_key
    _events(vault, 1)
    with instance.transaction() as tx:
        tx.execute("DELETE FROM vaults WHERE id = ?", (vault.id,))
    assert heads.committed(instance, vault.id) is None


def test_a_vault_write_inside_an_instance_transaction_moves_the_commitment_with_it(
        instance, vault_and_key):
    vault, _ = vault_and_key
    with instance.transaction():
        _events(vault, 2)
    assert heads.committed(instance, vault.id).seq == 2
    with pytest.raises(RuntimeError), instance.transaction():
        _events(vault, 1)
        raise RuntimeError("the instance side fails")
    assert heads.committed(instance, vault.id).seq == 2  # the vault is ahead: accepted
    assert heads.log_head(vault)[0] == 3


def test_the_check_reads_the_commitment_before_the_vault(instance, vault_and_key, monkeypatch):
    # Another process commits (vault, then commitment) between the check's two reads: had the
    # check read the vault first, the newer commitment would look like a rollback.
    vault, dek = vault_and_key
    _events(vault, 2)
    vault.close()
    _clear()
    writer = open_vault(instance, vault.id, dek)
    real_log_head = heads.log_head

    def log_head_after_a_concurrent_write(v):
        head = real_log_head(v)
        if v is not writer:
            _events(writer, 1)  # vault commit + commitment, "in another process"
        return head

    monkeypatch.setattr(heads, "log_head", log_head_after_a_concurrent_write)
    open_vault(instance, vault.id, dek).close()  # must not raise VaultRolledBack
    writer.close()
