"""The owner's log pages: the whole event log (``/log``) and the access log (``/grants/log``).

Both read through :func:`vault.grants.accesslog.read_log`, the one way the log is read.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from vault.grants import accesslog
from vault.ui.common import owner_page
from vault.ui.i18n import current_language, t
from vault.web.auth import owner_vault

bp = Blueprint("log_ui", __name__)

LOG_PAGE_SIZE = 500


@bp.get("/log")
@owner_page
def log():
    page = accesslog.read_log(owner_vault(), limit=LOG_PAGE_SIZE)
    return render_template("log.html", events=page.events, problems=page.problems)


@bp.get("/grants/log")
@owner_page
def access_log():
    page = accesslog.read_log(owner_vault(), grant_id=request.args.get("grant") or None)
    return render_template("grants/log.html", log=page,
                           action_label=lambda a: accesslog.action_label(a, current_language()))


def actor_label(actor: str, detail: dict[str, Any]) -> str:
    if actor == "owner":
        return t("alog.you")
    return detail.get("organisation") or actor.removeprefix("org:")


bp.add_app_template_global(actor_label, "actor_label")
