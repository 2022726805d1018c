"""Records in an open vault: validate, version, read, delete. Imports no Flask.

Every change is one transaction that writes the record, its new version and
an event in the owner's log, or nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from marshmallow import ValidationError

from vault.clock import now_iso
from vault.errors import KluisError
from vault.records.catalogue import get_type
from vault.records.models import Provenance, Record, RecordVersion
from vault.storage.db import Connection, Row
from vault.storage.vaults import VaultDB

MAX_RECORD_BYTES = 64 * 1024


class RecordError(KluisError):
    """Base class for record errors (``status``: the HTTP status an API maps it to)."""

    status = 400
    code = "record-error"
    title = "Record error"

    def problem_detail(self) -> str | None:
        return str(self) or None


class RecordNotFound(RecordError):
    status = 404
    code = "not-found"
    title = "No such record"

    def problem_detail(self) -> str | None:
        return None


class InvalidRecord(RecordError):
    """The data does not fit the type's schema. ``errors`` maps field paths to messages."""

    status = 422
    code = "validation"
    title = "The record is not valid"

    def problem_detail(self) -> str | None:
        return None

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("the record does not match its type")
        self.errors = errors


class RecordTooLarge(RecordError):
    status = 413
    code = "too-large"
    title = "The record is too large"


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages as ``{"data.woz_values.0.value_cents": [...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.update(flatten_errors(value, path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_"] = list(messages)
    elif isinstance(messages, list):
        for i, value in enumerate(messages):
            out.update(flatten_errors(value, f"{prefix}.{i}" if prefix else str(i)))
    else:
        out[prefix or "_"] = [str(messages)]
    return out


def validate_data(type_id: str, data: Any, *, max_bytes: int = MAX_RECORD_BYTES) -> dict[str, Any]:
    """Validate ``data`` for ``type_id`` and return its canonical (dumped) form."""
    try:
        record_type = get_type(type_id)
    except KeyError:
        raise InvalidRecord({"type": [f"Unknown record type {type_id!r}."]}) from None
    if not isinstance(data, dict):
        raise InvalidRecord({"data": ["Record data must be an object."]})
    schema = record_type.schema()
    try:
        loaded = schema.load(data)
    except ValidationError as exc:
        raise InvalidRecord(flatten_errors(exc.messages, "data")) from None
    canonical: dict[str, Any] = schema.dump(loaded)
    canonical = {k: v for k, v in canonical.items() if v is not None and v != ""}
    if len(_canonical_json(canonical)) > max_bytes:
        raise RecordTooLarge(f"a record may hold at most {max_bytes} bytes")
    return canonical


def _canonical_json(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def data_digest(type_id: str, data: dict[str, Any]) -> str:
    return hashlib.sha256(type_id.encode() + b"\x00" + _canonical_json(data)).hexdigest()


def new_record_id() -> str:
    return os.urandom(12).hex()


def _row_to_record(row: Row) -> Record:
    return Record(
        id=row["id"],
        type=row["type"],
        version=row["current_version"],
        data=json.loads(row["data"]),
        provenance=Provenance(row["source"], row["fetched_at"], json.loads(row["evidence"])),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        source_key=row["source_key"],
    )


_SELECT = (
    "SELECT r.id, r.type, r.current_version, r.created_at, r.updated_at, r.source_key,"
    " v.data, v.source, v.fetched_at, v.evidence"
    " FROM records r JOIN record_versions v"
    " ON v.record_id = r.id AND v.version = r.current_version"
)


def list_records(vault: VaultDB, types: list[str] | None = None, *, limit: int | None = None,
                 offset: int = 0, newest_first: bool = False,
                 after: tuple[str, str] | None = None) -> list[Record]:
    """Current versions of records, optionally only of ``types``; oldest first by default.

    ``after`` (oldest-first order only): the ``(created_at, id)`` of the last record of the
    previous page; the page starts right after it (a cursor that survives inserts).
    """
    query = _SELECT
    args: list[str | int] = []
    clauses: list[str] = []
    if types:
        clauses.append(f"r.type IN ({','.join('?' for _ in types)})")
        args.extend(types)
    if after is not None:
        if newest_first:
            raise ValueError("after pages the oldest-first order only")
        clauses.append("(r.created_at, r.id) > (?, ?)")
        args.extend(after)
    if clauses:
        query += " WHERE " + " AND ".join(clauses)
    query += " ORDER BY r.updated_at DESC, r.id" if newest_first else " ORDER BY r.created_at, r.id"
    if limit is not None:
        query += " LIMIT ? OFFSET ?"
        args.extend([limit, offset])
    return [_row_to_record(row) for row in vault.conn.execute(query, args).fetchall()]


def count_by_type(vault: VaultDB) -> dict[str, int]:
    """How many records of each type the vault holds."""
    rows = vault.conn.execute("SELECT type, count(*) AS n FROM records GROUP BY type").fetchall()
    return {row["type"]: row["n"] for row in rows}


def get_record(vault: VaultDB, record_id: str) -> Record:
    row = vault.conn.execute(f"{_SELECT} WHERE r.id = ?", (record_id,)).fetchone()
    if row is None:
        raise RecordNotFound(record_id)
    return _row_to_record(row)


def record_by_source_key(vault: VaultDB, source_key: str) -> Record | None:
    row = vault.conn.execute(f"{_SELECT} WHERE r.source_key = ?", (source_key,)).fetchone()
    return _row_to_record(row) if row else None


def versions(vault: VaultDB, record_id: str) -> list[RecordVersion]:
    """Every version of a record, newest first."""
    get_record(vault, record_id)
    rows = vault.conn.execute(
        "SELECT * FROM record_versions WHERE record_id = ? ORDER BY version DESC", (record_id,)
    ).fetchall()
    return [
        RecordVersion(
            record_id=row["record_id"],
            version=row["version"],
            data=json.loads(row["data"]),
            digest=row["digest"],
            provenance=Provenance(row["source"], row["fetched_at"], json.loads(row["evidence"])),
            created_at=row["created_at"],
        )
        for row in rows
    ]


def _insert_version(conn: Connection, record_id: str, version: int, type_id: str, data: dict[str, Any],
                    provenance: Provenance, at: str) -> None:
    conn.execute(
        "INSERT INTO record_versions (record_id, version, data, digest, source, fetched_at,"
        " evidence, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record_id,
            version,
            _canonical_json(data).decode(),
            data_digest(type_id, data),
            provenance.source,
            provenance.fetched_at,
            json.dumps(provenance.evidence, sort_keys=True),
            at,
        ),
    )


def create_record(
    vault: VaultDB,
    type_id: str,
    data: Any,
    *,
    provenance: Provenance | None = None,
    actor: str = "owner",
    source_key: str | None = None,
    conn: Connection | None = None,
) -> Record:
    """Validate and store a new record (version 1)."""
    clean = validate_data(type_id, data)
    at = now_iso()
    provenance = provenance or _manual(clean, at)
    record_id = new_record_id()

    def write(tx: Connection) -> None:
        _check_citation(tx, clean)
        tx.execute(
            "INSERT INTO records (id, type, created_at, updated_at, current_version, source_key)"
            " VALUES (?, ?, ?, ?, 1, ?)",
            (record_id, type_id, at, at, source_key),
        )
        _insert_version(tx, record_id, 1, type_id, clean, provenance, at)
        vault.append_event(
            tx, actor=actor, action="record.created",
            detail={"record": record_id, "type": type_id, "source": provenance.source},
        )

    if conn is not None:
        write(conn)
    else:
        with vault.transaction() as tx:
            write(tx)
    return get_record(vault, record_id)


def update_record(
    vault: VaultDB,
    record_id: str,
    data: Any,
    *,
    provenance: Provenance | None = None,
    actor: str = "owner",
    conn: Connection | None = None,
) -> tuple[Record, bool]:
    """Store ``data`` as a new version. Returns ``(record, changed)``.

    Data identical to the current version adds no version (so a repeated
    refresh or a double-submitted form changes nothing).
    """
    current = get_record(vault, record_id)
    clean = validate_data(current.type, data)
    if data_digest(current.type, clean) == data_digest(current.type, current.data):
        return current, False
    at = now_iso()
    provenance = provenance or _manual(clean, at)

    def write(tx: Connection) -> None:
        _check_citation(tx, clean)
        row = tx.execute(
            "SELECT current_version FROM records WHERE id = ?", (record_id,)
        ).fetchone()
        if row is None:
            raise RecordNotFound(record_id)
        version = row["current_version"] + 1
        _insert_version(tx, record_id, version, current.type, clean, provenance, at)
        tx.execute(
            "UPDATE records SET current_version = ?, updated_at = ? WHERE id = ?",
            (version, at, record_id),
        )
        vault.append_event(
            tx, actor=actor, action="record.updated",
            detail={"record": record_id, "type": current.type, "version": version,
                    "source": provenance.source},
        )

    if conn is not None:
        write(conn)
    else:
        with vault.transaction() as tx:
            write(tx)
    return get_record(vault, record_id), True


def _manual(data: dict[str, Any], at: str) -> Provenance:
    """Provenance of an owner's own entry; a cited document is its evidence."""
    evidence = {"document_sha256": data["document_sha256"]} if "document_sha256" in data else {}
    return Provenance("manual", at, evidence)


def _check_citation(tx: Connection, data: dict[str, Any]) -> None:
    """A record may only cite a document that is in the vault."""
    digest = data.get("document_sha256")
    if digest and not tx.execute("SELECT 1 FROM documents WHERE sha256 = ?", (digest,)).fetchone():
        raise InvalidRecord({"data.document_sha256": ["No uploaded document has this digest."]})


def delete_record(vault: VaultDB, record_id: str, *, actor: str = "owner") -> None:
    """Delete a record and all its versions. A document's bytes go when no record cites them."""
    record = get_record(vault, record_id)
    with vault.transaction() as tx:
        tx.execute("DELETE FROM records WHERE id = ?", (record_id,))
        if record.type == "document":
            _drop_unreferenced_document(tx, record.data.get("sha256", ""))
        vault.append_event(
            tx, actor=actor, action="record.deleted",
            detail={"record": record_id, "type": record.type},
        )


def _drop_unreferenced_document(tx: Connection, sha256: str) -> None:
    still_used = tx.execute(
        "SELECT 1 FROM record_versions WHERE json_extract(data, '$.sha256') = ? LIMIT 1",
        (sha256,),
    ).fetchone()
    if not still_used:
        tx.execute("DELETE FROM documents WHERE sha256 = ?", (sha256,))


# -- documents ------------------------------------------------------------------------------


def add_document(
    vault: VaultDB,
    content: bytes,
    *,
    name: str,
    media_type: str,
    category: str | None = None,
    description: str | None = None,
    provenance: Provenance | None = None,
    actor: str = "owner",
    conn: Connection | None = None,
) -> Record:
    """Store an uploaded file inside the vault and create its document record.

    With ``conn`` it joins the caller's transaction (a document and the facts citing it).
    """
    digest = hashlib.sha256(content).hexdigest()
    at = now_iso()
    provenance = provenance or Provenance("upload", at, {"sha256": digest})
    data: dict[str, Any] = {
        "name": name,
        "media_type": media_type,
        "size": len(content),
        "sha256": digest,
    }
    if category:
        data["category"] = category
    if description:
        data["description"] = description
    clean = validate_data("document", data)

    def write(tx: Connection) -> Record:
        tx.execute(
            "INSERT OR IGNORE INTO documents (sha256, media_type, size, content, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (digest, media_type, len(content), content, at),
        )
        return create_record(vault, "document", clean, provenance=provenance, actor=actor,
                             conn=tx)

    if conn is not None:
        return write(conn)
    with vault.transaction() as tx:
        return write(tx)


def document_content(vault: VaultDB, sha256: str) -> tuple[bytes, str]:
    row = vault.conn.execute(
        "SELECT content, media_type FROM documents WHERE sha256 = ?", (sha256,)
    ).fetchone()
    if row is None:
        raise RecordNotFound(sha256)
    return bytes(row["content"]), row["media_type"]
