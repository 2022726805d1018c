"""Fixtures for the grants integration tests: an organisation registered over real HTTP."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests

from vault.grants.organisations import PICKUP_GRANT_TYPE

INCOME = {"year": 2025, "source": "ACME BV", "kind": "employment",
          "gross_amount_cents": 5_400_000, "net_amount_cents": 3_900_000}
PERSON = {"given_names": "Annemarie", "surname": "de Vries", "bsn": "111222333",
          "birth_date": "1991-04-02"}
REDIRECT = "https://dekern.example/oauth/callback"


@pytest.fixture(autouse=True)
def _authlib_over_loopback_http(monkeypatch):
    # The test server speaks plain HTTP on loopback; production is HTTPS.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")


@dataclass
class RegisteredOrg:
    client_id: str
    client_secret: str
    redirect_uri: str


@pytest.fixture
def register_org(live_server):
    def register(name: str = "Woonstichting De Kern", redirect_uri: str = REDIRECT,
                 **extra) -> RegisteredOrg:
        resp = requests.post(f"{live_server.url}/oauth/register", json={
            "client_name": name, "client_uri": "https://dekern.example",
            "redirect_uris": [redirect_uri], "contacts": ["privacy@dekern.example"],
            "token_endpoint_auth_method": "client_secret_basic", **extra,
        }, timeout=30)
        assert resp.status_code == 201, resp.text
        body = resp.json()
        return RegisteredOrg(body["client_id"], body["client_secret"], redirect_uri)

    return register


def ask(records, purpose="rental-eligibility", duration="P30D", **extra):
    return [{"type": "kluis_records", "purpose": purpose, "retention": "P60D",
             "duration": duration,
             "records": [{"record_type": t} | ({"fields": f} if f else {})
                         for t, f in records.items()], **extra}]


@pytest.fixture
def granted(live_server, make_owner, register_org):
    """``granted(records)``: an owner-created grant picked up by the organisation over HTTP."""

    def make(records=None, **extra):
        owner = make_owner()
        for type_id, data in (("income", INCOME), ("person", PERSON)):
            owner.post("/api/v1/records", json={"type": type_id, "data": data})
        org = register_org()
        resp = owner.post("/api/v1/grants", json={
            "client_id": org.client_id,
            "authorization_details": ask(records or {"income": None}, **extra)})
        assert resp.status_code == 201, resp.text
        body = resp.json()
        token = requests.post(f"{live_server.url}/oauth/token", timeout=30,
                              auth=(org.client_id, org.client_secret),
                              data={"grant_type": PICKUP_GRANT_TYPE,
                                    "code": body["pickup_code"]})
        assert token.status_code == 200, token.text
        return owner, org, token.json()

    return make
