"""A real PostgreSQL server for the tests: Debian's binaries, its own data directory, loopback.

initdb and the server refuse to run as root; when the tests run as root (CI), they run as
``nobody`` through ``runuser`` on a data directory that user owns. Listens on 127.0.0.1 and a
unix socket in its own directory, never anywhere else.

:func:`standby_of` adds a streaming standby (``pg_basebackup -R``) that the primary waits for
on every commit (``synchronous_standby_names``), and :meth:`PgServer.promote` makes it the
primary, as a failover manager (Patroni) does: the failover test (tests/integration/storage/
test_pg_failover.py) kills the primary and promotes the standby under load.
"""

from __future__ import annotations

import glob
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import free_port

RUN_AS = "nobody"


def binaries() -> Path | None:
    """Debian's PostgreSQL server binaries (the newest installed), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PgServer:
    bindir: Path
    workdir: Path
    port: int
    created: list[str] = field(default_factory=list)
    template: str = ""

    @property
    def data(self) -> Path:
        return self.workdir / "data"

    def url(self, database: str = "kluis") -> str:
        return f"postgresql://kluis@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", RUN_AS, "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True,
                              timeout=120, **kw)  # type: ignore[call-overload]

    def start(self) -> None:
        self._run(self.bindir / "initdb", "-D", self.data, "-U", "kluis", "-A", "trust",
                  "-E", "UTF8", "--no-sync", "--locale=C")
        self.launch()
        self._run(self.bindir / "createdb", "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "kluis", "kluis")

    def launch(self) -> None:
        """Start the server on its data directory (initialised, or a base backup)."""
        self._run(self.bindir / "pg_ctl", "-D", self.data, "-l", self.workdir / "server.log",
                  "-w", "-t", "60", "-o",
                  f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.workdir}"
                  " -c max_connections=200 -c shared_buffers=32MB", "start")

    def sql(self, statement: str, database: str = "kluis") -> list[tuple[object, ...]]:
        """One statement in autocommit on this server; its rows (none for a command)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cur = conn.execute(statement.encode())
            return cur.fetchall() if cur.description is not None else []

    def kill(self) -> None:
        """Stop the server hard (``pg_ctl stop -m immediate``: no checkpoint, every session
        cut), as a crashed machine would; its data directory stays."""
        self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate", "stop")

    def promote(self) -> None:
        """A standby becomes a primary (``pg_ctl promote``, what Patroni does on failover);
        returns once it accepts writes."""
        self._run(self.bindir / "pg_ctl", "-D", self.data, "-w", "-t", "60", "promote")

    def new_database(self) -> str:
        """A fresh, empty database on this server (one per test home: an instance's tables
        are its own); returns its URL. :meth:`drop_databases` removes them all."""
        import psycopg

        if not self.template:
            # Migrated once, then copied: a copy costs less than migrating each database.
            from vault.storage import pg

            with psycopg.connect(self.url(), autocommit=True) as conn:
                conn.execute("CREATE DATABASE kluis_template")
            pg.Database(self.url("kluis_template"), max_size=1).close()
            self.template = "kluis_template"
        name = "t_" + secrets.token_hex(6)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {self.template} STRATEGY WAL_LOG")
        self.created.append(name)
        return self.url(name)

    def drop_databases(self) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            while self.created:
                conn.execute(f"DROP DATABASE IF EXISTS {self.created.pop()} WITH (FORCE)")

    def dump(self, database: str = "kluis") -> bytes:
        """``pg_dump`` of the database: everything an operator with the database can read."""
        cmd = [str(self.bindir / "pg_dump"), "-h", "127.0.0.1", "-p", str(self.port),
               "-U", "kluis", database]
        return subprocess.run(cmd, check=True, capture_output=True, timeout=120).stdout

    def stop(self) -> None:
        try:
            self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.workdir, ignore_errors=True)


def _new(prefix: str = "kluis-pg-") -> PgServer:
    bindir = binaries()
    if bindir is None:
        raise RuntimeError("PostgreSQL's server binaries are not installed: run ./deploy.sh test")
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(workdir, RUN_AS)
    return PgServer(bindir, workdir, free_port())


def _failed(server: PgServer, what: str) -> RuntimeError:
    log = server.workdir / "server.log"
    detail = log.read_text() if log.exists() else ""
    server.stop()
    return RuntimeError(f"PostgreSQL {what}: {detail[-2000:]}")


def start() -> PgServer:
    server = _new()
    try:
        server.start()
    except BaseException:
        raise _failed(server, "did not start") from None
    return server


def standby_of(primary: PgServer, timeout: float = 30.0) -> PgServer:
    """A hot standby of ``primary`` streaming its WAL, started, and made synchronous: from
    here on the primary acknowledges a commit only once the standby has it on disk
    (``synchronous_standby_names = '*'`` with the sessions' ``synchronous_commit = on``).

    The standby itself waits for no one after :meth:`PgServer.promote` (its configuration is
    the primary's from before the setting: a promoted server with no standby left must not
    block every commit)."""
    standby = _new("kluis-pg-standby-")
    try:
        # -R: standby.signal and primary_conninfo (127.0.0.1, the primary's port).
        standby._run(standby.bindir / "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port),
                     "-U", "kluis", "-D", standby.data, "-R", "-X", "stream", "-c", "fast",
                     "--no-sync")
        standby.launch()
    except BaseException:
        raise _failed(standby, "standby did not start") from None
    primary.sql("ALTER SYSTEM SET synchronous_standby_names = '*'")
    primary.sql("SELECT pg_reload_conf()")
    deadline = time.monotonic() + timeout
    while primary.sql("SELECT 1 FROM pg_stat_replication WHERE sync_state = 'sync'") == []:
        if time.monotonic() > deadline:
            raise _failed(standby, "standby did not become synchronous")
        time.sleep(0.05)
    return standby


def failover_url(*servers: PgServer, database: str = "kluis") -> str:
    """A multi-host libpq URL over ``servers`` that connects to whichever accepts writes
    (``target_session_attrs=read-write``), as KLUIS_DATABASE_URL is set with replicas."""
    hosts = ",".join(f"127.0.0.1:{s.port}" for s in servers)
    return f"postgresql://kluis@{hosts}/{database}?target_session_attrs=read-write"


#: A bytea value in a plain-format dump's COPY data: ``\\x`` and hex digits.
_BYTEA = re.compile(rb"\\\\x([0-9a-f]*)")


def dump_holds(dump: bytes, needle: bytes) -> bool:
    """Whether a plain-format ``pg_dump`` holds ``needle``: in its text, or inside a bytea
    value. pg_dump writes bytea as hex, so a search of the raw dump would not see a plaintext
    that sits in a bytea column, and hex digits can match a short all-digit canary ("2025")
    by chance; here bytea values are searched decoded and the rest as text."""
    blobs: list[bytes] = []

    def take(match: re.Match[bytes]) -> bytes:
        blobs.append(bytes.fromhex(match.group(1).decode()))
        return b"\\\\x"

    text = _BYTEA.sub(take, dump)
    return needle in text or any(needle in blob for blob in blobs)
