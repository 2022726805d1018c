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
in a worker's memory.

:class:`Redemption` is the read itself: slot lookup by token hash -> unwrap the
data key -> open the vault -> check the grant's conditions -> write the access
event durably (to the vault's access journal, merged into its log later) ->
return only the granted fields. :meth:`Redemption.redeem_records` is the
measured hot path (BENCHMARKS.md): one clock reading, one statement on the
vault, one journal row, the answer through json's C string encoder; keep it so.
Imports no Flask.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_string  # json.dumps(str), in C
from typing import Any, cast

from vault.clock import now_iso, to_iso, utcnow
from vault.config import Settings
from vault.crypto import keys, slots
from vault.crypto.errors import CryptoError
from vault.grants import repository, selection
from vault.grants.errors import AccessNotLogged, GrantError, InsufficientScope, InvalidToken
from vault.grants.models import AccessContext, Grant, UnknownCondition, verify_all
from vault.grants.repository import READ_STATE
from vault.records.catalogue import RECORD_TYPES
from vault.records.service import list_records
from vault.storage import db, journal
from vault.storage.cache import ConnectionCache
from vault.storage.instance import Instance
from vault.storage.journal import JournalRef
from vault.storage.vaults import EventDetail, VaultDB, open_vault

log = logging.getLogger("kluis.grants")

DOCUMENTS_PATH = "/api/v1/grant/documents"
"""Where an organisation downloads a granted document's bytes (``/<record id>``)."""


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
    grant: Grant  # as parsed at records_rev ``grant_rev``; re-read when that moves
    actor: str
    generation: tuple[int, int, int]
    grant_rev: int | None = None
    created: float = field(default_factory=time.monotonic)
    views: dict[tuple[str, ...], RecordsView] = field(default_factory=dict)


class HandleCache:
    """Grant handles of one process, least recently used first out."""

    def __init__(self) -> None:
        self._handles: OrderedDict[str, GrantHandle] = OrderedDict()
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def get(self, token_hash: str, settings: Settings) -> GrantHandle | None:
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

    def put(self, handle: GrantHandle, settings: Settings) -> None:
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

#: A failed condition's code -> the reason a dead token's 401 gives (vault.grants.events).
_REASONS = {"expired": "expired", "usage-limit": "used_up"}


class Redemption:
    """An organisation's reads under its grant token (and opening a vault with one)."""

    def __init__(self, instance: Instance, settings: Settings, *,
                 on_open: Sequence[Callable[[VaultDB], None]] = ()) -> None:
        self.instance = instance
        self.settings = settings
        #: What runs when a read opens a vault afresh (the composition root passes the
        #: connector inbox merge): the same hooks as the owner's open path.
        self.on_open = tuple(on_open)
        #: What runs inside the vault transaction that merges access journal rows into the
        #: log (counts, and the owner's read notifications where the facade adds them).
        self.on_merged: Callable[[db.Connection, Sequence[Any]], None] = repository.add_reads

    # -- opening a vault with a grant token -------------------------------------------------

    def unwrap(self, token: str) -> tuple[slots.KeySlot, str, bytes]:
        """The token's grant slot, its grant id and the vault's data key it wraps.

        Raises :class:`InvalidToken` for unknown, expired and non-grant tokens.
        """
        slot = self.instance.slot_by_token_hash(keys.token_hash(token or ""))
        if slot is None or slot.kind != slots.GRANT or not slot.grant_id:
            raise InvalidToken("the access token is not valid (revoked, expired or unknown)")
        if slot.expires_at and slot.expires_at <= now_iso():
            with self.instance.transaction() as tx:
                self.instance.delete_slot(tx, slot.id)
            raise InvalidToken("the grant expired")
        try:
            return slot, slot.grant_id, slots.unwrap(slot, token)
        except CryptoError:
            raise InvalidToken("the access token is not valid") from None

    def open_by_token(self, token: str) -> tuple[str, VaultDB]:
        """The token's grant id and its vault, open (the caller closes it)."""
        slot, grant_id, dek = self.unwrap(token)
        return grant_id, open_vault(self.instance, slot.vault_id, dek)

    def _authorise(self, token: str, now: str | None = None
                   ) -> tuple[GrantHandle, VaultDB, bool]:
        """The token's grant handle and its vault, open; True when the vault is new to this
        process or instance.db changed since (then the connector inbox is worth a look).

        Raises :class:`InvalidToken` for unknown, revoked and expired tokens.
        """
        digest = keys.token_hash(token or "")
        generation = self.instance.generation()
        handle = HANDLES.get(digest, self.settings)
        fresh = False
        if handle is not None and handle.slot_expires_at \
                and handle.slot_expires_at <= (now or now_iso()):
            HANDLES.drop(digest)  # the full path below deletes the slot and says why
            handle = None
        if handle is not None and handle.generation != generation:
            current = self.instance.slot(handle.slot_id)
            if current is None or current.token_hash != digest:
                HANDLES.drop(digest)
                raise InvalidToken("the access token is not valid (revoked, expired or unknown)")
            handle.generation = generation
            fresh = True
        if handle is not None:
            vault = open_vault(self.instance, handle.vault_id, handle.dek,
                               cache_key=handle.cache_key, path=handle.vault_path)
            return handle, vault, fresh
        slot, grant_id, dek = self.unwrap(token)
        vault = open_vault(self.instance, slot.vault_id, dek)
        try:
            # The revision first: a narrowing committed after it moves it again.
            grant_rev = _records_rev(vault)
            grant = repository.grant(vault.conn, grant_id)
        except (UnknownCondition, KeyError, TypeError):
            vault.close()
            raise InvalidToken("the grant has a condition this server does not know") from None
        if grant is None:
            vault.close()
            raise InvalidToken("the grant was revoked")
        vault_path = str(self.instance.vault_path(slot.vault_id))
        try:
            access_journal = journal.ref(vault, vault_path)
        except BaseException:
            vault.close()
            raise
        handle = GrantHandle(
            token_hash=digest, slot_id=slot.id, slot_expires_at=slot.expires_at,
            vault_id=slot.vault_id, vault_path=vault_path, journal=access_journal,
            dek=dek, cache_key=ConnectionCache.key(slot.vault_id, dek), grant=grant,
            actor=f"org:{grant.client_id}", generation=generation, grant_rev=grant_rev)
        HANDLES.put(handle, self.settings)
        return handle, vault, True

    # -- reading ----------------------------------------------------------------------------

    def redeem(self, token: str, *, view: str = "records", types: list[str] | None = None,
               purpose: str | None = None) -> dict[str, Any]:
        """An organisation reads under a grant: ``view`` is ``grant``, ``records`` or
        ``receipt`` (its copy of the signed consent receipt).

        Raises :class:`InvalidToken` (401), :class:`InsufficientScope` (403) or
        :class:`AccessNotLogged` (503, nothing served).
        """
        if view == "records":
            answer: dict[str, Any] = json.loads(self.redeem_records(
                token, types=types, purpose=purpose))
            return answer
        handle, vault, fresh = self._authorise(token)
        try:
            if fresh:
                for hook in self.on_open:
                    hook(vault)
            now = utcnow()
            with _logged_or_nothing():
                # The access count shown must include reads still in the journal.
                journal.merge_pending(vault, handle.vault_path, self.settings,
                                      on_merged=self.on_merged)
            with _logged_or_nothing(), vault.transaction() as tx:
                grant = self._active_grant(tx, handle, now, purpose=purpose)
                vault.append_event(tx, actor=handle.actor, action="grant.viewed",
                                   grant_id=grant.id,
                                   detail={"organisation": grant.organisation.get("name"),
                                           **({"receipt": True} if view == "receipt"
                                              else {})})
                if view == "receipt":
                    return {"receipt": grant.receipt}
                return {"grant": grant.to_dict(now, for_owner=False),
                        "authorization_details": grant.authorization_details()}
        finally:
            vault.close()

    def redeem_records(self, token: str, *, types: list[str] | None = None,
                       purpose: str | None = None,
                       defer: Callable[[Callable[[], None]], None] | None = None) -> bytes:
        """The granted records as the JSON body sent to the organisation.

        Only granted types and fields, current versions, with provenance. The
        access event is committed to the vault's access journal (at the
        configured synchronous level) before this returns; if it cannot be,
        :class:`AccessNotLogged` and nothing. The vault itself is only read.

        After every :data:`journal.MERGE_EVERY` th row the journal is merged into
        the vault's log: through ``defer`` (the web view runs it after the
        response has been sent) or, without it, before returning.
        """
        now = utcnow()
        at = to_iso(now)
        handle, vault, fresh = self._authorise(token, at)
        try:
            if fresh:
                for hook in self.on_open:
                    hook(vault)
            wanted = tuple(types or ())
            grant = handle.grant
            with _logged_or_nothing(), \
                    journal.opened(handle.journal, self.settings, vault=vault) as jconn:
                # Under a usage limit, the journal's write lock first: a merge (journal, then
                # vault) cannot move rows between the two counts below. Without one nothing
                # is counted, and the event's INSERT is its own transaction (one statement,
                # committed at the configured synchronous level like any other). Either way
                # the instance's write hold comes before it (a backup waits for the row).
                limited = grant.usage_limit is not None
                with self.instance.hold.shared(), \
                        journal.locked(jconn) if limited else contextlib.nullcontext():
                    row = vault.conn.execute(READ_STATE, (grant.id,)).fetchone()
                    if row is None:
                        HANDLES.drop(handle.token_hash)
                        raise InvalidToken("the grant was revoked")
                    uses = row[0]
                    if limited:
                        uses += journal.pending_reads(jconn, grant.id, row[2])
                    rev = row[1]
                    grant = _current_grant(vault, handle, rev)
                    self._check_conditions(handle, now, uses=uses, types=wanted, purpose=purpose)
                    answer = handle.views.get(wanted)
                    if answer is None or rev is None or answer.records_rev != rev:
                        answer = _records_view(vault, grant, wanted, rev,
                                               self.settings.public_url)
                        if rev is not None:
                            handle.views[wanted] = answer
                    pending = journal.append(jconn, at=at, actor=handle.actor,
                                             action="grant.read", grant_id=grant.id,
                                             detail=answer.detail)
        finally:
            vault.close()
        if pending % journal.MERGE_EVERY == 0:
            if defer is None:
                self._merge_journal(handle)
            else:
                defer(functools.partial(self._merge_journal, handle))
        return (f'{{"grant_id":{_json_string(grant.id)},"fetched_at":{_json_string(at)},'
                f'"records":{answer.records_json}}}\n').encode()

    def redeem_document(self, token: str, record_id: str, *,
                        purpose: str | None = None) -> DocumentDownload:
        """A granted document's bytes, to stream (the caller iterates, then closes).

        The document must be a record of type ``document`` the grant covers (chosen by
        the person, or cited as evidence by a shared record); anything else is
        :class:`NotFound`, whether it exists or not. The download is an access event like
        a read (``grant.download`` in the journal, committed before any byte is served).
        The bytes are read from the vault file in chunks (SQLite incremental blob I/O):
        a large document is never held in memory whole.
        """
        now = utcnow()
        at = to_iso(now)
        handle, vault, fresh = self._authorise(token, at)
        try:
            if fresh:
                for hook in self.on_open:
                    hook(vault)
            grant = handle.grant
            with _logged_or_nothing(), journal.opened(handle.journal, self.settings) as jconn:
                limited = grant.usage_limit is not None
                with journal.locked(jconn) if limited else contextlib.nullcontext():
                    row = vault.conn.execute(READ_STATE, (grant.id,)).fetchone()
                    if row is None:
                        HANDLES.drop(handle.token_hash)
                        raise InvalidToken("the grant was revoked")
                    uses = row[0]
                    if limited:
                        uses += journal.pending_reads(jconn, grant.id, row[2])
                    grant = _current_grant(vault, handle, row[1])
                    self._check_conditions(handle, now, uses=uses, types=("document",),
                                           purpose=purpose)
                    document = _granted_document(vault, grant, record_id)
                    journal.append(jconn, at=at, actor=handle.actor, action="grant.download",
                                   grant_id=grant.id, detail=EventDetail.of({
                                       "organisation": grant.organisation.get("name"),
                                       "record": record_id, "document": document.name,
                                       "size": document.size, "sha256": document.sha256}))
        except BaseException:
            vault.close()
            raise
        return DocumentDownload(document.name, document.media_type, document.size,
                                document.sha256, vault, document.rowid)

    def _merge_journal(self, handle: GrantHandle) -> None:
        """Merge a grant's vault journal after a read that was already logged (and, when
        deferred, answered). Never raises: a failure leaves the rows for the next merge."""
        try:
            with open_vault(self.instance, handle.vault_id, handle.dek,
                            cache_key=handle.cache_key, path=handle.vault_path) as vault, \
                    journal.opened(handle.journal, self.settings, vault=vault) as jconn:
                journal.merge(vault, jconn, on_merged=self.on_merged)
        except Exception as exc:  # noqa: BLE001 - the read is logged; rows stay pending
            log.error("merging an access journal failed (%s); its rows stay for the next merge",
                      type(exc).__name__)

    def _check_conditions(self, handle: GrantHandle, now: datetime, *, uses: int,
                          types: tuple[str, ...], purpose: str | None) -> None:
        unknown = [t for t in types if t not in RECORD_TYPES]
        if unknown:
            raise InsufficientScope(f"unknown record type(s): {', '.join(unknown)}")
        verdict = verify_all(handle.grant.conditions,
                             AccessContext(now=now, uses=uses, purpose=purpose, types=types))
        if not verdict:
            if verdict.code in ("wrong-purpose", "type-not-granted"):
                raise InsufficientScope(verdict.reason)
            if verdict.code == "expired":
                HANDLES.drop(handle.token_hash)
                with self.instance.transaction() as itx:
                    self.instance.delete_slot(itx, handle.slot_id)
            raise InvalidToken(verdict.reason, reason=_REASONS.get(verdict.code),
                               grant_id=handle.grant.id, client_id=handle.grant.client_id)

    def _active_grant(self, tx: db.Connection, handle: GrantHandle, now: datetime, *,
                      purpose: str | None) -> Grant:
        """Inside a vault transaction: the grant, if still active and its conditions hold."""
        grant = repository.grant(tx, handle.grant.id)
        if grant is None or grant.status != "active":
            HANDLES.drop(handle.token_hash)
            raise InvalidToken("the grant was revoked")
        self._check_conditions(handle, now, uses=grant.access_count, types=(), purpose=purpose)
        return grant


def _records_rev(vault: VaultDB) -> int | None:
    row = vault.conn.execute("SELECT value FROM meta WHERE key = 'records_rev'").fetchone()
    return int(row[0]) if row is not None and row[0] is not None else None


def _current_grant(vault: VaultDB, handle: GrantHandle, rev: int | None) -> Grant:
    """The handle's grant, re-read when ``records_rev`` moved since it was parsed: the owner
    may have narrowed it (its conditions changed; a trigger moves the revision with them).
    One integer comparison on the reads in between."""
    if rev is not None and rev == handle.grant_rev:
        return handle.grant
    try:
        fresh = repository.grant(vault.conn, handle.grant.id)
    except (UnknownCondition, KeyError, TypeError):
        HANDLES.drop(handle.token_hash)
        raise InvalidToken("the grant has a condition this server does not know") from None
    if fresh is None:
        HANDLES.drop(handle.token_hash)
        raise InvalidToken("the grant was revoked")
    handle.grant, handle.grant_rev = fresh, rev
    handle.views.clear()
    return fresh


@dataclass(frozen=True)
class _Document:
    name: str
    media_type: str
    size: int
    sha256: str
    rowid: int


def _granted_document(vault: VaultDB, grant: Grant, record_id: str) -> _Document:
    from vault.grants.errors import NotFound

    row = vault.conn.execute(
        "SELECT r.type, r.created_at, v.data FROM records r JOIN record_versions v"
        " ON v.record_id = r.id AND v.version = r.current_version WHERE r.id = ?",
        (record_id,)).fetchone()
    bound = grant.records
    if row is None or row[0] != "document" or grant.fields.filter("document", {}) is None:
        raise NotFound("no such document under this grant")
    data = json.loads(row[2])
    if bound is not None and not bound.shares_document(
            record_id, row[1], data.get("sha256"), selection.cited_documents(vault, grant)):
        raise NotFound("no such document under this grant")
    blob = vault.conn.execute("SELECT rowid, media_type, size FROM documents WHERE sha256 = ?",
                              (data.get("sha256", ""),)).fetchone()
    if blob is None:
        raise NotFound("no such document under this grant")
    return _Document(str(data.get("name") or "document"), blob[1], int(blob[2]),
                     str(data["sha256"]), int(blob[0]))


class DocumentDownload:
    """A granted document being served: its headers' values and its bytes in chunks.

    Iterate once; :meth:`close` gives the vault back (the web layer calls it when the
    response is closed). At most :data:`CHUNK` bytes of the document are in memory.
    """

    CHUNK = 256 * 1024

    def __init__(self, name: str, media_type: str, size: int, sha256: str, vault: VaultDB,
                 rowid: int) -> None:
        self.name = name
        self.media_type = media_type
        self.size = size
        self.sha256 = sha256
        self._vault: VaultDB | None = vault
        self._rowid = rowid

    def __iter__(self) -> Iterator[bytes]:
        if self._vault is None:
            return
        # sqlcipher3's incremental blob I/O (sqlite3_blob_open), read-only; its stubs lack it.
        blob = cast(Any, self._vault.conn).open_blob("documents", "content", self._rowid, 0)
        try:
            while True:
                chunk: bytes = blob.read(self.CHUNK)
                if not chunk:
                    break
                yield chunk
        finally:
            blob.close()

    def close(self) -> None:
        if self._vault is not None:
            self._vault.close()
            self._vault = None


@contextlib.contextmanager
def _logged_or_nothing() -> Iterator[None]:
    """Grant errors pass; anything else (disk full, I/O error) means the access event may
    not be written, so nothing is served."""
    try:
        yield
    except GrantError:
        raise
    except Exception as exc:
        raise AccessNotLogged("the access could not be logged, so nothing is served") from exc


#: A read of at most this many records names them in its access event (the log shows their
#: titles); a larger read is logged by type and count.
READ_IDS_LOGGED = 5


def _records_view(vault: VaultDB, grant: Grant, wanted: tuple[str, ...],
                  records_rev: int | None, base_url: str = "") -> RecordsView:
    """The filtered records of one read shape, serialised, and its access event detail.

    Built once per records revision and kept on the handle, so the record binding
    (:class:`~vault.grants.models.Records`) costs nothing on the reads in between.
    """
    fields = grant.fields
    bound = grant.records
    types = list(wanted) or list(fields.types)
    cited = selection.cited_documents(vault, grant) if "document" in types else set()
    out = []
    shared: dict[str, set[str]] = {}
    for record in list_records(vault, types):
        if bound is not None and not (
                bound.shares_document(record.id, record.created_at, record.data.get("sha256"),
                                      cited) if record.type == "document"
                else bound.covers(record.type, record.id, record.created_at)):
            continue
        data = fields.filter(record.type, record.data)
        if data is None:
            continue
        shared.setdefault(record.type, set()).update(data)
        item: dict[str, Any] = {
            "id": record.id,
            "type": record.type,
            "version": record.version,
            "updated_at": record.updated_at,
            "data": data,
            "provenance": record.provenance.to_dict(),
        }
        if record.type == "document":
            item["download_url"] = f"{base_url}{DOCUMENTS_PATH}/{record.id}"
        out.append(item)
    detail = {"organisation": grant.organisation.get("name"), "types": types,
              "fields": {t: sorted(f) for t, f in shared.items()}, "records": len(out)}
    if out and len(out) <= READ_IDS_LOGGED:  # so the owner's log can name them
        detail["record_ids"] = [item["id"] for item in out]
    return RecordsView(records_rev if records_rev is not None else -1,
                       json.dumps(out, separators=(",", ":")), EventDetail.of(detail))
