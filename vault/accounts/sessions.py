"""Owner sessions in Redis. Neither Redis nor the cookie alone opens a vault.

Redis holds the vault's data key wrapped (AES-GCM) under a random session key;
that session key lives only in the owner's cookie. Ending a session deletes
its Redis entry, so a replayed cookie gets nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass

from redis import Redis

from vault.crypto import aead
from vault.crypto.errors import WrongKey
from vault.crypto.keys import b64d, b64e

PREFIX = "kluis:session:"
BY_VAULT = "kluis:vault-sessions:"
TOKEN_SEEN = "kluis:token-seen"  # noqa: S105 - a Redis key name, not a secret


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


@dataclass(frozen=True)
class SessionInfo:
    """What the owner's security page shows of one session: no key, no sid (an opaque
    public id derived from it), a short device summary."""

    public_id: str
    created: float
    seen: float
    device: str
    method: str


def public_id(sid: str) -> str:
    """The id a session is listed and ended by: a hash of the sid, never the sid itself."""
    return hashlib.sha256(b"kluis-session-public:" + sid.encode()).hexdigest()[:20]


_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
             ("Chromium/", "Chromium"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iOS"), ("iPad", "iPadOS"),
            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
            ("Linux", "Linux"))


def device_summary(user_agent: str) -> str:
    """``"Chrome, Linux"`` from a User-Agent header: a browser and a system, no version, so
    Redis keeps no fingerprint. Unknown parts are left out; an empty string when none."""
    agent = (user_agent or "")[:512]
    browser = next((name for mark, name in _BROWSERS if mark in agent), "")
    if not browser and re.match(r"^[A-Za-z][\w.-]{0,30}/", agent):
        browser = agent.split("/", 1)[0]  # e.g. python-requests, curl
    system = next((name for mark, name in _SYSTEMS if mark in agent), "")
    return ", ".join(part for part in (browser, system) if part)


def create(redis: Redis, vault_id: str, dek: bytes, *, stage: str, max_seconds: int,
           device: str = "", method: str = "") -> tuple[str, str]:
    """Start a session; returns ``(sid, session_key_b64)`` for the cookie.

    ``device`` (from :func:`device_summary`) and ``method`` (how the owner signed in) are
    kept beside the wrapped key so the owner can tell their sessions apart."""
    sid = b64e(os.urandom(24))
    session_key = os.urandom(32)
    now = time.time()
    wrapped = aead.encrypt(session_key, dek, f"kluis-session:{sid}:{vault_id}".encode())
    pipe = redis.pipeline()
    pipe.hset(
        PREFIX + sid,
        mapping={"vault_id": vault_id, "wrapped": wrapped, "stage": stage,
                 "created": repr(now), "seen": repr(now), "device": device[:80],
                 "method": method[:40]},
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


def list_sessions(redis: Redis, vault_id: str, *, idle_seconds: int,
                  max_seconds: int) -> list[SessionInfo]:
    """The live, fully signed-in sessions of a vault, most recently seen first."""
    now = time.time()
    found: list[SessionInfo] = []
    for raw_sid in redis.smembers(BY_VAULT + vault_id):
        sid = _raw(raw_sid).decode()
        data = redis.hgetall(PREFIX + sid)
        if not data:
            redis.srem(BY_VAULT + vault_id, sid)  # expired in Redis
            continue
        created, seen = float(data[b"created"]), float(data[b"seen"])
        if now - seen > idle_seconds or now - created > max_seconds:
            continue
        if _raw(data.get(b"stage", b"")).decode() != "full":
            continue
        found.append(SessionInfo(public_id(sid), created, seen,
                                 _raw(data.get(b"device", b"")).decode(),
                                 _raw(data.get(b"method", b"")).decode()))
    return sorted(found, key=lambda s: s.seen, reverse=True)


def end_by_public_id(redis: Redis, vault_id: str, public: str) -> bool:
    """End the session of ``vault_id`` whose :func:`public_id` is ``public``; True if one was.

    Only that vault's sessions are looked at: one owner cannot end another's."""
    for raw_sid in redis.smembers(BY_VAULT + vault_id):
        sid = _raw(raw_sid).decode()
        if public_id(sid) == public:
            end(redis, sid, vault_id)
            return True
    return False


def note_token_use(redis: Redis, token_id: str) -> None:
    """Remember when an app token was last used (shown on the security page)."""
    redis.hset(TOKEN_SEEN, token_id, repr(time.time()))


def token_last_used(redis: Redis, token_ids: list[str]) -> dict[str, float]:
    """When each of ``token_ids`` was last used, for those used since Redis last started."""
    if not token_ids:
        return {}
    values = redis.hmget(TOKEN_SEEN, token_ids)
    return {tid: float(v) for tid, v in zip(token_ids, values, strict=True) if v is not None}


def forget_token(redis: Redis, token_id: str) -> None:
    redis.hdel(TOKEN_SEEN, token_id)
