"""A process that starts an instance with KLUIS_DATABASE_URL set, so that instance.db is
copied into PostgreSQL (tests/integration/storage/test_pgcopy.py runs it).

It prints each step of the copy as it is reached; at ``COPY_PAUSE`` it waits for a line on
stdin, so the test can SIGKILL it there, or let it go on. Then it prints ``vaults <n>``.
"""

from __future__ import annotations

import os
import sys

from vault.config import load_settings
from vault.storage import pg, pgcopy
from vault.storage.instance import Instance


def main() -> None:
    pause = os.environ.get("COPY_PAUSE", "")

    def step(name: str) -> None:
        print(name, flush=True)
        if name == pause:
            sys.stdin.readline()

    pgcopy.on_step = step
    instance = Instance(load_settings())
    try:
        count = instance.conn.execute("SELECT count(*) FROM vaults").fetchone()[0]
        print("vaults", count, flush=True)
    finally:
        instance.close()
        pg.close_all()


if __name__ == "__main__":
    main()
