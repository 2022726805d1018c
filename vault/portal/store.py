"""portal.db: the portal's own SQLCipher database, opened with the portal key.

The key is ``KLUIS_PORTAL_HOME/portal.key`` (0600, made by :func:`init_home`) or
``KLUIS_PORTAL_KEY``. Secrets the portal keeps (its signing key, client secrets, tokens,
dossier data keys) are in addition wrapped with AES-GCM under keys derived from it, each bound
to its row by the associated data.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vault.crypto import aead
from vault.crypto.kdf import hkdf
from vault.portal.config import PortalSettings
from vault.storage import db, keyfile, migrations

KEY_FILE = "portal.key"
DB_FILE = "portal.db"


class NotInitialised(RuntimeError):
    """KLUIS_PORTAL_HOME has no portal yet: run ``kluis portal init``."""


def init_home(settings: PortalSettings) -> bool:
    """Create KLUIS_PORTAL_HOME, the portal key and portal.db. Idempotent; True when created."""
    home = settings.home_path
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = False
    key_path = home / KEY_FILE
    if not settings.key and keyfile.create(key_path):
        created = True
    existed = (home / DB_FILE).exists()
    store = Store(settings)
    store.close()
    return created or not existed


def read_key(settings: PortalSettings) -> bytes:
    return keyfile.read(settings.key, Path(settings.home) / KEY_FILE, what="portal key",
                        init="kluis portal init", error=NotInitialised)


class Store:
    """Access to portal.db: one connection per thread, migrated on first open."""

    def __init__(self, settings: PortalSettings) -> None:
        self.settings = settings
        self.path = settings.home_path / DB_FILE
        self._key = read_key(settings)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[db.Connection] = []
        self.conn  # noqa: B018 - open and migrate now, so errors surface at start-up

    @property
    def conn(self) -> db.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = db.connect(self.path, self._key)
            migrations.apply(conn, "portal")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[db.Connection]:
        with db.transaction(self.conn) as tx:
            yield tx

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    def subkey(self, purpose: str) -> bytes:
        return hkdf(self._key, info=b"kluis portal subkey:" + purpose.encode())

    def wrap(self, purpose: str, plaintext: bytes, aad: str) -> bytes:
        """AES-GCM under the ``purpose`` subkey, bound to ``aad`` (the row it belongs to)."""
        return aead.encrypt(self.subkey(purpose), plaintext, aad.encode())

    def unwrap(self, purpose: str, blob: bytes, aad: str) -> bytes:
        return aead.decrypt(self.subkey(purpose), blob, aad.encode())
