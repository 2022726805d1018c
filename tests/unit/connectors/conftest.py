from __future__ import annotations

import pytest

from tests.standins.fixtures import brp_standin, psd2_standin, woz_standin  # noqa: F401
from vault.accounts.service import Accounts
from vault.storage.instance import Instance


@pytest.fixture
def instance(settings):
    inst = Instance(settings)
    yield inst
    inst.close()


@pytest.fixture
def make_vault(instance, settings, redis_client):
    """A fresh vault in ``instance``; returns (vault_id, open VaultDB)."""
    accounts = Accounts(instance, redis_client, settings)
    opened = []
    counter = iter(range(1000))

    def make():
        vault_id, _code = accounts.register(f"owner{next(counter)}", "correct horse staple 42")
        unlocked = accounts.unlock_password(f"owner{len(opened)}", "correct horse staple 42")
        vault = accounts.open(vault_id, unlocked.dek)
        opened.append(vault)
        return vault

    yield make
    for vault in opened:
        vault.close()
