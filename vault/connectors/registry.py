"""Which connectors this installation has: every entry point in group ``kluis.connectors``.

The built-ins register the same way (see pyproject.toml). A connector that
fails to load is logged with its reason and skipped; it never takes the app down.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from vault.connectors.base import Connector

GROUP = "kluis.connectors"
log = logging.getLogger("kluis.connectors")

_cache: dict[str, Connector] | None = None
# Entry points that did not load, with the reason (shown by the operator CLI and logs).
failures: dict[str, str] = {}


class UnknownConnector(KeyError):
    pass


def load(*, refresh: bool = False) -> dict[str, Connector]:
    """Load every registered connector once per process; returns id -> instance."""
    global _cache
    if _cache is not None and not refresh:
        return _cache
    found: dict[str, Connector] = {}
    failures.clear()
    for ep in entry_points(group=GROUP):
        try:
            cls = ep.load()
            connector = cls() if isinstance(cls, type) else cls
            if not isinstance(connector, Connector):
                raise TypeError("the entry point is not a vault.connectors.base.Connector")
            if connector.id != ep.name:
                raise ValueError(f"the entry point is named {ep.name!r} but the connector id is "
                                 f"{connector.id!r}")
            if connector.id in found:
                raise ValueError(f"another connector already has id {connector.id!r}")
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not take the app down
            failures[ep.name] = f"{type(exc).__name__}: {exc}"
            log.warning("connector %r not loaded: %s", ep.name, failures[ep.name])
            continue
        found[connector.id] = connector
    _cache = found
    return found


def get(connector_id: str) -> Connector:
    try:
        return load()[connector_id]
    except KeyError:
        raise UnknownConnector(connector_id) from None
