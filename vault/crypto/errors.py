"""Errors raised by the crypto layer. Callers never see a library exception."""


class CryptoError(Exception):
    """Base class for every failure in :mod:`vault.crypto`."""


class WrongKey(CryptoError):
    """The secret (password, recovery code, token, key) does not open this slot or file."""


class TamperedSlot(CryptoError):
    """The slot was modified: its ciphertext or bound metadata no longer authenticates."""


class SealError(CryptoError):
    """A sealed (HPKE) payload could not be opened."""


class SignatureError(CryptoError):
    """A JWS did not verify. ``reason`` is a stable machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
