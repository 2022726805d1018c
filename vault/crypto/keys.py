"""Random keys and tokens, and their stored digests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

KEY_BYTES = 32


def random_key() -> bytes:
    """A fresh 256-bit key from the OS CSPRNG."""
    return secrets.token_bytes(KEY_BYTES)


def new_token(prefix: str = "") -> str:
    """A 256-bit bearer token, URL-safe. ``prefix`` only helps people tell tokens apart."""
    body = base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).rstrip(b"=").decode()
    return f"{prefix}{body}"


def token_hash(token: str) -> str:
    """The SHA-256 (hex) of a token: the only form in which the instance stores it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    return hmac.compare_digest(a, b)


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    pad = "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(text + pad)


def recovery_code() -> str:
    """A printable recovery code: 160 bits as 8 groups of 4 Crockford base32 characters."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = secrets.randbits(160)
    chars = []
    for _ in range(32):
        chars.append(alphabet[value & 31])
        value >>= 5
    code = "".join(chars)
    return "-".join(code[i : i + 4] for i in range(0, 32, 4))


def normalise_recovery_code(code: str) -> str:
    """Accept codes typed with spaces, lower case, or O/I/L confusions."""
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    return "-".join(cleaned[i : i + 4] for i in range(0, len(cleaned), 4))
