"""Plain values for connections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATES = ("new", "queued", "running", "retrying", "ok", "failed", "needs_attention")


@dataclass
class Connection:
    """A configured source for one vault. ``options``/``credentials`` are decrypted values."""

    id: str
    vault_id: str
    connector: str
    interval_seconds: int
    created_at: str
    status: str
    attempts: int
    job_id: str | None
    scheduled_job_id: str | None
    last_run_at: str | None
    last_success_at: str | None
    last_error: str | None
    next_run_at: str | None
    options: dict[str, Any] = field(default_factory=dict, repr=False)
    credentials: dict[str, Any] = field(default_factory=dict, repr=False)
    state: dict[str, Any] = field(default_factory=dict, repr=False)

    def public(self) -> dict[str, Any]:
        """What the owner API shows: never credentials; options without secrets."""
        return {
            "id": self.id,
            "connector": self.connector,
            "options": self.options,
            "interval_seconds": self.interval_seconds,
            "created_at": self.created_at,
            "state": self.status,
            "attempts": self.attempts,
            "last_run_at": self.last_run_at,
            "last_success_at": self.last_success_at,
            "last_error": self.last_error,
            "next_run_at": self.next_run_at,
        }
