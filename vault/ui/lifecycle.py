"""Owner pages for the lifecycle: deletion statements on the grant page, notifications."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from vault import formats
from vault.grants import deletion, notifications
from vault.grants.errors import GrantError
from vault.ui import i18n
from vault.ui.common import owner_page
from vault.ui.grants import not_found
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
    return not_found()


i18n.register({
    "nav.notifications": {"nl": "Meldingen", "en": "Notifications"},
    "notifications.title": {"nl": "Meldingen", "en": "Notifications"},
    "notifications.none": {"nl": "Geen meldingen.", "en": "No notifications."},
    "notifications.times": {"nl": "{count} keer", "en": "{count} times"},
    "notifications.settings_link": {"nl": "Meldingen per e-mail instellen",
                                    "en": "Set up notifications by e-mail"},
    "mail.title": {"nl": "Meldingen per e-mail", "en": "Notifications by e-mail"},
    "mail.intro": {
        "nl": "Kies welke meldingen je ook per e-mail wilt krijgen. Een mail zegt alleen wie "
              "wat deed (\"Woonstichting De Kern las je inkomen\"), nooit je gegevens zelf. "
              "Je e-mailadres blijft in je kluis.",
        "en": "Choose which notifications you also want by e-mail. A mail only says who did "
              "what (\"Woonstichting De Kern read your income\"), never your data itself. "
              "Your e-mail address stays inside your vault."},
    "mail.address": {"nl": "E-mailadres", "en": "E-mail address"},
    "mail.address_hint": {"nl": "Leeg laten: geen e-mail.", "en": "Leave empty: no e-mail."},
    "mail.confirmed": {"nl": "Bevestigd: {email}", "en": "Confirmed: {email}"},
    "mail.none": {"nl": "Nog geen bevestigd e-mailadres.", "en": "No confirmed e-mail address yet."},
    "mail.pending": {
        "nl": "We hebben een bevestigingscode gestuurd naar {email}. Vul hem hieronder in; "
              "tot dan gaat er geen mail naar dat adres.",
        "en": "We sent a confirmation code to {email}. Enter it below; until then no mail "
              "goes to that address."},
    "mail.kinds": {"nl": "Stuur me een e-mail bij", "en": "Send me an e-mail for"},
    "mail.save": {"nl": "Opslaan", "en": "Save"},
    "mail.saved": {"nl": "Opgeslagen.", "en": "Saved."},
    "mail.code": {"nl": "Bevestigingscode", "en": "Confirmation code"},
    "mail.confirm": {"nl": "Bevestigen", "en": "Confirm"},
    "mail.confirmed_now": {"nl": "Je e-mailadres is bevestigd.",
                           "en": "Your e-mail address is confirmed."},
    "mail.wrong_code": {"nl": "Die bevestigingscode klopt niet.",
                        "en": "That confirmation code is not right."},
    "mail.bad_address": {"nl": "Dat is geen geldig e-mailadres.",
                         "en": "That is not a valid e-mail address."},
    "mail.no_smtp": {
        "nl": "Deze kluis verstuurt geen e-mail: de beheerder heeft geen mailserver ingesteld.",
        "en": "This vault sends no e-mail: the operator has not set up a mail server."},
    "mail.kind.request.waiting": {"nl": "een nieuw verzoek om je gegevens",
                                  "en": "a new request for your data"},
    "mail.kind.grant.read": {
        "nl": "elke keer dat een organisatie je gegevens leest of downloadt (hooguit één mail "
              "per toestemming per dag)",
        "en": "an organisation reading or downloading your data (at most one mail per grant "
              "per day)"},
    "mail.kind.grant.expiring": {"nl": "een toestemming die binnen 7 dagen afloopt",
                                 "en": "a grant ending within 7 days"},
    "mail.kind.connector.attention": {"nl": "een koppeling die je aandacht vraagt",
                                      "en": "a connection that needs your attention"},
    "mail.kind.deletion.received": {"nl": "een verklaring dat je gegevens zijn verwijderd",
                                    "en": "a statement that your data was deleted"},
    "mail.kind.deletion.overdue": {
        "nl": "een organisatie die niet op tijd verklaart je gegevens te hebben verwijderd",
        "en": "an organisation that did not declare in time that it deleted your data"},
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


@bp.route("/notifications/settings", methods=["GET", "POST"])
@owner_page
def mail_settings():
    """The owner's notification e-mail: the address (double opt-in) and the kinds to mail."""
    vault = owner_vault()
    if request.method == "POST":
        form = request.form
        try:
            if form.get("action") == "confirm":
                notifications.confirm(vault, form.get("code", "").strip())
                flash(t("mail.confirmed_now"), "info")
            else:
                email = form.get("email", "").strip() or None
                notifications.set_mail(vault, email=email, mail_kinds=[
                    k for k in form.getlist("kind") if k in notifications.KINDS])
                flash(t("mail.saved"), "info")
        except GrantError as exc:
            message = t("mail.wrong_code") if "code" in (exc.errors or {}) \
                else t("mail.bad_address")
            return render_template("lifecycle/mail_settings.html", error=message,
                                   **_mail_page(vault)), 422
        return redirect(url_for(".mail_settings"))
    return render_template("lifecycle/mail_settings.html", **_mail_page(vault))


def _mail_page(vault: Any) -> dict[str, Any]:
    prefs = notifications.settings_of(vault)
    return {"prefs": prefs, "kinds": [(k, t(f"mail.kind.{k}"), k in prefs["mail_kinds"])
                                      for k in notifications.KINDS],
            "smtp": bool(services().settings.smtp_url)}
