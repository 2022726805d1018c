"""The portal's strings, Dutch first and English. ``t(key)`` answers in the request's language
(the ``lang`` cookie, else the browser's Accept-Language, else Dutch).

The portal's own modules (staff, dossiers, templates, the OAuth client) raise their messages
in Dutch; :data:`MESSAGES` gives each its English text, and :func:`translate` turns a raised
message into the reader's language (a message may join several sentences). Password rules
come from ``vault.accounts.passwords`` in English: those go through the owner UI's catalogue
(:mod:`vault.ui.messages`), so both apps say them the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable

TEXT: dict[str, dict[str, str]] = {
    "portal": {"nl": "Portaal", "en": "Portal"},
    "login": {"nl": "Inloggen", "en": "Sign in"},
    "logout": {"nl": "Uitloggen", "en": "Sign out"},
    "username": {"nl": "Gebruikersnaam", "en": "Username"},
    "display_name": {"nl": "Naam", "en": "Name"},
    "password": {"nl": "Wachtwoord", "en": "Password"},
    "totp": {"nl": "Code uit je authenticator-app", "en": "Code from your authenticator app"},
    "next": {"nl": "Verder", "en": "Continue"},
    "dossiers": {"nl": "Dossiers", "en": "Dossiers"},
    "new_request": {"nl": "Nieuw verzoek", "en": "New request"},
    "templates": {"nl": "Sjablonen", "en": "Templates"},
    "staff": {"nl": "Medewerkers", "en": "Staff"},
    "audit": {"nl": "Inzagelog", "en": "Audit log"},
    "retention": {"nl": "Bewaren en verwijderen", "en": "Retention and deletion"},
    "applicant": {"nl": "Aanvrager", "en": "Applicant"},
    "reference": {"nl": "Kenmerk", "en": "Reference"},
    "email_optional": {"nl": "E-mailadres (niet verplicht)", "en": "E-mail (optional)"},
    "template": {"nl": "Sjabloon", "en": "Template"},
    "create": {"nl": "Aanmaken", "en": "Create"},
    "save": {"nl": "Opslaan", "en": "Save"},
    "status": {"nl": "Status", "en": "Status"},
    "created": {"nl": "Aangemaakt", "en": "Created"},
    "letter": {"nl": "Brief (PDF)", "en": "Letter (PDF)"},
    "short_link": {"nl": "Link voor de aanvrager", "en": "Link for the applicant"},
    "status_new": {"nl": "nog niet geopend", "en": "not opened yet"},
    "status_waiting": {"nl": "wacht op toestemming", "en": "waiting for consent"},
    "status_approved": {"nl": "ontvangen", "en": "received"},
    "status_refused": {"nl": "geweigerd", "en": "refused"},
    "status_expired": {"nl": "verlopen", "en": "expired"},
    "status_revoked": {"nl": "ingetrokken", "en": "revoked"},
    "records": {"nl": "Ontvangen gegevens", "en": "Received records"},
    "documents": {"nl": "Documenten", "en": "Documents"},
    "download": {"nl": "Downloaden", "en": "Download"},
    "provenance": {"nl": "Herkomst", "en": "Provenance"},
    "source": {"nl": "Bron", "en": "Source"},
    "fetched_at": {"nl": "Opgehaald op", "en": "Fetched at"},
    "evidence": {"nl": "Bewijs", "en": "Evidence"},
    "signed_by_source": {"nl": "ondertekend door de bron", "en": "signed by the source"},
    "not_signed": {"nl": "niet ondertekend door de bron", "en": "not signed by the source"},
    "receipt": {"nl": "Toestemmingsbewijs", "en": "Consent receipt"},
    "receipt_ok": {"nl": "handtekening gecontroleerd", "en": "signature verified"},
    "receipt_bad": {"nl": "handtekening NIET gecontroleerd", "en": "signature NOT verified"},
    "access_until": {"nl": "Inzage tot", "en": "Access until"},
    "kept_until": {"nl": "Bewaard tot", "en": "Kept until"},
    "deleted_on": {"nl": "Gegevens verwijderd op", "en": "Data deleted on"},
    "statement": {"nl": "Verwijderverklaring", "en": "Deletion statement"},
    "statement_sent": {"nl": "verstuurd naar de Kluis van de aanvrager",
                       "en": "sent to the applicant's vault"},
    "statement_pending": {"nl": "nog niet afgeleverd; wordt opnieuw geprobeerd",
                          "en": "not delivered yet; retried"},
    "nothing_yet": {"nl": "Nog niets ontvangen.", "en": "Nothing received yet."},
    "invite": {"nl": "Uitnodigen", "en": "Invite"},
    "role": {"nl": "Rol", "en": "Role"},
    "role_admin": {"nl": "beheerder", "en": "administrator"},
    "role_caseworker": {"nl": "behandelaar", "en": "caseworker"},
    "invite_link": {"nl": "Uitnodigingslink (eenmalig, 7 dagen geldig)",
                    "en": "Invitation link (one use, valid 7 days)"},
    "welcome": {"nl": "Welkom bij het portaal", "en": "Welcome to the portal"},
    "totp_setup": {"nl": "Voeg deze sleutel toe aan je authenticator-app en vul de code in.",
                   "en": "Add this key to your authenticator app and enter the code."},
    "export_csv": {"nl": "Exporteren (CSV)", "en": "Export (CSV)"},
    "when": {"nl": "Wanneer", "en": "When"},
    "who": {"nl": "Wie", "en": "Who"},
    "what": {"nl": "Wat", "en": "What"},
    "purpose": {"nl": "Doel", "en": "Purpose"},
    "purpose_text": {"nl": "Uitleg voor de aanvrager", "en": "Explanation for the applicant"},
    "duration_days": {"nl": "Inzage (dagen)", "en": "Access (days)"},
    "retention_days": {"nl": "Bewaren (dagen)", "en": "Retention (days)"},
    "refresh": {"nl": "Opnieuw lezen zolang de toegang loopt (hoogstens eens per dag)",
                "en": "Read again while access lasts (at most once a day)"},
    "ask_refresh": {"nl": "Zolang de toegang loopt, leest {org} je gegevens hoogstens eens per "
                          "dag opnieuw, zodat een wijziging meekomt.",
                    "en": "While access lasts, {org} reads your data again at most once a day, "
                          "so a change comes along."},
    "refreshed_at": {"nl": "Laatst opnieuw gelezen", "en": "Last read again"},
    "delete_on_revoke": {"nl": "Verwijderen zodra de aanvrager de toestemming intrekt",
                         "en": "Delete as soon as the applicant revokes consent"},
    "asks": {"nl": "Vraagt", "en": "Asks"},
    "years": {"nl": "laatste jaren", "en": "last years"},
    "categories": {"nl": "soorten document", "en": "document kinds"},
    "with_evidence": {"nl": "met bewijsstukken", "en": "with evidence"},
    "name": {"nl": "Naam", "en": "Name"},
    "edit": {"nl": "Wijzigen", "en": "Edit"},
    "deactivate": {"nl": "Uitzetten", "en": "Turn off"},
    "active": {"nl": "actief", "en": "active"},
    "inactive": {"nl": "uit", "en": "off"},
    "reactivate": {"nl": "Weer aanzetten", "en": "Turn on again"},
    "reset_totp": {"nl": "Authenticator opnieuw instellen", "en": "Reset authenticator"},
    "must_enrol": {"nl": "stelt authenticator opnieuw in bij het inloggen",
                   "en": "sets up the authenticator again at sign-in"},
    "not_yourself": {"nl": "Dat kun je niet bij je eigen account doen.",
                     "en": "You cannot do that to your own account."},
    "locked_out": {"nl": "Te veel mislukte pogingen. Probeer het over {minutes} minuten opnieuw.",
                   "en": "Too many failed attempts. Try again in {minutes} minutes."},
    "enrol_title": {"nl": "Authenticator opnieuw instellen", "en": "Set up your authenticator again"},
    "enrol_intro": {"nl": "Een beheerder heeft je authenticator-app losgekoppeld. Voeg het portaal "
                          "opnieuw toe aan je app en vul de code in.",
                    "en": "An administrator reset your authenticator app. Add the portal to your "
                          "app again and enter the code."},
    "will_delete": {"nl": "Wordt verwijderd op", "en": "Deleted on"},
    "overdue": {"nl": "te laat: wordt bij de volgende ronde verwijderd",
                "en": "overdue: deleted on the next sweep"},
    "ask_title": {"nl": "{org} vraagt je om gegevens", "en": "{org} asks you for data"},
    "ask_why": {"nl": "Waarvoor", "en": "What for"},
    "ask_how_long": {"nl": "{org} kan je gegevens {days} dagen inzien en bewaart ze hoogstens "
                             "{kept} dagen.",
                     "en": "{org} can see your data for {days} days and keeps it at most "
                           "{kept} days."},
    "where_vault": {"nl": "Waar staat je Kluis?", "en": "Where is your Kluis?"},
    "other_vault": {"nl": "Andere Kluis (adres)", "en": "Another Kluis (address)"},
    "to_vault": {"nl": "Naar mijn Kluis", "en": "To my Kluis"},
    "going": {"nl": "Je gaat nu naar je Kluis.", "en": "You are going to your Kluis now."},
    "going_link": {"nl": "Gaat het niet vanzelf? Klik hier.", "en": "Not moving? Click here."},
    "thanks": {"nl": "Bedankt. {org} heeft je gegevens ontvangen.",
               "en": "Thank you. {org} received your data."},
    "refused_thanks": {"nl": "Je hebt het verzoek geweigerd. Er is niets gedeeld.",
                       "en": "You refused the request. Nothing was shared."},
    "done_already": {"nl": "Dit verzoek is al afgehandeld.",
                     "en": "This request has been dealt with."},
    "you_choose": {"nl": "In je eigen Kluis kies je zelf wat je deelt. Je kunt de toegang altijd "
                         "weer intrekken.",
                   "en": "In your own Kluis you choose what to share. You can always take the "
                         "access back."},
    "error": {"nl": "Dat ging niet goed", "en": "That did not work"},
    "back": {"nl": "Terug", "en": "Back"},
    "csrf": {"nl": "Het formulier is verlopen; probeer het opnieuw.",
             "en": "The form expired; please try again."},
    "skip": {"nl": "Ga direct naar de inhoud", "en": "Skip to the content"},
    "menu": {"nl": "Hoofdmenu", "en": "Main menu"},
    "languages": {"nl": "Taal", "en": "Language"},
    "actions": {"nl": "Acties", "en": "Actions"},
    "source_manual": {"nl": "door de aanvrager zelf ingevoerd", "en": "entered by the applicant"},
    "source_upload": {"nl": "door de aanvrager geüpload", "en": "uploaded by the applicant"},
    "source_finance": {"nl": "afgeleid uit de banktransacties van de aanvrager",
                       "en": "derived from the applicant's bank transactions"},
    "admins_only": {"nl": "Alleen voor beheerders.", "en": "For administrators only."},
    "refreshing": {"nl": "Deze pagina ververst zichzelf elke 5 seconden zolang het verzoek loopt.",
                   "en": "This page refreshes itself every 5 seconds while the request runs."},
    "http_400": {"nl": "Dit verzoek klopt niet.", "en": "This request is not valid."},
    "http_403": {"nl": "Dit mag je niet bekijken.", "en": "You may not see this."},
    "http_404": {"nl": "Deze pagina bestaat niet.", "en": "This page does not exist."},
    "http_405": {"nl": "Dit adres werkt niet op deze manier.",
                 "en": "This address does not work this way."},
    "http_410": {"nl": "Dit is verwijderd.", "en": "This has been deleted."},
    "http_413": {"nl": "Wat je stuurde is te groot.", "en": "What you sent is too large."},
    "http_429": {"nl": "Te veel verzoeken; wacht even en probeer het opnieuw.",
                 "en": "Too many requests; wait a moment and try again."},
    "http_other": {"nl": "Dat ging niet goed.", "en": "That did not work."},
    "http_500": {"nl": "Er ging iets mis aan onze kant. Probeer het later opnieuw.",
                 "en": "Something went wrong on our side. Please try again later."},
}

#: Every message the portal's modules raise (Dutch, ``{name}`` for a part that varies) and its
#: English text.
MESSAGES: dict[str, str] = {
    # vault.portal.staff
    "Deze uitnodiging is ongeldig, al gebruikt of verlopen.":
        "This invitation is not valid, already used or expired.",
    "Een gebruikersnaam heeft 3 tot 64 letters, cijfers of . _ - @.":
        "A username has 3 to 64 letters, digits or . _ - @.",
    "De code uit je authenticator-app klopt niet.": "The code from your authenticator app is wrong.",
    "Deze uitnodiging is al gebruikt.": "This invitation has been used already.",
    "Deze gebruikersnaam bestaat al.": "This username exists already.",
    "Onbekende medewerker.": "Unknown staff member.",
    "Gebruikersnaam of wachtwoord klopt niet.": "Username or password is wrong.",
    "Stel eerst je authenticator-app opnieuw in.": "Set up your authenticator app again first.",
    "De code klopt niet of is verlopen.": "The code is wrong or expired.",
    "Deze code is al gebruikt; wacht op de volgende.":
        "This code has been used already; wait for the next one.",
    "Er is geen authenticator in te stellen.": "There is no authenticator to set up.",
    "Kies een rol: {roles}.": "Choose a role: {roles}.",
    # vault.portal.dossiers
    "Kies een sjabloon.": "Choose a template.",
    "Vul de naam van de aanvrager in.": "Fill in the applicant's name.",
    "Vul uw kenmerk in.": "Fill in your reference.",
    "Dit e-mailadres klopt niet.": "This e-mail address is not valid.",
    "Dit dossier bestaat niet.": "This dossier does not exist.",
    "Deze link is onbekend.": "This link is unknown.",
    "Dit verzoek is al afgehandeld.": "This request has been dealt with.",
    "De gegevens van dit dossier zijn verwijderd.": "The data of this dossier has been deleted.",
    "Deze terugkeer hoort bij geen enkel verzoek.": "This return belongs to no request.",
    "Deze terugkeer komt van een andere Kluis.": "This return comes from another Kluis.",
    "Het portaal is niet aangemeld bij deze Kluis.": "The portal is not registered at this Kluis.",
    "Dit document hoort niet bij dit dossier.": "This document does not belong to this dossier.",
    # vault.portal.templates_repo
    "Geef de sjabloon een naam (hoogstens 120 tekens).":
        "Give the template a name (at most 120 characters).",
    "Kies een doel uit de lijst.": "Choose a purpose from the list.",
    "Hoogstens 500 tekens.": "At most 500 characters.",
    "Onbekend gegevenstype {type}.": "Unknown record type {type}.",
    "Onbekende velden {fields}.": "Unknown fields {fields}.",
    "Laatste jaren: van {low} tot {high}.": "Last years: from {low} to {high}.",
    "Aantal gegevens: van {low} tot {high}.": "Number of records: from {low} to {high}.",
    "Vraag ten minste één soort gegeven.": "Ask for at least one kind of record.",
    "Van {low} tot {high} dagen.": "From {low} to {high} days.",
    # vault.portal.client
    "Dit is geen adres van een Kluis.": "This is not the address of a Kluis.",
    "De Kluis op dit adres is niet bereikbaar.": "The Kluis at this address cannot be reached.",
    "Op dit adres staat geen Kluis.": "There is no Kluis at this address.",
    "Deze Kluis noemt zich anders dan haar adres.": "This Kluis names itself other than its address.",
    "Deze Kluis ondersteunt wat het portaal nodig heeft niet.":
        "This Kluis does not support what the portal needs.",
    "Aanmelden bij deze Kluis lukte niet ({why}).": "Registering at this Kluis failed ({why}).",
    "Deze Kluis weigerde het portaal ({status}).": "This Kluis refused the portal ({status}).",
    "Deze Kluis aanvaardt de sleutel van het portaal niet.":
        "This Kluis does not accept the portal's key.",
    "Deze Kluis noemt een adres dat het portaal niet gebruikt.":
        "This Kluis names an address the portal does not use.",
    "De Kluis gaf geen antwoord ({why}).": "The Kluis did not answer ({why}).",
    "De Kluis weigerde het verzoek ({why}).": "The Kluis refused the request ({why}).",
    "De toestemming kon niet worden opgehaald ({why}).": "The consent could not be fetched ({why}).",
    "De gegevens konden niet worden gelezen ({status}).": "The data could not be read ({status}).",
    "Een document staat op een ander adres dan de Kluis.":
        "A document is at an address other than the Kluis.",
    "Een document kon niet worden gelezen ({status}).": "A document could not be read ({status}).",
    "Een document komt niet overeen met zijn vingerafdruk.":
        "A document does not match its fingerprint.",
    "De sleutels van deze Kluis staan op een ander adres.":
        "This Kluis's keys are at another address.",
}

_PARAM = re.compile(r"\\\{(\w+)\\\}")


def _pattern(template: str) -> re.Pattern[str]:
    escaped = re.escape(template)
    return re.compile(_PARAM.sub(lambda m: f"(?P<{m.group(1)}>[^\n]+?)", escaped))


_COMPILED = sorted(((_pattern(nl), en) for nl, en in MESSAGES.items()),
                   key=lambda item: -len(item[0].pattern))


def translate(message: str, lang: str) -> str:
    """A message raised by the portal's modules (Dutch) or by the password rules (English),
    in ``lang``; a message neither catalogue knows is returned as it is."""
    from vault.ui import messages  # noqa: F401 - registers the password rules' texts
    from vault.ui.i18n import translate as owner_translate

    text = owner_translate(message, lang)
    if lang != "en":
        return text
    for pattern, english in _COMPILED:
        text = pattern.sub(_filled(english), text)
    return text


def _filled(english: str) -> Callable[[re.Match[str]], str]:
    return lambda match: english.format(**match.groupdict())
