"""Domain fixtures for grants: real instance.db, real vault files, real Redis; no server."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass

import pytest

from vault import services as services_mod
from vault.clock import set_clock
from vault.grants.service import Grants
from vault.records.service import create_record

INCOME = {"year": 2025, "source": "ACME BV", "kind": "employment",
          "gross_amount_cents": 5_400_000, "net_amount_cents": 3_900_000}
PERSON = {"given_names": "Annemarie", "surname": "de Vries", "bsn": "111222333",
          "birth_date": "1991-04-02"}


@pytest.fixture
def svc(settings):
    services = services_mod.build(settings)
    yield services
    services.close()


@pytest.fixture
def grants(svc) -> Grants:
    return svc.grants


@pytest.fixture
def clock():
    """Set the clock: ``clock(datetime)``; restored after the test."""
    yield lambda moment: set_clock(lambda: moment)
    set_clock(None)


@dataclass
class Owner:
    vault_id: str
    dek: bytes
    svc: object

    def open(self):
        return self.svc.accounts.open(self.vault_id, self.dek)


@pytest.fixture
def make_vault(svc):
    """``make_vault(records={"income": [INCOME]})``: a signed-up owner with those records."""
    counter = iter(range(10_000))

    def make(records: dict[str, list[dict]] | None = None) -> Owner:
        username = f"owner{next(counter)}"
        vault_id, _code = svc.accounts.register(username, "correct horse staple 42")
        unlocked = svc.accounts.unlock_password(username, "correct horse staple 42")
        owner = Owner(vault_id, unlocked.dek, svc)
        with owner.open() as vault:
            for type_id, items in (records or {}).items():
                for data in items:
                    create_record(vault, type_id, data)
        return owner

    return make


@dataclass
class Org:
    client_id: str
    secret: str
    redirect_uri: str


@pytest.fixture
def make_org(grants):
    def make(name: str = "Woonstichting De Kern", redirect_uri: str = "https://dekern.nl/cb"
             ) -> Org:
        info, secret = grants.orgs.register({
            "client_name": name, "client_uri": "https://dekern.nl",
            "redirect_uris": [redirect_uri], "contacts": ["privacy@dekern.nl"],
        })
        return Org(info["client_id"], secret, redirect_uri)

    return make


def details(records: dict[str, list[str] | None], purpose: str = "rental-eligibility",
            duration: str = "P30D", **extra) -> str:
    entries = [{"record_type": t} | ({"fields": f} if f else {}) for t, f in records.items()]
    return json.dumps([{"type": "kluis_records", "records": entries, "purpose": purpose,
                        "retention": "P60D", "duration": duration, **extra}])


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()
    return verifier, challenge


def auth_params(org: Org, challenge: str, records=None, **extra) -> dict:
    return {
        "client_id": org.client_id, "response_type": "code", "redirect_uri": org.redirect_uri,
        "state": "xyz", "code_challenge": challenge, "code_challenge_method": "S256",
        "authorization_details": details(records or {"income": None}, **extra),
    }


@pytest.fixture
def issue(grants, make_vault, make_org):
    """``issue(records_in_vault, asked, fields=None)`` -> (owner, org, token response)."""

    def run(vault_records=None, asked=None, *, fields=None, **extra):
        owner = make_vault(vault_records or {"income": [INCOME], "person": [PERSON]})
        org = make_org()
        verifier, challenge = pkce()
        pushed = grants.push(org.client_id, auth_params(org, challenge, asked, **extra))
        with owner.open() as vault:
            request = grants.bind(vault, {"request_uri": pushed.request_uri})
            decision = grants.approve(vault, owner.dek, request.id, fields=fields)
        from urllib.parse import parse_qs, urlsplit

        code = parse_qs(urlsplit(decision.redirect_uri).query)["code"][0]
        token = grants.exchange(org.client_id, "authorization_code", {
            "code": code, "code_verifier": verifier, "redirect_uri": org.redirect_uri})
        return owner, org, token

    return run
