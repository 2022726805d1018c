"""Password policy: 12 to 128 characters, not in the shipped common-password list."""

from __future__ import annotations

import functools
from importlib import resources

from vault.accounts.errors import WeakPassword

MIN_LENGTH = 12
MAX_LENGTH = 128


@functools.cache
def common_passwords() -> frozenset[str]:
    text = resources.files("vault.accounts").joinpath("common-passwords.txt").read_text("utf-8")
    lines = (line.strip() for line in text.splitlines())
    return frozenset(line.lower() for line in lines if line and not line.startswith("#"))


def check_password(password: str, *, username: str = "") -> None:
    """Raise :class:`WeakPassword` with a plain reason when ``password`` is not acceptable."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise WeakPassword(f"A password has at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"A password has at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if lowered in common_passwords():
        raise WeakPassword("This password is in a list of common passwords; choose another.")
    if username and lowered == username.lower():
        raise WeakPassword("A password must not be the username.")
    if len(set(password)) < 4:
        raise WeakPassword("This password repeats too few characters.")
