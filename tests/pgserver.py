"""A real PostgreSQL server for the tests: Debian's binaries, its own data directory, loopback.

initdb and the server refuse to run as root; when the tests run as root (CI), they run as
``nobody`` through ``runuser`` on a data directory that user owns. Listens on 127.0.0.1 and a
unix socket in its own directory, never anywhere else.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
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
        self._run(self.bindir / "pg_ctl", "-D", self.data, "-l", self.workdir / "server.log",
                  "-w", "-t", "60", "-o",
                  f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.workdir}"
                  " -c max_connections=200 -c shared_buffers=32MB", "start")
        self._run(self.bindir / "createdb", "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "kluis", "kluis")

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


def start() -> PgServer:
    bindir = binaries()
    if bindir is None:
        raise RuntimeError("PostgreSQL's server binaries are not installed: run ./deploy.sh test")
    workdir = Path(tempfile.mkdtemp(prefix="kluis-pg-"))
    if os.geteuid() == 0:
        shutil.chown(workdir, RUN_AS)
    server = PgServer(bindir, workdir, free_port())
    try:
        server.start()
    except BaseException:
        log = workdir / "server.log"
        detail = log.read_text() if log.exists() else ""
        server.stop()
        raise RuntimeError(f"PostgreSQL did not start: {detail[-2000:]}") from None
    return server
