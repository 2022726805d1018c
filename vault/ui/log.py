"""The owner's log pages: the whole event log (``/log``, with its CSV and PDF downloads) and
the access log (``/grants/log``).

Every event is shown as a sentence (:func:`vault.grants.eventlog.describe` gives the message
key and its values; the strings are registered here in both languages). ``/log`` filters by
who, what and period, pages backwards with an opaque cursor, and downloads the filtered view
(all of it, not only the page shown) as CSV or PDF with the same sentences.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, g, render_template, request, url_for

from vault import formats
from vault.clock import to_iso
from vault.connectors import registry
from vault.grants import accesslog, eventlog
from vault.storage.vaults import Event, VaultDB
from vault.ui.common import owner_page
from vault.ui.i18n import current_language, register, t
from vault.web.auth import owner_vault
from vault.web.files import attachment_header
from vault.web.problems import Problem

bp = Blueprint("log_ui", __name__)

LOG_PAGE_SIZE = 50
#: At most this many events go into one CSV or PDF download (newest first).
EXPORT_MAX = 10_000

register({
    # -- sentences: log.event.<action>[.<variant>] ------------------------------------------
    "log.event.unknown": {"nl": "{who}: gebeurtenis „{action}”",
                          "en": "{who}: event “{action}”"},
    "log.event.grant.read": {"nl": "{org} las je {what}", "en": "{org} read your {what}"},
    "log.event.grant.download": {"nl": "{org} downloadde je document {document}",
                                 "en": "{org} downloaded your document {document}"},
    "log.event.grant.viewed": {"nl": "{org} bekeek de toestemming",
                               "en": "{org} looked at the grant"},
    "log.event.grant.viewed.receipt": {"nl": "{org} haalde het toestemmingsbewijs op",
                                       "en": "{org} fetched the consent receipt"},
    "log.event.grant.token-issued": {"nl": "{org} haalde de toegangssleutel op",
                                     "en": "{org} collected the access token"},
    "log.event.request.received": {"nl": "{org} vroeg om je gegevens",
                                   "en": "{org} asked for your data"},
    "log.event.request.denied": {"nl": "Je weigerde het verzoek van {org}",
                                 "en": "You refused the request of {org}"},
    "log.event.grant.created": {"nl": "Je gaf {org} toegang tot {what}",
                                "en": "You gave {org} access to {what}"},
    "log.event.grant.revoked": {"nl": "Je trok de toegang van {org} in",
                                "en": "You revoked the access of {org}"},
    "log.event.grant.revoked.by-organisation": {"nl": "{org} zag af van de toegang",
                                                "en": "{org} gave up its access"},
    "log.event.grant.revoked.code-replay": {
        "nl": "Kluis trok de toegang van {org} in: de code werd twee keer gebruikt",
        "en": "Kluis revoked the access of {org}: its code was used twice"},
    "log.event.grant.deletion-stated": {"nl": "{org} verklaarde je gegevens te hebben gewist",
                                        "en": "{org} stated it deleted your data"},
    "log.event.record.created": {"nl": "Je voegde {record} toe", "en": "You added {record}"},
    "log.event.record.created.by": {"nl": "{who} voegde {record} toe",
                                    "en": "{who} added {record}"},
    "log.event.record.updated": {"nl": "Je wijzigde {record}", "en": "You changed {record}"},
    "log.event.record.updated.by": {"nl": "{who} werkte {record} bij",
                                    "en": "{who} updated {record}"},
    "log.event.record.deleted": {"nl": "Je verwijderde {record}", "en": "You deleted {record}"},
    "log.event.record.deleted.by": {"nl": "{who} verwijderde {record}",
                                    "en": "{who} deleted {record}"},
    "log.event.connector.merged": {
        "nl": "{who} haalde je gegevens op: {created} nieuw, {updated} bijgewerkt",
        "en": "{who} fetched your data: {created} new, {updated} updated"},
    "log.event.export.created": {"nl": "Je maakte een gewaarmerkte export van {n} gegevens",
                                 "en": "You made a certified export of {n} records"},
    "log.event.account.created": {"nl": "Je maakte je kluis aan", "en": "You created your vault"},
    "log.event.owner.signed-in": {"nl": "Je logde in", "en": "You logged in"},
    "log.event.owner.signed-in.totp": {"nl": "Je logde in met tweestapsverificatie",
                                       "en": "You logged in with two-step verification"},
    "log.event.owner.sign-in-failed": {"nl": "Inloggen mislukt", "en": "Log-in failed"},
    "log.event.owner.sign-in-failed.password": {"nl": "Inloggen mislukt: verkeerd wachtwoord",
                                                "en": "Log-in failed: wrong password"},
    "log.event.owner.sign-in-failed.totp": {
        "nl": "Inloggen mislukt: verkeerde code uit de authenticator-app",
        "en": "Log-in failed: wrong code from the authenticator app"},
    "log.event.owner.sign-in-failed.recovery-code": {
        "nl": "Wachtwoord herstellen mislukt: verkeerde herstelcode",
        "en": "Password reset failed: wrong recovery code"},
    "log.event.owner.sign-in-locked": {
        "nl": "Inloggen geweigerd: te veel mislukte pogingen, tijdelijk geblokkeerd",
        "en": "Log-in refused: too many failed attempts, temporarily locked"},
    "log.event.password.changed": {"nl": "Je wijzigde je wachtwoord",
                                   "en": "You changed your password"},
    "log.event.password.reset": {"nl": "Je koos een nieuw wachtwoord met je herstelcode",
                                 "en": "You chose a new password with your recovery code"},
    "log.event.totp.enabled": {"nl": "Je zette tweestapsverificatie aan",
                               "en": "You turned on two-step verification"},
    "log.event.totp.reset": {"nl": "Je zette tweestapsverificatie uit met je herstelcode",
                             "en": "You turned off two-step verification with your recovery code"},
    "log.event.owner.signed-in.passkey": {"nl": "Je logde in met een passkey",
                                          "en": "You logged in with a passkey"},
    "log.event.owner.signed-in.password-passkey": {
        "nl": "Je logde in met je wachtwoord en een passkey",
        "en": "You logged in with your password and a passkey"},
    "log.event.totp.disabled": {"nl": "Je zette tweestapsverificatie uit",
                                "en": "You turned off two-step verification"},
    "log.event.passkey.added": {"nl": "Je voegde de passkey „{name}” toe",
                                "en": "You added the passkey “{name}”"},
    "log.event.passkey.unlocks": {
        "nl": "De passkey „{name}” kan je kluis nu zonder wachtwoord openen",
        "en": "The passkey “{name}” can now open your vault without a password"},
    "log.event.passkey.removed": {"nl": "Je verwijderde de passkey „{name}”",
                                  "en": "You removed the passkey “{name}”"},
    "log.event.recovery.renewed": {"nl": "Je maakte een nieuwe herstelcode; de oude werkt niet meer",
                                   "en": "You made a new recovery code; the old one no longer works"},
    "log.event.session.ended": {"nl": "Je beëindigde een sessie", "en": "You ended a session"},
    "log.event.session.ended.others": {"nl": "Je beëindigde {n} andere sessies",
                                       "en": "You ended {n} other sessions"},
    "log.event.grant.narrowed": {"nl": "Je maakte de toegang van {org} kleiner",
                                 "en": "You made {org}'s access smaller"},
    "log.event.app-token.created": {"nl": "Je maakte het app-token „{name}”",
                                    "en": "You created the app token “{name}”"},
    "log.event.app-token.revoked": {"nl": "Het app-token „{name}” is ingetrokken",
                                    "en": "The app token “{name}” was revoked"},
    "log.event.vault.archived": {"nl": "Je maakte een archief van je kluis",
                                 "en": "You made an archive of your vault"},
    "log.event.vault.imported": {"nl": "Je kluis is ingelezen uit een archief",
                                 "en": "Your vault was imported from an archive"},
    "log.event.vault.older-state-accepted": {
        "nl": "Je aanvaardde een oudere toestand van je kluis",
        "en": "You accepted an older state of your vault"},
    "log.event.access-journal.damaged": {
        "nl": "Het logboek van inzagen was beschadigd; inzagen kunnen ontbreken",
        "en": "The journal of reads was damaged; reads may be missing"},
    "log.event.inbox.unreadable": {
        "nl": "Een bericht voor je kluis kon niet worden geopend en is weggegooid",
        "en": "A message for your vault could not be opened and was dropped"},
    # -- the page -----------------------------------------------------------------------------
    "log.when": {"nl": "Wanneer", "en": "When"},
    "log.who": {"nl": "Wie", "en": "Who"},
    "log.what": {"nl": "Wat", "en": "What"},
    "log.period": {"nl": "Periode", "en": "Period"},
    "log.from": {"nl": "Vanaf", "en": "From"},
    "log.to": {"nl": "Tot en met", "en": "Up to and including"},
    "log.filter": {"nl": "Filteren", "en": "Filter"},
    "log.filter_reset": {"nl": "Alles tonen", "en": "Show everything"},
    "log.older": {"nl": "Oudere gebeurtenissen", "en": "Older events"},
    "log.newest": {"nl": "Naar de nieuwste", "en": "Back to the newest"},
    "log.empty": {"nl": "Geen gebeurtenissen gevonden.", "en": "No events found."},
    "log.csv": {"nl": "Opslaan als CSV", "en": "Download as CSV"},
    "log.pdf": {"nl": "Opslaan als PDF", "en": "Download as PDF"},
    "log.bad_date": {"nl": "Datum: gebruik het formaat 2025-03-14.",
                     "en": "Date: use the format 2025-03-14."},
    "log.pdf_title": {"nl": "Logboek van mijn kluis", "en": "Log of my vault"},
    "log.pdf_filters": {"nl": "Filter", "en": "Filter"},
    "log.pdf_count": {"nl": "{n} gebeurtenissen", "en": "{n} events"},
    "log.pdf_capped": {"nl": "Alleen de nieuwste {n} gebeurtenissen.",
                       "en": "Only the newest {n} events."},
    "log.who.owner": {"nl": "Jij", "en": "You"},
    "log.who.connectors": {"nl": "Koppelingen", "en": "Connectors"},
    "log.who.system": {"nl": "Kluis zelf", "en": "Kluis itself"},
    "log.who.unnamed": {"nl": "Organisatie zonder naam", "en": "Unnamed organisation"},
    "log.group.access": {"nl": "Inzage door organisaties", "en": "Reads by organisations"},
    "log.group.consent": {"nl": "Verzoeken en toestemmingen", "en": "Requests and grants"},
    "log.group.records": {"nl": "Gegevens", "en": "Records"},
    "log.group.security": {"nl": "Inloggen en beveiliging", "en": "Log-in and security"},
    "log.group.vault": {"nl": "De kluis zelf", "en": "The vault itself"},
    "log.group.other": {"nl": "Overig", "en": "Other"},
})


# -- periods in local days (vault.formats keeps the zone) ---------------------------------------


def _day_start(day: date) -> str:
    """The first moment of a local day, as the log's RFC 3339 text."""
    return to_iso(datetime(day.year, day.month, day.day, tzinfo=formats.timezone()))


# -- sentences --------------------------------------------------------------------------------


def _connector_titles(lang: str) -> dict[str, str]:
    return {cid: c.title.get(lang) or c.title.get("en") or cid
            for cid, c in registry.load().items()}


def sentence(event: Event, lang: str, names: eventlog.Names) -> str:
    message = eventlog.describe(event, lang, names)
    return t(message.key, lang, **message.params)


def _as_event(e: dict[str, Any] | Event) -> Event:
    if isinstance(e, Event):
        return e
    return Event(e["seq"], e["at"], e["actor"], e["action"], e.get("grant_id"),
                 e.get("detail") or {}, "", e.get("hash", ""))


def event_sentence(e: dict[str, Any] | Event) -> str:
    """Template global: an event (or :func:`accesslog.event_dict`) as its sentence; names are
    looked up once per request in the owner's open vault."""
    event = _as_event(e)
    lang = current_language()
    vault = owner_vault()
    names = g.get("log_names")
    if names is None:
        names = eventlog.names_for(vault, [event], connectors=_connector_titles(lang))
        g.log_names = names
    else:
        eventlog.names_for(vault, [event], into=names)
    return sentence(event, lang, names)


bp.add_app_template_global(event_sentence, "event_sentence")


def actor_label(actor: str, detail: dict[str, Any]) -> str:
    if actor == "owner":
        return t("alog.you")
    return detail.get("organisation") or t("log.who.unnamed")


bp.add_app_template_global(actor_label, "actor_label")


def who_label(event: Event, names: eventlog.Names, lang: str) -> str:
    if event.actor == "owner":
        return t("log.who.owner", lang)
    if event.actor.startswith("connector:"):
        return eventlog.actor_name(event, names, lang)
    if event.actor.startswith("org:"):
        return eventlog.organisation(event, names, lang)
    return t("log.who.system", lang)


# -- filters ----------------------------------------------------------------------------------


def _date_arg(name: str, errors: list[str]) -> date | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(name)
        return None


def _filters(organisations: dict[str, str]) -> tuple[eventlog.Filters, dict[str, Any]]:
    """The filters the query string asks for (unknown values are ignored) and what the form
    shows back."""
    errors: list[str] = []
    known_who = set(eventlog.WHO) | {f"org:{c}" for c in organisations}
    who = tuple(w for w in request.args.getlist("who") if w in known_who)
    groups = tuple(g_ for g_ in request.args.getlist("what") if g_ in eventlog.GROUPS)
    start, end = _date_arg("from", errors), _date_arg("to", errors)
    filters = eventlog.Filters(
        who=who, groups=groups,
        since=_day_start(start) if start else None,
        until=_day_start(end + timedelta(days=1)) if end else None)
    shown = {"who": who, "what": groups, "from": start.isoformat() if start else "",
             "to": end.isoformat() if end else "", "errors": errors}
    return filters, shown


def _filter_query() -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.args.items(multi=True) if k != "cursor"]


def _who_choices(organisations: dict[str, str]) -> list[tuple[str, str]]:
    orgs = sorted(((f"org:{cid}", name or t("log.who.unnamed"))
                   for cid, name in organisations.items()), key=lambda c: c[1].lower())
    return [("owner", t("log.who.owner")), *orgs, ("connectors", t("log.who.connectors")),
            ("system", t("log.who.system"))]


def _before() -> int | None:
    from vault.api.spec import decode_cursor

    raw = request.args.get("cursor")
    if not raw:
        return None
    try:
        return int(decode_cursor(raw, int)[0])
    except Problem:
        return None  # not a cursor of this page: start at the newest


def _rows(vault: VaultDB, events: list[Event], lang: str) -> list[dict[str, Any]]:
    names = eventlog.names_for(vault, events, connectors=_connector_titles(lang))
    return [{"seq": e.seq, "at": e.at, "when": formats.moment(e.at, lang, zone=True) or e.at,
             "action": e.action,
             "group": eventlog.group_of(e.action), "who": who_label(e, names, lang),
             "text": sentence(e, lang, names)} for e in events]


@bp.get("/log")
@owner_page
def log():
    from vault.api.spec import encode_cursor

    lang = current_language()
    vault = owner_vault()
    organisations = eventlog.organisations(vault)
    filters, shown = _filters(organisations)
    events, next_before = eventlog.find(vault, filters, limit=LOG_PAGE_SIZE, before=_before())
    query = _filter_query()
    next_url = (url_for("log_ui.log", **_multi(query + [("cursor", encode_cursor(next_before))]))
                if next_before is not None else None)
    return render_template(
        "log.html", rows=_rows(vault, events, lang), problems=vault.verify_log(),
        shown=shown, who_choices=_who_choices(organisations),
        groups=[(g_, t(f"log.group.{g_}")) for g_ in eventlog.GROUPS],
        next_url=next_url, paged=bool(request.args.get("cursor")),
        first_url=url_for("log_ui.log", **_multi(query)),
        csv_url=url_for("log_ui.log_csv", **_multi(query)),
        pdf_url=url_for("log_ui.log_pdf", **_multi(query)))


def _multi(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, list[str]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def _all_rows(lang: str) -> tuple[list[dict[str, Any]], dict[str, Any], bool]:
    vault = owner_vault()
    filters, shown = _filters(eventlog.organisations(vault))
    events, more = eventlog.find(vault, filters, limit=EXPORT_MAX)
    return _rows(vault, events, lang), shown, more is not None


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@bp.get("/log.csv")
@owner_page
def log_csv():
    lang = current_language()
    rows, _shown, _capped = _all_rows(lang)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([t("log.when", lang), t("log.who", lang), t("log.what", lang), "type",
                     "at (UTC)", "seq"])
    for row in rows:
        writer.writerow([row["when"], _cell(row["who"]), _cell(row["text"]), row["action"],
                         row["at"], row["seq"]])
    resp = Response(out.getvalue().encode("utf-8"), mimetype="text/csv")
    resp.headers["Content-Type"] = "text/csv; charset=utf-8"
    resp.headers["Content-Disposition"] = attachment_header("kluis-log.csv")
    return resp


@bp.get("/log.pdf")
@owner_page
def log_pdf():
    from vault.portability.pdf import FONT, new_document

    lang = current_language()
    rows, shown, capped = _all_rows(lang)
    title = t("log.pdf_title", lang)
    pdf = new_document(lang, title=title, footer=title)
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 9, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    described = _describe_filters(shown, lang)
    if described:
        pdf.multi_cell(0, 5, f"{t('log.pdf_filters', lang)}: {described}",
                       new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 5, t("log.pdf_count", lang, n=len(rows))
                   + (" " + t("log.pdf_capped", lang, n=EXPORT_MAX) if capped else ""),
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    for row in rows:
        pdf.set_font(FONT, "B", 8)
        pdf.multi_cell(0, 4.5, f"{row['when']} · {row['who']}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", 10)
        pdf.multi_cell(0, 5.5, row["text"], new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)
    resp = Response(bytes(pdf.output()), mimetype="application/pdf")
    resp.headers["Content-Disposition"] = attachment_header("kluis-log.pdf")
    return resp


def _describe_filters(shown: dict[str, Any], lang: str) -> str:
    organisations = eventlog.organisations(owner_vault())
    labels = dict(_who_choices(organisations))
    parts = []
    if shown["who"]:
        parts.append(f"{t('log.who', lang)}: " + ", ".join(labels.get(w, w) for w in shown["who"]))
    if shown["what"]:
        parts.append(f"{t('log.what', lang)}: "
                     + ", ".join(t(f"log.group.{g_}", lang) for g_ in shown["what"]))
    if shown["from"] or shown["to"]:
        parts.append(f"{t('log.period', lang)}: {shown['from'] or '…'} – {shown['to'] or '…'}")
    return "; ".join(parts)


@bp.get("/grants/log")
@owner_page
def access_log():
    page = accesslog.read_log(owner_vault(), grant_id=request.args.get("grant") or None)
    return render_template("grants/log.html", log=page,
                           action_label=lambda a: accesslog.action_label(a, current_language()))
