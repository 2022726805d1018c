"""Accounts fixtures: a real instance.db, real vault files and a real Redis."""

from __future__ import annotations

import pytest
import redis as redis_lib

from vault.accounts.service import Accounts
from vault.storage.instance import Instance


@pytest.fixture
def make_accounts(make_settings, redis_url):
    made = []

    def make(settings=None, **overrides):
        settings = settings or make_settings(**overrides)
        instance = Instance(settings)
        accounts = Accounts(instance, redis_lib.Redis.from_url(redis_url), settings)
        made.append(accounts)
        return accounts

    yield make
    for accounts in made:
        accounts.instance.close()
        accounts.redis.close()
