"""Owner pages for the lifecycle: deletion statements on the grant page, notifications."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template

from vault import formats
from vault.grants import deletion, notifications
from vault.grants.errors import GrantError
from vault.ui import i18n
from vault.ui.common import owner_page
from vault.ui.i18n import current_language, t
from vault.web.auth import owner_vault, services

bp = Blueprint("lifecycle_ui", __name__)

i18n.register({
    "deletion.title": {"nl": "Verwijderd?", "en": "Deleted?"},
    "deletion.stated": {"nl": "{org} verklaarde op {date} je gegevens te hebben verwijderd",
                        "en": "{org} declared on {date} that it deleted your data"},
    "deletion.download": {"nl": "Ondertekende verklaring downloaden",
                          "en": "Download the signed statement"},
    "deletion.overdue": {
        "nl": "{org} mocht je gegevens bewaren tot {date}. Die termijn is voorbij en er is geen "
              "verklaring gekomen dat ze verwijderd zijn.",
        "en": "{org} could keep your data until {date}. That time has passed and no statement "
              "came that it was deleted."},
    "deletion.waiting": {
        "nl": "{org} mag je gegevens bewaren tot {date} en moet daarna verklaren dat ze "
              "verwijderd zijn.",
        "en": "{org} may keep your data until {date} and must then declare it deleted."},
})


def long_date(iso: str, lang: str | None = None) -> str:
    """``3 januari 2027`` (nl) or ``3 January 2027`` (en)."""
    return formats.day(iso, lang or current_language())


@bp.app_template_global("deletion_state")
def deletion_state(grant: Any) -> dict[str, Any]:
    """For the grant page: the statements received, and whether the retention passed."""
    return services().grants.deletion_state(owner_vault(), grant)


@bp.app_template_filter("long_date")
def long_date_filter(iso: str | None) -> str:
    return long_date(iso) if iso else ""


@bp.get("/grants/<grant_id>/deletion/<statement_id>.jws")
@owner_page
def download_statement(grant_id: str, statement_id: str):
    vault = owner_vault()
    for statement in deletion.statements(vault.conn, grant_id):
        if statement.id == statement_id:
            resp = Response(statement.jws + "\n", mimetype="application/jose")
            resp.headers["Content-Disposition"] = (
                f'attachment; filename="deletion-{grant_id}-{statement_id[:8]}.jws"')
            return resp
    try:
        services().grants.get_grant(vault, grant_id)
    except GrantError:
        pass
    return render_template("grants/error.html", message=t("grants.none")), 404


i18n.register({
    "nav.notifications": {"nl": "Meldingen", "en": "Notifications"},
    "notifications.title": {"nl": "Meldingen", "en": "Notifications"},
    "notifications.none": {"nl": "Geen meldingen.", "en": "No notifications."},
    "notifications.times": {"nl": "{count} keer", "en": "{count} times"},
})


@bp.app_template_global("unread_notifications")
def unread_notifications() -> int:
    try:
        return notifications.unread(owner_vault().conn)
    except Exception:  # noqa: BLE001 - the menu must render even when the vault is not open
        return 0


@bp.get("/notifications")
@owner_page
def notifications_page():
    vault = owner_vault()
    items = notifications.listing(vault.conn, lang=current_language())
    response = render_template("lifecycle/notifications.html", items=items)
    notifications.mark_read(vault)
    return response
