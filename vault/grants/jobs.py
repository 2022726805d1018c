"""rq jobs for grants, in three layers (enqueue with ids only; worker entry; pure core).

The purge is scheduled every :data:`PURGE_INTERVAL_SECONDS` by the worker's
scheduler. Expiry is also checked on every request, so the purge only tidies
up: it is safe to run twice or concurrently (rq delivers at least once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.grants.service import Grants

if TYPE_CHECKING:
    from rq import Queue

PURGE_INTERVAL_SECONDS = 300
PURGE_JOB = "vault.grants.jobs.purge_expired_job"


def purge_expired(grants: Grants) -> dict[str, int]:
    """Core: delete expired grant slots, one-time codes and pushed requests. Idempotent."""
    return grants.purge_expired()


PURGE_JOB_ID = "kluis-grants-purge"


def purge_expired_job() -> dict[str, int]:
    """Worker entry: purge, then schedule the next purge (one fixed job id, so never twice)."""
    from vault.services import current

    services = current()
    try:
        return purge_expired(services.grants)
    finally:
        schedule_purge(services.queue())


def schedule_purge(queue: Queue, delay: float = PURGE_INTERVAL_SECONDS) -> object:
    """Schedule the periodic purge through rq's scheduler under a fixed job id.

    Scheduling again replaces the waiting purge instead of adding a second one, so the
    worker can call this at every start.
    """
    from datetime import timedelta

    return queue.enqueue_in(timedelta(seconds=delay), PURGE_JOB, job_id=PURGE_JOB_ID,
                            job_timeout=120, result_ttl=3600)
