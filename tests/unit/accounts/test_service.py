"""Accounts against real SQLCipher files and a real Redis, without a web server."""

import pytest

from vault.accounts.errors import InvalidCredentials, RegistrationClosed
from vault.crypto import slots


def test_password_slot_below_the_floor_is_upgraded_at_next_unlock(make_settings, make_accounts):
    old = make_settings(argon2_time_cost=2)
    accounts = make_accounts(old)
    vault_id, _ = accounts.register("jan", "correct horse staple 42")
    before = accounts.instance.slots(vault_id, slots.PASSWORD)[0]
    assert before.params["time_cost"] == 2

    stronger = make_accounts(old.with_overrides(argon2_time_cost=3))
    unlocked = stronger.unlock_password("jan", "correct horse staple 42")
    after = stronger.instance.slots(vault_id, slots.PASSWORD)
    assert len(after) == 1 and after[0].params["time_cost"] == 3 and after[0].id != before.id
    assert stronger.unlock_password("jan", "correct horse staple 42").dek == unlocked.dek


def test_wrong_recovery_code_fails_and_changes_nothing(make_accounts):
    accounts = make_accounts()
    vault_id, _code = accounts.register("piet", "correct horse staple 42")
    slots_before = [s.id for s in accounts.instance.slots(vault_id)]
    with pytest.raises(InvalidCredentials):
        accounts.reset_password("piet", "0000-0000-0000-0000-0000-0000-0000-0000",
                                "a new passphrase for piet")
    assert [s.id for s in accounts.instance.slots(vault_id)] == slots_before


def test_invite_only_registration_needs_a_valid_unused_code(make_accounts):
    accounts = make_accounts(registration="invite")
    with pytest.raises(RegistrationClosed):
        accounts.register("klaas", "correct horse staple 42")
    code = accounts.create_invite("member 1")
    accounts.register("klaas", "correct horse staple 42", invite=code)
    with pytest.raises(RegistrationClosed):
        accounts.register("kees", "correct horse staple 42", invite=code)
    assert accounts.instance.vault_by_username("kees") is None


def test_closed_registration_creates_no_vault_file(make_accounts, settings):
    accounts = make_accounts(registration="closed")
    with pytest.raises(RegistrationClosed):
        accounts.register("anna", "correct horse staple 42")
    assert list((accounts.instance.home / "vaults").glob("*.db")) == []
