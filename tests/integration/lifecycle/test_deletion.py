"""Deletion statements: signed by the organisation, verified, shown on the owner's grant page."""

from __future__ import annotations

import json
import time

import requests
from joserfc import jws
from joserfc.jwk import ECKey, OctKey

from tests.integration.grants.test_ui_pages import signed_in
from tests.integration.lifecycle.conftest import INCOME, ask
from vault.grants.organisations import PICKUP_GRANT_TYPE


def _statement(key, alg: str, client_id: str, grant_id: str, deleted_at: str = "2026-01-03",
               kid: str | None = None) -> str:
    header = {"alg": alg} | ({"kid": kid} if kid else {})
    payload = {"iss": client_id, "grant_id": grant_id, "deleted_at": deleted_at,
               "iat": int(time.time())}
    return jws.serialize_compact(header, json.dumps(payload).encode(), key, algorithms=[alg])


def _setup(live_server, make_owner, **registration):
    owner = make_owner()
    owner.post("/api/v1/records", json={"type": "income", "data": INCOME})
    resp = requests.post(f"{live_server.url}/oauth/register", timeout=30, json={
        "client_name": "Woonstichting De Kern", "client_uri": "https://dekern.example",
        "redirect_uris": ["https://dekern.example/cb"],
        "token_endpoint_auth_method": "client_secret_basic", **registration})
    assert resp.status_code == 201, resp.text
    org = resp.json()
    made = owner.post("/api/v1/grants", json={"client_id": org["client_id"],
                                              "authorization_details": ask({"income": None})})
    assert made.status_code == 201, made.text
    requests.post(f"{live_server.url}/oauth/token", timeout=30,
                  auth=(org["client_id"], org["client_secret"]),
                  data={"grant_type": PICKUP_GRANT_TYPE, "code": made.json()["pickup_code"]})
    grant_id = made.json()["grant"]["id"]
    assert owner.delete(f"/api/v1/grants/{grant_id}").status_code == 200
    return owner, org, grant_id


def _send(base: str, org: dict, grant_id: str, statement: str) -> requests.Response:
    return requests.post(f"{base}/api/v1/grant/deletion", timeout=30,
                         auth=(org["client_id"], org["client_secret"]),
                         json={"grant_id": grant_id, "statement": statement})


def test_a_statement_signed_with_the_registered_key_appears_on_the_grant_page(
        live_server, make_owner):
    key = ECKey.generate_key("P-256", parameters={"kid": "dekern-1"}, private=True)
    owner, org, grant_id = _setup(live_server, make_owner,
                                  jwks={"keys": [key.as_dict(private=False)]})
    statement = _statement(key, "ES256", org["client_id"], grant_id, kid="dekern-1")
    resp = _send(live_server.url, org, grant_id, statement)
    assert resp.status_code == 201, resp.text
    assert resp.json()["status"] == "accepted"

    http = signed_in(live_server.url, owner)
    page = http.get(f"{live_server.url}/grants/{grant_id}", timeout=30).text
    assert "Woonstichting De Kern verklaarde op 3 januari 2026 je gegevens te hebben " \
           "verwijderd" in page
    link = f"{live_server.url}/grants/{grant_id}/deletion/"
    assert link.removeprefix(live_server.url) in page
    start = page.index(link.removeprefix(live_server.url))
    href = page[start:page.index('"', start)]
    download = http.get(live_server.url + href, timeout=30)
    assert download.status_code == 200
    assert download.text.strip() == statement
    public = ECKey.import_key(key.as_dict(private=False))
    claims = json.loads(jws.deserialize_compact(download.text.strip(), public).payload)
    assert claims["grant_id"] == grant_id
    log = owner.get(f"/api/v1/access-log?grant={grant_id}").json()["events"]
    assert "grant.deletion-stated" in [e["action"] for e in log]


def test_a_statement_signed_with_another_key_is_refused_and_stored_nowhere(
        live_server, make_owner):
    key = ECKey.generate_key("P-256", private=True)
    other = ECKey.generate_key("P-256", private=True)
    owner, org, grant_id = _setup(live_server, make_owner,
                                  jwks={"keys": [key.as_dict(private=False)]})
    resp = _send(live_server.url, org, grant_id,
                 _statement(other, "ES256", org["client_id"], grant_id))
    assert resp.status_code == 422
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert "does not verify with this organisation's registered keys" in resp.json()["title"]
    instance = live_server.app.extensions["kluis"].instance
    assert instance.inbox(owner.vault_id) == []
    http = signed_in(live_server.url, owner)
    page = http.get(f"{live_server.url}/grants/{grant_id}", timeout=30).text
    assert "verklaarde op" not in page


def test_an_hs256_statement_with_the_client_secret_is_accepted(live_server, make_owner):
    owner, org, grant_id = _setup(live_server, make_owner)
    secret = OctKey.import_key(org["client_secret"].encode())
    assert _send(live_server.url, org, grant_id,
                 _statement(secret, "HS256", org["client_id"], grant_id)).status_code == 201
    wrong = OctKey.import_key(b"not the client secret at all, but long enough")
    resp = _send(live_server.url, org, grant_id,
                 _statement(wrong, "HS256", org["client_id"], grant_id))
    assert resp.status_code == 422
    other = requests.post(f"{live_server.url}/oauth/register", timeout=30, json={
        "client_name": "Bank", "client_uri": "https://bank.example",
        "redirect_uris": ["https://bank.example/cb"]}).json()
    assert _send(live_server.url, other, grant_id, _statement(
        OctKey.import_key(other["client_secret"].encode()), "HS256", other["client_id"],
        grant_id)).status_code == 404
    http = signed_in(live_server.url, owner)
    assert "verklaarde op 3 januari 2026" in http.get(f"{live_server.url}/grants/{grant_id}",
                                                     timeout=30).text


def test_retention_passed_without_a_statement_is_said_plainly(live_server, make_owner, clock):
    owner, _org, grant_id = _setup(live_server, make_owner)
    clock.advance(61 * 86400)
    http = signed_in(live_server.url, owner)
    page = http.get(f"{live_server.url}/grants/{grant_id}", timeout=30).text
    assert "Die termijn is voorbij en er is geen verklaring gekomen" in page
