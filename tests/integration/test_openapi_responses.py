"""Every operation of ``/api/v1/openapi.json`` answers as the document says.

One tour drives every (path, method) of the published document through the real app over
real HTTP (real Redis, real SQLCipher, a real worker for the connector refresh) and
validates each answer (status, content type, body) against the document with openapi-core.
The tour fails when the document has an operation it did not exercise, so a new operation
needs a step here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from joserfc import jws
from joserfc.jwk import OctKey
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from tests.integration.connectors.conftest import wait_state
from tests.integration.grants.conftest import (  # noqa: F401 - fixtures
    INCOME,
    PERSON,
    _authlib_over_loopback_http,
    ask,
    register_org,
)
from tests.standins.fixtures import API_KEY, BRP_BSN, brp_standin  # noqa: F401 - fixture
from vault.accounts import totp as totp_mod
from vault.grants.organisations import PICKUP_GRANT_TYPE

PASSWORD = "correct horse staple 42"
PROPERTY = {"address": "Kerkstraat 5, Utrecht", "postcode": "3511AB",
            "woz_values": [{"reference_date": "2024-01-01", "value_cents": 41_200_000}]}
DOCUMENT = b"%PDF-1.4 jaaropgave 2025\n" + bytes(range(256))
FORM = "application/x-www-form-urlencoded"


class Contract:
    """Validates answers against the document and remembers which operations were met."""

    def __init__(self, document: dict) -> None:
        self.document = document
        # openapi-core reads application/json itself; problem+json is JSON too.
        self.openapi = OpenAPI.from_dict(document, config=Config(
            extra_media_type_deserializers={"application/problem+json": json.loads}))
        self.seen: set[tuple[str, str]] = set()
        # Literal paths before templated ones: /grants/revoke-all is not /grants/{grant_id}.
        templates = sorted(document["paths"], key=lambda p: (p.count("{"), p))
        self.patterns = [(p, re.compile("^" + re.sub(r"{[a-z_]+}", "[^/]+", p) + "$"))
                         for p in templates]

    def operations(self) -> set[tuple[str, str]]:
        return {(path, method) for path, item in self.document["paths"].items()
                for method in item if method in ("get", "post", "put", "delete", "patch")}

    def operation_of(self, resp: requests.Response) -> tuple[str, str]:
        path = urlsplit(resp.request.url).path
        method = resp.request.method.lower()
        for template, pattern in self.patterns:
            if pattern.match(path) and method in self.document["paths"][template]:
                return template, method
        raise AssertionError(f"{method.upper()} {path} is not in the document")

    def check(self, resp: requests.Response, status: int) -> requests.Response:
        assert resp.status_code == status, (resp.request.method, resp.request.url, resp.text)
        self.openapi.validate_response(RequestsOpenAPIRequest(resp.request),
                                       RequestsOpenAPIResponse(resp))
        self.seen.add(self.operation_of(resp))
        return resp


def _session(token: str | None = None) -> requests.Session:
    http = requests.Session()
    if token:
        http.headers["Authorization"] = f"Bearer {token}"
    return http


def _code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
def contract(live_server) -> Contract:
    resp = requests.get(f"{live_server.url}/api/v1/openapi.json", timeout=30)
    assert resp.status_code == 200
    return Contract(resp.json())


def test_every_operation_of_the_document_answers_as_the_document_says(
        live_server, contract, start_worker, brp_standin):  # noqa: F811 - fixture
    base = live_server.url
    check = contract.check

    def url(path: str) -> str:
        return base + path

    # -- accounts --------------------------------------------------------------------------
    created = check(requests.post(url("/api/v1/accounts"), timeout=30,
                                  json={"username": "tourist", "password": PASSWORD}), 201)
    token = check(requests.post(url("/api/v1/tokens"), timeout=30, json={
        "username": "tourist", "password": PASSWORD, "name": "tour"}), 201).json()["token"]
    owner = _session(token)
    extra = check(requests.post(url("/api/v1/tokens"), timeout=30, json={
        "username": "tourist", "password": PASSWORD, "name": "spare"}), 201).json()
    assert {t["name"] for t in check(owner.get(url("/api/v1/tokens")), 200).json()["tokens"]} \
        == {"tour", "spare"}
    check(owner.delete(url(f"/api/v1/tokens/{extra['id']}")), 204)

    secret = check(owner.post(url("/api/v1/account/totp")), 200).json()["secret"]
    check(owner.post(url("/api/v1/account/totp/confirm"),
                     json={"secret": secret, "code": totp_mod.current_code(secret)}), 204)
    recovery = check(requests.post(url("/api/v1/account/totp-reset"), timeout=30, json={
        "username": "tourist", "password": PASSWORD,
        "recovery_code": created.json()["recovery_code"]}), 200).json()["recovery_code"]
    recovery = check(requests.post(url("/api/v1/account/password-reset"), timeout=30, json={
        "username": "tourist", "recovery_code": recovery, "new_password": PASSWORD + "!"}),
        200).json()["recovery_code"]
    token = requests.post(url("/api/v1/tokens"), timeout=30, json={
        "username": "tourist", "password": PASSWORD + "!"}).json()["token"]
    owner = _session(token)
    check(owner.post(url("/api/v1/account/password"),
                     json={"old_password": PASSWORD + "!", "new_password": PASSWORD}), 204)

    # -- records and documents -------------------------------------------------------------
    types = check(requests.get(url("/api/v1/record-types"), timeout=30), 200).json()
    assert "$ref" not in json.dumps(types)  # each type's JSON Schema stands alone
    ids = {}
    for type_id, data in (("income", INCOME), ("person", PERSON), ("property", PROPERTY)):
        ids[type_id] = check(owner.post(url("/api/v1/records"),
                                        json={"type": type_id, "data": data}), 201).json()["id"]
    check(owner.get(url("/api/v1/records")), 200)
    listed = check(owner.get(url("/api/v1/records"), params={"type": ["income", "person"]}), 200)
    assert {r["type"] for r in listed.json()["records"]} == {"income", "person"}
    check(owner.get(url(f"/api/v1/records/{ids['property']}")), 200)
    check(owner.put(url(f"/api/v1/records/{ids['income']}"),
                    json={"data": {**INCOME, "net_amount_cents": 3_800_000}}), 200)
    check(owner.get(url(f"/api/v1/records/{ids['income']}/versions")), 200)
    document = check(owner.post(url("/api/v1/documents"),
                                files={"file": ("jaaropgave.pdf", DOCUMENT, "application/pdf")},
                                data={"category": "annual-statement"}), 201).json()
    assert check(owner.get(url(f"/api/v1/records/{document['id']}/content")),
                 200).content == DOCUMENT
    spare = owner.post(url("/api/v1/records"), json={"type": "income", "data": INCOME}).json()
    check(owner.delete(url(f"/api/v1/records/{spare['id']}")), 204)

    # -- organisations: discovery, registration, a pushed request, approve, token ------------
    meta = check(requests.get(url("/.well-known/oauth-authorization-server"), timeout=30),
                 200).json()
    check(requests.get(url("/.well-known/jwks.json"), timeout=30), 200)
    check(requests.get(url("/api/v1/purposes"), timeout=30), 200)
    org = check(requests.post(meta["registration_endpoint"], timeout=30, json={
        "client_name": "Woonstichting De Kern", "client_uri": "https://dekern.example",
        "redirect_uris": ["https://dekern.example/cb"],
        "token_endpoint_auth_method": "client_secret_basic"}), 201).json()
    basic = (org["client_id"], org["client_secret"])
    spare_org = check(requests.post(meta["registration_endpoint"], timeout=30, json={
        "client_name": "Spare", "client_uri": "https://spare.example",
        "redirect_uris": ["https://spare.example/cb"]}), 201).json()
    managed = {"Authorization": f"Bearer {spare_org['registration_access_token']}"}
    info = check(requests.get(spare_org["registration_client_uri"], headers=managed,
                              timeout=30), 200).json()
    check(requests.put(spare_org["registration_client_uri"], headers=managed, timeout=30,
                       json={k: info[k] for k in ("client_name", "client_uri", "redirect_uris")}
                       | {"kluis_rotate_secret": True}), 200)
    check(requests.delete(spare_org["registration_client_uri"], headers=managed, timeout=30),
          204)

    def push(verifier: str) -> dict:
        return check(requests.post(meta["pushed_authorization_request_endpoint"], auth=basic,
                                   timeout=30, data={
                                       "response_type": "code", "client_id": org["client_id"],
                                       "redirect_uri": "https://dekern.example/cb",
                                       "state": "s1", "code_challenge": _code_challenge(verifier),
                                       "code_challenge_method": "S256",
                                       "authorization_details": json.dumps(
                                           ask({"income": None, "property": None}))}), 201).json()

    verifier = "v" * 64
    pushed = push(verifier)
    bound = check(owner.post(url("/api/v1/requests"), json={"authorize_url": pushed["link"]}),
                  201).json()
    check(owner.get(url("/api/v1/requests"), params={"status": "pending", "lang": "en"}), 200)
    check(owner.get(url(f"/api/v1/requests/{bound['id']}")), 200)
    approved = check(owner.post(url(f"/api/v1/requests/{bound['id']}/approve"),
                                json={"fields": {"income": ["year", "gross_amount_cents"],
                                                 "property": ["address", "woz_values"]}}),
                     200).json()
    code = parse_qs(urlsplit(approved["redirect_uri"]).query)["code"][0]
    issued = check(requests.post(meta["token_endpoint"], auth=basic, timeout=30, data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "redirect_uri": "https://dekern.example/cb"}), 200).json()
    other = push("w" * 64)
    refused = check(owner.post(url("/api/v1/requests"),
                               json={"request_uri": other["request_uri"]}), 201).json()
    check(owner.post(url(f"/api/v1/requests/{refused['id']}/deny")), 200)
    assert check(requests.get(url("/api/v1/requests/status"), auth=basic, timeout=30,
                              params={"request_uri": other["request_uri"]}),
                 200).json()["status"] == "refused"
    assert check(requests.post(url("/api/v1/requests/status"), auth=basic, timeout=30,
                               data={"request_uri": other["request_uri"]}),
                 200).json()["status"] == "refused"
    check(requests.get(url("/api/v1/webhooks/deliveries"), auth=basic, timeout=30), 200)

    # -- the organisation reads -------------------------------------------------------------
    org_http = _session(issued["access_token"])
    check(org_http.get(url("/api/v1/grant"), params={"purpose": "rental-eligibility"}), 200)
    read = check(org_http.get(url("/api/v1/grant/records")), 200).json()
    assert {r["type"] for r in read["records"]} == {"income", "property"}
    check(org_http.get(url("/api/v1/grant/records"),
                       params={"type": "property", "purpose": "rental-eligibility"}), 200)
    introspected = check(requests.post(meta["introspection_endpoint"], auth=basic, timeout=30,
                                       data={"token": issued["access_token"]}), 200).json()
    assert introspected["active"] is True
    check(requests.post(meta["introspection_endpoint"], auth=basic, timeout=30,
                        data={"token": "not-a-token"}), 200)

    # -- the owner's grants ------------------------------------------------------------------
    made = check(owner.post(url("/api/v1/grants"), json={
        "client_id": org["client_id"], "authorization_details": ask({"person": None})}),
        201).json()
    picked = check(requests.post(meta["token_endpoint"], auth=basic, timeout=30, data={
        "grant_type": PICKUP_GRANT_TYPE, "code": made["pickup_code"]}), 200).json()
    shared = check(owner.post(url("/api/v1/grants"), json={
        "client_id": org["client_id"], "authorization_details": ask({"document": None})}),
        201).json()
    doc_token = check(requests.post(meta["token_endpoint"], auth=basic, timeout=30, data={
        "grant_type": PICKUP_GRANT_TYPE, "code": shared["pickup_code"]}), 200).json()
    doc_http = _session(doc_token["access_token"])
    docs = check(doc_http.get(url("/api/v1/grant/records")), 200).json()["records"]
    assert check(doc_http.get(docs[0]["download_url"]), 200).content == DOCUMENT
    check(doc_http.get(url("/api/v1/grant/receipt")), 200)
    assert check(doc_http.get(url("/api/v1/grant/receipt"), params={"format": "pdf"}),
                 200).content.startswith(b"%PDF")
    assert "Woonstichting De Kern" in check(doc_http.get(
        url("/api/v1/grant/receipt"), params={"format": "html", "lang": "en"}), 200).text
    check(requests.post(meta["revocation_endpoint"], auth=basic, timeout=30,
                        data={"token": doc_token["access_token"]}), 200)
    check(owner.get(url("/api/v1/grants")), 200)
    check(owner.get(url(f"/api/v1/grants/{made['grant']['id']}")), 200)
    check(owner.get(url(f"/api/v1/grants/{made['grant']['id']}/receipt")), 200)
    narrow = url(f"/api/v1/grants/{made['grant']['id']}/narrow")
    check(owner.post(narrow, json={"records": [{"record_type": "income"}]}), 422)
    narrowed = check(owner.post(narrow, json={"records": [
        {"record_type": "person", "fields": ["surname"]}]}), 200).json()
    assert narrowed["records"] == {"person": ["surname"]}
    check(requests.post(meta["revocation_endpoint"], auth=basic, timeout=30,
                        data={"token": picked["access_token"],
                              "token_type_hint": "access_token"}), 200)
    check(owner.delete(url(f"/api/v1/grants/{approved['grant']['id']}")), 200)
    statement = jws.serialize_compact(
        {"alg": "HS256"}, json.dumps({"iss": org["client_id"],
                                      "grant_id": approved["grant"]["id"],
                                      "deleted_at": "2026-01-03"}).encode(),
        OctKey.import_key(org["client_secret"].encode()), algorithms=["HS256"])
    check(requests.post(url("/api/v1/grant/deletion"), auth=basic, timeout=30,
                        json={"grant_id": approved["grant"]["id"], "statement": statement}), 201)
    assert check(owner.post(url("/api/v1/grants/revoke-all")), 200).json()["revoked"] == 0

    # -- notifications -------------------------------------------------------------------------
    assert check(owner.get(url("/api/v1/notifications")), 200).json()["unread"] >= 1
    check(owner.post(url("/api/v1/notifications/read")), 204)
    check(owner.put(url("/api/v1/notifications/mail"),
                    json={"email": "tourist@example.test", "mail_kinds": ["grant.read"]}), 200)
    check(owner.post(url("/api/v1/notifications/mail/confirm"), json={"code": "wrong"}), 422)

    # -- the log -----------------------------------------------------------------------------
    check(owner.get(url("/api/v1/events")), 200)
    assert len(check(owner.get(url("/api/v1/events"), params={"limit": 2}),
                     200).json()["events"]) == 2
    check(owner.get(url("/api/v1/access-log")), 200)
    check(owner.get(url("/api/v1/access-log"),
                    params={"grant": approved["grant"]["id"], "limit": 10}), 200)

    # -- connectors ----------------------------------------------------------------------------
    check(owner.get(url("/api/v1/connectors")), 200)
    start_worker()
    connection = check(owner.post(url("/api/v1/connections"), json={
        "connector": "brp", "options": {"base_url": brp_standin.base_url, "bsn": BRP_BSN},
        "credentials": {"api_key": API_KEY}}), 201).json()
    wait_state(_Owner(owner, base), connection["id"], {"ok"}, timeout=60)
    check(owner.get(url(f"/api/v1/connections/{connection['id']}")), 200)
    check(owner.get(url("/api/v1/connections")), 200)
    assert check(owner.get(url("/api/v1/changes")), 200).json()
    check(owner.post(url(f"/api/v1/connections/{connection['id']}/refresh")), 202)
    check(owner.delete(url(f"/api/v1/connections/{connection['id']}")), 204)
    facts = [{"type": "income", "data": {"year": 2024, "source": "UWV", "kind": "benefit",
                                         "gross_amount_cents": 1_200_000}}]
    check(owner.post(url("/api/v1/uploads"),
                     files={"file": ("uwv.pdf", DOCUMENT, "application/pdf")},
                     data={"category": "uwv", "facts": json.dumps(facts)}), 201)

    # -- portability ----------------------------------------------------------------------------
    bundle = check(owner.post(url("/api/v1/exports"), json={"types": "all"}), 200).json()
    pdf = check(owner.post(url("/api/v1/exports"), json={"types": ["income"], "format": "pdf"}),
                200)
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert check(requests.post(url("/api/v1/verify"), json=bundle, timeout=30),
                 200).json()["valid"] is True
    check(requests.post(url("/api/v1/verify"), json=bundle, timeout=30,
                        params={"digest": bundle["kluis_digest"]}), 200)
    job = check(owner.post(url("/api/v1/vault/archive"),
                           json={"passphrase": "a long passphrase for moving"}), 202).json()
    deadline = time.monotonic() + 60
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        job = check(owner.get(url(job["status_url"])), 200).json()
    assert job["state"] == "done", job
    check(owner.get(url(f"/api/v1/vault/archive/{job['id']}")), 200)
    archive = check(owner.get(url(job["download_url"])), 200).content
    check(requests.post(url("/api/v1/vault/import"), timeout=60,
                        files={"archive": ("vault.kluis", archive)},
                        data={"passphrase": "a long passphrase for moving",
                              "username": "moved", "password": PASSWORD}), 201)
    moved = _session(requests.post(url("/api/v1/tokens"), timeout=30, json={
        "username": "moved", "password": PASSWORD}).json()["token"])
    check(moved.delete(url("/api/v1/vault"),
                       json={"confirm": "moved", "password": PASSWORD}), 200)

    # -- errors answer as documented too -------------------------------------------------------
    check(_session(token).get(url("/api/v1/records/no-such-record")), 404)
    check(owner.post(url("/api/v1/logout")), 204)  # revokes the token: from here on, 401
    check(_session(token).get(url("/api/v1/records")), 401)
    bad_client = check(requests.post(meta["token_endpoint"], auth=(org["client_id"], "wrong"),
                                     timeout=30, data={"grant_type": PICKUP_GRANT_TYPE,
                                                       "code": "x"}), 401)
    assert bad_client.headers["Content-Type"] == "application/json"
    assert bad_client.json()["error"] == "invalid_client"
    check(requests.get(url("/api/v1/grant/records"), timeout=30), 401)

    missing = contract.operations() - contract.seen
    assert not missing, f"operations of the document the tour did not exercise: {missing}"


class _Owner:
    """What tests.integration.connectors.conftest.wait_state needs of an owner."""

    def __init__(self, http: requests.Session, base: str) -> None:
        self.http, self.base = http, base

    def get(self, path: str, **kw):
        return self.http.get(self.base + path, timeout=30, **kw)


@pytest.mark.parametrize("limit", ["abc", "-1", "0", "1001", "1.5"])
@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/access-log"])
def test_a_limit_outside_1_to_1000_is_a_422_problem(make_owner, contract, path, limit):
    owner = make_owner()
    resp = contract.check(owner.get(path, params={"limit": limit}), 422)
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert resp.json()["type"] == "urn:kluis:problem:validation"
    assert "limit" in resp.json()["errors"]


def test_a_limit_is_honoured_and_an_empty_one_is_the_default(make_owner, contract):
    owner = make_owner()
    for n in range(3):
        owner.post("/api/v1/records", json={"type": "income", "data": {**INCOME, "year": 2020 + n}})
    events = contract.check(owner.get("/api/v1/events", params={"limit": 1}), 200).json()
    assert len(events["events"]) == 1
    everything = contract.check(owner.get("/api/v1/events?limit="), 200).json()
    assert len(everything["events"]) > 1


def test_every_ref_of_the_document_resolves(contract):
    text = json.dumps(contract.document)
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text))
    assert refs, "the document names its schemas"
    assert refs <= set(contract.document["components"]["schemas"]), \
        refs - set(contract.document["components"]["schemas"])


def test_list_answers_are_documented_as_the_objects_they_are(contract):
    schemas = contract.document["components"]["schemas"]
    for path, wrapper, member in (("/api/v1/events", "EventPage", "events"),
                                  ("/api/v1/tokens", "AppTokenList", "tokens")):
        content = contract.document["paths"][path]["get"]["responses"]["200"]["content"]
        assert content["application/json"]["schema"] == {"$ref": f"#/components/schemas/{wrapper}"}
        assert schemas[wrapper]["properties"][member]["type"] == "array"


def test_oauth_errors_are_documented_as_application_json(contract):
    for path in ("/oauth/token", "/oauth/par", "/oauth/register", "/oauth/introspect",
                 "/oauth/revoke"):
        default = contract.document["paths"][path]["post"]["responses"]["default"]["content"]
        assert default["application/json"]["schema"] == {"$ref": "#/components/schemas/OAuthError"}
    oauth_error = contract.document["components"]["schemas"]["OAuthError"]
    assert {"error", "error_description", "type", "title", "status"} <= \
        set(oauth_error["required"])
