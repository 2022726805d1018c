"""What every owner page shares: template globals and filters, navigation, CSRF, ``owner_page``.

Also the two pages that belong to no feature: ``/`` and the language switch.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as WerkzeugResponse

from vault import formats
from vault.records.catalogue import RECORD_TYPES
from vault.ui import messages  # noqa: F401 - registers the catalogue of error messages
from vault.ui.i18n import COOKIE, COOKIE_MAX_AGE, LANGUAGES, current_language, register, t, translate
from vault.web.auth import authenticate_owner, csrf_ok, csrf_token, services

bp = Blueprint("ui", __name__)

UNPROTECTED_PREFIXES = ("/api/", "/oauth/", "/.well-known/", "/static/")

register({
    "nav.skip": {"nl": "Ga direct naar de inhoud", "en": "Skip to content"},
    "nav.menu": {"nl": "Menu", "en": "Menu"},
    "nav.label": {"nl": "Hoofdmenu", "en": "Main menu"},
    "table.type": {"nl": "Soort", "en": "Type"},
    "table.record": {"nl": "Gegevens", "en": "Record"},
    "table.details": {"nl": "Details", "en": "Details"},
    "table.action": {"nl": "Actie", "en": "Action"},
    "error.not_found": {"nl": "Deze pagina bestaat niet (meer).",
                        "en": "This page does not exist (any more)."},
    "error.forbidden": {"nl": "Je mag deze pagina niet bekijken.",
                        "en": "You may not see this page."},
    # Every other HTTP error a page can meet (werkzeug's own pages are English only).
    "error.http_400": {"nl": "Dit verzoek klopt niet. Probeer het opnieuw vanaf de pagina.",
                       "en": "This request is not valid. Try again from the page."},
    "error.http_401": {"nl": "Log eerst in.", "en": "Log in first."},
    "error.http_405": {"nl": "Dit adres werkt niet op deze manier. Ga terug en gebruik de knop "
                             "op de pagina.",
                       "en": "This address does not work this way. Go back and use the button "
                             "on the page."},
    "error.http_409": {"nl": "Dit botst met iets dat er al is.",
                       "en": "This conflicts with something that is there already."},
    "error.http_410": {"nl": "Dit is er niet meer.", "en": "This is gone."},
    "error.http_413": {"nl": "Wat je stuurde is te groot.", "en": "What you sent is too large."},
    "error.http_415": {"nl": "Dit soort bestand of invoer past hier niet.",
                       "en": "This kind of file or input does not fit here."},
    "error.http_429": {"nl": "Te veel pogingen achter elkaar. Wacht even en probeer het opnieuw.",
                       "en": "Too many attempts in a row. Wait a moment and try again."},
    "error.http_other": {"nl": "Dat lukte niet. Probeer het later opnieuw.",
                         "en": "That did not work. Please try again later."},
    # Storage errors a page can meet (vault.storage.errors), said without technical words.
    "error.storage-error": {"nl": "Je kluis is nu niet bereikbaar. Probeer het over een paar "
                                  "minuten opnieuw; er is niets veranderd.",
                            "en": "Your vault cannot be reached right now. Try again in a few "
                                  "minutes; nothing was changed."},
    "error.database-unavailable": {"nl": "Je kluis is even niet bereikbaar. Probeer het over "
                                         "een paar seconden opnieuw; er is niets veranderd.",
                                   "en": "Your vault cannot be reached for a moment. Try again "
                                         "in a few seconds; nothing was changed."},
    "error.vault-damaged": {"nl": "Je kluis opent niet: de opgeslagen gegevens zijn beschadigd. "
                                  "Er is niets veranderd. Vraag de beheerder van deze server "
                                  "de kluis uit een back-up terug te zetten.",
                            "en": "Your vault does not open: its stored data is damaged. "
                                  "Nothing was changed. Ask the operator of this server to "
                                  "restore the vault from a backup."},
    "error.vault-rolled-back": {"nl": "Je kluis is teruggezet naar een oudere stand: wat je "
                                      "daarna hebt vastgelegd kan ontbreken. Er is niets "
                                      "geopend of veranderd. Vraag de beheerder wat er is "
                                      "gebeurd; als de oudere stand bewust is teruggezet, kun "
                                      "je hem samen met de beheerder accepteren.",
                                "en": "Your vault was put back to an older state: what you "
                                      "recorded since may be missing. Nothing was opened or "
                                      "changed. Ask the operator what happened; if the older "
                                      "state was restored on purpose, you can accept it "
                                      "together with the operator."},
    "error.access-log-unavailable": {"nl": "Dit kan nu niet: de toegang kan niet in je logboek "
                                           "worden vastgelegd. Probeer het later opnieuw.",
                                     "en": "This cannot be done now: the access cannot be "
                                           "written to your log. Please try again later."},
    "error.server": {"nl": "Er ging iets mis aan onze kant. Probeer het later opnieuw; je "
                           "gegevens zijn niet veranderd.",
                     "en": "Something went wrong on our side. Please try again later; your "
                           "data did not change."},
})


@bp.app_context_processor
def template_globals() -> dict[str, Any]:
    owner = authenticate_owner()
    return {
        "t": t,
        "tr": translate,
        "lang": current_language(),
        "other_lang": "en" if current_language() == "nl" else "nl",
        "csrf_token": csrf_token,
        "owner": owner,
        "username": services().instance.username(owner.vault_id) if owner else None,
        "nav_links": _nav_links() if owner else [],
    }


@bp.app_template_filter("type_label")
def type_label_filter(type_id: str) -> str:
    """A record type id as the owner reads it ("income" -> "Inkomen")."""
    record_type = RECORD_TYPES.get(type_id)
    return record_type.label(current_language()) if record_type else type_id


@bp.app_template_filter("field_labels")
def field_labels_filter(names, type_id: str) -> str:
    """Field names of a type as labels, comma-separated ("Jaar, Bruto bedrag")."""
    record_type = RECORD_TYPES.get(type_id)
    if record_type is None:
        return ", ".join(names)
    known = record_type.fields()
    lang = current_language()
    return ", ".join(record_type.field_label(n, lang) if n in known else n for n in names)


# Moments, days and amounts through Babel (vault/formats.py), in the instance's time zone.


@bp.app_template_filter("datetime")
def datetime_filter(iso: str | None, zone: bool = False) -> str:
    """``15 januari 2026 09:09`` (``zone=True``: ``... 09:09 CET``)."""
    return formats.moment(iso, current_language(), zone=zone)


@bp.app_template_filter("date")
def date_filter(iso: str | None) -> str:
    """``14 maart 1992`` / ``14 March 1992``."""
    return formats.day(iso, current_language())


@bp.app_template_filter("time")
def time_filter(iso: str | None) -> str:
    """``09:09`` in the instance's time zone."""
    return formats.time_of_day(iso, current_language())


@bp.app_template_filter("money")
def money_filter(cents: int | None) -> str:
    """``EUR 48.250,00`` / ``EUR 48,250.00``."""
    return formats.money(cents, current_language())


#: Feature blueprints add ``(endpoint, message key)`` pairs to show in the navigation.
NAV_LINKS: list[tuple[str, str]] = [
    ("records_ui.dashboard", "nav.dashboard"),
    ("log_ui.log", "nav.log"),
    ("accounts_ui.tokens", "nav.tokens"),
    ("accounts_ui.security", "nav.security"),
]


def _nav_links() -> list[tuple[str, str]]:
    return [(url_for(endpoint), t(key)) for endpoint, key in NAV_LINKS]


@bp.before_app_request
def check_csrf() -> WerkzeugResponse | None:
    """Every form POST outside the JSON APIs carries the session's CSRF token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if request.path.startswith(UNPROTECTED_PREFIXES):
        return None
    if not csrf_ok(request.form.get("csrf_token")):
        flash(t("csrf.failed"), "error")
        return redirect(request.referrer if _same_origin(request.referrer) else url_for("ui.index"))
    return None


def _same_origin(url: str | None) -> bool:
    return url is not None and url.startswith(request.host_url)


_LOCAL_PATH = re.compile(r"/[!-~]*")
"""A path on this site in printable ASCII: no space, no CR/LF or other control characters."""


def safe_next(target: str | None) -> str | None:
    """A local path to return to after login, or None (no open redirects, no header
    injection): printable ASCII starting with one ``/``, without ``//`` or a backslash."""
    if not target or not _LOCAL_PATH.fullmatch(target) or "//" in target or "\\" in target:
        return None
    return target


def owner_page(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if authenticate_owner() is None:
            partial = authenticate_owner(allow_partial=True)
            back = request.full_path.rstrip("?") if request.method == "GET" else None
            if partial is not None and partial.stage == "totp":
                return redirect(url_for("accounts_ui.login_totp", next=back))
            return redirect(url_for("accounts_ui.login", next=back))
        if g.owner.via != "session":
            abort(403)
        return view(*args, **kwargs)

    return wrapper


# -- language -------------------------------------------------------------------------------


@bp.post("/lang")
def set_language():
    lang = request.form.get("lang", "")
    target = safe_next(request.form.get("next")) or url_for("ui.index")
    response = redirect(target)
    if lang in LANGUAGES:
        # The session keeps it while signed in; the cookie past logout and browser restarts.
        session["lang"] = lang
        response.set_cookie(COOKIE, lang, max_age=COOKIE_MAX_AGE, httponly=True,
                            samesite="Lax", secure=services().settings.https)
    return response


# -- the start page -------------------------------------------------------------------------


@bp.get("/")
def index():
    """The dashboard for an owner; for a visitor, what Kluis is, with sign-up and log-in."""
    if authenticate_owner() is not None:
        return redirect(url_for("records_ui.dashboard"))
    return render_template("start.html")

