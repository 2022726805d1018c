"""rq jobs for grants, in three layers (enqueue with ids only; worker entry; pure core).

Webhooks: a pump (every ``KLUIS_WEBHOOK_PUMP_SECONDS``) enqueues one delivery job per
due event; a failed delivery sets the event's next attempt after the backoff
(``KLUIS_WEBHOOK_RETRY_SECONDS``), and a later pump enqueues it again.

The purge is scheduled every :data:`PURGE_INTERVAL_SECONDS` by the worker's
scheduler. Expiry is also checked on every request, so the purge only tidies
up: it is safe to run twice or concurrently (rq delivers at least once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vault.config import Settings
from vault.grants import notifications, webhooks
from vault.grants.service import Grants
from vault.storage.instance import Instance

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


# -- webhooks: a pump that finds due events, one delivery job per event and attempt ----------

WEBHOOK_PUMP_JOB = "vault.grants.jobs.webhook_pump_job"
WEBHOOK_PUMP_JOB_ID = "kluis-webhooks-pump"
WEBHOOK_DELIVER_JOB = "vault.grants.jobs.deliver_webhook_job"


def deliver_webhook(instance: Instance, settings: Settings, event_id: str) -> str:
    """Core: one delivery attempt of one event (see :func:`vault.grants.webhooks.deliver`)."""
    return webhooks.deliver(instance, settings, event_id)


def deliver_webhook_job(event_id: str) -> str:
    """Worker entry: deliver event ``event_id``. Safe to run twice (the event is claimed,
    a delivered one is skipped, the receiver dedupes by event id)."""
    from vault.services import current

    services = current()
    return deliver_webhook(services.instance, services.settings, event_id)


def webhook_pump(instance: Instance, queue: Queue) -> int:
    """Enqueue a delivery job for every due event (ids only); how many were enqueued.

    The job id names the event and its attempt, so a pump running twice enqueues once.
    """
    enqueued = 0
    for event_id in webhooks.due(instance.conn):
        row = instance.conn.execute("SELECT attempts FROM webhook_events WHERE id = ?",
                                    (event_id,)).fetchone()
        job_id = f"kluis-webhook-{event_id}-{row['attempts'] if row else 0}"
        if queue.fetch_job(job_id) is not None:
            continue
        queue.enqueue(WEBHOOK_DELIVER_JOB, event_id, job_id=job_id, job_timeout=120,
                      result_ttl=600, failure_ttl=86400)
        enqueued += 1
    for mail_id in notifications.due_mails(instance.conn):
        row = instance.conn.execute("SELECT attempts FROM mail_outbox WHERE id = ?",
                                    (mail_id,)).fetchone()
        job_id = f"kluis-mail-{mail_id}-{row['attempts'] if row else 0}"
        if queue.fetch_job(job_id) is not None:
            continue
        queue.enqueue(MAIL_JOB, mail_id, job_id=job_id, job_timeout=120, result_ttl=600,
                      failure_ttl=86400)
        enqueued += 1
    return enqueued


MAIL_JOB = "vault.grants.jobs.send_mail_job"


def send_mail_job(mail_id: str) -> str:
    """Worker entry: send one queued notification mail. Safe to run twice (a sent mail's
    payload is gone, so it is skipped)."""
    from vault.services import current

    services = current()
    return notifications.send(services.instance, services.settings, mail_id)


def webhook_pump_job() -> int:
    """Worker entry: enqueue due deliveries, then schedule the next pump (one fixed id)."""
    from vault.services import current

    services = current()
    try:
        return webhook_pump(services.instance, services.queue())
    finally:
        schedule_webhook_pump(services.queue(), services.settings.webhook_pump_seconds)


def schedule_webhook_pump(queue: Queue, delay: float) -> object:
    """Schedule the pump through rq's scheduler under a fixed job id (never twice)."""
    from datetime import timedelta

    return queue.enqueue_in(timedelta(seconds=delay), WEBHOOK_PUMP_JOB,
                            job_id=WEBHOOK_PUMP_JOB_ID, job_timeout=120, result_ttl=60)
