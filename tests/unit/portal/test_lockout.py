"""Failed staff sign-ins are counted in portal.db, per account and per address, atomically, and
lock for a while at the limit."""

from __future__ import annotations

import threading
from datetime import timedelta

from vault.clock import utcnow
from vault.portal import lockout
from vault.portal.config import PortalSettings
from vault.portal.store import Store, init_home


def _store(tmp_path) -> Store:
    settings = PortalSettings(home=str(tmp_path / "p"))
    init_home(settings)
    return Store(settings)


def test_an_account_locks_at_its_limit_and_opens_after_the_lockout(tmp_path) -> None:
    store = _store(tmp_path)
    now = utcnow()
    for _ in range(lockout.ACCOUNT_LIMIT - 1):
        lockout.record_failure(store, "Fatima", "10.0.0.1", now)
    assert lockout.remaining(store, "fatima", "10.0.0.1", now) == 0
    lockout.record_failure(store, "fatima ", "10.0.0.2", now)  # the same account
    assert lockout.remaining(store, "fatima", "10.0.0.9", now) == \
        int(lockout.LOCKOUT.total_seconds())
    assert lockout.remaining(store, "someone-else", "10.0.0.9", now) == 0
    later = now + lockout.LOCKOUT + timedelta(seconds=1)
    assert lockout.remaining(store, "fatima", "10.0.0.9", later) == 0
    lockout.record_failure(store, "fatima", "10.0.0.9", later)  # a new window: one failure
    assert lockout.remaining(store, "fatima", "10.0.0.9", later) == 0
    store.close()


def test_failures_spread_over_more_than_the_window_do_not_lock(tmp_path) -> None:
    store = _store(tmp_path)
    start = utcnow()
    for i in range(lockout.ACCOUNT_LIMIT * 2):
        lockout.record_failure(store, "fatima", f"10.0.1.{i}",
                               start + i * (lockout.WINDOW / 2))
    assert lockout.remaining(store, "fatima", "10.0.1.99",
                             start + lockout.ACCOUNT_LIMIT * lockout.WINDOW) == 0
    store.close()


def test_an_address_locks_for_every_username_and_clearing_an_account_keeps_it(tmp_path) -> None:
    store = _store(tmp_path)
    now = utcnow()
    for i in range(lockout.ADDRESS_LIMIT):
        lockout.record_failure(store, f"guess-{i}", "192.0.2.7", now)
    assert lockout.remaining(store, "fatima", "192.0.2.7", now) > 0
    assert lockout.remaining(store, "fatima", "192.0.2.8", now) == 0
    lockout.clear_account(store, "guess-1")
    assert lockout.remaining(store, "guess-1", "192.0.2.7", now) > 0
    keys = [r[0] for r in store.conn.execute("SELECT key_hash FROM login_failures")]
    assert all(len(k) == 64 for k in keys) and not any("192.0.2" in k for k in keys)
    store.close()


def test_concurrent_failures_all_count(tmp_path) -> None:
    store = _store(tmp_path)
    now = utcnow()
    threads = [threading.Thread(target=lockout.record_failure,
                                args=(store, "fatima", "10.0.0.1", now)) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = sorted(r[0] for r in store.conn.execute("SELECT failures FROM login_failures"))
    assert counts == [12, 12]  # the account and the address, none lost
    store.close()
