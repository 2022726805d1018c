"""Schema migrations: ``migrations/<kind>/NNNN_name.sql`` applied in order.

The applied level is ``PRAGMA user_version``. Each migration runs in one
transaction together with the ``user_version`` bump, so a database is always
at a whole migration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import sqlcipher3

from vault.storage.db import Connection

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str


def migrations_root() -> Path:
    """Where the SQL files are: inside the installed wheel, or the source checkout."""
    packaged = Path(__file__).resolve().parent.parent / "_migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "migrations"


def load(kind: str, root: Path | None = None) -> list[Migration]:
    directory = (root or migrations_root()) / kind
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise RuntimeError(f"badly named migration {path.name}")
        found.append(Migration(int(match.group(1)), path.stem, path.read_text("utf-8")))
    numbers = [m.number for m in found]
    if len(set(numbers)) != len(numbers) or (numbers and numbers[0] != 1):
        raise RuntimeError(f"{kind} migrations must start at 0001 and be unique: {numbers}")
    return found


def current_version(conn: Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def apply(conn: Connection, kind: str, root: Path | None = None) -> list[str]:
    """Bring ``conn`` up to the newest ``kind`` migration; return the names applied."""
    applied: list[str] = []
    version = current_version(conn)
    pending = [m for m in load(kind, root) if m.number > version]
    for migration in pending:
        statements = _split(migration.sql)
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the lock.
            if current_version(conn) >= migration.number:
                conn.execute("ROLLBACK")
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {migration.number:d}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        applied.append(migration.name)
    return applied


def _split(sql: str) -> list[str]:
    """Split a migration into statements; a trigger's body keeps its inner semicolons."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    statements: list[str] = []
    pending = ""
    for piece in "\n".join(lines).split(";"):
        pending += piece + ";"
        if sqlcipher3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip())
            pending = ""
    if pending.strip(" \n;"):
        raise RuntimeError("a migration ends inside a statement")
    return statements
