"""The world the security checks run in: an owner with one object of every kind, built over HTTP.

``build_world`` signs up the owner ("the owner") and a second owner, registers two
organisations, and gives the owner records, a document, a live grant (with its token), a
revoked grant (with its dead token), a pending request, a spare app token, a revoked app token,
a connection and an archive job. Every id and every distinctive value of the owner is kept,
so a check can say "this answer holds none of the owner's ids or values".
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from dataclasses import dataclass, field

import requests

from vault.grants.organisations import PICKUP_GRANT_TYPE

PASSWORD = "correct horse staple 42"
REDIRECT = "https://dekern.example/oauth/callback"
# Values of the owner's records that appear nowhere else (so a leak is found by a substring).
MARKER_SOURCE = "Geheimhouding Matrix BV"
MARKER_SURNAME = "Zwanenburgwal-Matrix"
MARKER_BSN = "999888717"
INCOME = {"year": 2025, "source": MARKER_SOURCE, "kind": "employment",
          "gross_amount_cents": 5_400_123, "net_amount_cents": 3_900_456}
PERSON = {"given_names": "Annemarie", "surname": MARKER_SURNAME, "bsn": MARKER_BSN,
          "birth_date": "1991-04-02"}
#: What the owner's live grant covers: income, two fields of it.
GRANTED = {"income": ["year", "gross_amount_cents"],
           "document": ["name", "media_type", "size", "sha256", "category"]}
DOCUMENT = b"%PDF-1.4 matrix jaaropgave\n" + bytes(range(256))
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def http_session(token: str | None = None) -> requests.Session:
    http = requests.Session()
    if token:
        http.headers["Authorization"] = f"Bearer {token}"
    return http


def ask(records: dict[str, list[str] | None], purpose: str = "rental-eligibility") -> list[dict]:
    return [{"type": "kluis_records", "purpose": purpose, "retention": "P60D",
             "duration": "P30D",
             "records": [{"record_type": t} | ({"fields": f} if f else {})
                         for t, f in records.items()]}]


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Org:
    client_id: str
    client_secret: str


@dataclass
class Account:
    """An owner: username, app token, and a logged-in browser session with its CSRF token."""

    base: str
    username: str
    vault_id: str
    token: str
    token_id: str
    web: requests.Session
    csrf: str

    def api(self) -> requests.Session:
        return http_session(self.token)


@dataclass
class World:
    base: str
    owner: Account
    other: Account
    org: Org
    other_org: Org
    grant_token: str
    other_org_grant_token: str
    revoked_grant_token: str
    revoked_app_token: str
    #: The owner's object ids by path parameter name (each a list: every one is tried).
    ids: dict[str, list[str]] = field(default_factory=dict)

    def owner_secrets(self) -> list[str]:
        """What must never reach anyone but the owner (ids, username, record values)."""
        values = [self.owner.vault_id, self.owner.username, self.owner.token,
                  MARKER_SOURCE, MARKER_SURNAME, MARKER_BSN]
        for ids in self.ids.values():
            values.extend(ids)
        return values


def sign_up(base: str, username: str) -> Account:
    resp = requests.post(f"{base}/api/v1/accounts", timeout=30,
                         json={"username": username, "password": PASSWORD})
    assert resp.status_code == 201, resp.text
    vault_id = resp.json()["vault_id"]
    resp = requests.post(f"{base}/api/v1/tokens", timeout=30,
                         json={"username": username, "password": PASSWORD, "name": "matrix"})
    assert resp.status_code == 201, resp.text
    token = resp.json()
    web = requests.Session()
    page = web.get(f"{base}/login", timeout=30)
    resp = web.post(f"{base}/login", timeout=30, data={
        "username": username, "password": PASSWORD, "csrf_token": CSRF.search(page.text).group(1)})
    assert resp.status_code == 200 and "/dashboard" in resp.url, resp.text[:300]
    match = CSRF.search(resp.text) or CSRF.search(web.get(f"{base}/dashboard", timeout=30).text)
    assert match, "no CSRF token on the dashboard"
    return Account(base, username, vault_id, token["token"], token["id"], web, match.group(1))


def register(base: str, name: str) -> Org:
    resp = requests.post(f"{base}/oauth/register", timeout=30, json={
        "client_name": name, "client_uri": "https://dekern.example",
        "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"})
    assert resp.status_code == 201, resp.text
    return Org(resp.json()["client_id"], resp.json()["client_secret"])


def owner_grant(base: str, account: Account, org: Org,
                records: dict[str, list[str] | None]) -> tuple[str, str]:
    """A grant the owner makes and the organisation picks up: (grant id, access token)."""
    resp = account.api().post(f"{base}/api/v1/grants", timeout=30, json={
        "client_id": org.client_id, "authorization_details": ask(records)})
    assert resp.status_code == 201, resp.text
    made = resp.json()
    resp = requests.post(f"{base}/oauth/token", timeout=30, auth=(org.client_id, org.client_secret),
                         data={"grant_type": PICKUP_GRANT_TYPE, "code": made["pickup_code"]})
    assert resp.status_code == 200, resp.text
    return made["grant"]["id"], resp.json()["access_token"]


def build_world(base: str) -> World:
    owner = sign_up(base, "matrix-owner")
    other = sign_up(base, "matrix-other")
    api = owner.api()
    org = register(base, "Woonstichting Matrix")
    other_org = register(base, "Hypotheekverstrekker Ander")

    def post(path: str, status: int, **kw) -> dict:
        resp = api.post(base + path, timeout=30, **kw)
        assert resp.status_code == status, (path, resp.text)
        return resp.json()

    income = post("/api/v1/records", 201, json={"type": "income", "data": INCOME})["id"]
    post("/api/v1/records", 201, json={"type": "person", "data": PERSON})
    document = post("/api/v1/documents", 201, data={"category": "annual-statement"},
                    files={"file": ("matrix.pdf", DOCUMENT, "application/pdf")})["id"]
    grant_id, grant_token = owner_grant(base, owner, org, GRANTED)
    revoked_grant_id, revoked_grant_token = owner_grant(base, owner, org, {"income": None})
    assert api.delete(f"{base}/api/v1/grants/{revoked_grant_id}", timeout=30).status_code == 200
    # A pending request: pushed by the organisation, opened in the owner's vault, not decided.
    pushed = requests.post(f"{base}/oauth/par", timeout=30, auth=(org.client_id, org.client_secret),
                           data={"response_type": "code", "client_id": org.client_id,
                                 "redirect_uri": REDIRECT, "state": "matrix",
                                 "code_challenge": _challenge("m" * 64),
                                 "code_challenge_method": "S256",
                                 "authorization_details": json.dumps(
                                     ask({"person": None}))})
    assert pushed.status_code == 201, pushed.text
    request_id = post("/api/v1/requests", 201,
                      json={"request_uri": pushed.json()["request_uri"]})["id"]
    spare = requests.post(f"{base}/api/v1/tokens", timeout=30, json={
        "username": owner.username, "password": PASSWORD, "name": "spare"})
    revoked = requests.post(f"{base}/api/v1/tokens", timeout=30, json={
        "username": owner.username, "password": PASSWORD, "name": "revoked"})
    assert spare.status_code == revoked.status_code == 201
    assert api.delete(f"{base}/api/v1/tokens/{revoked.json()['id']}",
                      timeout=30).status_code == 204
    # A connection: its first refresh is queued (no worker runs; the connection exists).
    connection = post("/api/v1/connections", 201, json={
        "connector": "brp", "options": {"base_url": "http://127.0.0.1:9/brp", "bsn": MARKER_BSN},
        "credentials": {"api_key": "matrix-key"}})["id"]
    job = post("/api/v1/vault/archive", 202, json={"passphrase": "a long passphrase for moving"})
    deadline = time.monotonic() + 60
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        job = api.get(base + job["status_url"], timeout=30).json()
    assert job["state"] == "done", job
    # The other owner's own grant, to another organisation.
    other_records = other.api().post(f"{base}/api/v1/records", timeout=30, json={
        "type": "income", "data": {**INCOME, "source": "Ander BV", "gross_amount_cents": 1}})
    assert other_records.status_code == 201
    _, other_org_grant_token = owner_grant(base, other, other_org, {"income": None})
    return World(
        base=base, owner=owner, other=other, org=org, other_org=other_org,
        grant_token=grant_token, other_org_grant_token=other_org_grant_token,
        revoked_grant_token=revoked_grant_token, revoked_app_token=revoked.json()["token"],
        ids={"record_id": [income, document], "document_id": [document],
             "grant_id": [grant_id], "request_id": [request_id],
             "token_id": [spare.json()["id"]], "connection_id": [connection],
             "job_id": [job["id"]]},
    )
