"""Owner sessions in Redis. Neither Redis nor the cookie alone opens a vault.

Redis holds the vault's data key wrapped (AES-GCM) under a random session key;
that session key lives only in the owner's cookie. Ending a session deletes
its Redis entry, so a replayed cookie gets nothing.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from redis import Redis

from vault.crypto import aead
from vault.crypto.errors import WrongKey
from vault.crypto.keys import b64d, b64e

PREFIX = "kluis:session:"
BY_VAULT = "kluis:vault-sessions:"


def _raw(value: bytes | str) -> bytes:
    """A Redis answer as bytes: the client runs without ``decode_responses`` (redis-py's types
    allow str too, for clients that decode)."""
    if isinstance(value, str):
        raise TypeError("the Redis client must not decode responses")
    return value


@dataclass
class OwnerSession:
    sid: str
    vault_id: str
    dek: bytes
    stage: str  # "totp" until the second factor is given, then "full"
    created: float


def create(redis: Redis, vault_id: str, dek: bytes, *, stage: str, max_seconds: int) -> tuple[str, str]:
    """Start a session; returns ``(sid, session_key_b64)`` for the cookie."""
    sid = b64e(os.urandom(24))
    session_key = os.urandom(32)
    now = time.time()
    wrapped = aead.encrypt(session_key, dek, f"kluis-session:{sid}:{vault_id}".encode())
    pipe = redis.pipeline()
    pipe.hset(
        PREFIX + sid,
        mapping={"vault_id": vault_id, "wrapped": wrapped, "stage": stage,
                 "created": repr(now), "seen": repr(now)},
    )
    pipe.expire(PREFIX + sid, max_seconds)
    pipe.sadd(BY_VAULT + vault_id, sid)
    pipe.expire(BY_VAULT + vault_id, max_seconds)
    pipe.execute()
    return sid, b64e(session_key)


def load(redis: Redis, sid: str, session_key_b64: str, *, idle_seconds: int,
         max_seconds: int) -> OwnerSession | None:
    """The live session for ``sid`` or None (unknown, ended, idle or too old, wrong key)."""
    if not sid or not session_key_b64:
        return None
    data = redis.hgetall(PREFIX + sid)
    if not data:
        return None
    now = time.time()
    created = float(data[b"created"])
    seen = float(data[b"seen"])
    vault_id = _raw(data[b"vault_id"]).decode()
    if now - seen > idle_seconds or now - created > max_seconds:
        end(redis, sid, vault_id)
        return None
    try:
        dek = aead.decrypt(
            b64d(session_key_b64), _raw(data[b"wrapped"]), f"kluis-session:{sid}:{vault_id}".encode()
        )
    except (WrongKey, ValueError):
        return None
    redis.hset(PREFIX + sid, "seen", repr(now))
    return OwnerSession(sid, vault_id, dek, _raw(data[b"stage"]).decode(), created)


def promote(redis: Redis, sid: str) -> None:
    """Mark a session fully signed in (after the TOTP step)."""
    redis.hset(PREFIX + sid, "stage", "full")


def end(redis: Redis, sid: str, vault_id: str | None = None) -> None:
    if vault_id is None:
        raw = redis.hget(PREFIX + sid, "vault_id")
        vault_id = _raw(raw).decode() if raw else None
    redis.delete(PREFIX + sid)
    if vault_id:
        redis.srem(BY_VAULT + vault_id, sid)


def end_all(redis: Redis, vault_id: str, *, keep: str | None = None) -> int:
    """End every session of a vault (except ``keep``); returns how many were ended."""
    sids = [_raw(s).decode() for s in redis.smembers(BY_VAULT + vault_id)]
    ended = 0
    for sid in sids:
        if sid != keep:
            redis.delete(PREFIX + sid)
            redis.srem(BY_VAULT + vault_id, sid)
            ended += 1
    return ended
