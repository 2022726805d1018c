"""Owner API of the log: the event log and the access log (``/api/v1``).

Both read through :func:`vault.grants.accesslog.read_log`, the one way the log is read.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from vault.api import schemas as s
from vault.api.spec import operation
from vault.grants import accesslog
from vault.web.auth import owner_api, owner_vault
from vault.web.problems import validation_problem

bp = Blueprint("log_api", __name__, url_prefix="/api/v1")

TAG = ["owner"]
GRANTS_TAG = ["grants"]


def _limit() -> int:
    raw = request.args.get("limit", "") or "200"
    try:
        return int(raw)
    except ValueError:
        raise validation_problem({"limit": ["A whole number."]}) from None


@bp.get("/events")
@owner_api
@operation("/api/v1/events", "get", "The owner's event log, newest first", tags=TAG,
           responses={200: s.EventSchema(many=True)})
def events():
    page = accesslog.read_log(owner_vault(), limit=_limit())
    return jsonify({"events": s.EventSchema(many=True).dump(page.events),
                    "log_intact": page.intact})


@bp.get("/access-log")
@owner_api
@operation("/api/v1/access-log", "get",
           "The access log (optionally ?grant=), newest first, with the chain check",
           tags=GRANTS_TAG)
def access_log():
    page = accesslog.read_log(owner_vault(), grant_id=request.args.get("grant") or None,
                              limit=_limit())
    return jsonify({"events": page.events, "log_intact": page.intact,
                    "problems": page.problems})
