"""Key derivation: Argon2id for human secrets, HKDF for 256-bit tokens."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters, stored beside every slot that uses them."""

    time_cost: int = 2
    memory_kib: int = 19 * 1024
    lanes: int = 1

    def below(self, floor: Argon2Params) -> bool:
        """True when these parameters are weaker than ``floor`` in any dimension."""
        return self.time_cost < floor.time_cost or self.memory_kib < floor.memory_kib

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> Argon2Params:
        return cls(
            time_cost=int(data["time_cost"]),
            memory_kib=int(data["memory_kib"]),
            lanes=int(data.get("lanes", 1)),
        )


def argon2id(secret: str, salt: bytes, params: Argon2Params) -> bytes:
    """Derive a 256-bit key from a human secret."""
    kdf = Argon2id(
        salt=salt,
        length=32,
        iterations=params.time_cost,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
    )
    return kdf.derive(secret.encode("utf-8"))


def hkdf(secret: bytes, info: bytes, salt: bytes | None = None, length: int = 32) -> bytes:
    """HKDF-SHA256 for secrets that already carry 256 bits of entropy (tokens, keys)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(secret)
