"""Passkeys in a real browser: Chromium's virtual authenticator (CDP ``WebAuthn.*``) registers
a passkey on the security page and logs in with it.

WebAuthn needs a secure context and an RP id that is a host name: the app is served on
loopback and reached as ``localhost`` (a secure context), with KLUIS_BASE_URL saying so.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from bench.procs import free_port
from vault.app import create_app

PASSWORD = "mijn lange wachtzin 2026"


@pytest.fixture
def localhost_server(make_live_server, settings):
    port = free_port()
    app = create_app({"settings": settings.with_overrides(base_url=f"http://localhost:{port}"),
                      "TESTING": True})
    make_live_server(app, port)
    yield f"http://localhost:{port}"
    app.extensions["kluis"].close()


def _authenticator(page, *, prf: bool) -> tuple[object, str]:
    client = page.context.new_cdp_session(page)
    client.send("WebAuthn.enable", {"enableUI": False})
    options = {"protocol": "ctap2", "ctap2Version": "ctap2_1", "transport": "internal",
               "hasResidentKey": True, "hasUserVerification": True, "isUserVerified": True,
               "automaticPresenceSimulation": True}
    if prf:
        options["hasPrf"] = True
    answer = client.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    return client, answer["authenticatorId"]


def _sign_up(page, base: str, username: str) -> None:
    page.goto(f"{base}/signup")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.fill("#password_repeat", PASSWORD)
    page.click("#signup-submit")
    expect(page.locator("#recovery-code")).to_be_visible()
    page.check("#recovery-saved")
    page.click("#recovery-continue")
    expect(page).to_have_url(re.compile(r"/dashboard$"))


def _add_passkey(page, base: str, label: str) -> None:
    page.goto(f"{base}/security")
    page.fill("#passkey-label", label)
    page.click("#passkey-add")
    expect(page.locator("#passkey-list li.passkey")).to_have_count(1)


def test_a_prf_passkey_registers_and_logs_in_without_a_password(page, localhost_server):
    base = localhost_server
    client, authenticator = _authenticator(page, prf=True)
    _sign_up(page, base, "sanne")
    _add_passkey(page, base, "Telefoon van Sanne")
    item = page.locator("#passkey-list li.passkey")
    expect(item).to_have_attribute("data-unlocks", "yes")
    expect(item).to_contain_text("Inloggen zonder wachtwoord")
    creds = client.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(creds["credentials"]) == 1 and creds["credentials"][0]["isResidentCredential"]

    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.click("#passkey-login")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    # the vault opened with the key from the passkey's slot: the owner's pages work
    expect(page.locator("h1")).to_have_text("Mijn gegevens")
    page.goto(f"{base}/security")
    expect(page.locator("#session-list tr.session")).to_contain_text(["passkey"])

    # removing the passkey removes its key slot: it no longer logs in
    page.click("#passkey-list .passkey-remove")
    expect(page.locator("#passkey-list-empty")).to_be_visible()
    page.click("#logout")
    page.click("#passkey-login")
    expect(page.locator("#passkey-login-form [data-passkey-error]")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login$"))


def test_a_passkey_without_prf_is_a_second_step_only(page, localhost_server):
    base = localhost_server
    _authenticator(page, prf=False)
    _sign_up(page, base, "joost")
    _add_passkey(page, base, "Sleutelhanger")
    item = page.locator("#passkey-list li.passkey")
    expect(item).to_have_attribute("data-unlocks", "no")
    expect(item).to_contain_text("Alleen tweede stap")

    page.click("#logout")
    page.click("#passkey-login")
    error = page.locator("#passkey-login-form [data-passkey-error]")
    expect(error).to_contain_text("alleen een tweede stap")

    # the password now asks for the passkey as its second step
    page.fill("#username", "joost")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page).to_have_url(re.compile(r"/login/totp"))
    expect(page.locator("#code")).to_have_count(0)  # no TOTP: the passkey is the step
    page.click("#passkey-second")
    expect(page).to_have_url(re.compile(r"/dashboard$"))
