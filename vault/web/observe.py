"""What an operator sees of requests: a request log line and Prometheus metrics per route.

:class:`Observed` is the outermost WSGI middleware of the app. For every request it

- takes the client's ``X-Request-Id`` when it is a plain token (letters, digits, ``-``,
  ``_``, ``.``; at most 64), else makes one, and sends it back as ``X-Request-Id``;
- logs one line on the ``kluis.requests`` logger when the answer has been sent:
  method, route *template*, status, duration and request id. Never the path itself (it holds
  record, grant and token ids), never the query string, a header or a body;
- counts the request and observes its duration in ``kluis_http_requests_total`` and
  ``kluis_http_request_duration_seconds``, labelled by method, route template and status.

The route template is what Flask matched (``/api/v1/records/<record_id>``), or the mounted
organisation read's path; a path that matched nothing is ``<unmatched>``, so a scan of random
URLs cannot grow the label set. Views set it in ``environ[ROUTE_KEY]`` (see ``vault.app``).

Metrics: under ``kluis serve`` each gunicorn worker writes to files in a directory that
``PROMETHEUS_MULTIPROC_DIR`` names (prometheus_client's multiprocess mode), so ``/metrics``
on any worker reports the whole server. Queue lengths and failed jobs are read from Redis
when ``/metrics`` is scraped (:class:`QueueCollector`). No username, id or record value
is ever a label.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger("kluis.requests")

ROUTE_KEY = "kluis.route"
UNMATCHED = "<unmatched>"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

REQUESTS = Counter("kluis_http_requests_total", "HTTP requests answered",
                   ["method", "route", "status"])
DURATION = Histogram("kluis_http_request_duration_seconds", "Time to answer a request",
                     ["method", "route"],
                     buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The metric children per label set (bounded: methods x route templates x statuses).
_CHILDREN: dict[tuple[str, str, str], tuple[Any, Any]] = {}

StartResponse = Callable[..., Any]


class Observed:
    """WSGI middleware: request id, one log line and the metrics of every request."""

    def __init__(self, app: Callable[..., Iterable[bytes]], *, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests  # KLUIS_REQUEST_LOG

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        given = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = given if given and _REQUEST_ID.match(given) else os.urandom(8).hex()
        environ["kluis.request_id"] = request_id
        status: list[str] = ["500"]

        def start(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = status_line.split(" ", 1)[0]
            headers.append(("X-Request-Id", request_id))
            return start_response(status_line, headers, exc_info)

        body = self.app(environ, start)
        return _Finished(body, lambda: self._done(environ, status[0], started))

    def _done(self, environ: dict[str, Any], status: str, started: float) -> None:
        elapsed = time.perf_counter() - started
        method = environ.get("REQUEST_METHOD", "")
        method = method if method in _METHODS else "OTHER"
        route = environ.get(ROUTE_KEY) or UNMATCHED
        key = (method, route, status)
        children = _CHILDREN.get(key)
        if children is None:  # labels() takes a lock and builds a key: once per label set
            children = _CHILDREN[key] = (REQUESTS.labels(*key), DURATION.labels(method, route))
        children[0].inc()
        children[1].observe(elapsed)
        if self.log_requests and log.isEnabledFor(logging.INFO):
            log.info("%s %s %s %.1fms id=%s", method, route, status, elapsed * 1000,
                     environ.get("kluis.request_id", "-"))


class _Finished:
    """The body iterable, with ``done`` run once when the server closes it (sent or not)."""

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self._body = body
        self._done = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._done()


class QueueCollector:
    """Queue lengths and failed jobs per rq queue, read from Redis at scrape time."""

    def __init__(self, queues: Callable[[], list[Any]]) -> None:
        self._queues = queues

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from rq.registry import FailedJobRegistry

        waiting = GaugeMetricFamily("kluis_queue_jobs", "Jobs waiting in an rq queue", labels=["queue"])
        failed = GaugeMetricFamily("kluis_queue_failed_jobs", "Failed jobs kept by an rq queue",
                                   labels=["queue"])
        up = GaugeMetricFamily("kluis_redis_up", "Whether Redis answered this scrape")
        try:
            for queue in self._queues():
                waiting.add_metric([queue.name], len(queue))
                failed.add_metric([queue.name], len(FailedJobRegistry(queue=queue)))
            up.add_metric([], 1)
        except Exception:  # noqa: BLE001 - Redis down: say so, do not fail the scrape
            up.add_metric([], 0)
        yield waiting
        yield failed
        yield up


def render_metrics(queues: Callable[[], list[Any]]) -> bytes:
    """The Prometheus text exposition of this server (all workers under ``kluis serve``)."""
    registry: CollectorRegistry = REGISTRY  # one process (tests, the dev server)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    output = generate_latest(registry)
    queue_registry = CollectorRegistry()
    queue_registry.register(QueueCollector(queues))  # type: ignore[arg-type]
    return output + generate_latest(queue_registry)
