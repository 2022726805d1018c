"""Every portal page and every form error in Dutch without English and in English without Dutch
(issue 17 item 7), as tests/integration/web/test_language.py does for the owner's pages.

A portal with one Kluis instance; an admin, a caseworker between password and code and one
whose authenticator was reset; a new dossier and one the applicant approved in her vault. Every
GET page of the portal is rendered and every form sent with bad input; the visible text must
hold no word of the other language's deny-list (the same lists as the owner's test). The page
list is complete by construction: ``test_every_portal_page_is_covered`` enumerates the portal's
GET routes from its ``url_map``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from tests.integration.portal.conftest import accept_invite, csrf
from tests.integration.portal.test_flow import _applicant_goes, _ask, _owner_with_records
from tests.integration.web.test_language import foreign_words, plain_text
from vault.grants.models import PURPOSES
from vault.portal import staff, templates_repo
from vault.portal.client import CALLBACK_PATH
from vault.records.catalogue import RECORD_TYPES

#: What the organisation or the caseworker typed (template names and texts are theirs).
TYPED = ["Woonstichting De Kern", "A. de Vries", "Fatima", "Henk", "Beheer", "beheer", "fatima",
         "henk", "ACME BV", "jaaropgave-2025.pdf", "Portaal", "Portal", "Nederlands", "English",
         "NL", "EN", "JSON", "PDF", "TOTP", "Kluis"]
#: Codes an administrator sees beside their labels (a purpose's, a document category's).
CODES = [*PURPOSES, *RECORD_TYPES, *templates_repo.DOCUMENT_CATEGORIES]

#: GET routes that answer a file or a redirect, not a page.
NOT_PAGES = {"healthz", "readyz", "set_lang", "letter_pdf", "dossier_document", "dossier_receipt",
             "dossier_receipt_pdf", "admin_audit_csv", "nlds", "static"}

#: Per language, a text a page must show (that the translation is really there).
EXPECT = {
    "login (wrong)": {"nl": "Gebruikersnaam of wachtwoord klopt niet.",
                      "en": "Username or password is wrong."},
    "new request (empty)": {"nl": "Vul de naam van de aanvrager in.",
                            "en": "Fill in the applicant's name."},
    "invite (weak password)": {"nl": "Een wachtwoord heeft minstens",
                               "en": "A password has at least"},
    "405": {"nl": "Dit adres werkt niet op deze manier.",
            "en": "This address does not work this way."},
    "applicant (unreachable)": {"nl": "De Kluis op dit adres is niet bereikbaar.",
                                "en": "The Kluis at this address cannot be reached."},
}


#: The example templates' names and texts (the organisation's words, in Dutch), filled per test.
TEMPLATES: list[str] = []


class Visitor:
    def __init__(self, base: str, lang: str, http: requests.Session | None = None) -> None:
        self.base, self.lang = base, lang
        self.http = http or requests.Session()
        self.http.headers["Accept-Language"] = "en-GB,en;q=0.8" if lang == "en" else "fr-BE, de"
        self.seen: set[str] = set()
        self.problems: list[str] = []
        self.typed = TYPED + CODES
        self.templates = TEMPLATES

    def check(self, what: str, resp: requests.Response) -> str:
        assert resp.status_code < 500, (what, resp.status_code, resp.text[:500])
        html = resp.text
        found = foreign_words(html, self.lang, self.typed + self.templates)
        if found:
            text = plain_text(html, self.lang)
            self.problems.append(f"{what} ({resp.url}): {found}\n    {text[:1200]}")
        match = re.search(r'<html lang="(\w+)"', html)
        if not match or match.group(1) != self.lang:
            self.problems.append(f"{what}: <html lang={match.group(1) if match else None}>")
        if what in EXPECT and EXPECT[what][self.lang] not in plain_text(html, self.lang):
            self.problems.append(f"{what}: {EXPECT[what][self.lang]!r} not shown in "
                                 f"{plain_text(html, self.lang)[-600:]}")
        return html

    def page(self, endpoint: str, path: str, what: str = "") -> str:
        self.seen.add(endpoint)
        return self.check(what or endpoint, self.http.get(self.base + path, timeout=30))

    def submit(self, what: str, path: str, data: dict[str, Any] | None = None,
               with_csrf: bool = True) -> requests.Response:
        page = self.http.get(self.base + path, timeout=30)
        payload = {"csrf": csrf(page.text)} if with_csrf else {}
        resp = self.http.post(self.base + path, data={**payload, **(data or {})}, timeout=30)
        self.check(what, resp)
        return resp


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_portal_page_and_form_error_speaks_one_language(
        lang, make_instance, make_portal, make_staff, make_owner):
    instance = make_instance()
    portal = make_portal([instance.url])
    store = portal.store
    admin = make_staff(portal, "admin", "beheer", "Beheer")
    v = Visitor(portal.url, lang, admin)
    TEMPLATES[:] = [x for t in templates_repo.list_all(store)
                    for x in (t["name"], t["purpose_text"]) if x]

    # A dossier the applicant approved in her vault, and a new one.
    owner, ids = _owner_with_records(make_owner, instance)
    received, link = _ask(portal, admin, "2026-0001")
    opened = owner.post("/api/v1/requests", json={"authorize_url": _applicant_goes(
        link, instance.url)})
    approved = owner.post(f"/api/v1/requests/{opened.json()['id']}/approve", json={"records": [
        {"record_type": "income", "record_ids": [ids["2025"]]},
        {"record_type": "document", "record_ids": [ids["doc"]]}]})
    assert approved.status_code == 200, approved.text
    requests.get(approved.json()["redirect_uri"], timeout=30)
    new, new_link = _ask(portal, admin, "2026-0002")
    new_code = new_link.rsplit("/", 1)[1]
    done_code = link.rsplit("/", 1)[1]
    rental = next(t["id"] for t in templates_repo.list_all(store)
                  if t["name"] == "Huurwoning toewijzen")

    # -- staff pages ---------------------------------------------------------------------------
    for endpoint, path in (("home", "/"), ("new_request", "/requests/new"),
                           ("dossier", f"/dossiers/{received}"),
                           ("dossier", f"/dossiers/{new}"),
                           ("admin_staff", "/admin/staff"),
                           ("admin_templates", "/admin/templates"),
                           ("admin_template", "/admin/templates/new"),
                           ("admin_template", f"/admin/templates/{rental}"),
                           ("admin_audit", "/admin/audit"),
                           ("admin_retention", "/admin/retention")):
        v.page(endpoint, path)
    v.page("(error)", "/dossiers/bestaatniet", "404")
    v.page("(error)", "/logout", "405")
    v.submit("new request (empty)", "/requests/new", {"template": rental,
                                                      "applicant_name": "", "reference": ""})
    v.submit("new request (no template)", "/requests/new", {"template": "geen"})
    v.submit("new request (bad e-mail)", "/requests/new", {
        "template": rental, "applicant_name": "A. de Vries", "reference": "x",
        "email": "geen-adres"})
    v.submit("template (errors)", "/admin/templates/new", {
        "name": "", "purpose": "geen", "duration_days": "0", "retention_days": "veel",
        "type_income": "1", "years_income": "99"})
    me = next(m["id"] for m in staff.list_staff(store) if m["username"] == "beheer")
    v.submit("staff (yourself)", "/admin/staff", {"deactivate": me})
    v.submit("staff (bad role)", "/admin/staff", {"role": "baas"})
    v.submit("staff (invited)", "/admin/staff", {"role": "caseworker"})
    v.submit("form expired (csrf)", "/requests/new", {"template": rental}, with_csrf=False)

    caseworker = make_staff(portal, "caseworker", "fatima", "Fatima")
    cw = Visitor(portal.url, lang, caseworker)
    cw.page("(error)", "/admin/audit", "403 (caseworker)")

    # -- signing in: wrong password, wrong code, a reset authenticator, an invitation ----------
    anon = Visitor(portal.url, lang)
    anon.page("login", "/login")
    anon.submit("login (wrong)", "/login", {"username": "fatima", "password": "niet dit"})
    anon.submit("login (password)", "/login", {"username": "fatima",
                                                "password": "een lange wachtzin voor het portaal"})
    anon.page("login_totp", "/login/totp")
    anon.submit("totp (wrong)", "/login/totp", {"code": "000000"})
    code = staff.create_invite(store, "caseworker")
    henk = accept_invite(portal.url, f"{portal.url}/invite/{code}", "henk", "Henk")
    henk.cookies.clear()
    staff.reset_totp(store, next(m["id"] for m in staff.list_staff(store)
                                 if m["username"] == "henk"))
    enrol = Visitor(portal.url, lang)
    enrol.submit("login (enrol next)", "/login", {
        "username": "henk", "password": "een lange wachtzin voor het portaal"})
    enrol.page("login_enrol", "/login/enrol")
    enrol.submit("enrol (wrong code)", "/login/enrol", {"code": "000000"})
    invite = f"/invite/{staff.create_invite(store, 'caseworker')}"
    newcomer = Visitor(portal.url, lang)
    newcomer.page("accept_invite", invite)
    for what, data in (("invite (bad username)", {"username": "a", "password": "x" * 20,
                                                  "code": "000000"}),
                       ("invite (weak password)", {"username": "nieuw", "password": "kort",
                                                   "code": "000000"}),
                       ("invite (wrong code)", {"username": "nieuw", "display_name": "Nieuw",
                                                "password": "een lange wachtzin voor het portaal",
                                                "code": "000000"})):
        newcomer.submit(what, invite, data)
    newcomer.page("(error)", "/invite/bestaatniet", "invite (unknown)")

    # -- the applicant -------------------------------------------------------------------------
    applicant = Visitor(portal.url, lang)
    applicant.page("applicant", f"/a/{new_code}")
    applicant.page("applicant", f"/a/{done_code}", "applicant (done)")
    applicant.submit("applicant (not an address)", f"/a/{new_code}", {
        "instance": "other", "instance_url": "geen adres"})
    applicant.submit("applicant (unreachable)", f"/a/{new_code}", {
        "instance": "other", "instance_url": "http://127.0.0.1:9/"})
    applicant.page("callback", f"{CALLBACK_PATH}?state=onbekend", "callback (unknown)")
    applicant.page("(error)", "/a/bestaatniet", "applicant (unknown link)")
    going = applicant.submit("applicant (going)", f"/a/{new_code}", {"instance": instance.url})
    assert 'id="go"' in going.text

    problems = [p for x in (v, cw, anon, enrol, newcomer, applicant) for p in x.problems]
    assert not problems, "\n".join(problems)
    seen = set().union(*(x.seen for x in (v, cw, anon, enrol, newcomer, applicant)))
    routes = {r.endpoint for r in portal.app.url_map.iter_rules()  # type: ignore[attr-defined]
              if "GET" in (r.methods or ())}
    assert not routes - seen - NOT_PAGES, f"portal pages not checked: {routes - seen - NOT_PAGES}"


def test_every_portal_page_is_covered(make_portal):
    """The list above names every GET page (the route set is checked there too)."""
    portal = make_portal([])
    routes = {r.endpoint for r in portal.app.url_map.iter_rules()  # type: ignore[attr-defined]
              if "GET" in (r.methods or ())}
    checked = {"home", "new_request", "dossier", "admin_staff", "admin_templates",
               "admin_template", "admin_audit", "admin_retention", "login", "login_totp",
               "login_enrol", "accept_invite", "applicant", "callback"}
    assert routes - NOT_PAGES == checked, routes - NOT_PAGES ^ checked
