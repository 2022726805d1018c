"""The key file of a home (``instance.key``, ``portal.key``): 64 hex characters, mode 0600,
or the same key given in the environment instead."""

from __future__ import annotations

import os
from pathlib import Path

from vault.crypto import keys


def create(path: Path) -> bool:
    """Write a new random key to ``path`` (0600) unless one is there; True when written."""
    if path.exists():
        return False
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(keys.random_key().hex() + "\n")
    return True


def read(given: str | None, path: Path, *, what: str, init: str,
         error: type[Exception]) -> bytes:
    """The 32-byte key: ``given`` (from the environment) or the file at ``path``. Raises
    ``error`` when there is none (``init`` names the command that makes it) or it is not
    64 hexadecimal characters (``what`` names the key in the message)."""
    raw = given.strip() if given else ""
    if not raw:
        if not path.exists():
            raise error(f"{path} does not exist: run `{init}`")
        raw = path.read_text().strip()
    try:
        key = bytes.fromhex(raw)
    except ValueError:
        raise error(f"the {what} is not 64 hex characters") from None
    if len(key) != 32:
        raise error(f"the {what} is not 64 hex characters")
    return key
