"""``kluis serve`` with PostgreSQL's ``synchronous_commit=off``: for the benchmark only.

Kluis opens every PostgreSQL session with ``-c synchronous_commit=on`` (vault/storage/pg.py),
so an organisation read is answered only after its access event is on the server's disk. To
show what that costs, ``python -m bench.pgasync --bind HOST:PORT`` runs the real ``kluis serve``
command with the pool's session option replaced by ``synchronous_commit=off`` (a commit returns
before its WAL is flushed: a crash of the database server can lose the last access events).
Nothing in the product changes; this module is never imported by it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

OFF = "-c synchronous_commit=off"
_POOL = "ConnectionPool"  # vault.storage.pg's name for psycopg_pool.ConnectionPool


@contextmanager
def synchronous_commit_off() -> Iterator[None]:
    """While inside, new :class:`vault.storage.pg.Database` pools open sessions with
    ``synchronous_commit=off``."""
    from vault.storage import pg

    original = getattr(pg, _POOL)

    def pool(*args: Any, **kw: Any) -> Any:
        kw["kwargs"] = {**(kw.get("kwargs") or {}), "options": OFF}
        return original(*args, **kw)

    setattr(pg, _POOL, pool)
    try:
        yield
    finally:
        setattr(pg, _POOL, original)


def main(argv: list[str]) -> None:
    from vault.cli import cli

    with synchronous_commit_off():
        cli.main(["serve", *argv], prog_name="kluis", standalone_mode=True)


if __name__ == "__main__":
    main(sys.argv[1:])
