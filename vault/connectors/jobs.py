"""The connector runner on rq, in three layers.

1. Enqueue (:func:`enqueue_refresh`, :func:`schedule_next`, :func:`cancel_jobs`): pass only
   a connection id and an attempt number; nothing personal ever reaches Redis.
2. Worker entry (:func:`refresh_connection`): opens instance.db, decrypts the connection's
   options and credentials, runs the connector, seals the drafts to the vault's inbox key,
   records the outcome and schedules what comes next.
3. Pure core (:func:`collect_drafts`, :func:`run_payload`, :func:`retry_delay`): plain
   functions tested without Redis.

Safe to run twice (rq delivers at least once): a run's drafts are sealed as one inbox
item; merging is idempotent and identical data adds no record version.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import uuid
from datetime import timedelta
from typing import Any

from redis.exceptions import LockError
from rq import Callback, Queue, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from vault.clock import from_iso, now_iso, to_iso, utcnow
from vault.config import Settings
from vault.connectors import registry, service
from vault.connectors.base import (
    Connector,
    Draft,
    FetchContext,
    NeedsAttention,
    TimeoutSession,
    TransientError,
)
from vault.connectors.inbox import RUN_KIND
from vault.records.service import InvalidRecord, RecordTooLarge, validate_data
from vault.storage.instance import Instance
from vault.storage.vaults import seal_for_vault
from vault.urlsafety import UnsafeURL, check_url

log = logging.getLogger("kluis.connectors")

ENTRY = "vault.connectors.jobs.refresh_connection"
JOB_TIMEOUT = 600
MAX_RETRY_DELAY = 3600
RESULT_TTL = 3600
#: Run when a refresh job fails outside :func:`run_refresh`'s own handling: its worker was
#: killed (rq finds the job abandoned at a survivor's maintenance) or the job raised. By
#: name, so the JSON serializer stores only this string.
ON_FAILURE = "vault.connectors.jobs.refresh_failed"
#: Seconds the callback may take (it may wait for a worker's schedule restore).
ON_FAILURE_TIMEOUT = 120
INTERRUPTED = "The refresh was interrupted before it finished; it is tried again."


# -- pure core ------------------------------------------------------------------------------


def collect_drafts(connector: Connector, context: FetchContext) -> tuple[list[Draft], int]:
    """Run ``connector.fetch`` and return its valid drafts (canonical data) and rejections.

    A draft of a type the connector did not declare, or whose data does not fit
    its schema, is left out and counted: one odd source record must not stop
    the rest. The last draft for the same (type, key) wins.
    """
    drafts: dict[tuple[str, str], Draft] = {}
    rejected = 0
    for draft in connector.fetch(context):
        if draft.type not in connector.record_types:
            rejected += 1
            continue
        try:
            clean = validate_data(draft.type, draft.data)
        except (InvalidRecord, RecordTooLarge):
            rejected += 1
            log.warning("connector %s produced an invalid %s draft", connector.id, draft.type)
            continue
        drafts[(draft.type, draft.key)] = Draft(draft.type, draft.key, clean, draft.evidence,
                                                draft.label)
    return list(drafts.values()), rejected


def run_payload(connection_id: str, connector_id: str, run_id: str, fetched_at: str,
                drafts: list[Draft]) -> dict[str, Any]:
    """The payload sealed to the vault's inbox for one run."""
    return {
        "kind": RUN_KIND,
        "v": 1,
        "item_key": f"run:{connection_id}:{run_id}",
        "connection_id": connection_id,
        "connector": connector_id,
        "fetched_at": fetched_at,
        "drafts": [d.to_dict() for d in drafts],
    }


def retry_delay(attempt: int, retry_after: float | None, base: float) -> float:
    """Seconds before attempt ``attempt + 1``: exponential backoff, Retry-After if longer.

    rq's scheduler stores due times in whole seconds (rounded down), so a Retry-After is
    padded by one second to never come back early.
    """
    backoff = base * (2 ** max(0, attempt - 1))
    honoured = math.ceil(retry_after) + 1 if retry_after else 0.0
    return float(min(MAX_RETRY_DELAY, max(backoff, honoured)))


# -- enqueue (ids only) ---------------------------------------------------------------------


def _fetch_job(queue: Queue, job_id: str | None) -> Job | None:
    if not job_id:
        return None
    try:
        return Job.fetch(job_id, connection=queue.connection, serializer=JSONSerializer)
    except NoSuchJobError:
        return None


def _text(value: bytes | str | None) -> str | None:
    """A Redis answer as text; empty or missing is None."""
    if not value:
        return None
    return value.decode() if isinstance(value, bytes) else value


def _worker_alive(job: Job) -> bool:
    """Whether the worker running ``job`` still lives (a SIGKILLed worker leaves it 'started')."""
    name = job.worker_name
    if not name:
        return False
    raw = job.connection.hmget(f"rq:worker:{name}", "hostname", "pid")
    hostname, pid = (_text(v) for v in raw)
    if hostname is None:
        return False
    if hostname == socket.gethostname() and pid and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    heartbeat = job.last_heartbeat
    return heartbeat is None or (utcnow() - heartbeat).total_seconds() < 120


def job_progress(queue: Queue, job_id: str | None) -> dict[str, Any] | None:
    """``{"status", "done", "total"}`` of a refresh job, from its rq meta."""
    job = _fetch_job(queue, job_id)
    if job is None:
        return None
    progress = job.get_meta(refresh=True).get("progress") or {}
    return {"status": str(job.get_status(refresh=False) or ""),
            "done": int(progress.get("done", 0)), "total": int(progress.get("total", 0))}


def enqueue_refresh(instance: Instance, queue: Queue, connection_id: str) -> str:
    """Queue a refresh now, unless one is already queued or running. Returns the job id.

    One job per connection: a waiting retry or scheduled run is replaced by this one.
    """
    connection = service.get_connection(instance, connection_id)
    current = _fetch_job(queue, connection.job_id)
    if current is not None:
        status = current.get_status()
        if status == JobStatus.QUEUED:
            return current.id
        if status == JobStatus.STARTED and _worker_alive(current):
            return current.id
        if status in (JobStatus.SCHEDULED, JobStatus.DEFERRED):
            current.cancel()
    job = queue.enqueue_call(
        ENTRY, args=(connection_id, 1), job_id=f"kluis-refresh-{connection_id}-{uuid.uuid4().hex}",
        timeout=JOB_TIMEOUT, result_ttl=RESULT_TTL, failure_ttl=RESULT_TTL,
        description=f"refresh connection {connection_id}",
        on_failure=Callback(ON_FAILURE, timeout=ON_FAILURE_TIMEOUT),
    )
    service.update_connection(instance, connection_id, status="queued", job_id=job.id,
                              attempts=0, next_run_at=now_iso())
    return job.id


def schedule_next(instance: Instance, queue: Queue, connection_id: str, delay: float, *,
                  attempt: int = 1, retrying: bool = False) -> str:
    """Schedule the next run (a retry, or the regular refresh) through rq's scheduler."""
    connection = service.get_connection(instance, connection_id)
    previous = _fetch_job(queue, connection.scheduled_job_id)
    current = get_current_job()
    if previous is not None and (current is None or previous.id != current.id):
        if previous.get_status() in (JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.DEFERRED):
            previous.cancel()
    job = queue.enqueue_in(
        timedelta(seconds=delay), ENTRY, connection_id, attempt,
        job_id=f"kluis-refresh-{connection_id}-{uuid.uuid4().hex}", job_timeout=JOB_TIMEOUT,
        result_ttl=RESULT_TTL, failure_ttl=RESULT_TTL,
        description=f"refresh connection {connection_id}",
        on_failure=Callback(ON_FAILURE, timeout=ON_FAILURE_TIMEOUT),
    )
    at = to_iso(utcnow() + timedelta(seconds=delay))
    values: dict[str, Any] = {"scheduled_job_id": job.id, "next_run_at": at}
    if retrying:
        values["job_id"] = job.id
    service.update_connection(instance, connection_id, **values)
    return job.id


def cancel_jobs(queue: Queue, connection) -> None:
    """Stop a removed connection's queued and scheduled jobs (a running one finds it gone)."""
    for job_id in {connection.job_id, connection.scheduled_job_id} - {None}:
        job = _fetch_job(queue, job_id)
        if job is not None and job.get_status() != JobStatus.STARTED:
            job.cancel()
            job.delete()


# -- worker entry ---------------------------------------------------------------------------

def _progress_callback():
    job = get_current_job()

    def progress(done: int, total: int) -> None:
        if job is None:
            return
        job.meta["progress"] = {"done": int(done), "total": int(total)}
        job.save_meta()

    return progress


def refresh_connection(connection_id: str, attempt: int = 1) -> dict[str, Any]:
    """rq entry point: refresh one connection. Safe to run twice (see module docstring)."""
    from vault.services import current  # the worker's composition root

    svc = current()
    return run_refresh(svc.instance, svc.queue(), svc.settings, connection_id, attempt)


def run_refresh(instance: Instance, queue: Queue, settings: Settings, connection_id: str,
                attempt: int = 1) -> dict[str, Any]:
    """Fetch, seal and record the outcome. Returns counts only (kept in Redis as the result)."""
    try:
        connection = service.get_connection(instance, connection_id, secrets=True)
    except service.ConnectionNotFound:
        return {"status": "removed"}
    job = get_current_job()
    try:
        connector = registry.get(connection.connector)
    except registry.UnknownConnector:
        service.update_connection(instance, connection_id, status="needs_attention",
                                  last_error="This kind of source is no longer installed.")
        return {"status": "needs_attention"}
    if not connector.fetches:
        service.update_connection(instance, connection_id, status="ok")
        return {"status": "ok", "drafts": 0}
    service.update_connection(instance, connection_id, status="running", attempts=attempt,
                              last_run_at=now_iso(), job_id=job.id if job else None)
    progress = _progress_callback()
    progress(0, 1)
    http = TimeoutSession(timeout=(5.0, float(settings.connector_timeout_seconds)),
                          allow_private=settings.allow_private_urls)
    state = dict(connection.state)
    context = FetchContext(options=connection.options, credentials=connection.credentials,
                           http=http, progress=progress, state=state)
    fetched_at = now_iso()
    try:
        base_url = connection.options.get("base_url")
        if base_url:
            try:
                check_url(base_url, allow_private=settings.allow_private_urls)
            except UnsafeURL as exc:
                raise NeedsAttention(str(exc)) from None
        drafts, rejected = collect_drafts(connector, context)
    except TransientError as exc:
        if state != connection.state:
            service.save_state(instance, connection_id, state)
        if attempt < settings.connector_max_attempts:
            delay = retry_delay(attempt, exc.retry_after, settings.connector_retry_base_seconds)
            service.update_connection(instance, connection_id, status="retrying",
                                      last_error=str(exc))
            schedule_next(instance, queue, connection_id, delay, attempt=attempt + 1,
                          retrying=True)
            return {"status": "retrying", "attempt": attempt, "delay": delay}
        service.update_connection(instance, connection_id, status="failed", last_error=str(exc))
        schedule_next(instance, queue, connection_id, connection.interval_seconds)
        return {"status": "failed", "attempt": attempt}
    except NeedsAttention as exc:
        if state != connection.state:
            service.save_state(instance, connection_id, state)
        service.update_connection(instance, connection_id, status="needs_attention",
                                  last_error=str(exc), next_run_at=None)
        # No retry and no regular run until the owner has fixed it and refreshes.
        scheduled = _fetch_job(queue, connection.scheduled_job_id)
        if scheduled is not None and (job is None or scheduled.id != job.id):
            if scheduled.get_status() in (JobStatus.SCHEDULED, JobStatus.QUEUED):
                scheduled.cancel()
        return {"status": "needs_attention"}
    except Exception as exc:  # noqa: BLE001 - a connector bug must not look like a source fault
        log.error("connector %s failed with %s", connector.id, type(exc).__name__)
        service.update_connection(instance, connection_id, status="failed",
                                  last_error="The connector failed unexpectedly.")
        schedule_next(instance, queue, connection_id, connection.interval_seconds)
        return {"status": "failed", "attempt": attempt}
    finally:
        http.close()
    run_id = uuid.uuid4().hex
    payload = run_payload(connection_id, connector.id, run_id, fetched_at, drafts)
    seal_for_vault(instance, connection.vault_id, f"connector:{connector.id}", payload)
    if state != connection.state:
        service.save_state(instance, connection_id, state)
    if job is not None:
        total = int((job.meta.get("progress") or {}).get("total") or 1)
        progress(total, total)
    service.update_connection(instance, connection_id, status="ok", last_error=None,
                              last_success_at=now_iso(), attempts=0)
    schedule_next(instance, queue, connection_id, connection.interval_seconds)
    return {"status": "ok", "drafts": len(drafts), "rejected": rejected}


RESTORE_LOCK = "kluis:connectors:restore-schedules"
RESTORE_LOCK_SECONDS = 300


def _live(job: Job | None) -> bool:
    """Whether ``job`` will still run or is running (on a worker that lives)."""
    if job is None:
        return False
    status = job.get_status()
    if status == JobStatus.STARTED:
        return _worker_alive(job)
    return status in (JobStatus.SCHEDULED, JobStatus.QUEUED, JobStatus.DEFERRED)


def _restore_lock(queue: Queue, wait: float):
    return queue.connection.lock(RESTORE_LOCK, timeout=RESTORE_LOCK_SECONDS, blocking_timeout=wait)


def _release(lock) -> None:
    try:
        lock.release()
    except LockError:  # held longer than its timeout: another worker may have restored
        log.warning("the schedule restore outlasted its lock")


def restore_schedules(instance: Instance, queue: Queue) -> int:
    """Re-schedule connections whose scheduled run is missing from Redis (e.g. after a Redis
    restart without persistence, or a worker killed while it ran the refresh). Run at worker
    start; safe to run twice, and by several workers at once: a connection with a refresh that
    is queued, scheduled or running (on a live worker) is left alone, and the workers take
    turns on a Redis lock, so the second sees what the first scheduled. Returns how many were
    re-scheduled.
    """
    lock = _restore_lock(queue, RESTORE_LOCK_SECONDS + 10)
    if not lock.acquire():
        log.warning("another worker held the schedule restore lock too long; not restoring")
        return 0
    try:
        return _restore_schedules(instance, queue)
    finally:
        _release(lock)


def _restore_schedules(instance: Instance, queue: Queue) -> int:
    restored = 0
    rows = instance.conn.execute(
        "SELECT id, job_id, scheduled_job_id, next_run_at FROM connections"
        " WHERE status NOT IN ('needs_attention')"
    ).fetchall()
    now = utcnow()
    for row in rows:
        # A first or on-demand refresh still waiting (job_id) schedules the next one itself.
        if _live(_fetch_job(queue, row["scheduled_job_id"])) or _live(
                _fetch_job(queue, row["job_id"])):
            continue
        due = from_iso(row["next_run_at"]) if row["next_run_at"] else now
        schedule_next(instance, queue, row["id"], max((due - now).total_seconds(), 0.0))
        restored += 1
    return restored


# -- a refresh that did not finish ----------------------------------------------------------


def reschedule_interrupted(instance: Instance, queue: Queue, settings: Settings,
                           connection_id: str, attempt: int, job_id: str) -> str | None:
    """Carry on the schedule of a connection whose refresh ``job_id`` (attempt ``attempt``)
    ended without recording its outcome: its worker was killed, or the job raised. Each run
    schedules the next, so without this its refreshes would stop until a worker start's
    :func:`restore_schedules`.

    Counted as a failed attempt, the way a source fault is (so a refresh that kills its
    worker every time, e.g. out of memory, is not tried forever): a retry after the usual
    backoff while attempts remain, else ``failed`` with the regular run. Returns the
    scheduled job's id, or None when nothing was needed: the connection is gone or waits for
    its owner (``needs_attention``), or another refresh of it is queued, scheduled or running
    on a live worker. Safe to run twice and alongside :func:`restore_schedules` (both take the
    same lock; the second finds the first's job).
    """
    lock = _restore_lock(queue, ON_FAILURE_TIMEOUT / 2)
    if not lock.acquire():
        log.warning("the schedule restore lock stayed taken; an interrupted refresh waits for "
                    "the next worker start")
        return None
    try:
        try:
            connection = service.get_connection(instance, connection_id)
        except service.ConnectionNotFound:
            return None
        if connection.status == "needs_attention":
            return None
        # The interrupted job itself may still look alive (rq marks it failed after this).
        others = {connection.job_id, connection.scheduled_job_id} - {None, job_id}
        if any(_live(_fetch_job(queue, other)) for other in others):
            return None
        if attempt < settings.connector_max_attempts:
            delay = retry_delay(attempt, None, settings.connector_retry_base_seconds)
            service.update_connection(instance, connection_id, status="retrying",
                                      last_error=INTERRUPTED)
            return schedule_next(instance, queue, connection_id, delay, attempt=attempt + 1,
                                 retrying=True)
        service.update_connection(instance, connection_id, status="failed",
                                  last_error=INTERRUPTED)
        return schedule_next(instance, queue, connection_id, connection.interval_seconds)
    finally:
        _release(lock)


def refresh_failed(job: Job, connection: Any, *exc_info: Any) -> None:
    """rq failure callback of every refresh job (:data:`ON_FAILURE`): also called by rq's
    registry cleanup, on a live worker, for a job whose worker died mid-run."""
    from vault.services import current  # the worker's composition root

    if not job.args:
        return
    attempt = int(job.args[1]) if len(job.args) > 1 else 1
    svc = current()
    scheduled = reschedule_interrupted(svc.instance, svc.queue(job.origin), svc.settings,
                                       str(job.args[0]), attempt, job.id)
    log.info("refresh job %s ended unfinished; %s", job.id,
             f"next attempt {scheduled}" if scheduled else "nothing to re-schedule")


def horse_killed(job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
    """rq's ``work_horse_killed_handler``: the process running a job died (e.g. out of
    memory) while its worker lives; rq then fails the job without its failure callback."""
    if job.func_name != ENTRY:
        return
    try:
        refresh_failed(job, job.connection)
    except Exception as exc:  # noqa: BLE001 - the worker must go on
        log.error("re-scheduling an interrupted refresh failed (%s)", type(exc).__name__)
