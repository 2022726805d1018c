"""A process that opens one vault with KLUIS_DATABASE_URL set, so that the vault moves from
its file into PostgreSQL (tests/integration/storage/test_pgmove.py runs it).

It prints each step of the move as it is reached; at ``MOVE_PAUSE`` it waits for a line on
stdin, so the test can SIGKILL it there, or let it go on. Then it prints ``opened <canary>``.
The vault id and its data key come from the environment: test vaults only.
"""

from __future__ import annotations

import os
import sys

from vault.config import load_settings
from vault.storage import pg, pgmove
from vault.storage.instance import Instance
from vault.storage.vaults import open_vault


def main() -> None:
    pause = os.environ.get("MOVE_PAUSE", "")

    def step(name: str) -> None:
        print(name, flush=True)
        if name == pause:
            sys.stdin.readline()

    pgmove.on_step = step
    instance = Instance(load_settings())
    try:
        vault = open_vault(instance, os.environ["MOVE_VAULT"], bytes.fromhex(os.environ["MOVE_DEK"]))
        print("opened", vault.get_meta("canary"), flush=True)
        vault.close()
    finally:
        instance.close()
        pg.close_all()


if __name__ == "__main__":
    main()
