"""Merge a vault's inbox: sealed connector drafts become record versions. Imports no Flask.

Anyone who opens a vault may call :func:`merge_inbox` (the owner's session, a
grant redemption, the CLI). Items merge oldest first; each item is one vault
transaction that writes its records, remembers the item's key in
``merged_inbox`` and notes what changed, so a crash leaves an item merged
whole or not at all, and merging the same item twice changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vault.clock import now_iso
from vault.records.models import Provenance
from vault.records.service import (
    InvalidRecord,
    RecordTooLarge,
    create_record,
    record_by_source_key,
    update_record,
)
from vault.storage.vaults import VaultDB, open_inbox

log = logging.getLogger("kluis.connectors")

RUN_KIND = "kluis.connector-run"


@dataclass
class MergeSummary:
    """What one merge did. ``changes``: one entry per created or updated record."""

    items: int = 0
    skipped: int = 0  # already merged before (a retry, or two opens at once)
    unreadable: int = 0
    left: int = 0  # items of a kind nobody here handles; kept for a later version
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return self.created + self.updated


Handler = Callable[[VaultDB, Any, dict, MergeSummary], None]
HANDLERS: dict[str, Handler] = {}


def source_key(connector: str, key: str) -> str:
    return f"{connector}:{key}"


def _merge_run(vault: VaultDB, tx, payload: dict, summary: MergeSummary) -> None:
    """Write one connector run's drafts inside ``tx``."""
    connector = payload["connector"]
    fetched_at = payload.get("fetched_at") or now_iso()
    actor = f"connector:{connector}"
    counts = {"created": 0, "updated": 0, "unchanged": 0, "rejected": 0}
    changes: list[dict[str, Any]] = []
    for draft in payload.get("drafts", []):
        provenance = Provenance(connector, fetched_at, dict(draft.get("evidence") or {}))
        skey = source_key(connector, str(draft["key"]))
        try:
            existing = record_by_source_key(vault, skey)
            if existing is None:
                record = create_record(vault, draft["type"], draft["data"], provenance=provenance,
                                       actor=actor, source_key=skey, conn=tx)
                kind = "created"
            else:
                if existing.type != draft["type"]:
                    raise InvalidRecord({"type": ["The source changed the record type."]})
                record, changed = update_record(vault, existing.id, draft["data"],
                                                provenance=provenance, actor=actor, conn=tx)
                kind = "updated" if changed else "unchanged"
        except (InvalidRecord, RecordTooLarge) as exc:
            counts["rejected"] += 1
            log.warning("connector %s draft of type %s rejected: %s", connector,
                        draft.get("type"), type(exc).__name__)
            continue
        counts[kind] += 1
        if kind != "unchanged":
            changes.append({"record": record.id, "type": record.type,
                            "label": draft.get("label") or record.type, "change": kind})
    tx.execute(
        "INSERT INTO connector_changes (item_key, connection_id, connector, fetched_at, merged_at,"
        " created, updated, unchanged, rejected, changes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (payload["item_key"], payload.get("connection_id", ""), connector, fetched_at, now_iso(),
         counts["created"], counts["updated"], counts["unchanged"], counts["rejected"],
         json.dumps(changes, ensure_ascii=False)),
    )
    vault.append_event(
        tx, actor=actor, action="connector.merged",
        detail={"connection": payload.get("connection_id", ""), "connector": connector,
                **counts},
    )
    summary.created += counts["created"]
    summary.updated += counts["updated"]
    summary.unchanged += counts["unchanged"]
    summary.rejected += counts["rejected"]
    summary.changes.extend(changes)


HANDLERS[RUN_KIND] = _merge_run


def merge_inbox(vault: VaultDB) -> MergeSummary:
    """Merge every pending inbox item of ``vault``, oldest first. Safe to call any time.

    Idempotent: an item whose key is in ``merged_inbox`` is only dropped. An
    item that does not open is dropped and noted in the owner's log; an item of
    an unknown kind stays in the inbox.
    """
    summary = MergeSummary()
    instance = vault.instance
    done: list[int] = []
    for item_id, source, payload in open_inbox(vault):
        summary.items += 1
        if payload.get("error") == "unreadable":
            with vault.transaction() as tx:
                vault.append_event(tx, actor="system", action="inbox.unreadable",
                                   detail={"source": source})
            summary.unreadable += 1
            done.append(item_id)
            continue
        handler = HANDLERS.get(payload.get("kind", ""))
        item_key = payload.get("item_key")
        if handler is None or not item_key:
            summary.left += 1
            continue
        with vault.transaction() as tx:
            seen = tx.execute(
                "SELECT 1 FROM merged_inbox WHERE item_key = ?", (item_key,)
            ).fetchone()
            if seen:
                summary.skipped += 1
            else:
                handler(vault, tx, payload, summary)
                tx.execute("INSERT INTO merged_inbox (item_key, merged_at) VALUES (?, ?)",
                           (item_key, now_iso()))
        done.append(item_id)
    instance.drop_inbox_items(done)
    return summary


def merge_on_open(vault: VaultDB) -> None:
    """The ``kluis_on_vault_open`` hook: merge, but never fail the request that opened the vault."""
    try:
        summary = merge_inbox(vault)
    except Exception as exc:  # noqa: BLE001 - the owner must still get in; items stay for next time
        # The type only: an exception message could quote a record value.
        log.error("merging the inbox of a vault failed (%s); items stay in the inbox",
                  type(exc).__name__)
        return
    if summary.items:
        log.info("merged %d inbox item(s): %d created, %d updated, %d unchanged", summary.items,
                 summary.created, summary.updated, summary.unchanged)


def changes(vault: VaultDB, *, limit: int = 50) -> list[dict[str, Any]]:
    """What recent refreshes changed, newest first, for the "what changed" view."""
    rows = vault.conn.execute(
        "SELECT * FROM connector_changes ORDER BY merged_at DESC, item_key LIMIT ?", (limit,)
    ).fetchall()
    return [
        {
            "connection_id": row["connection_id"],
            "connector": row["connector"],
            "fetched_at": row["fetched_at"],
            "merged_at": row["merged_at"],
            "created": row["created"],
            "updated": row["updated"],
            "unchanged": row["unchanged"],
            "rejected": row["rejected"],
            "changes": json.loads(row["changes"]),
        }
        for row in rows
    ]


def describe_changes(entry: dict[str, Any]) -> str:
    """Plain words: "3 records updated: address, household, WOZ value 2025"."""
    parts = []
    labels = ", ".join(c["label"] for c in entry["changes"])
    if entry["created"]:
        parts.append(f"{entry['created']} new")
    if entry["updated"]:
        parts.append(f"{entry['updated']} updated")
    if not parts:
        return "Nothing changed."
    n = entry["created"] + entry["updated"]
    noun = "record" if n == 1 else "records"
    return f"{n} {noun} ({' and '.join(parts)}): {labels}"
