"""UI strings in Dutch (first) and English.

Feature modules add their own strings with :func:`register`, so no file holds
every string of the product. Templates call ``t("key")``.
"""

from __future__ import annotations

import re
from typing import Any

from flask import request, session

LANGUAGES = ("nl", "en")
DEFAULT = "nl"
#: The cookie that keeps an explicit language choice (a year; not a secret, so not signed).
COOKIE = "kluis_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

MESSAGES: dict[str, dict[str, str]] = {
    "app.name": {"nl": "Kluis", "en": "Kluis"},
    "app.tagline": {"nl": "Jouw gegevens, jouw sleutels.", "en": "Your data, your keys."},
    "nav.dashboard": {"nl": "Mijn gegevens", "en": "My data"},
    "nav.tokens": {"nl": "App-tokens", "en": "App tokens"},
    "nav.security": {"nl": "Beveiliging", "en": "Security"},
    "nav.log": {"nl": "Logboek", "en": "Log"},
    "nav.logout": {"nl": "Uitloggen", "en": "Log out"},
    "nav.login": {"nl": "Inloggen", "en": "Log in"},
    "nav.signup": {"nl": "Account aanmaken", "en": "Sign up"},
    "lang.switch": {"nl": "English", "en": "Nederlands"},
    "form.username": {"nl": "Gebruikersnaam", "en": "Username"},
    "form.password": {"nl": "Wachtwoord", "en": "Password"},
    "form.password_repeat": {"nl": "Herhaal wachtwoord", "en": "Repeat password"},
    "form.new_password": {"nl": "Nieuw wachtwoord", "en": "New password"},
    "form.old_password": {"nl": "Huidig wachtwoord", "en": "Current password"},
    "form.invite": {"nl": "Uitnodigingscode", "en": "Invitation code"},
    "form.totp": {"nl": "Code uit je authenticator-app", "en": "Code from your authenticator app"},
    "form.recovery_code": {"nl": "Herstelcode", "en": "Recovery code"},
    "form.save": {"nl": "Opslaan", "en": "Save"},
    "form.cancel": {"nl": "Annuleren", "en": "Cancel"},
    "form.delete": {"nl": "Verwijderen", "en": "Delete"},
    "form.continue": {"nl": "Verder", "en": "Continue"},
    "form.required": {"nl": "verplicht", "en": "required"},
    "form.euro_hint": {"nl": "in euro, bijv. 1234,56", "en": "in euro, e.g. 1234.56"},
    "form.list_hint": {"nl": "één per regel: datum = bedrag, bijv. 2025-01-01 = 350000",
                       "en": "one per line: date = amount, e.g. 2025-01-01 = 350000"},
    "signup.title": {"nl": "Maak je kluis aan", "en": "Create your vault"},
    "signup.password_rules": {
        "nl": "Minstens 12 tekens. Een zin van een paar woorden werkt goed.",
        "en": "At least 12 characters. A sentence of a few words works well.",
    },
    "signup.mismatch": {"nl": "De wachtwoorden zijn niet gelijk.",
                        "en": "The passwords do not match."},
    "signup.done_title": {"nl": "Je kluis is klaar", "en": "Your vault is ready"},
    "signup.recovery_intro": {
        "nl": "Dit is je herstelcode. Hij wordt maar één keer getoond. Print hem of schrijf hem "
              "op en bewaar hem op een veilige plek: zonder wachtwoord én zonder deze code kan "
              "niemand, ook de beheerder niet, je kluis openen.",
        "en": "This is your recovery code. It is shown only once. Print it or write it down and "
              "keep it somewhere safe: without your password and without this code nobody, not "
              "even the operator, can open your vault.",
    },
    "signup.recovery_ack": {"nl": "Ik heb mijn herstelcode bewaard",
                            "en": "I have stored my recovery code"},
    "recovery.print": {"nl": "Herstelcode printen", "en": "Print the recovery code"},
    "login.title": {"nl": "Inloggen", "en": "Log in"},
    "login.failed": {"nl": "Gebruikersnaam of wachtwoord klopt niet.",
                     "en": "Username or password is wrong."},
    "login.totp_title": {"nl": "Tweede stap", "en": "Second step"},
    "login.totp_failed": {"nl": "Die code klopt niet of is al gebruikt.",
                          "en": "That code is wrong or was used already."},
    "login.forgot": {"nl": "Wachtwoord vergeten?", "en": "Forgot your password?"},
    "login.lost_device": {"nl": "Authenticator kwijt?", "en": "Lost your authenticator?"},
    "login.rate_limited": {"nl": "Te veel pogingen. Probeer het over {seconds} seconden opnieuw.",
                           "en": "Too many attempts. Try again in {seconds} seconds."},
    "logout.done": {"nl": "Je bent uitgelogd.", "en": "You are logged out."},
    "session.expired": {"nl": "Log opnieuw in.", "en": "Please log in again."},
    "csrf.failed": {"nl": "Het formulier is verlopen. Probeer het opnieuw.",
                    "en": "The form expired. Please try again."},
    "security.wrong_password": {"nl": "Je huidige wachtwoord klopt niet.",
                                 "en": "Your current password is not right."},
    "error.title": {"nl": "Dat lukte niet", "en": "That did not work"},
    "error.back": {"nl": "Terug naar het begin", "en": "Back to the start"},
    "dashboard.title": {"nl": "Mijn gegevens", "en": "My data"},
    "dashboard.empty": {"nl": "Nog niets in deze categorie.", "en": "Nothing in this category yet."},
    "dashboard.add": {"nl": "Toevoegen", "en": "Add"},
    "dashboard.upload": {"nl": "Document uploaden", "en": "Upload a document"},
    "dashboard.source": {"nl": "Bron", "en": "Source"},
    "dashboard.show_all": {"nl": "Alle {n} tonen", "en": "Show all {n}"},
    "list.previous": {"nl": "Vorige", "en": "Previous"},
    "list.next": {"nl": "Volgende", "en": "Next"},
    "dashboard.updated": {"nl": "Bijgewerkt", "en": "Updated"},
    "source.manual": {"nl": "zelf ingevoerd", "en": "entered by you"},
    "source.upload": {"nl": "geüpload", "en": "uploaded"},
    "record.new_title": {"nl": "{type} toevoegen", "en": "Add {type}"},
    "record.edit": {"nl": "Wijzigen", "en": "Edit"},
    "record.history": {"nl": "Geschiedenis", "en": "History"},
    "record.version": {"nl": "Versie", "en": "Version"},
    "record.saved": {"nl": "Opgeslagen.", "en": "Saved."},
    "record.unchanged": {"nl": "Niets gewijzigd.", "en": "Nothing changed."},
    "record.deleted": {"nl": "Verwijderd.", "en": "Deleted."},
    "record.delete_confirm": {
        "nl": "Dit verwijdert het gegeven en al zijn versies. Zeker weten?",
        "en": "This deletes the record and all its versions. Are you sure?",
    },
    "record.invalid": {"nl": "Controleer de gemarkeerde velden.",
                       "en": "Please check the marked fields."},
    "record.download": {"nl": "Downloaden", "en": "Download"},
    "record.evidence": {"nl": "Bewijs", "en": "Evidence"},
    "document.file": {"nl": "Bestand", "en": "File"},
    "document.too_large": {"nl": "Het bestand is te groot (maximaal {mb} MB).",
                           "en": "The file is too large (at most {mb} MB)."},
    "document.missing": {"nl": "Kies een bestand.", "en": "Choose a file."},
    "document.cite_intro": {
        "nl": "Gegevens uit dit document toevoegen, met het document als bewijs:",
        "en": "Add facts from this document, with the document as evidence:",
    },
    "tokens.title": {"nl": "App-tokens", "en": "App tokens"},
    "tokens.intro": {
        "nl": "Met een app-token kunnen je eigen scripts je kluis gebruiken. Elk token opent je "
              "kluis met een eigen sleutel en is in te trekken.",
        "en": "An app token lets your own scripts use your vault. Each token opens your vault "
              "with its own key and can be revoked.",
    },
    "tokens.name": {"nl": "Naam", "en": "Name"},
    "tokens.create": {"nl": "Token maken", "en": "Create token"},
    "tokens.created": {"nl": "Je nieuwe token (wordt maar één keer getoond):",
                       "en": "Your new token (shown only once):"},
    "tokens.revoke": {"nl": "Intrekken", "en": "Revoke"},
    "tokens.none": {"nl": "Nog geen tokens.", "en": "No tokens yet."},
    "security.title": {"nl": "Beveiliging", "en": "Security"},
    "security.totp_on": {"nl": "Tweestapsverificatie staat aan.",
                         "en": "Two-step verification is on."},
    "security.totp_off": {"nl": "Tweestapsverificatie staat uit.",
                          "en": "Two-step verification is off."},
    "security.totp_enrol": {"nl": "Tweestapsverificatie aanzetten",
                            "en": "Turn on two-step verification"},
    "security.totp_scan": {
        "nl": "Scan deze QR-code met je authenticator-app en vul de code in die de app toont.",
        "en": "Scan this QR code with your authenticator app and enter the code it shows.",
    },
    "security.totp_secret": {"nl": "Of typ deze sleutel over:", "en": "Or type this key:"},
    "security.totp_enabled": {"nl": "Tweestapsverificatie staat nu aan.",
                              "en": "Two-step verification is now on."},
    "security.change_password": {"nl": "Wachtwoord wijzigen", "en": "Change password"},
    "security.password_changed": {
        "nl": "Je wachtwoord is gewijzigd. Andere sessies zijn beëindigd.",
        "en": "Your password was changed. Other sessions were ended.",
    },
    "security.keep_tokens": {
        "nl": "Een nieuw wachtwoord trekt je app-tokens in. Vink aan welke blijven werken:",
        "en": "A new password revokes your app tokens. Tick the ones that keep working:",
    },
    "security.tokens_revoked": {
        "nl": "Deze app-tokens zijn ingetrokken: {names}.",
        "en": "These app tokens were revoked: {names}.",
    },
    "recover.tokens_revoked": {
        "nl": "Al je app-tokens zijn ingetrokken: {names}.",
        "en": "All your app tokens were revoked: {names}.",
    },
    "recover.title": {"nl": "Wachtwoord herstellen", "en": "Reset your password"},
    "recover.intro": {
        "nl": "Met je herstelcode (en, als die aan staat, een code uit je authenticator-app) "
              "kies je een nieuw wachtwoord. Je krijgt daarna een nieuwe herstelcode.",
        "en": "With your recovery code (and, when it is on, a code from your authenticator app) "
              "you choose a new password. You then get a new recovery code.",
    },
    "recover.totp_title": {"nl": "Authenticator kwijt", "en": "Lost authenticator"},
    "recover.totp_intro": {
        "nl": "Met je wachtwoord en je herstelcode zet je tweestapsverificatie uit. Je krijgt "
              "daarna een nieuwe herstelcode.",
        "en": "With your password and your recovery code you turn two-step verification off. "
              "You then get a new recovery code.",
    },
    "recover.done": {"nl": "Gelukt. Dit is je nieuwe herstelcode:",
                     "en": "Done. This is your new recovery code:"},
    "recover.failed": {"nl": "Dat klopt niet. Controleer je gegevens.",
                       "en": "That is not right. Please check what you entered."},
    "log.title": {"nl": "Logboek", "en": "Log"},
    "log.tampered": {
        "nl": "Waarschuwing: het logboek is aangepast buiten Kluis om.",
        "en": "Warning: the log was changed outside Kluis.",
    },
    "error.generic": {"nl": "Er ging iets mis.", "en": "Something went wrong."},
}


def register(messages: dict[str, dict[str, str]]) -> None:
    """Add a feature's strings. Keys must be new: a clash is a programming error."""
    clash = set(messages) & set(MESSAGES)
    if clash:
        raise ValueError(f"i18n keys defined twice: {sorted(clash)}")
    MESSAGES.update(messages)


def current_language() -> str:
    """The owner's explicit choice (session, then the ``kluis_lang`` cookie), else what the
    browser asks for among nl and en, else Dutch (a browser asking for neither gets nl)."""
    lang = session.get("lang")
    if lang in LANGUAGES:
        return lang
    lang = request.cookies.get(COOKIE)
    if lang in LANGUAGES:
        return lang
    best = request.accept_languages.best_match(LANGUAGES)
    return best or DEFAULT


def t(key: str, lang: str | None = None, **params: object) -> str:
    lang = lang or current_language()
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry.get("en") or key
    return text.format(**params) if params else text




# -- messages of marshmallow and the domain packages (see vault/ui/messages.py) ------------

_TEMPLATES: list[tuple[re.Pattern[str], str]] = []
_PARAM = re.compile(r"\\\{(\w+)\\\}")


def register_templates(templates: dict[str, tuple[str, ...]]) -> None:
    """Add ``{key: (template, Dutch text[, English text])}``: the key joins the catalogue in
    both languages (English: the template itself unless given), and a message matching the
    template translates to it."""
    register({key: {"nl": texts[1], "en": texts[2] if len(texts) > 2 else texts[0]}
              for key, texts in templates.items()})
    for key, texts in templates.items():
        pattern = _PARAM.sub(lambda m: f"(?P<{m.group(1)}>[^\\n]+?)", re.escape(texts[0]))
        _TEMPLATES.append((re.compile(pattern), key))
    # Exact texts first ("Not a valid URL." before "Not a valid {obj_type}."), then the longest
    # ("Must be greater than {min} and less than {max}." before "Must be greater than {min}.").
    _TEMPLATES.sort(key=lambda item: (item[0].groups > 0, -len(item[0].pattern)))


def template_key(message: str) -> tuple[str, dict[str, str]] | None:
    """The catalogue key and parameters of a domain or marshmallow message, or None."""
    for pattern, key in _TEMPLATES:
        found = pattern.fullmatch(message.strip())
        if found:
            return key, {k: v.strip("'\"") for k, v in found.groupdict().items()}
    return None


def translate(message: object, lang: str | None = None) -> str:
    """A domain or marshmallow message (English) in the owner's language; a message the
    catalogue does not know is returned as it is."""
    text = str(message)
    found = template_key(text)
    if found is None:
        return text
    key, params = found
    return t(key, lang, **params)


def translate_errors(errors: Any, lang: str | None = None) -> Any:
    """Marshmallow-style errors (a dict of lists, nested) with every message translated."""
    if isinstance(errors, dict):
        return {k: translate_errors(v, lang) for k, v in errors.items()}
    if isinstance(errors, list | tuple):
        return [translate_errors(v, lang) for v in errors]
    return translate(errors, lang)


def error_messages(errors: Any, lang: str | None = None) -> list[str]:
    """Every message of marshmallow-style ``errors``, translated, in order, once each."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        else:
            text = translate(value, lang)
            if text not in out:
                out.append(text)

    walk(errors)
    return out
