"""Every page of the organisation portal in a real browser at 390 and 1280 px: no sideways
scroll and no axe-core violation of any impact, under the portal's strict CSP (issue 17 item 7:
the same bar as the owner's pages in test_every_page.py).

Complete by construction: ``test_every_portal_route_has_a_visit`` enumerates the portal's GET
routes from its ``url_map`` and fails naming any without a visit in ``VISITS`` or a reason in
``NOT_PAGES``. Pages a person only sees after sending a form (a wrong password, a form with
errors, the invitation link, the applicant's "going to your Kluis") are reached through it.

One Kluis instance, one portal and one browser context per role serve the whole module; one
dossier is filled through the real flow (the applicant approves in her vault over the API).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import requests
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from bench.procs import free_port
from tests.e2e.test_every_page import _violations, _widest
from tests.e2e.test_portal import _accept
from tests.integration.portal.conftest import (
    INCOME_2024,
    INCOME_2025,
    accept_invite,
    csrf,
    portal_settings,
)
from tests.integration.portal.test_flow import STATEMENT
from vault.app import create_app
from vault.config import Settings
from vault.portal import dossiers, staff, templates_repo
from vault.portal.app import create_portal_app
from vault.portal.client import CALLBACK_PATH
from vault.portal.store import init_home as init_portal_home
from vault.storage.instance import init_home

pytestmark = pytest.mark.e2e

WIDTHS = (390, 1280)
PASSWORD = "een lange wachtzin voor het portaal"
OWNER_PASSWORD = "correct horse staple 42"
#: One unbroken value far wider than a phone, as a reference or a name can be.
LONG = "Kenmerk" + "x" * 150 + "Z"


@dataclass
class PortalSite:
    url: str
    app: object
    instance_url: str
    ids: dict[str, str] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)
    console: dict[str, list[str]] = field(default_factory=dict)

    @property
    def store(self):
        return self.app.extensions["kluis_portal"].store  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Visit:
    name: str
    endpoint: str
    role: str  # "admin", "anon", "totp" (password given), "enrol" (authenticator reset)
    path: Callable[[PortalSite], str]
    go: Callable[[PortalSite, Page], None] | None = None


def _no_browser_checks(page: Page) -> None:
    page.eval_on_selector_all("main form", "forms => forms.forEach(f => f.noValidate = true)")


def _wrong_login(s: PortalSite, page: Page) -> None:
    page.fill("#username", "beheer")
    page.fill("#password", "niet dit")
    page.click("#login-submit")
    expect(page.locator("#error")).to_be_visible()


def _new_request_errors(s: PortalSite, page: Page) -> None:
    _no_browser_checks(page)
    page.fill("#email", "geen-adres")
    page.click("#create-request")
    expect(page.locator("#error")).to_be_visible()


def _template_errors(s: PortalSite, page: Page) -> None:
    _no_browser_checks(page)
    page.fill("#name", "")
    page.fill("#duration_days", "0")
    page.click("#save-template")
    expect(page.locator("#error")).to_be_visible()


def _invite(s: PortalSite, page: Page) -> None:
    page.click("#invite")
    expect(page.locator("#invite-link")).to_be_visible()


def _applicant_error(s: PortalSite, page: Page) -> None:
    page.check("#instance-other")
    _no_browser_checks(page)
    page.fill("#instance_url", "geen adres")
    page.click("#to-vault")
    expect(page.locator("#error")).to_be_visible()


def _applicant_goes(s: PortalSite, page: Page) -> None:
    # The vault answers 204 here, so the browser stays on the portal's "going" page.
    page.check(f'[data-instance="{s.instance_url}"]')
    page.click("#to-vault")
    expect(page.locator("#go")).to_be_visible()


VISITS: list[Visit] = [
    Visit("login", "login", "anon", lambda s: "/login"),
    Visit("login-error", "(post)", "anon", lambda s: "/login", go=_wrong_login),
    Visit("login-totp", "login_totp", "totp", lambda s: "/login/totp"),
    Visit("login-enrol", "login_enrol", "enrol", lambda s: "/login/enrol"),
    Visit("invite", "accept_invite", "anon", lambda s: f"/invite/{s.ids['invite']}"),
    Visit("dashboard", "home", "admin", lambda s: "/"),
    Visit("new-request", "new_request", "admin", lambda s: "/requests/new"),
    Visit("new-request-errors", "(post)", "admin", lambda s: "/requests/new",
          go=_new_request_errors),
    Visit("dossier-new", "dossier", "admin", lambda s: f"/dossiers/{s.ids['new']}"),
    Visit("dossier-received", "dossier", "admin", lambda s: f"/dossiers/{s.ids['received']}"),
    Visit("staff", "admin_staff", "admin", lambda s: "/admin/staff"),
    Visit("staff-invited", "(post)", "admin", lambda s: "/admin/staff", go=_invite),
    Visit("templates", "admin_templates", "admin", lambda s: "/admin/templates"),
    Visit("template-new", "admin_template", "admin", lambda s: "/admin/templates/new"),
    Visit("template-edit", "admin_template", "admin",
          lambda s: f"/admin/templates/{s.ids['template']}"),
    Visit("template-errors", "(post)", "admin", lambda s: "/admin/templates/new",
          go=_template_errors),
    Visit("audit", "admin_audit", "admin", lambda s: "/admin/audit"),
    Visit("retention", "admin_retention", "admin", lambda s: "/admin/retention"),
    Visit("applicant", "applicant", "anon", lambda s: f"/a/{s.ids['new_code']}"),
    Visit("applicant-error", "(post)", "anon", lambda s: f"/a/{s.ids['new_code']}",
          go=_applicant_error),
    Visit("applicant-going", "(post)", "anon", lambda s: f"/a/{s.ids['going_code']}",
          go=_applicant_goes),
    Visit("applicant-done", "applicant", "anon", lambda s: f"/a/{s.ids['received_code']}"),
    Visit("callback-error", "callback", "anon", lambda s: f"{CALLBACK_PATH}?state=onbekend"),
    Visit("not-found", "(error)", "admin", lambda s: "/dossiers/bestaatniet"),
    Visit("not-allowed", "(error)", "anon", lambda s: "/logout"),  # 405: POST only
]

NOT_PAGES = {
    "healthz": "JSON health check",
    "readyz": "JSON readiness check",
    "set_lang": "sets the language cookie and redirects",
    "letter_pdf": "the letter (PDF download)",
    "dossier_document": "a received document's bytes (download)",
    "dossier_receipt": "the consent receipt as JSON (download)",
    "dossier_receipt_pdf": "the consent receipt as PDF (download)",
    "admin_audit_csv": "the audit log as CSV (download)",
    "nlds": "the NL Design System's CSS",
    "static": "static files",
}


def _serve(app) -> tuple[object, str]:
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def site(tmp_path_factory, redis_server, browser) -> Iterator[PortalSite]:
    root = tmp_path_factory.mktemp("portal-pages")
    port = free_port()
    settings = Settings(home=str(root / "kluis"), redis_url=redis_server,
                        allow_private_urls=True, secure_cookies="never",
                        base_url=f"http://127.0.0.1:{port}")
    init_home(settings)
    vault_app = create_app({"settings": settings, "TESTING": True})
    vault_server = make_server("127.0.0.1", port, vault_app, threaded=True)
    threading.Thread(target=vault_server.serve_forever, daemon=True).start()
    instance_url = f"http://127.0.0.1:{port}"

    portal_port = free_port()
    p_settings = portal_settings(root / "portal", portal_port, [instance_url])
    init_portal_home(p_settings)
    portal_app = create_portal_app({"settings": p_settings, "TESTING": True})
    portal_server = make_server("127.0.0.1", portal_port, portal_app, threaded=True)
    threading.Thread(target=portal_server.serve_forever, daemon=True).start()
    the_site = PortalSite(f"http://127.0.0.1:{portal_port}", portal_app, instance_url)
    contexts: list = []
    try:
        _fill(the_site, browser, contexts)
        yield the_site
    finally:
        for context in contexts:
            context.close()
        for server in (portal_server, vault_server):
            server.shutdown()
            server.server_close()
        portal_app.extensions["kluis_portal"].close()
        vault_app.extensions["kluis"].close()


def _new_page(site: PortalSite, browser, contexts: list, role: str) -> Page:
    context = browser.new_context(locale="nl-NL")
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    messages = site.console.setdefault(role, [])
    page.on("console", lambda msg: messages.append(msg.text) if msg.type == "error" else None)
    # The vault's consent screen is not this test's business: the browser stays put.
    page.route(f"{site.instance_url}/oauth/authorize**", lambda route: route.fulfill(status=204))
    site.pages[role] = page
    return page


def _owner(instance_url: str) -> requests.Session:
    assert requests.post(f"{instance_url}/api/v1/accounts", timeout=30, json={
        "username": "aanvrager", "password": OWNER_PASSWORD}).status_code == 201
    token = requests.post(f"{instance_url}/api/v1/tokens", timeout=30, json={
        "username": "aanvrager", "password": OWNER_PASSWORD, "name": "tests"}).json()["token"]
    owner = requests.Session()
    owner.headers["Authorization"] = f"Bearer {token}"
    return owner


def _fill(site: PortalSite, browser, contexts: list) -> None:
    store = site.store
    rental = next(t["id"] for t in templates_repo.list_all(store)
                  if t["name"] == "Huurwoning toewijzen")
    site.ids["template"] = rental

    admin = _new_page(site, browser, contexts, "admin")
    _accept(admin, f"{site.url}/invite/{staff.create_invite(store, 'admin')}", "beheer",
            "Beheer " + LONG)
    admin_id = staff.list_staff(store)[0]["id"]

    def ask(reference: str) -> dict:
        return dossiers.create(store, rental, applicant_name="A. de Vries " + LONG,
                               reference=reference, email="a@example.org", created_by=admin_id)

    new, going, received = ask(LONG[:100]), ask("2026-0002"), ask("2026-0003")
    site.ids.update(new=new["id"], new_code=new["code"], going_code=going["code"],
                    received=received["id"], received_code=received["code"])

    # The received dossier goes through the real flow: the applicant approves in her vault.
    owner = _owner(site.instance_url)
    ids = {key: owner.post(f"{site.instance_url}/api/v1/records", timeout=30, json={
        "type": "income", "data": data}).json()["id"]
        for key, data in (("2024", INCOME_2024), ("2025", INCOME_2025 | {"source": LONG}))}
    ids["doc"] = owner.post(f"{site.instance_url}/api/v1/documents", timeout=30, data={
        "category": "annual-statement"}, files={
        "file": (f"{LONG}.pdf", STATEMENT, "application/pdf")}).json()["id"]
    applicant = requests.Session()
    link = f"{site.url}/a/{received['code']}"
    page = applicant.get(link, timeout=30)
    resp = applicant.post(link, timeout=30, data={"csrf": csrf(page.text),
                                                  "instance": site.instance_url})
    authorize = re.search(r'id="go" href="([^"]+)"', resp.text).group(1).replace("&amp;", "&")
    opened = owner.post(f"{site.instance_url}/api/v1/requests", timeout=30,
                        json={"authorize_url": authorize})
    assert opened.status_code in (200, 201), opened.text
    approved = owner.post(f"{site.instance_url}/api/v1/requests/{opened.json()['id']}/approve",
                          timeout=30, json={"records": [
                              {"record_type": "income", "record_ids": [ids["2025"]]},
                              {"record_type": "document", "record_ids": [ids["doc"]]}]})
    assert approved.status_code == 200, approved.text
    back = requests.get(approved.json()["redirect_uri"], timeout=30)
    assert 'data-status="approved"' in back.text, back.text[-1500:]

    # A caseworker between password and code; another whose authenticator was reset.
    for role, username in (("totp", "fatima"), ("enrol", "henk")):
        code = staff.create_invite(store, "caseworker")
        accept_invite(site.url, f"{site.url}/invite/{code}", username)
        if role == "enrol":
            staff.reset_totp(store, next(m["id"] for m in staff.list_staff(store)
                                         if m["username"] == username))
        page = _new_page(site, browser, contexts, role)
        page.goto(f"{site.url}/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("#login-submit")
        expect(page).to_have_url(re.compile(f"/login/{role}"))
    _new_page(site, browser, contexts, "anon")


def _open(site: PortalSite, visit: Visit, page: Page) -> None:
    if visit.endpoint == "accept_invite":
        site.ids["invite"] = staff.create_invite(site.store, "caseworker")
    page.goto(site.url + visit.path(site))
    if visit.go is not None:
        visit.go(site, page)
    page.wait_for_load_state("load")


@pytest.mark.parametrize("visit", VISITS, ids=[v.name for v in VISITS])
@pytest.mark.parametrize("width", WIDTHS)
def test_portal_page_fits_the_screen_and_axe_finds_nothing(site, visit, width):
    page = site.pages[visit.role]
    page.set_viewport_size({"width": width, "height": 900})
    messages = site.console[visit.role]
    messages.clear()
    _open(site, visit, page)
    assert page.locator("main#content").count() == 1, f"{visit.name}: no <main id=content>"
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], (f"{visit.name} at {width}px scrolls sideways: {widths}, "
                                    f"widest: {_widest(page)}")
    violations = _violations(page)
    assert not violations, f"{visit.name} at {width}px:\n" + "\n".join(violations)
    refused = [m for m in messages if "Content Security Policy" in m or "Refused" in m]
    assert not refused, f"{visit.name}: {refused}"


def test_every_portal_route_has_a_visit(site):
    visited = {v.endpoint for v in VISITS}
    missing = [f"{rule.rule} ({rule.endpoint})"
               for rule in site.app.url_map.iter_rules()  # type: ignore[attr-defined]
               if "GET" in (rule.methods or ()) and rule.endpoint not in visited
               and rule.endpoint not in NOT_PAGES]
    assert not missing, ("portal pages without a visit in tests/e2e/test_portal_pages.py "
                         "(add a Visit, or a reason in NOT_PAGES): " + ", ".join(missing))


def test_the_received_dossier_shows_what_was_shared(site):
    """The dossier visit is the real thing: the applicant's shared income and document."""
    page = site.pages["admin"]
    page.goto(f"{site.url}/dossiers/{site.ids['received']}")
    expect(page.locator("#dossier-status")).to_have_attribute("data-status", "approved")
    expect(page.locator('#records [data-type="income"]')).to_have_count(1)
    expect(page.locator('#records [data-type="document"]')).to_have_count(1)


def test_the_portal_wears_the_same_nl_design_system_as_the_vault(site):
    """The portal serves the vault's vendored NLDS files (one copy) and its pages use them."""
    from pathlib import Path

    nlds = Path(__file__).resolve().parents[2] / "vault" / "ui" / "static" / "nlds"
    for name in ("utrecht-html.css", "voorbeeld-theme.css"):
        resp = requests.get(f"{site.url}/nlds/{name}", timeout=30)
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/css")
        assert resp.content == (nlds / name).read_bytes()
    page = site.pages["anon"]
    page.goto(f"{site.url}/login")
    assert page.evaluate("() => getComputedStyle(document.documentElement)"
                         ".getPropertyValue('--basis-text-font-family-default')").strip()
