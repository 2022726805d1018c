"""The portal end to end over HTTP: a caseworker asks, the applicant's vault approves with a
choice of records, the dossier holds exactly those, a revocation arrives as a signed webhook
and, under a template that says so, deletes the data and sends the deletion statement."""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import time

import requests
from pypdf import PdfReader

from tests.integration.grants.test_ui_pages import signed_in
from tests.integration.portal.conftest import INCOME_2024, INCOME_2025, csrf, post_form
from vault.portal import templates_repo

STATEMENT = b"%PDF-1.4 jaaropgave " + secrets.token_bytes(20_000)


def _rental(portal) -> str:
    return next(t["id"] for t in templates_repo.list_all(portal.store)
                if t["name"] == "Huurwoning toewijzen")


def _owner_with_records(make_owner, instance):
    owner = make_owner(server=instance)
    ids = {"2024": owner.post("/api/v1/records", json={"type": "income",
                                                       "data": INCOME_2024}).json()["id"],
           "2025": owner.post("/api/v1/records", json={"type": "income",
                                                       "data": INCOME_2025}).json()["id"]}
    ids["doc"] = owner.post("/api/v1/documents", data={"category": "annual-statement"}, files={
        "file": ("jaaropgave-2025.pdf", STATEMENT, "application/pdf")}).json()["id"]
    return owner, ids


def _ask(portal, caseworker, reference="2026-0412") -> tuple[str, str]:
    resp = post_form(caseworker, f"{portal.url}/requests/new", {
        "template": _rental(portal), "applicant_name": "A. de Vries", "reference": reference})
    assert resp.status_code == 200, resp.text
    dossier_id = resp.url.rsplit("/", 1)[1]
    link = re.search(r'id="short-link" href="([^"]+)"', resp.text).group(1)
    return dossier_id, link


def _applicant_goes(link: str, instance_url: str) -> str:
    applicant = requests.Session()
    page = applicant.get(link, timeout=30)
    assert "Woonstichting De Kern vraagt je om gegevens" in page.text
    assert "Waar staat je Kluis?" in page.text
    resp = applicant.post(link, timeout=30, data={"csrf": csrf(page.text),
                                                  "instance": instance_url})
    assert resp.status_code == 200, resp.text
    target = re.search(r'id="go" href="([^"]+)"', resp.text).group(1).replace("&amp;", "&")
    assert target.startswith(instance_url + "/oauth/authorize?")
    assert applicant.cookies.get("kluis_instance") == instance_url
    return target


def test_a_request_is_approved_read_once_revoked_and_deleted_with_a_statement(
        make_instance, make_portal, make_staff, make_owner, start_worker):
    first, second = make_instance("kluis-a"), make_instance("kluis-b")
    start_worker(second.settings)
    portal = make_portal([first.url, second.url])
    admin = make_staff(portal, "admin", "beheer")
    caseworker = make_staff(portal, "caseworker", "fatima", "Fatima")
    assert caseworker.get(f"{portal.url}/admin/audit", timeout=30).status_code == 403

    owner, ids = _owner_with_records(make_owner, second)
    dossier_id, link = _ask(portal, caseworker)
    pdf = caseworker.get(f"{portal.url}/dossiers/{dossier_id}/letter.pdf", timeout=30)
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages
                             ).split())
    assert link in text and "Woonstichting De Kern" in text and "2026-0412" in text

    authorize = _applicant_goes(link, second.url)
    opened = owner.post("/api/v1/requests", json={"authorize_url": authorize})
    assert opened.status_code in (200, 201), opened.text
    request_id = opened.json()["id"]
    approved = owner.post(f"/api/v1/requests/{request_id}/approve", json={"records": [
        {"record_type": "income", "record_ids": [ids["2025"]]},
        {"record_type": "document", "record_ids": [ids["doc"]]}]})
    assert approved.status_code == 200, approved.text
    back = requests.get(approved.json()["redirect_uri"], timeout=30)
    assert 'data-status="approved"' in back.text
    grant_id = approved.json()["grant"]["id"]

    page = caseworker.get(f"{portal.url}/dossiers/{dossier_id}", timeout=30).text
    assert 'data-status="approved"' in page
    assert "EUR 54.712,34" in page and "ACME BV" in page
    assert "Oud BV" not in page and "48.123,45" not in page
    assert 'data-verified="1"' in page
    href = re.search(r'data-download="[^"]+" href="([^"]+)"', page).group(1)
    download = caseworker.get(portal.url + href, timeout=30)
    assert hashlib.sha256(download.content).digest() == hashlib.sha256(STATEMENT).digest()
    audit = admin.get(f"{portal.url}/admin/audit.csv", timeout=30).text
    assert "Fatima,dossier.viewed,2026-0412" in audit
    assert "Fatima,document.downloaded,2026-0412" in audit

    # The applicant revokes in her vault: the signed webhook marks the dossier and deletes it.
    assert owner.delete(f"/api/v1/grants/{grant_id}").status_code == 200
    deadline = time.monotonic() + 20
    row = None
    while time.monotonic() < deadline:
        row = portal.store.conn.execute("SELECT * FROM dossiers WHERE id = ?",
                                        (dossier_id,)).fetchone()
        if row["deletion_status"] == "accepted":
            break
        time.sleep(0.2)
    assert row["status"] == "revoked" and row["deleted_at"] and row["data_key"] is None
    assert row["deletion_reason"] == "revoked" and row["applicant_name"] is None
    assert portal.store.conn.execute("SELECT count(*) FROM dossier_items WHERE dossier_id = ?",
                                     (dossier_id,)).fetchone()[0] == 0
    kinds = [r[0] for r in portal.store.conn.execute("SELECT type FROM webhook_events")]
    assert "grant.revoked" in kinds
    page = caseworker.get(f"{portal.url}/dossiers/{dossier_id}", timeout=30).text
    assert "ingetrokken" in page and 'id="deleted-on"' in page and "ACME BV" not in page
    vault_page = signed_in(second.url, owner).get(f"{second.url}/grants/{grant_id}",
                                                  timeout=30).text
    assert "Woonstichting De Kern verklaarde op" in vault_page


def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing(make_instance,
                                                                       make_portal):
    instance = make_instance()
    portal = make_portal([instance.url])
    reg = portal.portal.client.ensure_registered(instance.url)
    body = json.dumps({"id": "e1", "type": "grant.revoked", "client_id": reg.client_id,
                       "grant_id": "g"}).encode()
    resp = requests.post(f"{portal.url}/hooks/kluis", data=body, timeout=30, headers={
        "Content-Type": "application/json", "Signature-Input": 'kluis=("@method");keyid="x"',
        "Signature": "kluis=:AAAA:"})
    assert resp.status_code == 401
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert portal.store.conn.execute("SELECT count(*) FROM webhook_events").fetchone()[0] == 0


def test_staff_need_password_and_totp(make_instance, make_portal, make_staff):
    portal = make_portal([])
    make_staff(portal, "caseworker", "fatima")
    http = requests.Session()
    resp = post_form(http, f"{portal.url}/login", {"username": "fatima", "password": "fout"})
    assert resp.status_code == 401 and "klopt niet" in resp.text
    resp = post_form(http, f"{portal.url}/login", {
        "username": "fatima", "password": "een lange wachtzin voor het portaal"})
    assert resp.url.startswith(f"{portal.url}/login/totp")
    # Without the second step nothing opens.
    assert http.get(f"{portal.url}/", timeout=30).url.startswith(f"{portal.url}/login")
    resp = post_form(http, f"{portal.url}/login/totp", {"code": "000000"})
    assert resp.status_code == 401
