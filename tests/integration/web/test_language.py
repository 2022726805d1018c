"""Every owner page and every form error, in Dutch without English and in English without Dutch.

One owner signs up through the pages (real app, real HTTP, real Redis), gets one of each thing
a page can show (records, a document, a connection, a pending request, a grant, a
notification), then every GET page of the UI blueprints is rendered and every form is sent
with bad input; the visible text of each answer (tags stripped, what the person typed and
proper names left out) must hold no word of the other language's deny-list. The page list is
complete by construction: ``test_every_ui_page_is_covered`` enumerates the GET routes of the
UI blueprints from ``app.url_map`` and names any this file does not visit.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pyotp
import pytest
import requests

from tests.integration.grants.conftest import INCOME, PERSON, RegisteredOrg, ask
from vault.grants.organisations import PICKUP_GRANT_TYPE
from vault.records.catalogue import RECORD_TYPES, field_kind

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

UI_BLUEPRINTS = {"ui", "accounts_ui", "records_ui", "log_ui", "grants_ui", "connectors_ui",
                 "portability_ui", "portability_verify", "lifecycle_ui", "finance_ui"}

#: GET routes that answer a file, not a page (their words are checked in the PDF tests).
DOWNLOADS = {
    "records_ui.download_document": "the document's own bytes",
    "grants_ui.receipt_pdf": "a PDF (tests/unit/portability)",
    "grants_ui.receipt": "the signed receipt (JSON)",
    "grants_ui.organisation_logo": "an image",
    "lifecycle_ui.download_statement": "a signed statement (JWS)",
    "portability_ui.archive_file": "an encrypted archive",
    "log_ui.log_csv": "the log as CSV (tests/integration/log checks its sentences)",
    "log_ui.log_pdf": "the log as PDF (tests/integration/log checks its sentences)",
}
#: Routes that only redirect (``/`` to the dashboard or the login page).
REDIRECTS = {"ui.index"}

#: Words that are English and not Dutch. Matched as whole words, case-insensitively.
ENGLISH = """the and with your you this that must should not valid invalid required missing
field length between characters digits wrong password passphrase username save delete cancel
revoke download never none error choose unknown signed entered manual sign log records record
source sources grant grants access number least most shorter longer greater less than equal
type list date data file upload name created updated changed shown only once again please
check nothing something went expired refused approve what who when until from been main
january february march june july august october""".split()
#: Words that are Dutch and not English.
DUTCH = """de het een van niet je jouw mijn wachtwoord wachtzin gegevens verplicht klopt
geldig ongeldig opslaan verwijderen toevoegen bijgewerkt nog geen zijn heeft tekens moet
ophalen intrekken toestemming bron bronnen gebruikersnaam herstelcode inloggen uitloggen
controleer kies minstens hooguit onbekend veld datum bestand maart mei juni juli augustus
oktober januari februari ingevoerd zelf ondertekend door op tot""".split()

#: Proper names and codes that read the same in both languages.
NAMES = ["Kluis", "IBAN", "BSN", "TOTP", "PDF", "JSON", "SHA-256", "WOZ", "DUO", "PSD2", "BRP",
         "URL", "API", "EUR", "RFC", "DELETE", "POST", "JWS", "UTF-8", "UUID", "Haal Centraal",
         "Berlin Group", "NextGenPSD2", "CET", "CEST", "IPv4", "Nederlands", "English"]

#: Text the person typed or that an organisation named itself; never checked.
TYPED = ["Woonstichting De Kern", "dekern.example", "privacy@dekern.example", "ACME BV",
         "Annemarie", "de Vries", "jaaropgave-2025.pdf", "Jaaropgave 2025", "Gemeente Utrecht"]


class VisibleText(HTMLParser):
    """The text a person sees: data outside script/style/textarea, plus alt, title,
    placeholder and aria-label; elements in another language (``lang``) left out."""

    SKIP = {"script", "style", "textarea", "template"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self, lang: str) -> None:
        super().__init__(convert_charrefs=True)
        self.lang = lang
        self.stack: list[bool] = []  # per open element: is its content hidden from the check
        self.parts: list[str] = []

    def _hidden(self) -> bool:
        return any(self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        other = values.get("lang") not in (None, self.lang) and tag != "html"
        if not self._hidden() and not other:
            for name in ("alt", "title", "placeholder", "aria-label"):
                if values.get(name):
                    self.parts.append(values[name] or "")
        if tag not in self.VOID:
            self.stack.append(tag in self.SKIP or other)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self._hidden():
            self.parts.append(data)


def plain_text(html: str, lang: str) -> str:
    """The visible text, tags stripped, whitespace collapsed."""
    parser = VisibleText(lang)
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def visible_text(html: str, lang: str, typed: list[str]) -> str:
    """The visible text without what the person typed, proper names and machine codes."""
    text = plain_text(html, lang)
    for value in sorted(typed + TYPED + NAMES, key=len, reverse=True):
        if value:
            text = text.replace(value, " ")
    # Machine identifiers (ids, hashes, codes, URLs, e-mail addresses) are no language.
    text = re.sub(r"https?://\S+|\S+@\S+|/[\w/{}.-]+|\b[\w-]*\d[\w-]*\b|\b\w+[._:]\w[\w.:-]*\b", " ", text)
    return text


def foreign_words(html: str, lang: str, typed: list[str]) -> list[str]:
    words = re.findall(r"[^\W\d_]+", visible_text(html, lang, typed).lower())
    deny = set(ENGLISH if lang == "nl" else DUTCH)
    return sorted({w for w in words if w in deny})


class Visitor:
    """A browser-like session on the live server that checks every answer's language."""

    def __init__(self, base: str, lang: str) -> None:
        self.base = base
        self.lang = lang
        self.http = requests.Session()
        # A browser asking for English gets English; one asking for neither language gets nl.
        self.http.headers["Accept-Language"] = "en-GB,en;q=0.8" if lang == "en" else "fr-BE, de"
        self.typed: list[str] = []
        self.seen: dict[str, str] = {}  # endpoint or form -> url checked
        self.problems: list[str] = []

    def check(self, what: str, resp: requests.Response) -> str:
        assert resp.status_code < 500, (what, resp.status_code, resp.text[:500])
        html = resp.text
        found = foreign_words(html, self.lang, self.typed)
        if found:
            text = " ".join(visible_text(html, self.lang, self.typed).split())
            self.problems.append(f"{what} ({resp.url}): {found}\n    {text[:1500]}")
        match = re.search(r'<html lang="(\w+)"', html)
        if match and match.group(1) != self.lang:
            self.problems.append(f"{what}: <html lang={match.group(1)}>")
        return html

    def page(self, endpoint: str, path: str) -> str:
        resp = self.http.get(self.base + path, timeout=30)
        self.seen[endpoint] = path
        return self.check(endpoint, resp)

    def csrf(self, path: str) -> str:
        found = CSRF.search(self.http.get(self.base + path, timeout=30).text)
        assert found, path
        return found.group(1)

    def submit(self, what: str, form_path: str, action: str | None = None,
               data: dict[str, Any] | None = None, files: Any = None,
               typed: list[str] | None = None,
               expect: dict[str, str] | None = None) -> requests.Response:
        """Send a form as the browser would (CSRF token from its page) and check the answer;
        ``expect`` holds, per language, a text the answer must show (the specific message)."""
        self.typed += [v for v in (typed or []) if v]
        payload = {"csrf_token": self.csrf(form_path), **(data or {})}
        resp = self.http.post(self.base + (action or form_path), data=payload, files=files,
                              timeout=60)
        html = self.check(what, resp)
        if expect and expect[self.lang] not in plain_text(html, self.lang):
            shown = plain_text(html, self.lang)[-900:]
            self.problems.append(f"{what}: {expect[self.lang]!r} not shown in {shown}")
        return resp


def bad_record_inputs(type_id: str) -> list[dict[str, str]]:
    """Three bad submissions of a record form: values the schema refuses, values the form
    cannot read, and nothing at all (every required field missing)."""
    schema_bad: dict[str, str] = {}
    unreadable: dict[str, str] = {}
    special = {"bsn": "123456789", "postcode": "12", "iban": "NL00BANK0123456789",
               "account_iban": "NL00", "currency": "euro", "document_sha256": "abc",
               "counterparty_iban": "x" * 100}
    for name, field in RECORD_TYPES[type_id].fields().items():
        kind = field_kind(field)
        if name in special:
            schema_bad[name] = special[name]
        elif kind == "text":
            schema_bad[name] = "x" * 1200
        elif kind == "integer":
            schema_bad[name] = "-7"
            unreadable[name] = "12a"
        elif kind == "cents":
            schema_bad[name] = "-99999999999"
            unreadable[name] = "veel"
        elif kind == "decimal":
            schema_bad[name] = "-3"
        elif kind == "date":
            schema_bad[name] = "2025-13-45"
        elif kind == "choice":
            schema_bad[name] = "nope"
        elif kind == "list":
            schema_bad[name] = "2025-01-01 = -5"
            unreadable[name] = "geen datum"
    return [schema_bad, unreadable, {}]


def register_org(base: str) -> RegisteredOrg:
    resp = requests.post(f"{base}/oauth/register", timeout=30, json={
        "client_name": "Woonstichting De Kern", "client_uri": "https://dekern.example",
        "redirect_uris": ["https://dekern.example/oauth/callback"],
        "contacts": ["privacy@dekern.example"], "token_endpoint_auth_method": "client_secret_basic"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    return RegisteredOrg(body["client_id"], body["client_secret"],
                         "https://dekern.example/oauth/callback")


def pending_request(base: str, org: RegisteredOrg, api: requests.Session) -> str:
    pushed = requests.post(f"{base}/oauth/par", timeout=30, auth=(org.client_id, org.client_secret),
                           data={"response_type": "code", "client_id": org.client_id,
                                 "redirect_uri": org.redirect_uri, "state": "s1",
                                 "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                                 "code_challenge_method": "S256",
                                 "authorization_details": json.dumps(
                                     ask({"income": None, "person": None}, duration="P400D"))})
    assert pushed.status_code == 201, pushed.text
    bound = api.post(f"{base}/api/v1/requests", timeout=30,
                     json={"request_uri": pushed.json()["request_uri"]})
    assert bound.status_code == 201, bound.text
    return bound.json()["id"]


SIGNUP_EXPECT = {
    "kort": {"nl": "Een wachtwoord heeft minstens 12 tekens.",
             "en": "A password has at least 12 characters."},
    "aaaaaaaaaaaaaaa": {"nl": "te weinig verschillende tekens", "en": "too few characters"},
}
RECORD_EXPECT = {  # the form's sentence for the field, with its example (vault/ui/forms.py)
    "person": {"nl": "negen cijfers die de elfproef doorstaan",
               "en": "nine digits that pass the eleven test"},
    "address": {"nl": "vier cijfers en twee letters, bijv. 1234 AB",
                "en": "four digits and two letters, e.g. 1234 AB"},
    "bank-account": {"nl": "een IBAN, bijv. NL91 ABNA 0417 1643 00",
                     "en": "an IBAN, e.g. NL91 ABNA 0417 1643 00"},
    "income": {"nl": "vul dit in", "en": "please fill this in"},
}


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_page_and_every_form_error_speaks_one_language(live_server, lang):
    base = live_server.url
    v = Visitor(base, lang)
    username, password = f"taal{lang}", "lange zin met woorden 42"
    v.typed += [username]

    # -- signed out: start, sign-up (with each kind of bad input), log-in, recovery ---------
    for endpoint, path in (("accounts_ui.login", "/login"), ("accounts_ui.signup", "/signup"),
                           ("accounts_ui.recover", "/recover"),
                           ("accounts_ui.recover_totp", "/recover/totp"),
                           ("portability_ui.start_import", "/portability/import"),
                           ("portability_verify.verify_page", "/verify")):
        v.page(endpoint, path)
    for bad in ({"username": "ab", "password": password, "password_repeat": password},
                {"username": username, "password": "kort", "password_repeat": "kort"},
                {"username": username, "password": "x" * 200, "password_repeat": "x" * 200},
                {"username": username, "password": "aaaaaaaaaaaaaaa",
                 "password_repeat": "aaaaaaaaaaaaaaa"},
                {"username": username, "password": username + "A", "password_repeat": "y"},
                {"username": username, "password": password, "password_repeat": "anders"}):
        resp = v.submit("signup (bad)", "/signup", data=bad, typed=[bad["username"]],
                        expect=SIGNUP_EXPECT.get(bad["password"]))
        assert resp.status_code in (409, 422), resp.status_code
    v.submit("login (wrong)", "/login", data={"username": username, "password": "niet dit"})
    v.submit("recover (wrong)", "/recover", data={
        "username": username, "recovery_code": "AAAA-BBBB", "new_password": password})
    v.submit("recover_totp (wrong)", "/recover/totp", data={
        "username": username, "password": password, "recovery_code": "AAAA-BBBB"})
    v.submit("import (mismatch)", "/portability/import", data={
        "passphrase": "p" * 12, "username": "nieuw", "password": password,
        "password_repeat": "anders"}, files={"archive": ("a.kluis", b"not an archive")})
    v.submit("verify (garbage)", "/verify", files={"bundle": ("b.json", b"{}")})

    signup = v.submit("signup", "/signup", data={
        "username": username, "password": password, "password_repeat": password})
    assert signup.status_code == 200 and "recovery-code" in signup.text
    shown = re.search(r'id="recovery-code">(.*?)</p>', signup.text, re.S)
    assert shown, "the sign-up answer shows no recovery code"
    recovery = re.sub(r"<[^>]+>", "", shown.group(1)).strip()

    # -- something of everything, through the owner API ----------------------------------------
    api = requests.Session()
    token = api.post(f"{base}/api/v1/tokens", timeout=30, json={
        "username": username, "password": password, "name": "tests"}).json()["token"]
    api.headers["Authorization"] = f"Bearer {token}"
    ids = {}
    for type_id, data in (("income", INCOME), ("person", PERSON),
                          ("bank-transaction", {"account_iban": "NL91ABNA0417164300",
                                                "booking_date": "2026-01-15",
                                                "amount_cents": -4500,
                                                "counterparty_name": "Gemeente Utrecht"})):
        resp = api.post(f"{base}/api/v1/records", timeout=30, json={"type": type_id, "data": data})
        assert resp.status_code == 201, resp.text
        ids[type_id] = resp.json()["id"]
    resp = api.post(f"{base}/api/v1/documents", timeout=30, data={"category": "payslip"},
                    files={"file": ("jaaropgave-2025.pdf", b"%PDF-1.4 test", "application/pdf")})
    assert resp.status_code == 201, resp.text
    ids["document"] = resp.json()["id"]
    org = register_org(base)
    request_id = pending_request(base, org, api)
    granted = api.post(f"{base}/api/v1/grants", timeout=30, json={
        "client_id": org.client_id, "authorization_details": ask({"income": None})})
    assert granted.status_code == 201, granted.text
    picked = requests.post(f"{base}/oauth/token", timeout=30, auth=(org.client_id,
                                                                   org.client_secret),
                           data={"grant_type": PICKUP_GRANT_TYPE,
                                 "code": granted.json()["pickup_code"]}).json()
    grant_id = picked["grant_id"]
    read = requests.get(f"{base}/api/v1/grant/records", timeout=30,
                        headers={"Authorization": f"Bearer {picked['access_token']}"})
    assert read.status_code == 200, read.text

    v.submit("login", "/login", data={"username": username, "password": password})

    # -- every page ----------------------------------------------------------------------------
    pages = {
        "records_ui.dashboard": "/dashboard",
        "records_ui.record_list": "/records?category=identity",
        "records_ui.record_detail": f"/records/{ids['person']}",
        "records_ui.edit_record": f"/records/{ids['income']}/edit",
        "records_ui.upload_document": "/documents/upload",
        "log_ui.log": "/log",
        "log_ui.access_log": "/grants/log",
        "accounts_ui.tokens": "/tokens",
        "accounts_ui.security": "/security",
        "accounts_ui.enrol_totp": "/security/totp",
        "grants_ui.overview": "/grants",
        "grants_ui.new_grant": "/grants/new",
        "grants_ui.consent": f"/grants/requests/{request_id}",
        "grants_ui.grant_detail": f"/grants/{grant_id}",
        "grants_ui.receipt_page": f"/grants/{grant_id}/receipt",
        "grants_ui.revoke_all": "/grants/revoke-all",
        "connectors_ui.connections_page": "/connections",
        "connectors_ui.changes": "/changes",
        "portability_ui.index": "/portability/",
        "portability_ui.start_archive": "/portability/archive",
        "portability_ui.delete": "/portability/delete",
        "lifecycle_ui.notifications_page": "/notifications",
        "lifecycle_ui.mail_settings": "/notifications/settings",
        "finance_ui.overview": "/finance",
    }
    for endpoint, path in pages.items():
        v.page(endpoint, path)
    for type_id in RECORD_TYPES:
        if type_id not in ("document", "monthly-finances"):
            v.page("records_ui.new_record", f"/records/new/{type_id}")

    # -- every owner form, with bad input --------------------------------------------------------
    for type_id in RECORD_TYPES:
        if type_id in ("document", "monthly-finances"):
            continue
        for i, bad in enumerate(bad_record_inputs(type_id)):
            expect = RECORD_EXPECT.get(type_id) if i == (2 if type_id == "income" else 0) else None
            resp = v.submit(f"new {type_id} (bad)", f"/records/new/{type_id}", data=bad,
                            expect=expect)
            assert resp.status_code == 422, (type_id, bad, resp.status_code)
    v.submit("edit income (bad)", f"/records/{ids['income']}/edit",
             data={"year": "1500", "source": "", "gross_amount_cents": "veel"})
    v.submit("upload (no file)", "/documents/upload", data={"description": "x"})
    v.submit("tokens (default name)", "/tokens", data={"name": ""},
             expect={"nl": "App-token", "en": "App token"})
    v.submit("totp (wrong code)", "/security/totp", data={"code": "000000"})
    v.submit("password (wrong current)", "/security", "/security/password",
             data={"old_password": "niet dit", "new_password": password})
    v.submit("password (too short)", "/security", "/security/password",
             data={"old_password": password, "new_password": "kort"})
    v.submit("password (common)", "/security", "/security/password",
             data={"old_password": password, "new_password": "aaaaaaaaaaaaaaaa"})
    v.submit("grant (unknown organisation)", "/grants/new", data={
        "client_id": "nobody", "purpose": "employment", "days": "10", "retention": "30",
        "field:person": ["surname"]}, typed=["nobody"])
    v.submit("grant (no record chosen)", "/grants/new", data={
        "client_id": org.client_id, "purpose": "employment", "days": "10", "retention": "30",
        "field:person": ["surname"], "pick:person": "1"},
        expect={"nl": "Kies minstens één gegeven", "en": "Choose at least one record"})
    pickup = v.submit("grant (pickup code)", "/grants/new", data={
        "client_id": org.client_id, "purpose": "employment", "days": "10", "retention": "30",
        "field:person": ["surname"], "pick:person": "1", "record:person": ids["person"]},
        expect={"nl": "Voor de ontwikkelaar van", "en": "For the developer at"})
    assert 'id="pickup-code"' in pickup.text, pickup.text[-2000:]
    v.submit("grant (bad days)", "/grants/new", data={
        "client_id": org.client_id, "purpose": "employment", "days": "0", "retention": "30"})
    v.submit("open link (bad)", "/grants", "/grants/open", data={"link": "https://x.example/"})
    v.submit("consent (bad days)", f"/grants/requests/{request_id}", data={
        "decision": "approve", "days": "veel", "record:income": ids["income"],
        "field:income": ["year"]})
    v.submit("consent (nothing chosen)", f"/grants/requests/{request_id}",
             data={"decision": "approve"})
    for connector, bad in (("psd2", {"options.iban": "NL00", "options.base_url": "geen url"}),
                           ("woz", {"options.postcode": "12"}),
                           ("brp", {"options.bsn": "123"})):
        resp = v.submit(f"connection {connector} (bad)", f"/connections/new/{connector}",
                        data=bad)
        v.seen["connectors_ui.new_connection"] = f"/connections/new/{connector}"
    v.submit("export (nothing chosen)", "/portability/", "/portability/export", data={})
    v.submit("export (bad format)", "/portability/", "/portability/export",
             data={"types": "all", "format": "doc"})
    v.submit("archive (mismatch)", "/portability/archive",
             data={"passphrase": "p" * 12, "passphrase_repeat": "q" * 12})
    v.submit("archive (short)", "/portability/archive",
             data={"passphrase": "kort", "passphrase_repeat": "kort"})
    v.submit("delete (wrong name)", "/portability/delete",
             data={"confirm": "iemand", "password": password})
    v.submit("delete (wrong password)", "/portability/delete",
             data={"confirm": username, "password": "niet dit"})
    v.submit("finance (bad category)", "/finance",
             f"/finance/transactions/{ids['bank-transaction']}/category",
             data={"category": "nope"})
    bundle = v.http.post(f"{base}/portability/export", timeout=60, data={
        "csrf_token": v.csrf("/portability/"), "types": "all", "format": "json"})
    assert bundle.status_code == 200
    valid = v.submit("verify (valid)", "/verify", files={"bundle": ("b.json", bundle.content)},
                     expect={"nl": "ondertekend door", "en": "signed by"})
    assert 'data-valid="yes"' in valid.text
    v.submit("verify (changed)", "/verify",
             files={"bundle": ("b.json", bundle.content.replace(b'"payload": "e', b'"payload": "f'))})
    for bad in ({"email": "geen-adres"}, {"action": "confirm", "code": "000000"}):
        resp = v.submit("mail settings (bad)", "/notifications/settings", data=bad,
                        typed=[bad.get("email", "")])
        assert resp.status_code == 422, resp.status_code
    archive = v.submit("archive (start)", "/portability/archive",
                       data={"passphrase": "p" * 16, "passphrase_repeat": "p" * 16})
    v.seen["portability_ui.archive_progress"] = archive.url
    v.page("portability_ui.import_progress", _import_progress(v))

    # -- two-step verification on, then its log-in step with a wrong code ------------------------
    enrol = v.page("accounts_ui.enrol_totp", "/security/totp")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', enrol).group(1)
    v.http.post(f"{base}/security/totp", timeout=30, data={
        "csrf_token": CSRF.search(enrol).group(1), "code": pyotp.TOTP(secret).now()})
    v.http.post(f"{base}/logout", timeout=30, data={"csrf_token": v.csrf("/security")})
    v.submit("login (totp step)", "/login", data={"username": username, "password": password})
    v.page("accounts_ui.login_totp", "/login/totp")
    v.submit("login_totp (wrong)", "/login/totp", data={"code": "000000"})
    v.submit("recover (totp needed)", "/recover", data={
        "username": username, "recovery_code": recovery, "new_password": password + "!"})

    assert not v.problems, "\n".join(v.problems)


def _import_progress(v: Visitor) -> str:
    """Start an import of a broken archive: its progress page says why it failed."""
    resp = v.http.post(f"{v.base}/portability/import", timeout=30, data={
        "csrf_token": v.csrf("/portability/import"), "passphrase": "p" * 12,
        "username": "verhuisd", "password": "lange zin met woorden 43",
        "password_repeat": "lange zin met woorden 43"},
        files={"archive": ("a.kluis", b"not an archive")})
    assert "/portability/import/" in resp.url, resp.url
    for _ in range(50):
        page = v.http.get(resp.url, timeout=30).text
        if 'data-state="running"' not in page:
            break
    return resp.url.removeprefix(v.base)


VISITED = {
    "accounts_ui.login", "accounts_ui.signup", "accounts_ui.recover", "accounts_ui.recover_totp",
    "accounts_ui.login_totp", "accounts_ui.tokens", "accounts_ui.security",
    "accounts_ui.enrol_totp", "records_ui.dashboard", "records_ui.record_list",
    "records_ui.record_detail", "records_ui.edit_record", "records_ui.new_record",
    "records_ui.upload_document", "log_ui.log", "log_ui.access_log", "grants_ui.overview",
    "grants_ui.new_grant", "grants_ui.consent", "grants_ui.grant_detail",
    "grants_ui.receipt_page", "grants_ui.revoke_all", "connectors_ui.connections_page",
    "connectors_ui.new_connection", "connectors_ui.changes", "portability_ui.index",
    "portability_ui.start_archive", "portability_ui.archive_progress",
    "portability_ui.start_import", "portability_ui.import_progress", "portability_ui.delete",
    "portability_verify.verify_page", "lifecycle_ui.notifications_page", "finance_ui.overview",
    "lifecycle_ui.mail_settings",
}


def test_every_ui_page_is_covered(app):
    """Each GET route of the UI blueprints is visited above, or is a download or a redirect."""
    routes = {rule.endpoint for rule in app.url_map.iter_rules()
              if "GET" in (rule.methods or ()) and rule.endpoint.split(".")[0] in UI_BLUEPRINTS}
    missing = sorted(routes - VISITED - set(DOWNLOADS) - REDIRECTS)
    assert not missing, f"pages the language test does not render: {missing}"
    stale = sorted((VISITED | set(DOWNLOADS) | REDIRECTS) - routes)
    assert not stale, f"routes the language test names that do not exist: {stale}"


def test_a_browser_asking_for_neither_language_gets_dutch_and_a_choice_persists(live_server):
    base = live_server.url
    http = requests.Session()
    assert '<html lang="nl"' in http.get(f"{base}/login", timeout=30,
                                          headers={"Accept-Language": "de-DE, fr"}).text
    assert '<html lang="nl"' in http.get(f"{base}/login", timeout=30).text
    assert '<html lang="en"' in http.get(f"{base}/login", timeout=30,
                                          headers={"Accept-Language": "en-US"}).text
    token = CSRF.search(http.get(f"{base}/login", timeout=30).text).group(1)
    http.post(f"{base}/lang", timeout=30, data={"csrf_token": token, "lang": "en",
                                                "next": "/login"})
    assert http.cookies.get("kluis_lang") == "en"
    # The choice outlives the session cookie (a new browser session keeps the lang cookie).
    fresh = requests.Session()
    fresh.cookies.set("kluis_lang", http.cookies.get("kluis_lang"))
    assert '<html lang="en"' in fresh.get(f"{base}/login", timeout=30,
                                           headers={"Accept-Language": "nl"}).text



#: Per language, what the error pages must say (werkzeug's own pages are English only).
ERROR_EXPECT = {
    405: {"nl": "Dit adres werkt niet op deze manier.",
          "en": "This address does not work this way."},
    404: {"nl": "Deze pagina bestaat niet", "en": "This page does not exist"},
    500: {"nl": "Er ging iets mis aan onze kant.", "en": "Something went wrong on our side."},
}


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_http_error_pages_and_the_500_page_speak_one_language(make_settings, make_live_server,
                                                             lang):
    from bench.procs import free_port
    from vault.app import create_app

    port = free_port()
    app = create_app({"settings": make_settings(base_url=f"http://127.0.0.1:{port}"),
                      "TESTING": True})

    def broken():  # a view with a bug, as any view may have
        raise RuntimeError("a bug in a view")

    app.add_url_rule("/_broken", "broken", broken)
    server = make_live_server(app, port)
    try:
        v = Visitor(server.url, lang)
        v.typed += ["/_broken", "/nergens"]
        for status, path in ((405, "/logout"), (404, "/nergens"), (500, "/_broken")):
            resp = v.http.get(server.url + path, timeout=30)
            assert resp.status_code == status, (path, resp.status_code)
            assert not foreign_words(resp.text, lang, v.typed), (status, resp.text[-900:])
            assert f'<html lang="{lang}"' in resp.text
            shown = plain_text(resp.text, lang)
            assert ERROR_EXPECT[status][lang] in shown, (status, shown[-600:])
            other = "en" if lang == "nl" else "nl"
            assert ERROR_EXPECT[status][other] not in shown, (status, shown[-600:])
        allow = v.http.get(server.url + "/logout", timeout=30).headers.get("Allow", "")
        assert "POST" in allow  # the 405 still says which methods the address takes
        assert not v.problems, "\n".join(v.problems)
    finally:
        app.extensions["kluis"].close()


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_a_connection_error_is_a_sentence_in_the_persons_language(live_server, make_owner,
                                                                   lang):
    """A source's own error text (English, technical) is not the page's message: the page
    says what happened for its kind and keeps the text behind "Technische details"."""
    from vault.connectors import service as connections

    owner = make_owner(password="lange zin met woorden 42")
    instance = live_server.app.extensions["kluis"].instance
    try:  # the text a real source failure leaves (requests' own words)
        requests.get("http://127.0.0.1:9/api", timeout=5)
    except requests.RequestException as exc:
        raw = str(exc)
    made = {}
    for status in ("retrying", "needs_attention"):
        made[status] = connections.create_connection(
            instance, owner.vault_id, "brp", {"base_url": "http://127.0.0.1:9/api",
                                              "bsn": "111222333"}, {"api_key": "een-sleutel"})
        connections.update_connection(instance, made[status].id, status=status, last_error=raw)
    known = connections.create_connection(
        instance, owner.vault_id, "brp", {"base_url": "http://127.0.0.1:9/api",
                                          "bsn": "111222333"}, {"api_key": "een-sleutel"})
    connections.update_connection(instance, known.id, status="failed",
                                  last_error="The connector failed unexpectedly.")
    v = Visitor(live_server.url, lang)
    v.typed += [owner.username]
    v.submit("login", "/login", data={"username": owner.username, "password": owner.password})
    html = v.page("connectors_ui.connections_page", "/connections")
    assert not v.problems, "\n".join(v.problems)
    sentences = {"nl": ("Kluis probeert het straks vanzelf opnieuw.", "Controleer ze",
                        "Het ophalen ging onverwacht mis."),
                 "en": ("Kluis tries again shortly by itself.", "Check them",
                        "The connector failed unexpectedly.")}
    shown = plain_text(html, lang)
    for sentence in sentences[lang]:
        assert sentence in shown, (sentence, shown[-1500:])
    # The technical text is there for whoever helps, behind a details element, in English.
    details = re.findall(r'<details class="technical"><summary>[^<]+</summary>'
                         r'<code lang="en">([^<]+)</code>', html)
    assert len(details) == 2 and all(raw.split("(")[0] in d for d in details), details
