"""The keys of a vault stored as database rows (the PostgreSQL backend).

Three subkeys are derived from the vault's data key with HKDF-SHA256, each bound to the vault
id, so nothing sealed for one vault opens, or matches, in another:

- the row key: AES-256-GCM (:mod:`vault.crypto.aead`) of each row, its associated data naming
  vault id, row id and version (a row cannot be moved to another place or vault, and an older
  copy of a row only passes as that older version);
- the id key: HMAC-SHA256 of ``table:rowid`` is a row's id in the database, so neither the
  table nor the row number shows;
- the digest key: HMAC-SHA256 of ``row id || version`` for every live row, added up modulo
  2**256 (an incremental MAC over the set, in the manner of Bellare, Guerin and Rogaway's
  XOR-MAC, with addition): kept in the vault's sealed header, it changes by the rows a write
  touched, and a row put back from an older version, or removed, no longer adds up.
"""

from __future__ import annotations

import hashlib
import hmac

from vault.crypto import aead
from vault.crypto.kdf import hkdf

_MOD = 1 << 256


class RowKeys:
    """The row, id and digest keys of one vault."""

    def __init__(self, dek: bytes, vault_id: str) -> None:
        self.vault_id = vault_id.encode()
        self._seal = hkdf(dek, info=b"kluis pg rows:" + self.vault_id)
        self._ids = hkdf(dek, info=b"kluis pg row ids:" + self.vault_id)
        self._digest = hkdf(dek, info=b"kluis pg row digest:" + self.vault_id)

    def row_id(self, table: str, rowid: int) -> bytes:
        return hmac.new(self._ids, f"{table}:{rowid}".encode(), hashlib.sha256).digest()

    def _aad(self, kind: bytes, row_id: bytes, version: int) -> bytes:
        return b"kluis-pg\0" + kind + b"\0" + self.vault_id + b"\0" + row_id + \
            version.to_bytes(8, "big")

    def seal_row(self, row_id: bytes, version: int, plaintext: bytes) -> bytes:
        return aead.encrypt(self._seal, plaintext, self._aad(b"row", row_id, version))

    def open_row(self, row_id: bytes, version: int, sealed: bytes) -> bytes:
        """Raises :class:`vault.crypto.errors.WrongKey` when it does not open."""
        return aead.decrypt(self._seal, sealed, self._aad(b"row", row_id, version))

    def seal_header(self, version: int, plaintext: bytes) -> bytes:
        return aead.encrypt(self._seal, plaintext, self._aad(b"header", b"", version))

    def open_header(self, version: int, sealed: bytes) -> bytes:
        return aead.decrypt(self._seal, sealed, self._aad(b"header", b"", version))

    def element(self, row_id: bytes, version: int) -> int:
        """One live row's share of the set digest."""
        mac = hmac.new(self._digest, row_id + version.to_bytes(8, "big"), hashlib.sha256)
        return int.from_bytes(mac.digest(), "big")


def add(digest: int, element: int) -> int:
    return (digest + element) % _MOD


def remove(digest: int, element: int) -> int:
    return (digest - element) % _MOD


class JournalKeys:
    """AES-256-GCM for access journal rows, under a key derived from the journal key."""

    def __init__(self, journal_key: bytes, vault_id: str) -> None:
        self.vault_id = vault_id.encode()
        self._key = hkdf(journal_key, info=b"kluis pg journal:" + self.vault_id)

    def _aad(self, seq: int) -> bytes:
        return b"kluis-pg-journal\0" + self.vault_id + b"\0" + seq.to_bytes(8, "big")

    def seal(self, seq: int, plaintext: bytes) -> bytes:
        return aead.encrypt(self._key, plaintext, self._aad(seq))

    def open(self, seq: int, sealed: bytes) -> bytes:
        return aead.decrypt(self._key, sealed, self._aad(seq))
