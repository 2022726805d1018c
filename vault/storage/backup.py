"""``kluis backup`` and ``kluis restore``: a consistent copy of a running instance, no vault key.

The backup copies instance.db, every vault file and every access journal (each with its
``-wal``; ``-shm`` is rebuilt by SQLite) as files, while holding the instance's write hold
exclusive (:mod:`vault.storage.hold`): every write of every process (web, worker, CLI) waits
for the copy, and writes already in flight finish first. So the copy is the state of one
moment, across all files: instance.db's key slots and log commitments
(:mod:`vault.storage.heads`) agree with the vaults, each journal with its vault's merge mark.
Writes pause for as long as the copy takes (about the time to copy KLUIS_HOME's databases);
reads that write nothing (an owner's page, a grant read's check) go on, and a grant read's
journal row waits like any write.

A checkpoint (SQLite moving a WAL into its database when a connection closes) is not a
write transaction and is not held; a file is copied again when its size, inode or
modification time moved during the copy (a file modified within the last few milliseconds
is waited for first, so the file system's clock granularity cannot hide a change).

``kluis restore`` checks the backup's manifest (SHA-256 of every file), that the instance
key opens its instance.db, then moves the current instance.db and vaults aside (never deletes
them) and puts the backup in their place. Stop Kluis first; the restore refuses while
``./deploy.sh``'s processes run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from vault.clock import now_iso
from vault.config import Settings
from vault.crypto.errors import WrongKey
from vault.errors import KluisError
from vault.storage import db, hold
from vault.storage.instance import INSTANCE_DB_FILE, VAULTS_DIR, read_instance_key

MANIFEST = "kluis-backup.json"
FORMAT = "kluis-backup/1"
_SETTLE_NS = 25_000_000  # wait for files modified within the last 25 ms (coarse mtimes)


class BackupError(KluisError):
    status = 500
    code = "backup-failed"


@dataclass
class BackupReport:
    dest: Path
    files: int = 0
    bytes: int = 0
    vaults: int = 0
    held_seconds: float = 0.0
    missing_vault_files: list[str] = field(default_factory=list)


@dataclass
class RestoreReport:
    files: int = 0
    vaults: int = 0
    moved_aside: Path | None = None


def _units(home: Path) -> list[Path]:
    """The databases to copy: instance.db, then each vault file and journal (not -wal/-shm:
    they go with their database), and files kept aside (damaged journals)."""
    units = [home / INSTANCE_DB_FILE]
    vaults = home / VAULTS_DIR
    if vaults.is_dir():
        for path in sorted(vaults.iterdir()):
            if path.is_file() and not path.name.endswith(("-wal", "-shm")):
                units.append(path)
    return units


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def _copy_unit(src: Path, dst: Path) -> list[Path]:
    """Copy a database and its WAL so that neither changed meanwhile; returns what was written."""
    for _ in range(200):
        before = (_stat(src), _stat(_wal(src)))
        if before[0] is None:
            return []  # removed meanwhile (an erased vault)
        newest = max(s[2] for s in before if s is not None)
        if time.time_ns() - newest < _SETTLE_NS:
            time.sleep(_SETTLE_NS / 1e9)
            continue
        written = [dst]
        try:
            shutil.copyfile(src, dst)
            if before[1] is not None:
                shutil.copyfile(_wal(src), _wal(dst))
                written.append(_wal(dst))
            elif _wal(dst).exists():
                _wal(dst).unlink()
        except FileNotFoundError:
            continue  # a WAL went away at a checkpoint, or the file was erased: again
        if (_stat(src), _stat(_wal(src))) == before:
            return written
    raise BackupError(f"{src.name} kept changing while it was copied; try again")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def backup(settings: Settings, dest: Path) -> BackupReport:
    """Copy the running instance at ``settings.home`` to ``dest`` (new or empty), consistently.

    Needs the instance key (to check the copy of instance.db) and no vault key; the instance
    key itself is not copied (keep it apart: docs/operations.md).
    """
    home = settings.home_path
    key = read_instance_key(settings)
    if not (home / INSTANCE_DB_FILE).exists():
        if settings.database_url:
            raise BackupError(
                "with KLUIS_DATABASE_URL set the instance is in PostgreSQL: back up the database"
                " with PostgreSQL's tools (pg_dump, or base backups with WAL archiving);"
                " kluis backup copies the file backend only")
        raise BackupError(f"{home} holds no instance.db")
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty")
    (dest / VAULTS_DIR).mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(dest, 0o700)
    report = BackupReport(dest)
    written: list[Path] = []
    started = time.monotonic()
    with hold.for_home(home).exclusive():
        for unit in _units(home):
            written += _copy_unit(unit, dest / unit.relative_to(home))
    report.held_seconds = time.monotonic() - started
    # The copy of instance.db must open with the instance key; opening it folds its WAL in.
    conn = db.connect(dest / INSTANCE_DB_FILE, key)
    try:
        if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError("the copy of instance.db does not check out")
        ids = [r[0] for r in conn.execute("SELECT id FROM vaults")]
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    report.vaults = len(ids)
    report.missing_vault_files = [i for i in ids if not (dest / VAULTS_DIR / f"{i}.db").exists()]
    files: dict[str, dict[str, object]] = {}
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        if path.name.endswith("-shm"):
            path.unlink()  # rebuilt by SQLite from the WAL
            continue
        _fsync(path)
        files[str(path.relative_to(dest))] = {"bytes": path.stat().st_size,
                                              "sha256": _digest(path)}
    report.files = len(files)
    report.bytes = sum(int(str(f["bytes"])) for f in files.values())
    manifest = {"format": FORMAT, "created_at": now_iso(), "home": str(home),
                "vaults": report.vaults, "held_seconds": round(report.held_seconds, 3),
                "files": files}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _fsync(dest / MANIFEST)
    _fsync(dest / VAULTS_DIR)
    _fsync(dest)
    return report


def _running(home: Path) -> list[str]:
    """Processes ./deploy.sh started on ``home`` that still run (by their pid files)."""
    found = []
    for pid_file in sorted((home / "run").glob("*.pid")):
        if pid_file.stem == "redis":
            continue  # sessions and queued jobs: Redis may keep running
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError, PermissionError, OSError):
            continue
        found.append(pid_file.stem)
    return found


def restore(settings: Settings, src: Path, *, replace: bool = False) -> RestoreReport:
    """Put the backup at ``src`` in place under ``settings.home`` (Kluis stopped).

    Checks every file against the manifest and that the instance key opens the backup's
    instance.db before anything is moved. With ``replace``, the current instance.db and
    vaults are moved to ``KLUIS_HOME/replaced-<time>/``; without, they must not exist.
    """
    src = Path(src)
    home = settings.home_path
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{src} is not a Kluis backup (no readable {MANIFEST})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{src} is not a {FORMAT} backup")
    running = _running(home)
    if running:
        raise BackupError(f"stop Kluis first ({', '.join(running)} still running: "
                          "./deploy.sh stop)")
    key = read_instance_key(settings)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    staging = home / f"restoring-{stamp}"
    (staging / VAULTS_DIR).mkdir(parents=True, mode=0o700)
    try:
        files: dict[str, dict[str, object]] = manifest["files"]
        for rel, info in files.items():
            rel_path = Path(rel)
            if rel_path.is_absolute() or ".." in rel_path.parts:
                raise BackupError(f"the manifest names a file outside the backup: {rel}")
            shutil.copyfile(src / rel_path, staging / rel_path)
            if _digest(staging / rel_path) != info["sha256"]:
                raise BackupError(f"{rel} differs from the backup's manifest (damaged copy)")
        try:
            conn = db.connect(staging / INSTANCE_DB_FILE, key)
        except WrongKey:
            raise BackupError("the instance key does not open this backup's instance.db"
                              ) from None
        try:
            vaults = int(conn.execute("SELECT count(*) FROM vaults").fetchone()[0])
        finally:
            conn.close()
        report = RestoreReport(files=len(files), vaults=vaults)
        with hold.for_home(home).exclusive():
            current = [p for p in home.iterdir()
                       if p.name.startswith(INSTANCE_DB_FILE)
                       or (p.name == VAULTS_DIR and any(p.iterdir()))]
            if current:
                if not replace:
                    raise BackupError(f"{home} already holds an instance; give --replace to "
                                      "move it aside")
                aside = home / f"replaced-{stamp}"
                aside.mkdir(mode=0o700)
                for path in current:
                    os.replace(path, aside / path.name)
                report.moved_aside = aside
            for path in staging.iterdir():
                os.replace(path, home / path.name)
        from vault.storage.cache import CONNECTIONS

        CONNECTIONS.clear()
        return report
    finally:
        shutil.rmtree(staging, ignore_errors=True)
