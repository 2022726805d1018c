"""Every page of the owner UI in a real browser at 390 and 1280 px: no horizontal scroll
and no axe-core violation of any impact, with the strict CSP left on.

The list of pages is complete by construction: ``test_every_page_route_has_a_visit``
enumerates the GET routes of the UI blueprints (``vault.ui.*``) in ``app.url_map`` and
fails naming any route that has neither a visit in ``VISITS`` nor a reason in
``NOT_PAGES``. A page added later must be added here. Pages a person only sees after
sending a form (the recovery code after sign-up and after "new recovery code", the pickup
code, the approved consent, a record form with errors or the duplicate warning, the log-in
code step with a wrong code, the mail settings with an error) are reached through their
form (``Visit.go``); the security page lists a passkey (Chromium's virtual authenticator,
so the site is reached as ``localhost``); the readable receipt the API serves an
organisation is opened with the organisation's token.

axe-core (tests/e2e/vendor/axe.min.js, see its README) is injected with
``page.evaluate`` of the file's text: DevTools evaluation is not subject to the page's
Content-Security-Policy, so the pages are checked under the CSP they ship with
(``bypass_csp`` stays off) and any CSP refusal on the console fails the page too.

One server, one owner and one browser context per role serve the whole module.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest
import requests
from playwright.sync_api import Page, expect
from werkzeug.serving import make_server

from bench.procs import free_port
from tests.integration.grants.conftest import INCOME, PERSON
from vault.app import create_app
from vault.config import Settings
from vault.grants.oauth import pkce_challenge
from vault.records.catalogue import RECORD_TYPES
from vault.storage.instance import init_home

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WIDTHS = (390, 1280)
REDIRECT = "https://dekern.example/oauth/callback"
PASSWORD = "correct horse staple 42"
#: One unbroken value far wider than a phone: hashes, ids and JWS look like this.
LONG = "Loonstrook" + "x" * 180 + "BV"
LONG_TEXT = "Z" * 990


@dataclass
class Site:
    """The running app, its owner's data and the ids the visits need."""

    url: str
    app: object
    token: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    pages: dict[str, Page] = field(default_factory=dict)
    console: dict[str, list[str]] = field(default_factory=dict)
    push: Callable[[], dict] = dict

    def api(self, method: str, path: str, **kw) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kw)


@dataclass(frozen=True)
class Visit:
    """One page: the route's endpoint, who looks (a role's browser context) and the path."""

    name: str
    endpoint: str
    role: str  # "owner" (logged in), "anon" (logged out), "totp" (password given, code not),
    #            "fresh" (signs up), "totp-error" (a wrong code), "org" (an organisation's token)
    path: Callable[[Site], str]
    #: For a page a person only sees after a POST: drives the browser there from ``path``.
    go: Callable[[Site, Page], None] | None = None


def _records_new(type_id: str) -> Visit:
    return Visit(f"record-form-{type_id}", "records_ui.new_record", "owner",
                 lambda s: f"/records/new/{type_id}")


#: Record types with a form (documents are uploaded, monthly finances are derived).
FORM_TYPES = [t for t in RECORD_TYPES if t not in ("document", "monthly-finances")]
CONNECTORS = ("brp", "psd2", "upload", "woz")

VISITS: list[Visit] = [
    # logged out
    Visit("start", "ui.index", "anon", lambda s: "/"),
    Visit("signup", "accounts_ui.signup", "anon", lambda s: "/signup"),
    Visit("login", "accounts_ui.login", "anon", lambda s: "/login"),
    Visit("login-totp", "accounts_ui.login_totp", "totp", lambda s: "/login/totp"),
    Visit("recover", "accounts_ui.recover", "anon", lambda s: "/recover"),
    Visit("recover-totp", "accounts_ui.recover_totp", "anon", lambda s: "/recover/totp"),
    Visit("import", "portability_ui.start_import", "anon", lambda s: "/portability/import"),
    Visit("import-progress", "portability_ui.import_progress", "anon",
          lambda s: s.ids["import_progress"]),
    Visit("verify", "portability_verify.verify_page", "anon", lambda s: "/verify"),
    # logged in
    Visit("dashboard", "records_ui.dashboard", "owner", lambda s: "/dashboard"),
    Visit("records", "records_ui.record_list", "owner", lambda s: "/records?category=finance"),
    *[_records_new(type_id) for type_id in FORM_TYPES],
    Visit("record-long-value", "records_ui.record_detail", "owner",
          lambda s: f"/records/{s.ids['long_income']}"),
    Visit("record-document", "records_ui.record_detail", "owner",
          lambda s: f"/records/{s.ids['document']}"),
    Visit("record-edit", "records_ui.edit_record", "owner",
          lambda s: f"/records/{s.ids['long_income']}/edit"),
    Visit("upload", "records_ui.upload_document", "owner", lambda s: "/documents/upload"),
    Visit("log", "log_ui.log", "owner", lambda s: "/log"),
    Visit("access-log", "log_ui.access_log", "owner", lambda s: "/grants/log"),
    Visit("tokens", "accounts_ui.tokens", "owner", lambda s: "/tokens"),
    Visit("security", "accounts_ui.security", "owner", lambda s: "/security"),
    Visit("totp-enrol", "accounts_ui.enrol_totp", "owner", lambda s: "/security/totp"),
    Visit("connections", "connectors_ui.connections_page", "owner", lambda s: "/connections"),
    *[Visit(f"connection-new-{c}", "connectors_ui.new_connection", "owner",
            lambda s, c=c: f"/connections/new/{c}") for c in CONNECTORS],
    Visit("changes", "connectors_ui.changes", "owner", lambda s: "/changes"),
    Visit("finance", "finance_ui.overview", "owner", lambda s: "/finance"),
    Visit("grants", "grants_ui.overview", "owner", lambda s: "/grants"),
    Visit("grant-new", "grants_ui.new_grant", "owner", lambda s: "/grants/new"),
    Visit("consent", "grants_ui.consent", "owner",
          lambda s: f"/grants/requests/{s.ids['pending_request']}"),
    Visit("grant-detail", "grants_ui.grant_detail", "owner",
          lambda s: f"/grants/{s.ids['grant']}"),
    Visit("receipt", "grants_ui.receipt_page", "owner",
          lambda s: f"/grants/{s.ids['grant']}/receipt"),
    Visit("revoke-all", "grants_ui.revoke_all", "owner", lambda s: "/grants/revoke-all"),
    Visit("notifications", "lifecycle_ui.notifications_page", "owner",
          lambda s: "/notifications"),
    Visit("mail-settings", "lifecycle_ui.mail_settings", "owner",
          lambda s: "/notifications/settings"),
    Visit("portability", "portability_ui.index", "owner", lambda s: "/portability/"),
    Visit("archive", "portability_ui.start_archive", "owner", lambda s: "/portability/archive"),
    Visit("archive-progress", "portability_ui.archive_progress", "owner",
          lambda s: s.ids["archive_progress"]),
    Visit("delete", "portability_ui.delete", "owner", lambda s: "/portability/delete"),
    # pages a person only sees after sending a form (POST), reached through the form
    Visit("signup-recovery-code", "(post)", "fresh", lambda s: "/signup",
          go=lambda s, p: _sign_up(s, p)),
    Visit("new-recovery-code", "(post)", "owner", lambda s: "/security",
          go=lambda s, p: _new_recovery_code(p)),
    Visit("record-form-errors", "(post)", "owner", lambda s: "/records/new/income",
          go=lambda s, p: _record_errors(p)),
    Visit("record-form-duplicate", "(post)", "owner", lambda s: "/records/new/income",
          go=lambda s, p: _record_duplicate(p)),
    Visit("login-totp-error", "(post)", "totp-error", lambda s: "/login/totp",
          go=lambda s, p: _wrong_totp(p)),
    Visit("mail-settings-error", "(post)", "owner", lambda s: "/notifications/settings",
          go=lambda s, p: _mail_error(p)),
    Visit("grant-pickup-code", "(post)", "owner", lambda s: "/grants/new",
          go=lambda s, p: _owner_grant(s, p)),
    Visit("consent-approved", "(post)", "owner", lambda s: "/grants",
          go=lambda s, p: _approve(s, p)),
    # pages that are no GET route of a UI blueprint, checked all the same
    Visit("receipt-public", "(api)", "org",
          lambda s: "/api/v1/grant/receipt?format=html&lang=nl"),
    Visit("oauth-consent", "oauth.authorize", "owner", lambda s: s.ids["authorize_link"]),
    Visit("error-not-found", "(error)", "owner", lambda s: "/records/rec_doesnotexist"),
    Visit("error-domain", "(error)", "owner", lambda s: "/grants/grt_doesnotexist"),
    Visit("error-method", "(error)", "owner", lambda s: "/logout"),  # 405: POST only
]

#: GET routes of the UI blueprints that answer with something other than a page.
NOT_PAGES = {
    "log_ui.log_csv": "the log as CSV (download)",
    "log_ui.log_pdf": "the log as PDF (download)",
    "records_ui.download_document": "a document's bytes (download)",
    "grants_ui.receipt": "the consent receipt as JSON",
    "grants_ui.receipt_pdf": "the consent receipt as PDF",
    "grants_ui.organisation_logo": "an organisation's logo image",
    "lifecycle_ui.download_statement": "a deletion statement as JWS (download)",
    "portability_ui.archive_file": "the encrypted archive (download)",
    "static": "static files",
}

# -- the site -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory, redis_server, browser) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("every-page") / "home"
    port = free_port()
    # Reached as localhost (a secure context with a host name) so a passkey can register.
    settings = Settings(home=str(home), redis_url=redis_server, allow_private_urls=True,
                        secure_cookies="never", base_url=f"http://localhost:{port}")
    init_home(settings)
    app = create_app({"settings": settings, "TESTING": True})
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    the_site = Site(f"http://localhost:{port}", app)
    contexts = []
    try:
        _fill(the_site, browser, contexts)
        yield the_site
    finally:
        for context in contexts:
            context.close()
        server.shutdown()
        server.server_close()
        app.extensions["kluis"].close()


def _new_page(site: Site, browser, contexts: list, role: str) -> Page:
    context = browser.new_context(locale="nl-NL")
    contexts.append(context)
    return _watch(site, context.new_page(), role)


def _watch(site: Site, page: Page, role: str) -> Page:
    page.set_default_timeout(15_000)
    messages = site.console.setdefault(role, [])
    page.on("console", lambda msg: messages.append(msg.text) if msg.type == "error" else None)
    page.route("https://dekern.example/**", lambda route: route.fulfill(body="bedankt"))
    site.pages[role] = page
    return page


def _log_in(page: Page, site: Site, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{site.url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")


def _fill(site: Site, browser, contexts: list) -> None:
    """One owner with a bit of everything, a pending request and a grant."""
    username = "annemarie"
    account = requests.post(f"{site.url}/api/v1/accounts", timeout=30, json={
        "username": username, "password": PASSWORD})
    assert account.status_code == 201, account.text
    # A source that failed with its own long technical text (shown behind "Technische details").
    from vault.connectors import service as connections

    instance = site.app.extensions["kluis"].instance  # type: ignore[attr-defined]
    failed = connections.create_connection(
        instance, account.json()["vault_id"], "brp",
        {"base_url": "http://127.0.0.1:9/api", "bsn": "111222333"}, {"api_key": "een-sleutel"})
    connections.update_connection(instance, failed.id, status="needs_attention", last_error=(
        "HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: /api/"
        + LONG))
    site.token = requests.post(f"{site.url}/api/v1/tokens", timeout=30, json={
        "username": username, "password": PASSWORD, "name": "tests"}).json()["token"]
    assert site.api("POST", "/api/v1/records", json={"type": "person", "data": PERSON}).ok
    site.ids["income"] = site.api("POST", "/api/v1/records", json={
        "type": "income", "data": INCOME}).json()["id"]
    long_income = site.api("POST", "/api/v1/records", json={
        "type": "income", "data": INCOME | {"year": 2024, "source": LONG}})
    assert long_income.status_code == 201, long_income.text
    site.ids["long_income"] = long_income.json()["id"]
    site.ids["document"] = site.api("POST", "/api/v1/documents", data={
        "category": "annual-statement", "description": LONG_TEXT}, files={
        "file": (f"{LONG}.pdf", b"%PDF-1.4 jaaropgave", "application/pdf")}).json()["id"]
    for day, amount, who in (("2025-10-25", 250_000, "Werkgever BV"),
                             ("2025-10-28", -95_000, "Woonstichting De Kern"),
                             ("2025-11-02", -4_567, LONG)):
        resp = site.api("POST", "/api/v1/records", json={"type": "bank-transaction", "data": {
            "account_iban": "NL91ABNA0417164300", "booking_date": day, "amount_cents": amount,
            "currency": "EUR", "counterparty_name": who, "remittance": LONG}})
        assert resp.status_code == 201, resp.text

    reg = requests.post(f"{site.url}/oauth/register", timeout=30, json={
        "client_name": "Woonstichting De Kern", "client_uri": "https://dekern.example",
        "policy_uri": "https://dekern.example/privacy", "contacts": ["privacy@dekern.example"],
        "redirect_uris": [REDIRECT]}).json()
    site.ids["client_id"] = reg["client_id"]
    auth = (reg["client_id"], reg["client_secret"])

    def push(verifier: str = "") -> dict:
        verifier = verifier or secrets.token_urlsafe(48)
        return requests.post(f"{site.url}/oauth/par", auth=auth, timeout=30, data={
            "response_type": "code", "client_id": reg["client_id"], "redirect_uri": REDIRECT,
            "state": "s1", "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
            "authorization_details": json.dumps([{
                "type": "kluis_records", "purpose": "rental-eligibility", "retention": "P400D",
                "duration": "P120D", "max_uses": 500,
                "purpose_description": "Toewijzing Kerkstraat 5 " + LONG,
                "records": [{"record_type": "income"}, {"record_type": "person"},
                            {"record_type": "document", "categories": ["annual-statement"]},
                            {"record_type": "pension"}]}]),
        }).json()

    site.push = push
    pending = site.api("POST", "/api/v1/requests", json={"request_uri": push()["request_uri"]})
    assert pending.status_code == 201, pending.text
    site.ids["pending_request"] = pending.json()["id"]
    verifier = secrets.token_urlsafe(48)
    granted = site.api("POST", "/api/v1/requests",
                       json={"request_uri": push(verifier)["request_uri"]})
    approved = site.api("POST", f"/api/v1/requests/{granted.json()['id']}/approve")
    assert approved.status_code == 200, approved.text
    site.ids["grant"] = approved.json()["grant"]["id"]
    code = re.search(r"[?&]code=([^&]+)", approved.json()["redirect_uri"]).group(1)
    token = requests.post(f"{site.url}/oauth/token", auth=auth, timeout=30, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
        "code_verifier": verifier})
    assert token.status_code == 200, token.text
    org = browser.new_context(locale="nl-NL", extra_http_headers={
        "Authorization": f"Bearer {token.json()['access_token']}"})
    contexts.append(org)
    _watch(site, org.new_page(), "org")

    owner = _new_page(site, browser, contexts, "owner")
    _log_in(owner, site, username)
    expect(owner).to_have_url(f"{site.url}/dashboard")
    # A passkey (Chromium's virtual authenticator), so the security page lists one.
    cdp = owner.context.new_cdp_session(owner)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "ctap2Version": "ctap2_1", "transport": "internal",
        "hasResidentKey": True, "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True, "hasPrf": True}})
    owner.goto(f"{site.url}/security")
    owner.fill("#passkey-label", "Telefoon van Annemarie " + LONG)
    owner.click("#passkey-add")
    expect(owner.locator("#passkey-list li.passkey")).to_have_count(1)
    owner.goto(f"{site.url}/portability/archive")
    owner.fill("input[name=passphrase]", "een lange archiefzin voor de test")
    owner.fill("input[name=passphrase_repeat]", "een lange archiefzin voor de test")
    owner.locator("main form button[type=submit]").click()
    expect(owner).to_have_url(re.compile(r"/portability/archive/[^/]+$"))
    site.ids["archive_progress"] = owner.url.removeprefix(site.url)

    anon = _new_page(site, browser, contexts, "anon")
    anon.goto(f"{site.url}/portability/import")
    anon.set_input_files("input[name=archive]", files=[{
        "name": "kluis.archive", "mimeType": "application/octet-stream",
        "buffer": b"not an archive"}])
    for name, value in (("passphrase", "een lange archiefzin"), ("username", "nieuwkomer"),
                        ("password", PASSWORD), ("password_repeat", PASSWORD)):
        anon.fill(f"input[name={name}]", value)
    anon.locator("main form button[type=submit]").click()
    expect(anon).to_have_url(re.compile(r"/portability/import/[^/]+$"))
    site.ids["import_progress"] = anon.url.removeprefix(site.url)

    # A second owner with two-step verification, stopped between password and code.
    assert requests.post(f"{site.url}/api/v1/accounts", timeout=30, json={
        "username": "tweestaps", "password": PASSWORD}).status_code == 201
    token = requests.post(f"{site.url}/api/v1/tokens", timeout=30, json={
        "username": "tweestaps", "password": PASSWORD, "name": "tests"}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    secret = requests.post(f"{site.url}/api/v1/account/totp", headers=bearer,
                           timeout=30).json()["secret"]
    assert requests.post(f"{site.url}/api/v1/account/totp/confirm", headers=bearer, timeout=30,
                         json={"secret": secret, "code": pyotp.TOTP(secret).now()}).ok
    totp = _new_page(site, browser, contexts, "totp")
    _log_in(totp, site, "tweestaps")
    expect(totp).to_have_url(re.compile(r"/login/totp"))
    # Another, to type wrong codes (three, fewer than the lock needs) without touching that one.
    assert requests.post(f"{site.url}/api/v1/accounts", timeout=30, json={
        "username": "foutecode", "password": PASSWORD}).status_code == 201
    token = requests.post(f"{site.url}/api/v1/tokens", timeout=30, json={
        "username": "foutecode", "password": PASSWORD, "name": "tests"}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    secret = requests.post(f"{site.url}/api/v1/account/totp", headers=bearer,
                           timeout=30).json()["secret"]
    assert requests.post(f"{site.url}/api/v1/account/totp/confirm", headers=bearer, timeout=30,
                         json={"secret": secret, "code": pyotp.TOTP(secret).now()}).ok
    wrong = _new_page(site, browser, contexts, "totp-error")
    _log_in(wrong, site, "foutecode")
    expect(wrong).to_have_url(re.compile(r"/login/totp"))
    _new_page(site, browser, contexts, "fresh")


# -- the pages behind a form ----------------------------------------------------------------


def _sign_up(site: Site, page: Page) -> None:
    page.fill("#username", f"nieuw{secrets.token_hex(4)}")
    page.fill("#password", PASSWORD)
    page.fill("#password_repeat", PASSWORD)
    page.click("#signup-submit")
    expect(page.locator("#recovery-code")).to_be_visible()
    page.context.clear_cookies()  # logged out again for the next visit


def _new_recovery_code(page: Page) -> None:
    page.fill("#recovery-password", PASSWORD)
    page.click("#recovery-new")
    expect(page.locator("#recovery-code")).to_be_visible()


def _no_browser_checks(page: Page) -> None:
    """The server's own messages, not the browser's: forms sent without HTML validation."""
    page.eval_on_selector_all("main form", "forms => forms.forEach(f => f.noValidate = true)")


def _record_errors(page: Page) -> None:
    _no_browser_checks(page)
    page.fill("#field-year", "2099")
    page.fill("#field-source", "")
    page.fill("#field-gross_amount_cents", "veel")
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()


def _record_duplicate(page: Page) -> None:
    page.fill("#field-year", str(INCOME["year"]))
    page.fill("#field-source", INCOME["source"])
    page.select_option("#field-kind", INCOME["kind"])
    page.fill("#field-gross_amount_cents", "54.000,00")
    page.locator("main form button[type=submit]").first.click()
    expect(page.locator("#record-confirm-duplicate")).to_be_visible()


def _wrong_totp(page: Page) -> None:
    page.fill("#code", "000000")
    page.click("#totp-submit")
    expect(page.locator(".flash.error")).to_be_visible()


def _mail_error(page: Page) -> None:
    _no_browser_checks(page)
    page.fill("#mail-form input[name=email]", "geen-adres")
    page.locator("#mail-form button[type=submit]").first.click()
    expect(page.locator(".flash.error")).to_be_visible()


def _owner_grant(site: Site, page: Page) -> None:
    page.fill("#client_id", site.ids["client_id"])
    page.locator("input[name='field:income']").first.check()
    page.locator("input[name='record:income']").first.check()
    page.click("#create-grant")
    expect(page.locator("#pickup-code")).to_be_visible()


def _approve(site: Site, page: Page) -> None:
    pending = site.api("POST", "/api/v1/requests", json={"request_uri": site.push()["request_uri"]})
    assert pending.status_code == 201, pending.text
    page.goto(f"{site.url}/grants/requests/{pending.json()['id']}")
    page.click("#approve")
    expect(page.locator("#approved")).to_be_visible()


# -- the checks ---------------------------------------------------------------------------


def _authorize_link(site: Site) -> str:
    """A fresh request link each time (the consent at /oauth/authorize binds it)."""
    return site.push()["link"].removeprefix(site.url)


def _violations(page: Page) -> list[str]:
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => `${v.impact} ${v.id}: ${v.help} -- ` +
            v.nodes.slice(0, 5).map(n => n.target.join(' ')).join(' | '));
    }""")
    return list(found)


def _check(site: Site, visit: Visit, width: int) -> None:
    page = site.pages[visit.role]
    page.set_viewport_size({"width": width, "height": 900})
    path = _authorize_link(site) if visit.endpoint == "oauth.authorize" else visit.path(site)
    messages = site.console[visit.role]
    messages.clear()
    response = page.goto(site.url + path)
    assert response is not None
    if visit.go is not None:
        visit.go(site, page)
    page.wait_for_load_state("load")
    assert page.locator("main#content").count() == 1, f"{visit.name}: no <main id=content>"
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], (f"{visit.name} at {width}px scrolls sideways: {widths}, "
                                    f"widest: {_widest(page)}")
    violations = _violations(page)
    assert not violations, f"{visit.name} at {width}px:\n" + "\n".join(violations)
    refused = [m for m in messages if "Content Security Policy" in m or "Refused" in m]
    assert not refused, f"{visit.name}: {refused}"


@pytest.mark.parametrize("visit", VISITS, ids=[v.name for v in VISITS])
@pytest.mark.parametrize("width", WIDTHS)
def test_page_fits_the_screen_and_axe_finds_nothing(site, visit, width):
    _check(site, visit, width)


def test_every_page_route_has_a_visit(site):
    visited = {v.endpoint for v in VISITS}
    missing = []
    for rule in site.app.url_map.iter_rules():  # type: ignore[attr-defined]
        blueprint = site.app.blueprints.get(rule.endpoint.rpartition(".")[0])  # type: ignore[attr-defined]
        in_ui = rule.endpoint == "static" or (
            blueprint is not None and blueprint.import_name.startswith("vault.ui."))
        if not in_ui or "GET" not in (rule.methods or ()):
            continue
        if rule.endpoint not in visited and rule.endpoint not in NOT_PAGES:
            missing.append(f"{rule.rule} ({rule.endpoint})")
    assert not missing, ("UI pages without a visit in tests/e2e/test_every_page.py "
                         "(add a Visit, or a reason in NOT_PAGES): " + ", ".join(missing))


def test_every_record_form_and_connector_is_visited(site):
    from vault.connectors import registry

    assert set(CONNECTORS) == set(registry.load()), "a connector form has no visit"
    assert {v.name for v in VISITS} >= {f"record-form-{t}" for t in FORM_TYPES}


@pytest.mark.parametrize("visit", VISITS, ids=[v.name for v in VISITS])
def test_page_fits_the_narrowest_phone(site, visit):
    """320 px (the narrowest phone still sold): no sideways scroll (axe runs at 390 and 1280)."""
    page = site.pages[visit.role]
    page.set_viewport_size({"width": 320, "height": 700})
    path = _authorize_link(site) if visit.endpoint == "oauth.authorize" else visit.path(site)
    page.goto(site.url + path)
    if visit.go is not None:
        visit.go(site, page)
        page.wait_for_load_state("load")  # the page after the form, with its stylesheets
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], (f"{visit.name} at 320px scrolls sideways: {widths}, "
                                    f"widest: {_widest(page)}")


def _widest(page) -> list[str]:
    """The elements reaching furthest right, to say what makes a page scroll sideways."""
    return page.evaluate("""() => [...document.querySelectorAll('body *')]
        .map(e => [e.getBoundingClientRect().right, e.tagName.toLowerCase()
                   + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string'
                   ? '.' + e.className.trim().split(/\\s+/).join('.') : '')])
        .sort((a, b) => b[0] - a[0]).slice(0, 4).map(([r, n]) => n + ' ' + Math.round(r))""")


def _menu_on_a_phone(page: Page) -> None:
    """The menu is a <details> disclosure: no script, so the same with JavaScript off."""
    menu, button = page.locator("details#menu"), page.locator("#menu-button")
    expect(button).to_be_visible()
    assert button.evaluate("el => el.tagName") == "SUMMARY"  # a native disclosure button
    expect(menu).not_to_have_attribute("open", "")
    expect(page.locator("header nav")).to_be_hidden()
    button.click()
    expect(menu).to_have_attribute("open", "")
    expect(page.locator("header nav a").first).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    button.click()
    expect(page.locator("header nav")).to_be_hidden()


def test_menu_button_opens_and_closes_the_menu_on_a_phone(site):
    page = site.pages["owner"]
    page.set_viewport_size({"width": 320, "height": 700})
    page.goto(f"{site.url}/dashboard")
    expect(page.locator("#logout")).to_be_hidden()
    page.click("#menu-button")
    for link in ("#notifications-link", "#logout", "nav a[href='/finance']"):
        expect(page.locator(link)).to_be_visible()
    page.click("#menu-button")
    _menu_on_a_phone(page)


def test_the_whole_menu_shows_in_one_row_below_the_brand_at_1280(site):
    page = site.pages["owner"]
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{site.url}/dashboard")
    expect(page.locator("#menu-button")).to_be_hidden()
    tops = page.eval_on_selector_all(
        "header .main-nav li", "items => items.map(li => li.getBoundingClientRect().top)")
    assert len(tops) >= 10 and len(set(tops)) == 1, tops  # every link on one row
    brand, logout = (page.locator(s).bounding_box() for s in (".brand", "#logout"))
    assert brand and logout and abs(brand["y"] - logout["y"]) < brand["height"], (brand, logout)


def test_skip_link_is_the_first_stop_and_focus_is_visible(site):
    page = site.pages["anon"]
    page.set_viewport_size({"width": 390, "height": 700})
    page.goto(f"{site.url}/login")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_have_text("Ga direct naar de inhoud")
    assert skip.evaluate("el => el.getBoundingClientRect().top >= 0")  # shown when focused
    assert skip.evaluate("el => getComputedStyle(el).outlineStyle") != "none"
    page.keyboard.press("Enter")
    expect(page.locator("main#content")).to_be_focused()
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.id")
    assert focused == "username", focused
    assert page.locator("#username").evaluate("el => getComputedStyle(el).outlineStyle") != "none"


def test_the_menu_works_without_javascript(site, browser):
    context = browser.new_context(locale="nl-NL", java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_viewport_size({"width": 320, "height": 700})
        page.goto(f"{site.url}/login")
        _menu_on_a_phone(page)
        page.set_viewport_size({"width": 1280, "height": 700})
        expect(page.locator("#menu-button")).to_be_hidden()
        expect(page.locator("nav a[href='/signup']")).to_be_visible()
    finally:
        context.close()
