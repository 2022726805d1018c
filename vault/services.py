"""The composition root: every long-lived object one process shares, built once.

:func:`build` makes them for ``create_app``, every CLI command and the rq worker
alike, so behaviour never depends on the entry point: the same :class:`Accounts` and
:class:`Grants`, with the same hooks that run whenever a vault opens (the connector
inbox merge, after the access journal merge the domain's open path does itself).

rq job entry points (``<feature>/jobs.py``) run inside the worker, which has no app to
hand them their objects; they call :func:`current`, the worker process's one
:class:`Services`, built on first use from the environment.

No Flask here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import redis as redis_lib
from redis.backoff import ExponentialBackoff
from redis.connection import parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel
from rq import Queue
from rq.serializers import JSONSerializer

from vault import formats
from vault.accounts import attempts
from vault.accounts.service import Accounts
from vault.config import Settings, load_settings
from vault.connectors import service as connections
from vault.connectors.inbox import HANDLERS as INBOX_HANDLERS
from vault.connectors.inbox import merge_on_open
from vault.grants import changes, deletion, notifications, repository
from vault.grants.oauth import settle_replayed_codes
from vault.grants.organisations import Organisations
from vault.grants.service import Grants
from vault.portability.jobs import Jobs as ExportJobs
from vault.storage.instance import Instance
from vault.storage.vaults import VaultDB

# Deletion statements reach a vault through its sealed inbox, merged with the connectors'
# items on open: the composition root registers the grants feature's handler there (the two
# features do not import each other).
INBOX_HANDLERS[deletion.KIND] = deletion.merge_item
# Failed and refused sign-ins reach the owner's log the same way (the vault is closed then).
INBOX_HANDLERS[attempts.KIND] = attempts.merge_item

log = logging.getLogger("kluis.services")

#: What runs whenever a vault opens, in order, on every entry point: the connector inbox
#: merge, telling organisations which granted records that (or anything since) changed
#: (``records.updated``), and marking revoked the grants whose authorization code was
#: replayed.
VAULT_OPEN_HOOKS: tuple[Callable[[VaultDB], None], ...] = (merge_on_open, changes.on_open,
                                                           settle_replayed_codes)


@dataclass
class Services:
    settings: Settings
    instance: Instance
    redis: redis_lib.Redis
    accounts: Accounts
    grants: Grants
    exports: ExportJobs

    @property
    def organisations(self) -> Organisations:
        return self.grants.orgs

    def queue(self, name: str | None = None) -> Queue:
        """The rq queue ``name`` (default: the first of ``KLUIS_WORKER_QUEUES``)."""
        return Queue(
            name or self.settings.worker_queues.split(",")[0].strip(),
            connection=self.redis,
            serializer=JSONSerializer,
        )

    def close(self) -> None:
        self.instance.close()
        self.redis.close()


def due_notifications(instance: Instance) -> Callable[[VaultDB], None]:
    """The owner-open hook that creates the notifications time brings (a grant about to end,
    a deletion statement overdue, a connection needing attention). It joins the two
    features here, so neither imports the other; it never fails the open."""

    def hook(vault: VaultDB) -> None:
        try:
            attention = [(c.id, c.connector, c.last_run_at or c.created_at)
                         for c in connections.list_connections(instance, vault.id)
                         if c.status == "needs_attention"]
            notifications.due(instance, vault, attention=attention)
        except Exception as exc:  # noqa: BLE001 - the owner must still get in
            log.error("due notifications failed (%s)", type(exc).__name__)

    return hook


#: Seconds a sentinel may take to connect and answer before the next one is asked.
SENTINEL_TIMEOUT = 2.0
#: Seconds to connect to the master the sentinels name (a vanished host fails fast, so the
#: next attempt asks the sentinels again and reaches the promoted replica).
MASTER_CONNECT_TIMEOUT = 5.0
#: How a Sentinel client rides out a failover: a command that meets a lost or refused
#: connection is tried again, each time on the master the sentinels name then, waiting
#: 0.1 s, 0.2 s, ... up to 1 s between tries, about 12 s in all (a failover with
#: ``down-after-milliseconds`` 5000 fits). rq's scheduler process, which ends on the first
#: error it sees, keeps running through such a failover too.
FAILOVER_RETRY = Retry(ExponentialBackoff(cap=1.0, base=0.1), retries=15)


def redis_client(settings: Settings) -> redis_lib.Redis:
    """The one way a process makes its Redis client: sessions, rate limits, the replay keys,
    export progress, rq queues, workers and the scheduler all use what this returns.

    Plain: ``KLUIS_REDIS_URL``. With ``KLUIS_REDIS_SENTINELS`` and ``KLUIS_REDIS_SERVICE``:
    redis-py's :class:`~redis.sentinel.Sentinel`, whose ``master_for`` client asks the
    sentinels for the current master on every new connection (and drops its connections when
    the master changes), with the username, password, database and TLS of
    ``KLUIS_REDIS_URL``.
    """
    if not settings.redis_sentinels.strip():
        return redis_lib.Redis.from_url(settings.redis_url)
    url = parse_url(settings.redis_url)
    options = {key: url[key] for key in ("username", "password", "db") if url.get(key) is not None}
    if settings.redis_url.startswith("rediss://"):
        options["ssl"] = True
        options.update({key: value for key, value in url.items() if key.startswith("ssl_")})
    sentinel_options: dict[str, object] = {"socket_timeout": SENTINEL_TIMEOUT,
                                           "socket_connect_timeout": SENTINEL_TIMEOUT}
    if settings.redis_sentinel_password:
        sentinel_options["password"] = settings.redis_sentinel_password
    sentinel = Sentinel(settings.redis_sentinel_addresses, sentinel_kwargs=sentinel_options,
                        socket_connect_timeout=MASTER_CONNECT_TIMEOUT, **options)
    return sentinel.master_for(settings.redis_service.strip(), redis_class=redis_lib.Redis,
                               retry=FAILOVER_RETRY)


def build(settings: Settings) -> Services:
    """Every long-lived object, wired once."""
    formats.set_timezone(settings.timezone)  # every page and PDF shows moments in this zone
    instance = Instance(settings)
    redis = redis_client(settings)
    # The owner's open also creates the notifications that come due with time; an
    # organisation's read does not (it opens with the shared hooks only).
    owner_hooks = (*VAULT_OPEN_HOOKS, due_notifications(instance))
    accounts = Accounts(instance, redis, settings, on_open=owner_hooks,
                        on_journal_merged=notifications.on_merged(repository.add_reads,
                                                                  instance))
    grants = Grants(instance, redis, settings, on_open=VAULT_OPEN_HOOKS)
    return Services(settings, instance, redis, accounts, grants, ExportJobs(redis))


_current: tuple[int, Services] | None = None


def current() -> Services:
    """This process's :class:`Services`, built from the environment on first use.

    Per process id: rq runs each job in a forked work horse, and an SQLite connection
    must not be used across a fork, so a forked child builds its own.
    """
    global _current
    pid = os.getpid()
    if _current is None or _current[0] != pid:
        _current = (pid, build(load_settings()))
    return _current[1]
