"""The long-lived objects one process shares: settings, instance.db, Redis, accounts, queue.

Built once by :func:`build` (in ``create_app``, the CLI and the worker); no Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis as redis_lib
from rq import Queue
from rq.serializers import JSONSerializer

from vault.accounts.service import Accounts
from vault.config import Settings
from vault.storage.instance import Instance


@dataclass
class Services:
    settings: Settings
    instance: Instance
    redis: redis_lib.Redis
    accounts: Accounts

    def queue(self, name: str | None = None) -> Queue:
        return Queue(
            name or self.settings.worker_queues.split(",")[0],
            connection=self.redis,
            serializer=JSONSerializer,
        )

    def close(self) -> None:
        self.instance.close()
        self.redis.close()


def build(settings: Settings) -> Services:
    instance = Instance(settings)
    redis = redis_lib.Redis.from_url(settings.redis_url)
    return Services(settings, instance, redis, Accounts(instance, redis, settings))
