"""Owner API of the log: the event log and the access log (``/api/v1``).

Both read through :func:`vault.grants.accesslog.read_log`, the one way the log is read.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from vault.api import schemas as s
from vault.api.spec import decode_cursor, encode_cursor, load_query, operation, respond
from vault.grants import accesslog
from vault.web.auth import owner_api, owner_vault

bp = Blueprint("log_api", __name__, url_prefix="/api/v1")

TAG = ["owner"]
GRANTS_TAG = ["grants"]


@bp.get("/events")
@owner_api
@operation("/api/v1/events", "get", "The owner's event log, newest first", tags=TAG,
           query=s.LogQuerySchema, responses={200: s.EventPageSchema})
def events():
    query = load_query(s.LogQuerySchema())
    page = accesslog.read_log(owner_vault(), limit=query["limit"], before=_before(query))
    return respond(s.EventPageSchema(), _with_cursor(page))


@bp.get("/access-log")
@owner_api
@operation("/api/v1/access-log", "get",
           "The access log (optionally ?grant=), newest first, with the chain check",
           tags=GRANTS_TAG, query=s.AccessLogQuerySchema, responses={200: s.AccessLogSchema})
def access_log():
    query = load_query(s.AccessLogQuerySchema())
    page = accesslog.read_log(owner_vault(), grant_id=query.get("grant") or None,
                              limit=query["limit"], before=_before(query))
    return respond(s.AccessLogSchema(), _with_cursor(page))


def _before(query: dict[str, Any]) -> int | None:
    return decode_cursor(query["cursor"], int)[0] if query.get("cursor") else None


def _with_cursor(page: accesslog.LogPage) -> dict[str, Any]:
    """The page as the schemas read it, with ``next_cursor`` (the seq to continue below)."""
    return {"events": page.events, "intact": page.intact, "problems": page.problems,
            "next_cursor": None if page.next_before is None else encode_cursor(page.next_before)}
