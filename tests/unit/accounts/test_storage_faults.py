"""The owner's way in survives a damaged access journal; a rolled-back vault is refused until
the owner accepts it; invitation codes in bulk, listed and revoked."""

from __future__ import annotations

import shutil

import pytest

from vault.accounts.errors import InvalidCredentials, RegistrationClosed
from vault.storage import journal
from vault.storage.cache import CONNECTIONS, MIRRORS
from vault.storage.errors import VaultRolledBack
from vault.storage.vaults import EventDetail

PASSWORD = "correct horse staple 42"


@pytest.fixture
def files(make_accounts):
    """Accounts on the file backend: the faults below are done to vault and journal files."""
    return make_accounts(database_url="")


@pytest.fixture
def on_postgresql(make_accounts, postgres_database):
    """Accounts on the PostgreSQL backend, for the same faults done to rows."""
    return make_accounts(database_url=postgres_database())


def _journal_with_a_read(accounts, vault_id, dek) -> journal.JournalRef:
    with accounts.open(vault_id, dek) as vault:
        ref = journal.ref(vault, str(accounts.instance.vault_path(vault_id)))
        with journal.opened(ref, accounts.settings) as conn:
            journal.append(conn, at="2026-11-30T09:00:00Z", actor="org:c", action="grant.read",
                           grant_id="g1", detail=EventDetail.of({"records": 1}))
    CONNECTIONS.clear()
    return ref


def test_the_owner_gets_in_when_the_access_journal_has_flipped_bytes(files):
    accounts = files
    vault_id, _ = accounts.register("jan", PASSWORD)
    dek = accounts.unlock_password("jan", PASSWORD).dek
    ref = _journal_with_a_read(accounts, vault_id, dek)
    with open(ref.path, "r+b") as handle:
        head = handle.read(16)
        handle.seek(0)
        handle.write(bytes(b ^ 0x5A for b in head))

    unlocked = accounts.login("jan", PASSWORD)  # before the fix: WrongKey, a 500
    token, _ = accounts.create_app_token(vault_id, unlocked.dek, "script")
    assert token.name == "script"
    with accounts.open(vault_id, dek) as vault:
        actions = [e.action for e in vault.events()]
        assert actions.count("access-journal.damaged") == 1
        assert vault.verify_log() == []


def test_the_owner_gets_in_when_a_journal_row_in_postgresql_was_changed(on_postgresql):
    accounts = on_postgresql
    vault_id, _ = accounts.register("jan", PASSWORD)
    dek = accounts.unlock_password("jan", PASSWORD).dek
    _journal_with_a_read(accounts, vault_id, dek)
    with accounts.open(vault_id, dek) as vault:
        ref = journal.ref(vault, str(accounts.instance.vault_path(vault_id)))
        with journal.opened(ref, accounts.settings) as conn:  # the first is merged; two more
            journal.append(conn, at="2026-11-30T09:05:00Z", actor="org:c", action="grant.read",
                           grant_id="g1", detail=EventDetail.of({"records": 3}))
            journal.append(conn, at="2026-11-30T09:06:00Z", actor="org:c", action="grant.read",
                           grant_id="g1", detail=EventDetail.of({"records": 2}))
    with accounts.instance.pg.connection() as pgc:  # the database's administrator edits one
        changed = pgc.execute(
            "UPDATE kluis_journal SET sealed = overlay(sealed PLACING '\\xffff'::bytea FROM 20)"
            " WHERE vault_id = %s AND seq = (SELECT min(seq) FROM kluis_journal"
            " WHERE vault_id = %s)", (vault_id, vault_id)).rowcount
    assert changed == 1
    MIRRORS.clear()

    unlocked = accounts.login("jan", PASSWORD)  # before the fix: in, but the journal stuck
    accounts.create_app_token(vault_id, unlocked.dek, "script")
    with accounts.open(vault_id, dek) as vault:
        events = vault.events()
        [damaged] = [e for e in events if e.action == "access-journal.damaged"]
        assert damaged.detail["reads_lost"] == 1 and damaged.detail["lost_until"]
        # The reads before and after it were not lost with it.
        assert sorted(e.detail["records"] for e in events if e.action == "grant.read") == [1, 2]
        assert vault.verify_log() == []
    with accounts.instance.pg.connection() as pgc:
        assert pgc.execute("SELECT count(*) FROM kluis_journal WHERE vault_id = %s",
                           (vault_id,)).fetchone()[0] == 0
    with accounts.open(vault_id, dek) as vault:  # said once
        assert [e.action for e in vault.events()].count("access-journal.damaged") == 1


def test_a_rolled_back_vault_refuses_the_owner_until_they_accept_it(files, tmp_path):
    accounts = files
    vault_id, _ = accounts.register("piet", PASSWORD)
    CONNECTIONS.clear()
    path = accounts.instance.vault_path(vault_id)
    shutil.copyfile(path, tmp_path / "old.db")
    dek = accounts.login("piet", PASSWORD).dek
    accounts.create_app_token(vault_id, dek, "one")
    CONNECTIONS.clear()
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    shutil.copyfile(tmp_path / "old.db", path)

    with pytest.raises(VaultRolledBack) as caught:
        accounts.login("piet", PASSWORD)
    assert caught.value.code == "vault-rolled-back"
    with pytest.raises(InvalidCredentials):
        accounts.accept_older_state("piet", "not the password")
    detail = accounts.accept_older_state("piet", PASSWORD)
    assert detail["events_missing"] == 2  # owner.signed-in and app-token.created
    accounts.login("piet", PASSWORD)
    with accounts.open(vault_id, dek) as vault:
        assert [e.action for e in vault.events()][:2] == ["owner.signed-in",
                                                          "vault.older-state-accepted"]


def test_invites_in_bulk_are_listed_with_their_state_and_can_be_revoked(make_accounts):
    accounts = make_accounts(registration="invite")
    codes = accounts.create_invites(5, "batch 7", days=3)
    assert len(set(codes)) == 5
    listed = accounts.invites()
    assert [i.state for i in listed] == ["open"] * 5 and {i.note for i in listed} == {"batch 7"}
    accounts.register("klaas", PASSWORD, invite=codes[0])
    assert accounts.revoke_invite(codes[1])
    by_id = next(i.id for i in accounts.invites() if i.state == "open")
    assert accounts.revoke_invite(by_id)
    assert not accounts.revoke_invite(codes[0])  # used: stays, as the record of its use
    states = sorted(i.state for i in accounts.invites())
    assert states == ["open", "open", "used"]
    with pytest.raises(RegistrationClosed):
        accounts.register("kees", PASSWORD, invite=codes[1])


def test_a_bulk_invite_is_all_or_nothing(make_accounts):
    accounts = make_accounts(registration="invite")
    with pytest.raises(ValueError):
        accounts.create_invites(0)
    assert accounts.invites() == []
    assert len(accounts.create_invites(1)) == 1
