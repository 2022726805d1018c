"""``records.updated``: telling organisations that records they are granted changed. No Flask.

Triggers inside the vault note every record that is created or gets a new version
(``record_changes``, migrations/vault/0007_record_changes.sql), whoever wrote it: the owner,
a connector refresh merged from the inbox, an upload. :func:`records_changed` turns what
accumulated into one ``records.updated`` event per active grant that covers any of those
records (a batch: one owner request, one inbox merge), naming the records by type and id,
never their contents, and empties the list. It runs when a vault opens (after the
connector inbox merge, on every entry point) and after each owner request that opened the
vault, so neither a refresh nor an owner's edit waits for long.

Delivery is at least once: the event is queued in the instance transaction that commits
inside the vault transaction emptying the list; should the vault commit fail after it, a
later flush queues the same changes again (receivers dedupe by what they fetch anyway).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from vault.clock import utcnow
from vault.grants import events, repository, selection
from vault.storage.vaults import VaultDB

log = logging.getLogger("kluis.grants")


def records_changed(vault: VaultDB) -> int:
    """Queue ``records.updated`` for the active grants covering records changed since the
    last call; returns how many events were queued. Cheap when nothing changed (one read)."""
    if vault.conn.execute("SELECT 1 FROM record_changes LIMIT 1").fetchone() is None:
        return 0
    queued = 0
    now = utcnow()
    with vault.transaction() as tx:
        rows = tx.execute(
            "SELECT c.record_id, c.type, r.created_at, v.data, c.at FROM record_changes c"
            " JOIN records r ON r.id = c.record_id"
            " JOIN record_versions v ON v.record_id = r.id AND v.version = r.current_version"
            " ORDER BY c.at, c.record_id").fetchall()
        tx.execute("DELETE FROM record_changes")
        if not rows:
            return 0
        hits: list[tuple[Any, dict[str, list[str]]]] = []
        for grant in repository.grants(tx):
            if grant.status_at(now) != "active":
                continue
            bound = grant.records
            granted = set(grant.fields.types)
            cited = selection.cited_documents(vault, grant) if "document" in granted else set()
            changed: dict[str, list[str]] = {}
            for row in rows:
                record_id, type_id, created_at = row[0], row[1], row[2]
                if type_id not in granted or row[4] <= grant.created_at:
                    continue  # not granted, or changed before the grant was made
                if bound is not None:
                    if type_id == "document":
                        sha = json.loads(row[3]).get("sha256")
                        if not bound.shares_document(record_id, created_at, sha, cited):
                            continue
                    elif not bound.covers(type_id, record_id, created_at):
                        continue
                changed.setdefault(type_id, []).append(record_id)
            if changed:
                hits.append((grant, changed))
        if hits:
            with vault.instance.transaction() as itx:
                for grant, changed in hits:
                    events.emit(itx, events.RECORDS_UPDATED, client_id=grant.client_id,
                                grant_id=grant.id, data={"record_ids": changed})
                    queued += 1
    return queued


def on_open(vault: VaultDB) -> None:
    """The vault-open hook (after the inbox merge): never fails the open."""
    try:
        records_changed(vault)
    except Exception as exc:  # noqa: BLE001 - the open must go on; the rows stay for later
        log.error("records.updated flush failed (%s)", type(exc).__name__)
