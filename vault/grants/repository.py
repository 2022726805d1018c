"""Every SQL statement of the grants feature, in instance.db and in the vaults. Imports no Flask.

instance.db holds what the token endpoint needs while the owner is away:
pushed requests (RFC 9126) and one-time codes, both keyed by a SHA-256. Key
slots are the storage layer's (:class:`vault.storage.instance.Instance`); only
the purge of expired grant slots is written here. A vault holds the requests
bound to it and its grants. Functions take the connection (or the transaction)
to run on, so the caller decides what commits together; rows come back as the
models of :mod:`vault.grants.models`, or as plain rows where the caller needs
only a column or two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vault.storage import db

Row = Any
"""A row of a query (``sqlcipher3.Row``: columns by name or by position)."""


def add_reads(tx: db.Connection, rows: Sequence[Row]) -> None:
    """Add access journal rows (being merged into the log) to their grants' access counts.

    The ``on_merged`` of :func:`vault.storage.journal.merge`: it runs inside the vault
    transaction that moves the rows, so counts and log commit together.
    """
    reads: dict[str, tuple[int, str]] = {}
    for row in rows:
        if row["action"] == "grant.read" and row["grant_id"]:
            count, latest = reads.get(row["grant_id"], (0, ""))
            reads[row["grant_id"]] = (count + 1, max(latest, row["at"]))
    for grant_id, (count, latest) in reads.items():
        tx.execute(
            "UPDATE grants SET access_count = access_count + ?,"
            " last_access_at = max(coalesce(last_access_at, ''), ?) WHERE id = ?",
            (count, latest, grant_id))
