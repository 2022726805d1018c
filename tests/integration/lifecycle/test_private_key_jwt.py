"""A client registered with private_key_jwt reaches the lifecycle endpoints: the request status
as a form POST with its client assertion, and a deletion statement that is itself the client
authentication (signed with the registered key, aud, fresh iat, a jti used once)."""

from __future__ import annotations

import json
import secrets
import time

import requests
from joserfc import jws, jwt
from joserfc.jwk import ECKey

from tests.integration.grants.test_ui_pages import signed_in
from tests.integration.lifecycle.conftest import INCOME, VERIFIER, ask
from vault.grants.oauth import pkce_challenge
from vault.grants.organisations import ASSERTION_TYPE, PICKUP_GRANT_TYPE

REDIRECT = "https://dekern.example/cb"


def _register(base: str, key: ECKey, **extra) -> str:
    resp = requests.post(f"{base}/oauth/register", timeout=30, json={
        "client_name": "Woonstichting De Kern", "client_uri": "https://dekern.example",
        "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [key.as_dict(private=False)]}, **extra})
    assert resp.status_code == 201, resp.text
    assert "client_secret" not in resp.json()
    return str(resp.json()["client_id"])


def _assertion(key: ECKey, client_id: str, aud: str) -> str:
    now = int(time.time())
    return jwt.encode({"alg": "ES256", "kid": key.kid}, {
        "iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 300,
        "jti": secrets.token_urlsafe(16)}, key, algorithms=["ES256"])


def _auth(key: ECKey, client_id: str, aud: str) -> dict[str, str]:
    return {"client_assertion_type": ASSERTION_TYPE,
            "client_assertion": _assertion(key, client_id, aud)}


def _statement(key: ECKey, client_id: str, grant_id: str, aud: str, **overrides) -> str:
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "grant_id": grant_id,
              "deleted_at": "2026-01-03", "iat": int(time.time()),
              "jti": secrets.token_urlsafe(16)} | overrides
    claims = {k: v for k, v in claims.items() if v is not None}
    return jws.serialize_compact({"alg": "ES256", "kid": key.kid}, json.dumps(claims).encode(),
                                 key, algorithms=["ES256"])


def _key(kid: str = "dekern-1") -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid}, private=True)


def test_the_request_status_answers_a_form_post_with_a_client_assertion(live_server,
                                                                        make_owner):
    base = live_server.url
    key = _key()
    client_id = _register(base, key)
    pushed = requests.post(f"{base}/oauth/par", timeout=30, data={
        "response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT,
        "state": "s1", "code_challenge": pkce_challenge(VERIFIER),
        "code_challenge_method": "S256",
        "authorization_details": json.dumps(ask({"income": None})),
        **_auth(key, client_id, f"{base}/oauth/par")})
    assert pushed.status_code == 201, pushed.text
    request_uri = pushed.json()["request_uri"]

    for aud in (f"{base}/api/v1/requests/status", base):
        resp = requests.post(f"{base}/api/v1/requests/status", timeout=30, data={
            "request_uri": request_uri, **_auth(key, client_id, aud)})
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "pending"
        assert resp.headers["Cache-Control"] == "no-store"

    # A forged assertion (another key under the same kid), a replayed one and none at all.
    forged = requests.post(f"{base}/api/v1/requests/status", timeout=30, data={
        "request_uri": request_uri, **_auth(_key(), client_id, base)})
    assert forged.status_code == 401
    assert forged.headers["Content-Type"] == "application/problem+json"
    used = _auth(key, client_id, base)
    assert requests.post(f"{base}/api/v1/requests/status", timeout=30, data={
        "request_uri": request_uri, **used}).status_code == 200
    assert requests.post(f"{base}/api/v1/requests/status", timeout=30, data={
        "request_uri": request_uri, **used}).status_code == 401
    assert requests.post(f"{base}/api/v1/requests/status", timeout=30, data={
        "request_uri": request_uri, "client_id": client_id}).status_code == 401
    # The GET stays as it was: Basic only, so this client cannot use it.
    assert requests.get(f"{base}/api/v1/requests/status", timeout=30,
                        params={"request_uri": request_uri}).status_code == 401
    # A JSON body is not a form.
    assert requests.post(f"{base}/api/v1/requests/status", timeout=30,
                         json={"request_uri": request_uri}).status_code == 415


def _revoked_grant(base: str, make_owner, key: ECKey, client_id: str):
    owner = make_owner()
    owner.post("/api/v1/records", json={"type": "income", "data": INCOME})
    made = owner.post("/api/v1/grants", json={"client_id": client_id,
                                              "authorization_details": ask({"income": None})})
    assert made.status_code == 201, made.text
    picked = requests.post(f"{base}/oauth/token", timeout=30, data={
        "grant_type": PICKUP_GRANT_TYPE, "code": made.json()["pickup_code"],
        **_auth(key, client_id, f"{base}/oauth/token")})
    assert picked.status_code == 200, picked.text
    grant_id = made.json()["grant"]["id"]
    assert owner.delete(f"/api/v1/grants/{grant_id}").status_code == 200
    return owner, grant_id


def _send(base: str, grant_id: str, statement: str, **kw) -> requests.Response:
    return requests.post(f"{base}/api/v1/grant/deletion", timeout=30,
                         json={"grant_id": grant_id, "statement": statement}, **kw)


def test_a_deletion_statement_authenticates_a_private_key_jwt_client(live_server, make_owner):
    base = live_server.url
    key = _key()
    client_id = _register(base, key)
    owner, grant_id = _revoked_grant(base, make_owner, key, client_id)

    statement = _statement(key, client_id, grant_id, aud=base)
    resp = _send(base, grant_id, statement)
    assert resp.status_code == 201, resp.text
    assert resp.json()["status"] == "accepted"
    # The same statement again is a replay (its jti was used).
    again = _send(base, grant_id, statement)
    assert again.status_code == 401 and "sent before" in again.json()["detail"]
    # The endpoint's URL is an audience too.
    assert _send(base, grant_id, _statement(key, client_id, grant_id,
                                            aud=f"{base}/api/v1/grant/deletion")
                 ).status_code == 201
    page = signed_in(base, owner).get(f"{base}/grants/{grant_id}", timeout=30).text
    assert "Woonstichting De Kern verklaarde op 3 januari 2026 je gegevens te hebben " \
           "verwijderd" in page


def test_a_forged_or_incomplete_statement_is_refused_and_stored_nowhere(live_server,
                                                                        make_owner):
    base = live_server.url
    key = _key()
    client_id = _register(base, key)
    owner, grant_id = _revoked_grant(base, make_owner, key, client_id)
    stale = int(time.time()) - 11 * 60
    refusals = {
        "another key": _statement(_key(), client_id, grant_id, aud=base),
        "no aud": _statement(key, client_id, grant_id, aud=None),
        "another aud": _statement(key, client_id, grant_id, aud="https://elsewhere.example"),
        "no sub": _statement(key, client_id, grant_id, aud=base, sub=None),
        "no jti": _statement(key, client_id, grant_id, aud=base, jti=None),
        "stale iat": _statement(key, client_id, grant_id, aud=base, iat=stale),
        "expired": _statement(key, client_id, grant_id, aud=base, exp=int(time.time()) - 5),
        "not a JWS": "not-a-statement",
    }
    for why, statement in refusals.items():
        resp = _send(base, grant_id, statement)
        assert resp.status_code == 401, (why, resp.text)
        assert resp.headers["Content-Type"] == "application/problem+json", why
    # Without a statement there is no authentication at all (401, not a validation error).
    assert requests.post(f"{base}/api/v1/grant/deletion", timeout=30,
                         json={"grant_id": grant_id}).status_code == 401
    instance = live_server.app.extensions["kluis"].instance
    assert instance.inbox(owner.vault_id) == []
    page = signed_in(base, owner).get(f"{base}/grants/{grant_id}", timeout=30).text
    assert "verklaarde op" not in page


def test_a_client_with_a_secret_still_needs_its_secret(live_server, make_owner):
    base = live_server.url
    key = _key()
    resp = requests.post(f"{base}/oauth/register", timeout=30, json={
        "client_name": "Bank", "client_uri": "https://bank.example",
        "redirect_uris": ["https://bank.example/cb"],
        "jwks": {"keys": [key.as_dict(private=False)]}})
    org = resp.json()
    owner = make_owner()
    made = owner.post("/api/v1/grants", json={"client_id": org["client_id"],
                                              "authorization_details": ask({"income": None})})
    requests.post(f"{base}/oauth/token", timeout=30,
                  auth=(org["client_id"], org["client_secret"]),
                  data={"grant_type": PICKUP_GRANT_TYPE, "code": made.json()["pickup_code"]})
    grant_id = made.json()["grant"]["id"]
    statement = _statement(key, org["client_id"], grant_id, aud=base)
    refused = _send(base, grant_id, statement)
    assert refused.status_code == 401 and "client_secret_basic" in refused.json()["detail"]
    assert _send(base, grant_id, statement,
                 auth=(org["client_id"], org["client_secret"])).status_code == 201
