"""Whole-vault archives: everything in a vault, encrypted under a passphrase the owner chooses.

File layout::

    b"KLUIS-VAULT-ARCHIVE\\n" || u32 big-endian header length || header JSON || AES-GCM blob

The header (format, Argon2id parameters and salt, creation time) is bound to
the ciphertext as associated data. The blob is :func:`vault.crypto.aead.encrypt`
under ``Argon2id(passphrase, salt)`` of the zlib-compressed JSON of every
table in the vault file: records, versions, documents, data requests, grants,
connector changes and the hash-chained log. Nothing in the archive can be read
without the passphrase; a wrong passphrase (or a changed byte) opens nothing.

Import recreates the vault under a new account on another instance. The log
keeps its hash chain; instance-bound secrets are not carried over: the inbox
key pair is new, TOTP is off (set it up again), and grants that were active
are marked revoked, because their tokens and key slots belong to the old
instance. The result says so.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from vault.clock import now_iso
from vault.crypto import aead
from vault.crypto.errors import WrongKey
from vault.crypto.kdf import Argon2Params, argon2id
from vault.errors import KluisError
from vault.storage import migrations
from vault.storage.vaults import VaultDB

MAGIC = b"KLUIS-VAULT-ARCHIVE\n"
FORMAT = "kluis-vault-archive/v1"
MEDIA_TYPE = "application/vnd.kluis.vault-archive"
EXTENSION = ".kluis"
MIN_PASSPHRASE = 12
MAX_PASSPHRASE = 1024
MAX_HEADER = 16 * 1024
# Passphrase hardening for a file that may sit on a USB stick for years: stronger than login.
ARCHIVE_ARGON2 = Argon2Params(time_cost=3, memory_kib=64 * 1024, lanes=1)

# Tables not carried over: bookkeeping about the old instance's inbox, and the record
# changes its organisations were still to be told of (records.updated; no grant carries over).
SKIPPED_TABLES = {"merged_inbox", "sqlite_sequence", "record_changes"}
# Meta keys bound to the old instance or to the old account's second factor, and the
# bookkeeping of this vault file: records_rev (kept by triggers) and its access journal.
INSTANCE_META = {"vault_id", "created_at", "inbox_private_key", "inbox_public_key", "log_head",
                 "totp_secret", "totp_last_step", "records_rev", "journal_key",
                 "journal_merged"}

Progress = Callable[[int, int, str], None]


class ArchiveError(KluisError):
    """The archive cannot be made or used. ``code`` is stable for APIs."""

    code = "archive"


class WrongPassphrase(ArchiveError):
    code = "wrong-passphrase"


class BadArchive(ArchiveError):
    code = "bad-archive"


class WeakPassphrase(ArchiveError):
    code = "weak-passphrase"


@dataclass
class RestoreResult:
    records: int = 0
    versions: int = 0
    documents: int = 0
    events: int = 0
    grants: int = 0
    grants_ended: list[dict[str, str]] = field(default_factory=list)
    not_carried: list[str] = field(default_factory=list)
    source: str = ""
    exported_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_passphrase(passphrase: Any) -> str:
    if not isinstance(passphrase, str) or len(passphrase) < MIN_PASSPHRASE:
        raise WeakPassphrase(f"A passphrase has at least {MIN_PASSPHRASE} characters.")
    if len(passphrase) > MAX_PASSPHRASE:
        raise WeakPassphrase(f"A passphrase has at most {MAX_PASSPHRASE} characters.")
    return passphrase


# -- dumping ------------------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$b64"}:
        return base64.b64decode(value["$b64"])
    return value


def vault_tables(vault: VaultDB) -> list[str]:
    rows = vault.conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        " ORDER BY name"
    ).fetchall()
    return [r["name"] for r in rows if r["name"] not in SKIPPED_TABLES]


def _columns(conn, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")').fetchall()]


def dump_vault(vault: VaultDB, *, username: str, source: str,
               progress: Progress | None = None) -> dict[str, Any]:
    """Every table of ``vault`` as plain JSON-able values, read in one snapshot."""
    tables: dict[str, Any] = {}
    vault.conn.execute("BEGIN")  # one consistent snapshot of all tables
    try:
        names = vault_tables(vault)
        for i, table in enumerate(names):
            columns = _columns(vault.conn, table)
            order = "rowid" if table != "meta" else "key"
            rows = vault.conn.execute(f'SELECT * FROM "{table}" ORDER BY {order}').fetchall()
            if table == "meta":
                rows = [r for r in rows if r["key"] not in INSTANCE_META]
            tables[table] = {
                "columns": columns,
                "rows": [[_encode(r[c]) for c in columns] for r in rows],
            }
            if progress:
                progress(i + 1, len(names) + 1, f"table:{table}")
        version = migrations.current_version(vault.conn)
        had_totp = vault.get_meta("totp_secret") is not None
    finally:
        vault.conn.execute("COMMIT")
    return {
        "format": FORMAT,
        "exported_at": now_iso(),
        "source": source,
        "username": username,
        "schema_version": version,
        "had_totp": had_totp,
        "tables": tables,
    }


def seal(contents: dict[str, Any], passphrase: str, *,
         params: Argon2Params = ARCHIVE_ARGON2) -> bytes:
    """Encrypt archive ``contents`` under ``passphrase``."""
    check_passphrase(passphrase)
    salt = os.urandom(16)
    header = json.dumps({
        "format": FORMAT,
        "kdf": {"name": "argon2id", **params.to_dict(), "salt": base64.b64encode(salt).decode()},
        "cipher": "A256GCM",
        "created_at": contents.get("exported_at") or now_iso(),
    }, sort_keys=True, separators=(",", ":")).encode()
    key = argon2id(passphrase, salt, params)
    plaintext = zlib.compress(
        json.dumps(contents, separators=(",", ":"), ensure_ascii=False).encode(), 6
    )
    blob = aead.encrypt(key, plaintext, MAGIC + header)
    return MAGIC + struct.pack(">I", len(header)) + header + blob


def export_archive(vault: VaultDB, passphrase: str, *, username: str, source: str,
                   progress: Progress | None = None,
                   params: Argon2Params = ARCHIVE_ARGON2) -> bytes:
    """The whole vault as an encrypted archive; logs ``vault.archived`` in the owner's log."""
    check_passphrase(passphrase)
    with vault.transaction() as tx:
        vault.append_event(tx, actor="owner", action="vault.archived", detail={})
    contents = dump_vault(vault, username=username, source=source, progress=progress)
    blob = seal(contents, passphrase, params=params)
    if progress:
        progress(1, 1, "encrypted")
    return blob


def read_header(blob: bytes) -> tuple[dict[str, Any], bytes, bytes]:
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 4:
        raise BadArchive("This is not a Kluis vault archive.")
    (length,) = struct.unpack(">I", blob[len(MAGIC):len(MAGIC) + 4])
    if length > MAX_HEADER:
        raise BadArchive("The archive header is damaged.")
    start = len(MAGIC) + 4
    header_bytes = blob[start:start + length]
    try:
        header = json.loads(header_bytes)
        if header["format"] != FORMAT or header["kdf"]["name"] != "argon2id":
            raise BadArchive("This archive was made by an unknown version of Kluis.")
    except (ValueError, KeyError, TypeError) as exc:
        raise BadArchive("The archive header is damaged.") from exc
    return header, header_bytes, blob[start + length:]


def open_archive(blob: bytes, passphrase: str) -> dict[str, Any]:
    """Decrypt an archive; :class:`WrongPassphrase` when it does not open. Changes nothing."""
    header, header_bytes, sealed = read_header(blob)
    try:
        params = Argon2Params.from_dict(header["kdf"])
        salt = base64.b64decode(header["kdf"]["salt"])
    except (KeyError, ValueError, TypeError) as exc:
        raise BadArchive("The archive header is damaged.") from exc
    if params.memory_kib > 1024 * 1024 or params.time_cost > 20 or params.lanes > 8:
        raise BadArchive("The archive asks for unreasonable key-derivation costs.")
    if params.below(Argon2Params()):
        raise BadArchive("The archive's key derivation is weaker than Kluis allows.")
    key = argon2id(passphrase or "", salt, params)
    try:
        plaintext = aead.decrypt(key, sealed, MAGIC + header_bytes)
    except WrongKey:
        raise WrongPassphrase(
            "The passphrase does not open this archive (or the file was changed)."
        ) from None
    try:
        contents = json.loads(zlib.decompress(plaintext))
    except (zlib.error, ValueError) as exc:
        raise BadArchive("The archive's contents are damaged.") from exc
    if not isinstance(contents, dict) or contents.get("format") != FORMAT:
        raise BadArchive("The archive's contents are not a Kluis vault.")
    if not isinstance(contents.get("tables"), dict):
        raise BadArchive("The archive's contents are not a Kluis vault.")
    return contents


# -- restoring ----------------------------------------------------------------------------------


def restore(vault: VaultDB, contents: dict[str, Any], *,
            progress: Progress | None = None) -> RestoreResult:
    """Fill the freshly created ``vault`` with an archive's tables, in one transaction.

    The new vault's own rows (its sign-up event) are replaced by the archive's,
    so the log's hash chain continues unbroken; a ``vault.imported`` event is
    appended. Active grants are ended (their tokens belong to the old instance).
    """
    latest = max(m.number for m in migrations.load("vault"))
    if int(contents.get("schema_version", 0)) > latest:
        raise BadArchive("This archive comes from a newer Kluis; upgrade this instance first.")
    tables: dict[str, Any] = contents["tables"]
    result = RestoreResult(source=str(contents.get("source", "")),
                           exported_at=str(contents.get("exported_at", "")))
    local = set(vault_tables(vault))
    order: list[str] = [t for t in ("meta", "records", "record_versions", "documents") if t in tables]
    order += sorted(t for t in tables if t not in order)
    now = now_iso()
    with vault.transaction() as tx:
        for name in local:
            if name == "meta":
                keep = ",".join("?" for _ in INSTANCE_META)
                tx.execute(f"DELETE FROM meta WHERE key NOT IN ({keep})", sorted(INSTANCE_META))
            else:
                tx.execute(f'DELETE FROM "{name}"')
        for i, name in enumerate(order):
            if name not in local:  # skipped tables are never local (vault_tables)
                if tables[name].get("rows"):
                    result.not_carried.append(f"table {name}")
                continue
            _insert_table(tx, name, tables[name])
            if progress:
                progress(i + 1, len(order) + 1, f"table:{name}")
        if "grants" in local:
            active = tx.execute(
                "SELECT id, organisation, purpose FROM grants WHERE status = 'active'"
                " AND expires_at > ?", (now,)
            ).fetchall()
            result.grants_ended = [dict(r) for r in active]
            tx.execute(
                "UPDATE grants SET status = 'revoked', revoked_at = ?, revoked_by = 'moved',"
                " slot_id = NULL WHERE status = 'active'", (now,)
            )
            result.grants = int(tx.execute("SELECT count(*) FROM grants").fetchone()[0])
        result.records = _count(tx, "records")
        result.versions = _count(tx, "record_versions")
        result.documents = _count(tx, "documents")
        if contents.get("had_totp"):  # TOTP secrets are never written into an archive
            result.not_carried.append("two-step verification (set it up again)")
        vault.append_event(
            tx, actor="owner", action="vault.imported",
            detail={"source": result.source, "exported_at": result.exported_at,
                    "grants_ended": len(result.grants_ended)},
        )
        result.events = _count(tx, "events")
    if progress:
        progress(1, 1, "done")
    return result


def _count(tx, table: str) -> int:
    return int(tx.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def _insert_table(tx, name: str, table: dict[str, Any]) -> None:
    columns = table.get("columns")
    rows = table.get("rows")
    if not isinstance(columns, list) or not isinstance(rows, list):
        raise BadArchive(f"The archive's table {name} is damaged.")
    present = set(_columns(tx, name))
    keep = [i for i, c in enumerate(columns) if c in present]
    if not keep:
        return
    names = ",".join(f'"{columns[i]}"' for i in keep)
    marks = ",".join("?" for _ in keep)
    verb = "INSERT OR REPLACE" if name == "meta" else "INSERT"
    sql = f'{verb} INTO "{name}" ({names}) VALUES ({marks})'
    for row in rows:
        if not isinstance(row, list) or len(row) != len(columns):
            raise BadArchive(f"The archive's table {name} is damaged.")
        tx.execute(sql, [_decode(row[i]) for i in keep])
