"""The lock-out against a real Redis: checking and counting are one atomic step."""

from __future__ import annotations

import threading

import pytest
import redis as redis_lib

from vault.accounts.errors import InvalidCredentials, RateLimited
from vault.accounts.service import Accounts
from vault.storage.instance import Instance


class CountingAccounts(Accounts):
    """Accounts that count how many attempts reached the password check (a real subclass:
    the check itself runs unchanged)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.checked = 0
        self._lock = threading.Lock()

    def _unwrap_human(self, username, secret, kind):
        with self._lock:
            self.checked += 1
        return super()._unwrap_human(username, secret, kind)


@pytest.fixture
def make_accounts(make_settings, redis_url):
    made = []

    def make(**overrides) -> CountingAccounts:
        settings = make_settings(**overrides)
        accounts = CountingAccounts(Instance(settings), redis_lib.Redis.from_url(redis_url),
                                    settings)
        made.append(accounts)
        return accounts

    yield make
    for accounts in made:
        accounts.instance.close()
        accounts.redis.close()


def _at_once(count: int, attempt) -> list[str]:
    barrier = threading.Barrier(count)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            attempt()
            result = "ok"
        except InvalidCredentials:
            result = "wrong"
        except RateLimited:
            result = "limited"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_twenty_simultaneous_wrong_passwords_check_at_most_the_limit(make_accounts):
    accounts = make_accounts()
    accounts.register("doelwit", "correct horse staple 42")
    accounts.checked = 0
    outcomes = _at_once(20, lambda: accounts.unlock_password("doelwit", "guess guess guess",
                                                              client="127.0.0.5"))
    limit = accounts.settings.login_max_failures
    assert accounts.checked <= limit, outcomes
    assert outcomes.count("wrong") == accounts.checked
    assert outcomes.count("limited") == 20 - accounts.checked
    # and the right password waits too now
    with pytest.raises(RateLimited):
        accounts.unlock_password("doelwit", "correct horse staple 42")


def test_simultaneous_wrong_passwords_for_unknown_accounts_are_limited_per_address(make_accounts):
    accounts = make_accounts()
    outcomes = _at_once(30, lambda: accounts.unlock_password(
        f"niemand{threading.get_ident()}", "guess guess guess", client="127.0.0.6"))
    assert accounts.checked <= 4 * accounts.settings.login_max_failures, outcomes


def test_right_passwords_from_one_address_do_not_use_up_its_budget(make_accounts):
    accounts = make_accounts()
    accounts.register("huisgenoot", "correct horse staple 42")
    for _ in range(4 * accounts.settings.login_max_failures + 3):
        accounts.unlock_password("huisgenoot", "correct horse staple 42", client="127.0.0.7")


def test_a_failure_after_the_lock_ends_locks_again_for_longer(make_accounts, redis_client):
    accounts = make_accounts()
    accounts.register("volhouder", "correct horse staple 42")
    limit = accounts.settings.login_max_failures
    for _ in range(limit):
        with pytest.raises(InvalidCredentials):
            accounts.unlock_password("volhouder", "guess guess guess")
    key = accounts.limiter._key("user", "volhouder")
    assert 0 < redis_client.ttl(key + ":lock") <= 30
    redis_client.delete(key + ":lock")  # the lock ran out
    with pytest.raises(InvalidCredentials):
        accounts.unlock_password("volhouder", "guess guess guess")
    assert 30 < redis_client.ttl(key + ":lock") <= 60
    redis_client.delete(key + ":lock")
    accounts.unlock_password("volhouder", "correct horse staple 42")
    assert redis_client.get(key) is None  # a success forgets the account's failures
