"""Key slots, KDFs, HPKE sealing and JWS signing. Imports no Flask."""

from vault.crypto.errors import CryptoError, SealError, SignatureError, TamperedSlot, WrongKey

__all__ = ["CryptoError", "SealError", "SignatureError", "TamperedSlot", "WrongKey"]
