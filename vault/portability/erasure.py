"""Right to erasure: delete a vault so that nothing of its contents stays on the instance.

Order matters. First every key slot of the vault is destroyed (one committed
transaction): from then on no password, recovery code, app token or grant
token can produce the data key, so the file is unreadable even if a later
step fails. Then the vault file and its ``-wal``/``-shm`` companions are
overwritten and removed, sealed inbox items and the directory entry (with its
connections) are dropped, and one anonymous counter is bumped. The instance
keeps nothing else: not the username, not a hash of it, not a date.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from vault.storage.cache import forget_cached
from vault.storage.instance import Instance
from vault.storage.vaults import remove_vault_storage

COUNTER = "vaults_erased"
SUFFIXES = ("", "-wal", "-shm", "-journal", ".access", ".access-wal", ".access-shm")


@dataclass
class ErasureReport:
    slots_destroyed: int = 0
    files_removed: list[str] = field(default_factory=list)
    #: With the PostgreSQL backend: the vault's sealed rows and waiting archives deleted.
    rows_removed: int = 0
    inbox_items_dropped: int = 0
    kept: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["kept_explained"] = (
            "The instance keeps only an anonymous count of erased vaults; no username, "
            "record, document, log entry or key of this vault remains."
        )
        return out


def _shred(path: Path) -> None:
    """Overwrite a file with zeros before unlinking it (best effort on copy-on-write disks)."""
    try:
        size = path.stat().st_size
        with open(path, "r+b", buffering=0) as handle:
            chunk = b"\0" * (1 << 20)
            left = size
            while left > 0:
                left -= handle.write(chunk[: min(left, len(chunk))])
            os.fsync(handle.fileno())
    except OSError:
        pass
    path.unlink(missing_ok=True)


def erase_vault(instance: Instance, vault_id: str, *,
                extra_files: list[Path] | None = None, count: bool = True) -> ErasureReport:
    """Destroy ``vault_id``'s key slots, then its files, inbox items and directory entry.

    Safe to run twice: a second run finds nothing to remove and bumps nothing.
    ``extra_files`` are other files of this vault (pending export archives);
    ``count=False`` (undoing a failed import) leaves the counter alone.
    """
    report = ErasureReport()
    existed = instance.vault_exists(vault_id)
    with instance.transaction() as tx:
        report.slots_destroyed = tx.execute(
            "DELETE FROM key_slots WHERE vault_id = ?", (vault_id,)
        ).rowcount
    forget_cached(vault_id)
    report.rows_removed = remove_vault_storage(instance, vault_id)  # PostgreSQL: its rows
    path = instance.vault_path(vault_id)
    for suffix in SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            _shred(candidate)
            report.files_removed.append(candidate.name)
    for extra in extra_files or []:
        if extra.exists():
            _shred(extra)
            report.files_removed.append(extra.name)
    with instance.transaction() as tx:
        report.inbox_items_dropped = tx.execute(
            "DELETE FROM inbox_items WHERE vault_id = ?", (vault_id,)
        ).rowcount
        tx.execute("DELETE FROM vaults WHERE id = ?", (vault_id,))
        if existed and count:
            instance.bump_counter(tx, COUNTER)
        row = tx.execute("SELECT value FROM counters WHERE name = ?", (COUNTER,)).fetchone()
        report.kept = {COUNTER: int(row["value"]) if row else 0}
    # Move the deletions out of the WAL into the (secure_delete) main file.
    if instance.backend == "files":
        try:
            instance.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception:  # noqa: BLE001, S110 - a busy checkpoint is retried by SQLite later
            pass
    return report
