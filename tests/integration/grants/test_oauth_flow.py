"""An organisation plays the whole flow with Authlib, a standard OAuth 2.0 client library."""

from __future__ import annotations

import json

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.integration.grants.conftest import INCOME, PERSON
from vault.grants import receipts

ASK = [{"type": "kluis_records", "purpose": "rental-eligibility",
        "purpose_description": "Toewijzing Kerkstraat 5", "retention": "P60D",
        "duration": "P30D",
        "records": [{"record_type": "income", "fields": ["year", "gross_amount_cents"]},
                    {"record_type": "person", "fields": ["given_names", "surname", "bsn"]}]}]


def test_an_organisation_registers_requests_reads_introspects_and_revokes(
        live_server, make_owner, register_org):
    base = live_server.url
    owner = make_owner()
    for type_id, data in (("income", INCOME), ("person", PERSON)):
        assert owner.post("/api/v1/records", json={"type": type_id, "data": data}).status_code == 201

    meta = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=30).json()
    assert meta["issuer"] == base
    assert meta["code_challenge_methods_supported"] == ["S256"]
    org = register_org()
    client = OAuth2Session(org.client_id, org.client_secret, redirect_uri=org.redirect_uri,
                           code_challenge_method="S256",
                           token_endpoint_auth_method="client_secret_basic")

    # Pushed authorization request, authenticated like the token endpoint.
    verifier = generate_token(64)
    state = generate_token(20)
    resp = client.post(meta["pushed_authorization_request_endpoint"], withhold_token=True,
                       auth=client.client_auth("client_secret_basic"), data={
                           "response_type": "code", "client_id": org.client_id,
                           "redirect_uri": org.redirect_uri, "state": state,
                           "code_challenge": create_s256_code_challenge(verifier),
                           "code_challenge_method": "S256",
                           "authorization_details": json.dumps(ASK)})
    assert resp.status_code == 201, resp.text
    pushed = resp.json()
    assert pushed["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    qr = requests.get(pushed["qr_svg"], timeout=30)
    assert qr.status_code == 200 and qr.headers["Content-Type"].startswith("image/svg+xml")

    # The person pastes the link into their vault and approves, leaving out the BSN.
    resp = owner.post("/api/v1/requests", json={"authorize_url": pushed["link"]})
    assert resp.status_code == 201, resp.text
    request = resp.json()
    assert request["organisation"]["name"] == "Woonstichting De Kern"
    assert request["purpose"] == "rental-eligibility"
    fields = {r["record_type"]: {f["name"]: f["values"] for f in r["fields"]}
              for r in request["records"]}
    assert fields["income"]["gross_amount_cents"] == [5_400_000]
    resp = owner.post(f"/api/v1/requests/{request['id']}/approve", json={
        "fields": {"income": ["year", "gross_amount_cents"],
                   "person": ["given_names", "surname"]}})
    assert resp.status_code == 200, resp.text
    redirect_uri = resp.json()["redirect_uri"]
    assert redirect_uri.startswith(org.redirect_uri)

    # The organisation's callback gets the code and exchanges it (PKCE, client_secret_basic).
    token = client.fetch_token(meta["token_endpoint"], authorization_response=redirect_uri,
                               state=state, code_verifier=verifier)
    assert token["token_type"] == "Bearer"
    assert 0 < token["expires_in"] <= 30 * 86400
    granted = {r["record_type"]: r["fields"] for r in token["authorization_details"][0]["records"]}
    assert granted == {"income": ["year", "gross_amount_cents"],
                       "person": ["given_names", "surname"]}
    jwks = requests.get(meta["jwks_uri"], timeout=30).json()["keys"]
    receipt = receipts.verify(token["consent_receipt"], jwks)
    assert receipt["piiControllers"][0]["piiController"] == "Woonstichting De Kern"

    # Reading: only granted fields, with provenance.
    resp = client.get(f"{base}/api/v1/grant/records")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    by_type = {r["type"]: r for r in body["records"]}
    assert by_type["income"]["data"] == {"year": 2025, "gross_amount_cents": 5_400_000}
    assert by_type["person"]["data"] == {"given_names": "Annemarie", "surname": "de Vries"}
    assert "bsn" not in json.dumps(body)
    assert by_type["income"]["provenance"]["source"] == "manual"
    assert client.get(f"{base}/api/v1/grant").json()["grant"]["purpose"] == "rental-eligibility"

    intro = client.introspect_token(meta["introspection_endpoint"], token=token["access_token"])
    assert intro.status_code == 200 and intro.json()["active"] is True
    assert intro.json()["client_id"] == org.client_id

    # The owner sees the reads in the access log.
    log = owner.get(f"/api/v1/access-log?grant={token['grant_id']}").json()
    assert log["log_intact"] is True
    assert [e["action"] for e in log["events"]].count("grant.read") == 1

    # The organisation revokes (RFC 7009): inactive, and the next read is 401.
    revoked = client.revoke_token(meta["revocation_endpoint"], token=token["access_token"],
                                  token_type_hint="access_token")
    assert revoked.status_code == 200
    intro = client.introspect_token(meta["introspection_endpoint"], token=token["access_token"])
    assert intro.json() == {"active": False}
    resp = client.get(f"{base}/api/v1/grant/records")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="kluis", error="invalid_token"')
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert owner.get(f"/api/v1/grants/{token['grant_id']}").json()["status"] == "revoked"
