"""Record-level consent over HTTP: two incomes, two documents; one of each is shared."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets

import requests

from tests.integration.grants.conftest import INCOME
from vault.grants.oauth import pkce_challenge

INCOME_2024 = INCOME | {"year": 2024, "gross_amount_cents": 4_812_345}
STATEMENT = b"%PDF-1.4 jaaropgave 2025 " + secrets.token_bytes(300_000)
PAYSLIP = b"%PDF-1.4 loonstrook " + secrets.token_bytes(5_000)
ASK = [{"type": "kluis_records", "purpose": "rental-eligibility", "retention": "P60D",
        "duration": "P30D", "records": [
            {"record_type": "income"},
            {"record_type": "document", "categories": ["annual-statement", "payslip"]}]}]


def person_with_two_of_each(owner):
    ids = {}
    for name, content, category in (("jaaropgave-2025.pdf", STATEMENT, "annual-statement"),
                                    ("loonstrook-maart.pdf", PAYSLIP, "payslip")):
        resp = owner.post("/api/v1/documents", files={"file": (name, content, "application/pdf")},
                          data={"category": category})
        assert resp.status_code == 201, resp.text
        ids[name] = resp.json()["id"]
    for key, data in (("income2024", INCOME_2024), ("income2025", INCOME)):
        resp = owner.post("/api/v1/records", json={"type": "income", "data": data})
        assert resp.status_code == 201, resp.text
        ids[key] = resp.json()["id"]
    return ids


def request_and_approve(live_server, owner, org, choice):
    verifier = secrets.token_urlsafe(48)
    pushed = requests.post(f"{live_server.url}/oauth/par", timeout=30,
                           auth=(org.client_id, org.client_secret), data={
                               "response_type": "code", "client_id": org.client_id,
                               "redirect_uri": org.redirect_uri, "state": "s1",
                               "code_challenge": pkce_challenge(verifier),
                               "code_challenge_method": "S256",
                               "authorization_details": json.dumps(ASK)})
    assert pushed.status_code == 201, pushed.text
    bound = owner.post("/api/v1/requests", json={"request_uri": pushed.json()["request_uri"]})
    assert bound.status_code == 201, bound.text
    return bound.json(), verifier


def exchange(live_server, org, redirect, verifier):
    code = redirect.split("code=")[1].split("&")[0]
    token = requests.post(f"{live_server.url}/oauth/token", timeout=30,
                          auth=(org.client_id, org.client_secret),
                          data={"grant_type": "authorization_code", "code": code,
                                "code_verifier": verifier, "redirect_uri": org.redirect_uri})
    assert token.status_code == 200, token.text
    return token.json()


def test_the_owner_shares_one_income_and_one_document_through_the_api(
        live_server, make_owner, register_org):
    owner, org = make_owner(), register_org()
    ids = person_with_two_of_each(owner)
    request, verifier = request_and_approve(live_server, owner, org, None)
    items = {r["record_type"]: r for r in request["records"]}
    assert [i["id"] for i in items["income"]["items"]] == [ids["income2025"], ids["income2024"]]
    assert all(i["preselected"] for i in items["document"]["items"])

    wrong = owner.post(f"/api/v1/requests/{request['id']}/approve", json={"records": [
        {"record_type": "document", "record_ids": [ids["income2025"]]}]})
    assert wrong.status_code == 422 and "records.0.record_ids" in wrong.json()["errors"]
    assert owner.get("/api/v1/grants").json()["grants"] == []

    resp = owner.post(f"/api/v1/requests/{request['id']}/approve", json={"records": [
        {"record_type": "income", "record_ids": [ids["income2025"]],
         "fields": ["year", "gross_amount_cents"], "include_later": False},
        {"record_type": "document", "record_ids": [ids["jaaropgave-2025.pdf"]]}]})
    assert resp.status_code == 200, resp.text
    grant = resp.json()["grant"]
    assert grant["record_ids"] == {"income": [ids["income2025"]],
                                   "document": [ids["jaaropgave-2025.pdf"]]}
    token = exchange(live_server, org, resp.json()["redirect_uri"], verifier)
    entries = {e["record_type"]: e for e in token["authorization_details"][0]["records"]}
    assert entries["income"]["record_ids"] == [ids["income2025"]]
    bearer = {"Authorization": f"Bearer {token['access_token']}"}

    read = requests.get(f"{live_server.url}/api/v1/grant/records", headers=bearer, timeout=30)
    assert read.status_code == 200
    records = read.json()["records"]
    assert sorted(r["id"] for r in records) == sorted([ids["income2025"],
                                                       ids["jaaropgave-2025.pdf"]])
    document = next(r for r in records if r["type"] == "document")
    assert document["data"]["name"] == "jaaropgave-2025.pdf"

    download = requests.get(document["download_url"], headers=bearer, timeout=30)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == hashlib.sha256(STATEMENT).hexdigest()
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Length"] == str(len(STATEMENT))
    digest = base64.b64encode(hashlib.sha256(STATEMENT).digest()).decode()
    assert download.headers["Repr-Digest"] == f"sha-256=:{digest}:"
    assert 'filename="jaaropgave-2025.pdf"' in download.headers["Content-Disposition"]
    other = requests.get(f"{live_server.url}/api/v1/grant/documents/{ids['loonstrook-maart.pdf']}",
                         headers=bearer, timeout=30)
    assert other.status_code == 404
    introspect = requests.post(f"{live_server.url}/oauth/introspect", timeout=30,
                               auth=(org.client_id, org.client_secret),
                               data={"token": token["access_token"]}).json()
    view = requests.get(f"{live_server.url}/api/v1/grant", headers=bearer, timeout=30)
    for body in (read.text, other.text, introspect, view.text, resp.text):
        text = json.dumps(body) if isinstance(body, dict) else body
        assert "4812345" not in text and ids["income2024"] not in text
        assert ids["loonstrook-maart.pdf"] not in text

    # A record added later stays invisible: "later" was not ticked.
    owner.post("/api/v1/records", json={"type": "income", "data": INCOME | {"year": 2026}})
    again = requests.get(f"{live_server.url}/api/v1/grant/records", headers=bearer, timeout=30)
    assert [r["id"] for r in again.json()["records"] if r["type"] == "income"] == [
        ids["income2025"]]
    log = owner.get("/api/v1/access-log").json()
    assert any(e["action"] == "grant.download"
               and e["detail"]["document"] == "jaaropgave-2025.pdf" for e in log["events"])


def test_a_later_record_is_shared_when_later_was_ticked(live_server, make_owner, register_org):
    owner, org = make_owner(), register_org()
    ids = person_with_two_of_each(owner)
    request, verifier = request_and_approve(live_server, owner, org, None)
    resp = owner.post(f"/api/v1/requests/{request['id']}/approve", json={"records": [
        {"record_type": "income", "record_ids": [ids["income2025"]], "include_later": True}]})
    assert resp.status_code == 200, resp.text
    token = exchange(live_server, org, resp.json()["redirect_uri"], verifier)
    added = owner.post("/api/v1/records", json={"type": "income",
                                                 "data": INCOME | {"year": 2026}}).json()
    read = requests.get(f"{live_server.url}/api/v1/grant/records", timeout=30,
                        headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert sorted(r["id"] for r in read["records"]) == sorted([ids["income2025"], added["id"]])


def test_the_logo_is_served_from_our_origin(live_server, register_org):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    png = b"\x89PNG\r\n\x1a\n" + b"\x01" * 100

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(png)))
            self.end_headers()
            self.wfile.write(png)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        org = register_org(logo_uri=f"http://127.0.0.1:{httpd.server_address[1]}/logo.png")
    finally:
        httpd.shutdown()
        httpd.server_close()
    logo = requests.get(f"{live_server.url}/organisations/{org.client_id}/logo", timeout=30)
    assert logo.status_code == 200 and logo.content == png
    assert logo.headers["Content-Type"] == "image/png"
    assert requests.get(f"{live_server.url}/organisations/nobody/logo",
                        timeout=30).status_code == 404
