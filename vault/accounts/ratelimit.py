"""Failed-attempt limits per account and per client address, with growing backoff."""

from __future__ import annotations

import hashlib

from redis import Redis

from vault.accounts.errors import RateLimited


class AttemptLimiter:
    """Counts failures in Redis; after ``max_failures`` within the window, waits double each time."""

    def __init__(self, redis: Redis, *, max_failures: int = 5, window: int = 900) -> None:
        self.redis = redis
        self.max_failures = max_failures
        self.window = window

    @staticmethod
    def _key(scope: str, subject: str) -> str:
        # Hash the subject so usernames and addresses are not readable in Redis.
        digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
        return f"kluis:fail:{scope}:{digest}"

    def check(self, *subjects: tuple[str, str]) -> None:
        """Raise :class:`RateLimited` if any subject is locked out."""
        for scope, subject in subjects:
            ttl = self.redis.ttl(self._key(scope, subject) + ":lock")
            if ttl and ttl > 0:
                raise RateLimited(int(ttl))

    def failed(self, *subjects: tuple[str, str]) -> None:
        for scope, subject in subjects:
            key = self._key(scope, subject)
            pipe = self.redis.pipeline()
            pipe.incr(key)
            pipe.expire(key, self.window)
            count, _ = pipe.execute()
            # Per-address limits are looser: several people may share one address.
            limit = self.max_failures * (4 if scope == "ip" else 1)
            if count >= limit:
                lock = min(2 ** (count - limit) * 30, self.window)
                self.redis.set(key + ":lock", b"1", ex=lock)

    def succeeded(self, *subjects: tuple[str, str]) -> None:
        for scope, subject in subjects:
            if scope != "ip":
                key = self._key(scope, subject)
                self.redis.delete(key, key + ":lock")
