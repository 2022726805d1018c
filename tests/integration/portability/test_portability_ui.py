"""The owner's portability pages over real HTTP: export, archive with progress, verify, delete."""

from __future__ import annotations

import re
import time

import requests

from vault.portability import archive

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _csrf(http: requests.Session, url: str) -> str:
    return CSRF.search(http.get(url, timeout=30).text).group(1)


def _login(base: str, owner) -> requests.Session:
    http = requests.Session()
    token = _csrf(http, base + "/login")
    resp = http.post(base + "/login", data={"csrf_token": token, "username": owner.username,
                                            "password": owner.password}, timeout=30)
    assert resp.status_code == 200 and "/login" not in resp.url, resp.url
    return http


def test_the_owner_exports_archives_verifies_and_deletes_through_the_pages(make_owner,
                                                                          live_server):
    owner = make_owner()
    resp = owner.post("/api/v1/records", json={"type": "income", "data": {
        "year": 2024, "source": "Zorggroep Noord", "gross_amount_cents": 4100000}})
    assert resp.status_code == 201
    base = live_server.url
    http = _login(base, owner)

    page = http.get(base + "/portability/", timeout=30)
    assert page.status_code == 200 and "/portability/archive" in page.text
    token = CSRF.search(page.text).group(1)
    nothing = http.post(base + "/portability/export", data={
        "csrf_token": token, "format": "pdf", "language": "nl"}, timeout=30)
    assert nothing.status_code == 422 and "Kies wat je wilt exporteren" in nothing.text
    pdf = http.post(base + "/portability/export", data={
        "csrf_token": token, "types": "income", "format": "pdf", "language": "nl"}, timeout=30)
    assert pdf.headers["Content-Type"] == "application/pdf"
    bundle = http.post(base + "/portability/export", data={
        "csrf_token": token, "types": "all", "format": "json"}, timeout=30)
    assert bundle.headers["Content-Type"] == "application/json"

    digest = bundle.json()["kluis_digest"]
    verify_page = http.get(base + "/verify", params={"digest": digest}, timeout=30)
    assert digest in verify_page.text
    result = http.post(base + "/verify", data={"csrf_token": token, "digest": digest},
                       files={"bundle": ("b.json", bundle.content)}, timeout=30)
    assert 'data-valid="yes"' in result.text

    resp = http.post(base + "/portability/archive", data={
        "csrf_token": token, "passphrase": "passphrase for the ui",
        "passphrase_repeat": "passphrase for the ui"}, timeout=30)
    assert "/portability/archive/" in resp.url
    deadline = time.monotonic() + 60
    while 'data-state="running"' in resp.text and time.monotonic() < deadline:
        assert "<progress" in resp.text
        time.sleep(0.2)
        resp = http.get(resp.url, timeout=30)
    assert 'data-state="done"' in resp.text
    link = re.search(r'id="download" href="([^"]+)"', resp.text).group(1)
    blob = http.get(base + link, timeout=30).content
    assert blob.startswith(archive.MAGIC)

    wrong = http.post(base + "/portability/delete", data={
        "csrf_token": token, "confirm": "someone-else", "password": owner.password}, timeout=30)
    assert wrong.status_code == 422
    done = http.post(base + "/portability/delete", data={
        "csrf_token": token, "confirm": owner.username, "password": owner.password}, timeout=30)
    assert done.status_code == 200 and 'id="erasure"' in done.text
    instance = live_server.app.extensions["kluis"].instance
    # What went, in the person's terms for the backend: files, or rows in the database.
    said = re.search(r"(Bestanden gewist|Versleutelde rijen in de database gewist): (\d+)",
                     done.text)
    assert said is not None and int(said.group(2)) > 0
    assert said.group(1) == ("Versleutelde rijen in de database gewist"
                             if instance.backend == "postgresql" else "Bestanden gewist")
    assert not instance.vault_exists(owner.vault_id)
    assert http.get(base + "/portability/", timeout=30).url.endswith("/login?next=/portability/")


def test_a_person_imports_an_archive_through_the_page_and_sees_progress(make_owner,
                                                                        live_server):
    owner = make_owner()
    owner.post("/api/v1/records", json={"type": "pension", "data": {"provider": "PFZW"}})
    job = owner.post("/api/v1/vault/archive", json={"passphrase": "move me to a new place"}).json()
    deadline = time.monotonic() + 60
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        job = owner.get(job["status_url"]).json()
    blob = owner.get(job["download_url"]).content

    base = live_server.url
    http = requests.Session()
    token = _csrf(http, base + "/portability/import")
    resp = http.post(base + "/portability/import", data={
        "csrf_token": token, "passphrase": "move me to a new place", "username": "newcomer",
        "password": "another horse staple 43", "password_repeat": "another horse staple 43"},
        files={"archive": ("vault.kluis", blob)}, timeout=60)
    deadline = time.monotonic() + 60
    while 'data-state="running"' in resp.text and time.monotonic() < deadline:
        time.sleep(0.2)
        resp = http.get(resp.url, timeout=30)
    assert 'id="recovery-code"' in resp.text, resp.text
    assert "grants" in resp.text or "organisaties" in resp.text
    login = requests.post(base + "/api/v1/tokens", json={
        "username": "newcomer", "password": "another horse staple 43"}, timeout=30)
    assert login.status_code == 201
