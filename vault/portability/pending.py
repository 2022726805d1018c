"""Finished vault archives waiting for their one download, for at most :data:`TTL` seconds.

An archive is built in a thread of the web process that holds the owner's data key (see
:mod:`vault.portability.jobs`) and is already encrypted under the owner's passphrase. The
download (``GET /api/v1/vault/archive/<job>/file``) may reach another web node than the one
that built it, so where it waits follows the storage backend:

- files (the default): ``KLUIS_HOME/exports/<vault>.<job>.kluis`` on the one machine;
- PostgreSQL (``KLUIS_DATABASE_URL``): the table ``kluis_pending_archives``
  (``migrations/postgresql/0004_pending_archives.sql``), which every node sees; its rows go
  with the vault's row when the vault is erased.

Either way an archive is handed out once (:meth:`take` removes it in the same step, so two
downloads racing get it once), and whatever was not downloaded within :data:`TTL` is removed
at the next :meth:`put` or by the worker's periodic :func:`sweep_job`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from vault.portability import archive
from vault.portability.jobs import TTL
from vault.storage.instance import Instance

if TYPE_CHECKING:
    from rq import Queue

    from vault.storage import pg

EXPORTS_DIR = "exports"


class PendingArchives(Protocol):
    def put(self, vault_id: str, job_id: str, blob: bytes) -> str:
        """Keep ``blob`` for its download; returns its name (for :meth:`take`)."""

    def take(self, name: str) -> bytes | None:
        """The archive, removed in the same step; None when gone (downloaded or expired)."""

    def local_files(self, vault_id: str) -> list[Path]:
        """Files of ``vault_id``'s archives on this machine (shredded with the vault)."""

    def drop_vault(self, vault_id: str) -> int:
        """Remove ``vault_id``'s archives kept elsewhere than in files; returns how many."""

    def sweep(self) -> int:
        """Remove archives older than :data:`TTL`; returns how many."""


def store(instance: Instance) -> PendingArchives:
    """Where ``instance``'s pending archives wait (the backend's choice)."""
    if instance.pg is not None:
        return DatabaseArchives(instance.pg)
    return FileArchives(instance.home / EXPORTS_DIR)


def _name(vault_id: str, job_id: str) -> str:
    if not vault_id.isalnum() or not job_id.replace("-", "").replace("_", "").isalnum():
        raise ValueError("vault and job ids are url-safe")
    return f"{vault_id}.{job_id}{archive.EXTENSION}"


class FileArchives:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _dir(self) -> Path:
        self.directory.mkdir(mode=0o700, exist_ok=True)
        return self.directory

    def put(self, vault_id: str, job_id: str, blob: bytes) -> str:
        self.sweep()
        name = _name(vault_id, job_id)
        target = self._dir() / name
        partial = target.with_suffix(".part")
        partial.write_bytes(blob)
        partial.rename(target)
        return name

    def take(self, name: str) -> bytes | None:
        path = self._dir() / Path(name).name
        claimed = path.with_name(f"{path.name}.{os.getpid()}.{time.monotonic_ns()}.taken")
        try:
            path.rename(claimed)  # one download gets it; a second finds it gone
        except FileNotFoundError:
            return None
        try:
            if time.time() - claimed.stat().st_mtime > TTL:
                return None
            return claimed.read_bytes()
        finally:
            claimed.unlink(missing_ok=True)

    def local_files(self, vault_id: str) -> list[Path]:
        return sorted(self._dir().glob(f"{vault_id}.*"))

    def drop_vault(self, vault_id: str) -> int:
        return 0  # files: shredded with the vault's own files (local_files)

    def sweep(self) -> int:
        removed = 0
        cutoff = time.time() - TTL
        for path in self._dir().iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


class DatabaseArchives:
    def __init__(self, database: pg.Database) -> None:
        self.database = database

    def put(self, vault_id: str, job_id: str, blob: bytes) -> str:
        self.sweep()
        name = _name(vault_id, job_id)
        with self.database.connection() as conn:
            conn.execute("INSERT INTO kluis_pending_archives (name, vault_id, data)"
                         " VALUES (%s, %s, %s)", (name, vault_id, blob))
        return name

    def take(self, name: str) -> bytes | None:
        with self.database.connection() as conn:
            row = conn.execute(
                "DELETE FROM kluis_pending_archives WHERE name = %s RETURNING data,"
                " created_at > now() - make_interval(secs => %s)", (name, TTL)).fetchone()
        if row is None or not row[1]:
            return None
        return bytes(row[0])

    def local_files(self, vault_id: str) -> list[Path]:
        return []

    def drop_vault(self, vault_id: str) -> int:
        with self.database.connection() as conn:
            return conn.execute("DELETE FROM kluis_pending_archives WHERE vault_id = %s",
                                (vault_id,)).rowcount

    def sweep(self) -> int:
        with self.database.connection() as conn:
            return conn.execute(
                "DELETE FROM kluis_pending_archives"
                " WHERE created_at <= now() - make_interval(secs => %s)", (TTL,)).rowcount


# -- the periodic sweep (the worker's scheduler; one fixed job id, so never twice) -----------

SWEEP_JOB = "vault.portability.pending.sweep_job"
SWEEP_JOB_ID = "kluis-pending-archives-sweep"
SWEEP_INTERVAL_SECONDS = 600


def sweep_job() -> int:
    """Worker entry: remove archives left past :data:`TTL`, then schedule the next sweep.
    Safe to run twice (a second finds nothing)."""
    from vault.services import current

    services = current()
    try:
        return store(services.instance).sweep()
    finally:
        schedule_sweep(services.queue())


def schedule_sweep(queue: Queue, delay: float = SWEEP_INTERVAL_SECONDS) -> object:
    """Schedule the sweep under its fixed job id (replacing a waiting one); the worker calls
    this at every start."""
    from datetime import timedelta

    return queue.enqueue_in(timedelta(seconds=delay), SWEEP_JOB, job_id=SWEEP_JOB_ID,
                            job_timeout=120, result_ttl=3600)
