"""instance.db: vault directory, key slots, inbox, invites, signing keys.

Opened with the instance key (file ``KLUIS_HOME/instance.key`` or
``KLUIS_INSTANCE_KEY``). It holds no record contents: only usernames, wrapped
data keys, token digests, sealed inbox items and the instance's own keys.

With ``KLUIS_DATABASE_URL`` set the same tables live in PostgreSQL
(``migrations/postgresql/0002_instance.sql``) and :attr:`Instance.conn` is a
:class:`vault.storage.pginstance.Connection` that runs the same statements there, so several
web nodes and workers share one instance. The instance key stays with the nodes (file or
environment): it derives the subkeys (connector credentials, mail outbox, log commitments).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from vault.clock import now_iso
from vault.config import Settings
from vault.crypto import aead, signing
from vault.crypto.slots import KeySlot
from vault.storage import db, hold, keyfile, migrations
from vault.storage.errors import VaultDamaged

if TYPE_CHECKING:
    from vault.storage import pg

INSTANCE_KEY_FILE = "instance.key"
INSTANCE_DB_FILE = "instance.db"
VAULTS_DIR = "vaults"
#: The prefix of a sealed private signing JWK in ``signing_keys.private_jwk``.
_SEALED_JWK = "sealed:v1:"


class NotInitialised(RuntimeError):
    """KLUIS_HOME has no instance yet: run ``kluis init``."""


class InboxKeyTampered(VaultDamaged):
    """A vault's inbox public key does not carry its tag: it was changed by someone without
    the instance key (in PostgreSQL, a database administrator). Nothing is sealed to it."""

    def __init__(self, vault_id: str) -> None:
        super().__init__(f"the inbox key of vault {vault_id} was changed outside Kluis;"
                         " nothing was sealed to it")


def init_home(settings: Settings) -> bool:
    """Create KLUIS_HOME, the instance key, instance.db and a signing key. Idempotent.

    Returns True when something was created.
    """
    home = settings.home_path
    created = False
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    (home / VAULTS_DIR).mkdir(exist_ok=True, mode=0o700)
    key_path = home / INSTANCE_KEY_FILE
    if not settings.instance_key and keyfile.create(key_path):
        created = True
    db_existed = (home / INSTANCE_DB_FILE).exists() or bool(settings.database_url)
    instance = Instance(settings)
    try:
        if instance.pg is not None and instance.pg.migrated:  # migrated on first use
            created = True
        if instance.ensure_signing_key():
            created = True
    finally:
        instance.close()
    return created or not db_existed


def read_instance_key(settings: Settings) -> bytes:
    return keyfile.read(settings.instance_key, settings.home_path / INSTANCE_KEY_FILE,
                        what="instance key", init="kluis init", error=NotInitialised)


class Instance:
    """Access to instance.db (one SQLCipher connection per thread) or, with
    ``KLUIS_DATABASE_URL``, to the instance tables in PostgreSQL (one session per thread)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home_path
        self.key = read_instance_key(settings)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[Any] = []
        self._shared: db.Connection | None = None  # PostgreSQL: one for all threads
        self._shared_pid = 0
        #: Where the instance's own data lives: "files" (instance.db) or "postgresql".
        self.backend = "postgresql" if settings.database_url else "files"
        self._commits = 0
        #: Every write takes it shared, so ``kluis backup`` can stop them all (storage.hold).
        self.hold = hold.for_home(self.home)
        self._subkeys: dict[str, bytes] = {}
        self.conn  # noqa: B018 - open and migrate now, so errors surface at start-up

    @property
    def conn(self) -> db.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None and self._shared is not None and self._shared_pid == os.getpid():
            return self._shared
        if conn is None:
            if self.backend == "postgresql":
                from vault.storage import pginstance

                self.pg  # noqa: B018 - the pool's start migrates the database (storage.pg)
                # One body of SQL: the type says sqlite3.Connection, which it stands in for.
                # One object for every thread (it keeps each thread's transaction apart).
                with self._lock:
                    if self._shared is None or self._shared_pid != os.getpid():
                        # (a forked child, an rq work horse, opens its own sessions)
                        shared = pginstance.Connection(str(self.settings.database_url))
                        if (file := self.home / INSTANCE_DB_FILE).exists():
                            # The first start after KLUIS_DATABASE_URL was set (storage.pgcopy).
                            from vault.storage import pgcopy

                            try:
                                pgcopy.copy_instance_db(
                                    file, self.key, shared, seal_jwk=self.seal_jwk,
                                    inbox_tag=self.inbox_key_tag,
                                    synchronous=self.settings.sqlite_synchronous)
                            except BaseException:
                                shared.close()
                                raise
                        self._all.append(shared)
                        self._shared = cast(db.Connection, shared)
                        self._shared_pid = os.getpid()
                    return self._shared
            else:
                conn = db.connect(self.home / INSTANCE_DB_FILE, self.key,
                                  synchronous=self.settings.sqlite_synchronous)
                with self.hold.shared():
                    migrations.apply(conn, "instance")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
            self._shared = None
        self._local = threading.local()

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[db.Connection]:
        """One all-or-nothing write, writers taking turns (SQLite's ``BEGIN IMMEDIATE``; on
        PostgreSQL the instance write lock of :mod:`vault.storage.pginstance`).

        ``durable=False``: the commit does not wait for the disk (SQLite ``synchronous =
        NORMAL``, PostgreSQL ``synchronous_commit = off`` for this transaction), for writes
        whose loss in a power cut is harmless (the log commitments, :mod:`heads`).
        """
        conn = self.conn
        files = self.backend == "files"
        if not durable and files:
            conn.execute("PRAGMA synchronous = NORMAL")
        try:
            with self.hold.shared(), db.transaction(conn) as tx:
                if not durable and not files:
                    cast(Any, conn).set_not_durable()
                yield tx
        finally:
            self._commits += 1
            if not durable and files:
                conn.execute(f"PRAGMA synchronous = {self.settings.sqlite_synchronous}")

    def generation(self) -> tuple[int, int, int]:
        """A value that changes whenever instance.db may have changed since it was taken.

        SQLite's ``data_version`` moves when another connection (another process
        or thread) commits; it is per connection, so the connection's identity
        is part of the value; this process's own transactions are counted. A
        caller that keeps something derived from instance.db (a grant's key
        slot, the inbox being empty) re-checks it when the value differs.

        On PostgreSQL the value is the revocation epoch the database keeps (moved in the
        transaction of every key slot change and every inbox item, ``kluis_instance_epoch``):
        a revoke committed by any node changes it for every node's next read.
        """
        conn = self.conn
        if self.backend == "postgresql":
            return id(conn), cast(Any, conn).epoch(), self._commits
        return id(conn), conn.execute("PRAGMA data_version").fetchone()[0], self._commits

    def subkey(self, purpose: str) -> bytes:
        """A key derived from the instance key for one purpose (cookies, credentials), derived
        once per purpose (the log commitments, the inbox key tags and the signing key's seal
        ask for theirs on every use)."""
        found = self._subkeys.get(purpose)
        if found is None:
            from vault.crypto.kdf import hkdf

            found = self._subkeys[purpose] = hkdf(
                self.key, info=b"kluis instance subkey:" + purpose.encode())
        return found

    @property
    def pg(self) -> pg.Database | None:
        """The PostgreSQL database of the vaults (``KLUIS_DATABASE_URL``), or None: files."""
        if not self.settings.database_url:
            return None
        from vault.storage import pg  # psycopg only when the backend is chosen

        return pg.database(self.settings.database_url)

    @property
    def head_key(self) -> bytes:
        """The key of the vaults' log commitments (:mod:`vault.storage.heads`)."""
        return self.subkey("vault-log-head")

    def vault_path(self, vault_id: str) -> Path:
        if not vault_id.isalnum():
            raise ValueError("vault ids are alphanumeric")
        return self.home / VAULTS_DIR / f"{vault_id}.db"

    # -- vaults -----------------------------------------------------------------------------

    def add_vault(self, conn: db.Connection, vault_id: str, username: str, public: bytes) -> None:
        conn.execute(
            "INSERT INTO vaults (id, username, created_at, inbox_public_key, inbox_key_tag)"
            " VALUES (?, ?, ?, ?, ?)",
            (vault_id, username, now_iso(), public, self.inbox_key_tag(vault_id, public)),
        )

    def inbox_key_tag(self, vault_id: str, public: bytes) -> bytes:
        """The tag of a vault's inbox public key (HMAC-SHA256 under an instance subkey)."""
        return hmac.new(self.subkey("inbox-key-tag"), vault_id.encode() + b"\x00" + public,
                        hashlib.sha256).digest()

    def vault_by_username(self, username: str) -> str | None:
        row = self.conn.execute("SELECT id FROM vaults WHERE username = ?", (username,)).fetchone()
        return row["id"] if row else None

    def vault_exists(self, vault_id: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM vaults WHERE id = ?", (vault_id,)).fetchone()
        return row is not None

    def username(self, vault_id: str) -> str | None:
        row = self.conn.execute("SELECT username FROM vaults WHERE id = ?", (vault_id,)).fetchone()
        return row["username"] if row else None

    def inbox_public_key(self, vault_id: str) -> bytes:
        """The key new records for ``vault_id`` are sealed to, checked against its tag:
        :class:`InboxKeyTampered` when the tag is missing (PostgreSQL) or does not match."""
        row = self.conn.execute(
            "SELECT inbox_public_key, inbox_key_tag FROM vaults WHERE id = ?", (vault_id,)
        ).fetchone()
        if row is None:
            raise KeyError(vault_id)
        public = bytes(row["inbox_public_key"])
        expected = self.inbox_key_tag(vault_id, public)
        if row["inbox_key_tag"] is None and self.backend == "files":
            # Made before migration 0009; instance.db is under the instance key: tag it now.
            with self.transaction() as tx:
                tx.execute("UPDATE vaults SET inbox_key_tag = ? WHERE id = ?"
                           " AND inbox_key_tag IS NULL", (expected, vault_id))
            return public
        if row["inbox_key_tag"] is None or not hmac.compare_digest(
                bytes(row["inbox_key_tag"]), expected):
            raise InboxKeyTampered(vault_id)
        return public

    def count_vaults(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM vaults").fetchone()[0])

    # -- key slots --------------------------------------------------------------------------

    def put_slot(self, conn: db.Connection, slot: KeySlot) -> None:
        """Insert or replace one slot (inside the caller's transaction)."""
        conn.execute(
            "INSERT INTO key_slots (id, vault_id, kind, kdf, params, salt, nonce,"
            " wrapped, check_value, token_hash, label, grant_id, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET vault_id = excluded.vault_id,"
            " kind = excluded.kind, kdf = excluded.kdf, params = excluded.params,"
            " salt = excluded.salt, nonce = excluded.nonce, wrapped = excluded.wrapped,"
            " check_value = excluded.check_value, token_hash = excluded.token_hash,"
            " label = excluded.label, grant_id = excluded.grant_id,"
            " created_at = excluded.created_at, expires_at = excluded.expires_at",
            (
                slot.id,
                slot.vault_id,
                slot.kind,
                slot.kdf,
                json.dumps(slot.params, sort_keys=True),
                slot.salt,
                slot.nonce,
                slot.wrapped,
                slot.check,
                slot.token_hash,
                slot.label,
                slot.grant_id,
                slot.created_at or now_iso(),
                slot.expires_at,
            ),
        )

    def slots(self, vault_id: str, kind: str | None = None) -> list[KeySlot]:
        if kind is None:
            rows = self.conn.execute(
                "SELECT * FROM key_slots WHERE vault_id = ? ORDER BY created_at", (vault_id,)
            ).fetchall()
        else:
            rows = self.conn.execute(
                "SELECT * FROM key_slots WHERE vault_id = ? AND kind = ? ORDER BY created_at",
                (vault_id, kind),
            ).fetchall()
        return [_slot(row) for row in rows]

    def slot_by_token_hash(self, digest: str) -> KeySlot | None:
        row = self.conn.execute(
            "SELECT * FROM key_slots WHERE token_hash = ?", (digest,)
        ).fetchone()
        return _slot(row) if row else None

    def slot(self, slot_id: str) -> KeySlot | None:
        row = self.conn.execute("SELECT * FROM key_slots WHERE id = ?", (slot_id,)).fetchone()
        return _slot(row) if row else None

    def delete_slot(self, conn: db.Connection, slot_id: str) -> bool:
        return conn.execute("DELETE FROM key_slots WHERE id = ?", (slot_id,)).rowcount > 0

    # -- inbox ------------------------------------------------------------------------------

    def deliver(self, vault_id: str, source: str, sealed: bytes) -> int:
        """Store one sealed payload for ``vault_id``; returns the inbox item id."""
        with self.transaction() as conn:
            row = conn.execute(
                "INSERT INTO inbox_items (vault_id, source, created_at, sealed)"
                " VALUES (?, ?, ?, ?) RETURNING id",
                (vault_id, source, now_iso(), sealed),
            ).fetchone()
            return int(row[0])

    def inbox(self, vault_id: str) -> list[tuple[int, str, str, bytes]]:
        rows = self.conn.execute(
            "SELECT id, source, created_at, sealed FROM inbox_items WHERE vault_id = ? ORDER BY id",
            (vault_id,),
        ).fetchall()
        return [(r["id"], r["source"], r["created_at"], bytes(r["sealed"])) for r in rows]

    def drop_inbox_items(self, ids: list[int]) -> None:
        if not ids:
            return
        with self.transaction() as conn:
            conn.executemany("DELETE FROM inbox_items WHERE id = ?", [(i,) for i in ids])

    # -- signing keys -----------------------------------------------------------------------

    def ensure_signing_key(self) -> bool:
        """Create the instance signing key if there is none. Returns True if one was made."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT kid FROM signing_keys WHERE retired_at IS NULL LIMIT 1"
            ).fetchone()
            if row:
                return False
            jwk = signing.new_signing_key()
            conn.execute(
                "INSERT INTO signing_keys (kid, private_jwk, created_at) VALUES (?, ?, ?)",
                (jwk["kid"], self.seal_jwk(jwk["kid"], json.dumps(jwk)), now_iso()),
            )
            return True

    def seal_jwk(self, kid: str, text: str) -> str:
        """A private signing JWK as stored: AES-GCM under an instance subkey, bound to its kid,
        so a copy of the instance tables (PostgreSQL's, without the instance key) cannot sign.
        Already sealed text is returned as it is."""
        if text.startswith(_SEALED_JWK):
            return text
        blob = aead.encrypt(self.subkey("signing-key"), text.encode(), b"signing_keys:" + kid.encode())
        return _SEALED_JWK + base64.b64encode(blob).decode()

    def _open_jwk(self, kid: str, stored: str) -> dict[str, Any]:
        if not stored.startswith(_SEALED_JWK):  # written before keys were sealed (instance.db)
            return cast(dict[str, Any], json.loads(stored))
        blob = base64.b64decode(stored[len(_SEALED_JWK):])
        text = aead.decrypt(self.subkey("signing-key"), blob, b"signing_keys:" + kid.encode())
        return cast(dict[str, Any], json.loads(text))

    def signing_key(self) -> dict[str, Any]:
        """The current private signing JWK."""
        row = self.conn.execute(
            "SELECT kid, private_jwk FROM signing_keys WHERE retired_at IS NULL"
            " ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
        if row is None:
            self.ensure_signing_key()
            return self.signing_key()
        return self._open_jwk(row["kid"], row["private_jwk"])

    def public_jwks(self) -> list[dict[str, Any]]:
        """Public JWKs of every signing key, current and retired (old signatures stay checkable)."""
        rows = self.conn.execute(
            "SELECT kid, private_jwk, retired_at FROM signing_keys ORDER BY created_at"
        ).fetchall()
        out = []
        for row in rows:
            jwk = signing.public_jwk(self._open_jwk(row["kid"], row["private_jwk"]))
            if row["retired_at"]:
                jwk["kluis_retired_at"] = row["retired_at"]
            out.append(jwk)
        return out

    def bump_counter(self, conn: db.Connection, name: str, by: int = 1) -> None:
        conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?)"
            " ON CONFLICT(name) DO UPDATE SET value = counters.value + excluded.value",
            (name, by),
        )


def _slot(row: db.Row) -> KeySlot:
    return KeySlot(
        id=row["id"],
        vault_id=row["vault_id"],
        kind=row["kind"],
        kdf=row["kdf"],
        params=json.loads(row["params"]),
        salt=bytes(row["salt"]),
        nonce=bytes(row["nonce"]),
        wrapped=bytes(row["wrapped"]),
        check=bytes(row["check_value"]),
        token_hash=row["token_hash"],
        label=row["label"],
        grant_id=row["grant_id"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )
