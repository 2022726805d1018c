"""Store an uploaded document and typed fields that cite it. Imports no Flask."""

from __future__ import annotations

import hashlib
from typing import Any

from vault.clock import now_iso
from vault.records.models import Provenance, Record
from vault.records.service import InvalidRecord, add_document, create_record, validate_data
from vault.storage.vaults import VaultDB

MAX_FACTS = 20
CITING_TYPES = ("income", "pension", "student-debt", "employment", "bank-transaction")
PDF_MAGIC = b"%PDF-"


def add_upload(
    vault: VaultDB,
    content: bytes,
    *,
    name: str,
    category: str | None = None,
    facts: list[dict[str, Any]] | None = None,
    media_type: str = "application/pdf",
) -> tuple[Record, list[Record]]:
    """Keep ``content`` as a document record and create typed records citing it.

    ``facts``: ``[{"type": "income", "data": {...}}]``; each gets
    ``document_sha256`` and provenance ``upload`` with the document's sha256 as
    evidence. Everything is validated before anything is written.
    """
    if media_type == "application/pdf" and not content.startswith(PDF_MAGIC):
        raise InvalidRecord({"file": ["The file is not a PDF."]})
    facts = facts or []
    if len(facts) > MAX_FACTS:
        raise InvalidRecord({"facts": [f"At most {MAX_FACTS} facts per document."]})
    digest = hashlib.sha256(content).hexdigest()
    checked = []
    for i, fact in enumerate(facts):
        kind = fact.get("type") if isinstance(fact, dict) else None
        if kind not in CITING_TYPES:
            raise InvalidRecord({f"facts.{i}.type": [f"Choose one of {', '.join(CITING_TYPES)}."]})
        data = dict(fact.get("data") or {})
        if kind != "employment":
            data["document_sha256"] = digest
        try:
            checked.append((kind, validate_data(kind, data)))
        except InvalidRecord as exc:
            raise InvalidRecord({f"facts.{i}.{k}": v for k, v in exc.errors.items()}) from None
    at = now_iso()
    made = []
    # One transaction: the file, its document record and every fact, or nothing.
    with vault.transaction() as tx:
        document = add_document(vault, content, name=name, media_type=media_type,
                                category=category, conn=tx,
                                provenance=Provenance("upload", at, {"sha256": digest}))
        for kind, data in checked:
            made.append(create_record(
                vault, kind, data, conn=tx,
                provenance=Provenance("upload", at, {"document_sha256": digest,
                                                     "document_record": document.id}),
            ))
    return document, made
