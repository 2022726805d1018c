"""Failed-attempt limits per account and per client address, with growing backoff.

Checking and counting are one atomic step in Redis (a Lua script): :meth:`AttemptLimiter.check`
counts the attempt *before* the secret is checked, so however many attempts arrive at once,
at most ``max_failures`` of them reach the password (or code) check before the lock holds.
An attempt that succeeds takes its count back (:meth:`AttemptLimiter.succeeded`), one that
ends for another reason gives it back (:meth:`AttemptLimiter.release`), a failure keeps it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from redis import Redis

from vault.accounts.errors import RateLimited

#: KEYS: count key, lock key, per subject (in pairs). ARGV: window, then each subject's limit.
#: Refuses (returns the longest lock's seconds) if any subject is locked; otherwise counts the
#: attempt for every subject and, where the count reaches its limit, locks that subject for
#: ``min(2 ** (count - limit) * 30, window)`` seconds while this attempt runs. Returns 0 then.
_ACQUIRE = """
local window = tonumber(ARGV[1])
local wait = 0
for i = 1, #KEYS, 2 do
  local ttl = redis.call('TTL', KEYS[i + 1])
  if ttl > wait then wait = ttl end
end
if wait > 0 then return wait end
for i = 1, #KEYS, 2 do
  local limit = tonumber(ARGV[(i + 1) / 2 + 1])
  local count = redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], window)
  if count >= limit then
    local lock = math.min(2 ^ (count - limit) * 30, window)
    redis.call('SET', KEYS[i + 1], '1', 'EX', math.floor(lock))
  end
end
return 0
"""

#: KEYS: count key, lock key. ARGV: limit. Takes one attempt's count back; the lock goes when
#: the count is below the limit again (failures alone would not have locked it).
_RELEASE = """
local count = redis.call('DECR', KEYS[1])
if count <= 0 then
  redis.call('DEL', KEYS[1])
end
if count < tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[2])
end
return count
"""


class AttemptLimiter:
    """Counts attempts in Redis; after ``max_failures`` within the window, waits double each time."""

    def __init__(self, redis: Redis, *, max_failures: int = 5, window: int = 900) -> None:
        self.redis = redis
        self.max_failures = max_failures
        self.window = window
        self._acquire: Any = redis.register_script(_ACQUIRE)
        self._release: Any = redis.register_script(_RELEASE)

    @staticmethod
    def _key(scope: str, subject: str) -> str:
        # Hash the subject so usernames and addresses are not readable in Redis.
        digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
        return f"kluis:fail:{scope}:{digest}"

    def limit(self, scope: str) -> int:
        # Per-address limits are looser: several people may share one address.
        return self.max_failures * (4 if scope == "ip" else 1)

    def check(self, *subjects: tuple[str, str]) -> None:
        """Raise :class:`RateLimited` if any subject is locked out; otherwise count this attempt.

        Atomic: concurrent attempts cannot all pass before the first of them is counted. Every
        attempt that passes ends in :meth:`failed`, :meth:`succeeded` or :meth:`release`.
        """
        if not subjects:
            return
        keys: list[str] = []
        limits: list[int] = []
        for scope, subject in subjects:
            key = self._key(scope, subject)
            keys += [key, key + ":lock"]
            limits.append(self.limit(scope))
        wait = int(self._acquire(keys=keys, args=[self.window, *limits]))
        if wait > 0:
            raise RateLimited(wait)

    def failed(self, *subjects: tuple[str, str]) -> None:
        """The attempt failed: it stays counted (:meth:`check` counted it and set any lock)."""

    def succeeded(self, *subjects: tuple[str, str]) -> None:
        """The secret was right: an account's failures are forgotten; an address's count only
        gives this attempt back (others behind the same address may still be guessing)."""
        for scope, subject in subjects:
            if scope == "ip":
                self.release((scope, subject))
            else:
                key = self._key(scope, subject)
                self.redis.delete(key, key + ":lock")

    def release(self, *subjects: tuple[str, str]) -> None:
        """The attempt ended without checking the secret to the end: give its count back."""
        for scope, subject in subjects:
            key = self._key(scope, subject)
            self._release(keys=[key, key + ":lock"], args=[self.limit(scope)])
