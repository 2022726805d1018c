"""What a web worker keeps between an organisation's reads, so a read costs little.

An organisation reads the same grant again and again. The first read of a
token in a process does the full work: key slot lookup by the token's hash,
unwrapping the vault's data key, opening the vault, parsing the grant's
conditions. It leaves a :class:`GrantHandle` here, keyed by the token's
SHA-256. Later reads reuse it and still check, every time:

- that instance.db did not change since the handle's slot was last seen
  (``Instance.generation``: one ``PRAGMA data_version``); when it did, the
  slot is looked up again, so a deleted slot (revocation, expiry, purge)
  ends the handle. The same signal tells when the vault's connector inbox
  may have new items to merge;
- that the grant row is still active (a revoke marks it before it returns),
  with its access count and the records revision, in one statement; under a
  usage limit this runs holding the vault's access journal write lock
  (:mod:`vault.storage.journal`), so the count and the new row agree;
- the grant's conditions (expiry, purpose, usage limit counting the reads
  still in the journal, types).

Then the access event is committed to the journal and the answer returned.

The granted records, already filtered and serialised, are kept per handle
together with the vault's ``records_rev`` (bumped by triggers on every record
change): a read whose revision matches reuses them; any change rebuilds them.

Nothing here outlives ``KLUIS_VAULT_CACHE_SECONDS`` or exceeds
``KLUIS_VAULT_CACHE_SIZE`` handles; docs/threat-model.md says what this puts
in a worker's memory. Imports no Flask.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from vault.grants.models import Grant
from vault.storage.journal import JournalRef
from vault.storage.vaults import EventDetail


@dataclass(frozen=True)
class RecordsView:
    """The answer to one shape of read (all granted types, or some), at one records_rev."""

    records_rev: int
    records_json: str  # the "records" array, as sent
    detail: EventDetail  # the access event's detail


@dataclass
class GrantHandle:
    token_hash: str
    slot_id: str
    slot_expires_at: str | None
    vault_id: str
    vault_path: str
    journal: JournalRef
    dek: bytes
    cache_key: tuple[str, bytes]
    grant: Grant  # as parsed at first use; only its immutable parts are used
    actor: str
    generation: tuple[int, int, int]
    created: float = field(default_factory=time.monotonic)
    views: dict[tuple[str, ...], RecordsView] = field(default_factory=dict)


class HandleCache:
    """Grant handles of one process, least recently used first out."""

    def __init__(self) -> None:
        self._handles: OrderedDict[str, GrantHandle] = OrderedDict()
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def get(self, token_hash: str, settings) -> GrantHandle | None:
        if settings.vault_cache_seconds <= 0:
            return None
        with self._lock:
            self._after_fork()
            handle = self._handles.get(token_hash)
            if handle is None:
                return None
            if time.monotonic() - handle.created > settings.vault_cache_seconds:
                del self._handles[token_hash]
                return None
            self._handles.move_to_end(token_hash)
            return handle

    def put(self, handle: GrantHandle, settings) -> None:
        if settings.vault_cache_seconds <= 0:
            return
        with self._lock:
            self._after_fork()
            self._handles[handle.token_hash] = handle
            self._handles.move_to_end(handle.token_hash)
            while len(self._handles) > settings.vault_cache_size:
                self._handles.popitem(last=False)

    def drop(self, token_hash: str) -> None:
        with self._lock:
            self._handles.pop(token_hash, None)

    def clear(self) -> None:
        with self._lock:
            self._handles.clear()

    def __len__(self) -> int:
        return len(self._handles)

    def _after_fork(self) -> None:
        if os.getpid() != self._pid:
            self._handles = OrderedDict()
            self._pid = os.getpid()


HANDLES = HandleCache()
