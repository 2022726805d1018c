"""Fixtures for the portal: Kluis instances and one portal, all on loopback over real HTTP.

``make_instance(name)`` serves a Kluis app (its own KLUIS_HOME, webhooks pumped fast);
``portal_server`` serves the portal (its own KLUIS_PORTAL_HOME) knowing those instances;
``staff_session(role)`` is a signed-in staff member (invite accepted with password + TOTP).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bench.procs import free_port
from vault.accounts.totp import current_code
from vault.app import create_app
from vault.portal import staff
from vault.portal.app import create_portal_app
from vault.portal.config import PortalSettings
from vault.portal.store import init_home

INCOME_2025 = {"year": 2025, "source": "ACME BV", "kind": "employment",
               "gross_amount_cents": 5_471_234, "net_amount_cents": 3_900_000}
INCOME_2024 = {"year": 2024, "source": "Oud BV", "kind": "employment",
               "gross_amount_cents": 4_812_345}


@dataclass
class Instance:
    url: str
    settings: object
    app: object


@pytest.fixture
def make_instance(make_settings, make_live_server):
    made = []

    def make(name: str = "kluis-a") -> Instance:
        port = free_port()
        settings = make_settings(name, webhook_pump_seconds=0.3, webhook_retry_seconds="0.5",
                                 base_url=f"http://127.0.0.1:{port}")
        app = create_app({"settings": settings, "TESTING": True})
        made.append(app)
        server = make_live_server(app, port)
        return Instance(server.url, settings, app)

    yield make
    for app in made:
        app.extensions["kluis"].close()


@dataclass
class PortalServer:
    url: str
    settings: PortalSettings
    app: object

    @property
    def store(self):
        return self.app.extensions["kluis_portal"].store

    @property
    def portal(self):
        return self.app.extensions["kluis_portal"]


def portal_settings(home: Path, port: int, instances: list[str]) -> PortalSettings:
    return PortalSettings(home=str(home), base_url=f"http://127.0.0.1:{port}",
                          bind=f"127.0.0.1:{port}", name="Woonstichting De Kern",
                          client_uri="https://dekern.example", instances=",".join(instances),
                          allow_private_urls=True, secure_cookies="never",
                          http_timeout_seconds=10)


@pytest.fixture
def make_portal(tmp_path, make_live_server):
    made = []

    def make(instances: list[str]) -> PortalServer:
        port = free_port()
        settings = portal_settings(tmp_path / "portal", port, instances)
        init_home(settings)
        app = create_portal_app({"settings": settings, "TESTING": True})
        made.append(app)
        server = make_live_server(app, port)
        return PortalServer(server.url, settings, app)

    yield make
    for app in made:
        app.extensions["kluis_portal"].close()


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def post_form(http: requests.Session, url: str, data: dict, **kw) -> requests.Response:
    """GET the page, then POST its form with the page's CSRF token."""
    page = http.get(url, timeout=30)
    return http.post(url, data={"csrf": csrf(page.text), **data}, timeout=30, **kw)


def accept_invite(base: str, link: str, username: str, name: str = "") -> requests.Session:
    """Accept an invitation over HTTP (password and TOTP); the session is then signed in."""
    http = requests.Session()
    page = http.get(link, timeout=30)
    assert page.status_code == 200, page.text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    resp = http.post(link, timeout=30, data={
        "csrf": csrf(page.text), "username": username, "display_name": name or username,
        "password": "een lange wachtzin voor het portaal", "code": current_code(secret)})
    assert resp.status_code == 200 and resp.url.rstrip("/") == base, resp.text
    http.totp_secret = secret  # type: ignore[attr-defined]
    return http


@pytest.fixture
def make_staff():
    def make(portal: PortalServer, role: str, username: str, name: str = "") -> requests.Session:
        code = staff.create_invite(portal.store, role)
        return accept_invite(portal.url, f"{portal.url}/invite/{code}", username, name)

    return make
