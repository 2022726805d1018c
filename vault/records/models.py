"""Plain values the records service returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Provenance:
    """Where a version came from: ``manual``, ``upload`` or a connector id, when, and evidence."""

    source: str
    fetched_at: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RecordVersion:
    record_id: str
    version: int
    data: dict[str, Any]
    digest: str
    provenance: Provenance
    created_at: str


@dataclass(frozen=True)
class Record:
    id: str
    type: str
    version: int
    data: dict[str, Any]
    provenance: Provenance
    created_at: str
    updated_at: str
    source_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "version": self.version,
            "data": self.data,
            "provenance": self.provenance.to_dict(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }
