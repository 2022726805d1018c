"""TOTP (RFC 6238) with pyotp: a window of one step, each code accepted once."""

from __future__ import annotations

import pyotp
from redis import Redis

from vault.accounts.errors import TotpInvalid, TotpReplayed
from vault.clock import utcnow

STEP = 30
ISSUER = "Kluis"


def new_secret() -> str:
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, username: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret, interval=STEP).provisioning_uri(name=username, issuer_name=issuer)


def matching_step(secret: str, code: str) -> int:
    """Return the time step ``code`` belongs to (now, one before or one after).

    Raises :class:`TotpInvalid` when it matches none of them.
    """
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        raise TotpInvalid("A code has six digits.")
    totp = pyotp.TOTP(secret, interval=STEP)
    now = int(utcnow().timestamp())
    current = now // STEP
    for step in (current, current - 1, current + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    raise TotpInvalid("The code is wrong or has expired.")


def claim_step(redis: Redis, vault_id: str, step: int, last_used: int | None) -> None:
    """Accept ``step`` once: an atomic Redis SET NX, plus the last step kept in the vault.

    Raises :class:`TotpReplayed` when this code (or a later one) was used already.
    """
    if last_used is not None and step <= last_used:
        raise TotpReplayed("This code was used already; wait for the next one.")
    key = f"kluis:totp-used:{vault_id}:{step}"
    if not redis.set(key, b"1", nx=True, ex=STEP * 4):
        raise TotpReplayed("This code was used already; wait for the next one.")


def current_code(secret: str) -> str:
    """The code for now (tests and the enrolment check use it)."""
    return pyotp.TOTP(secret, interval=STEP).at(int(utcnow().timestamp()))
