"""The owner's log over real HTTP: sentences with names and titles, failed log-ins, filters,
pages, CSV and PDF downloads."""

from __future__ import annotations

import csv
import io
import re

import requests
from pypdf import PdfReader

from vault.clock import now_iso

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SENTENCE = re.compile(r'<td class="log-sentence">([^<]*)</td>')


def login(base: str, username: str, password: str, lang: str = "nl") -> requests.Session:
    http = requests.Session()
    http.headers["Accept-Language"] = lang
    page = http.get(f"{base}/login", timeout=30).text
    resp = http.post(f"{base}/login", timeout=30, data={
        "csrf_token": CSRF.search(page).group(1), "username": username, "password": password})
    assert resp.url.endswith("/dashboard"), resp.text[:300]
    return http


def attempt(base: str, username: str, password: str) -> int:
    http = requests.Session()
    page = http.get(f"{base}/login", timeout=30).text
    return http.post(f"{base}/login", timeout=30, allow_redirects=False, data={
        "csrf_token": CSRF.search(page).group(1), "username": username,
        "password": password}).status_code


def sentences(html: str) -> list[str]:
    import html as html_lib

    return [html_lib.unescape(s) for s in SENTENCE.findall(html)]


def read_once(base: str, token: dict) -> None:
    resp = requests.get(f"{base}/api/v1/grant/records", timeout=30,
                        headers={"Authorization": f"Bearer {token['access_token']}"})
    assert resp.status_code == 200, resp.text


def test_a_read_names_the_organisation_and_the_record_title_never_the_client_id(
        live_server, granted):
    owner, org, token = granted()
    read_once(live_server.url, token)
    http = login(live_server.url, owner.username, owner.password)
    page = http.get(f"{live_server.url}/log", timeout=30).text
    found = sentences(page)
    assert "Woonstichting De Kern las je Inkomen 2025 ACME BV" in found
    assert any(s.startswith("Je gaf Woonstichting De Kern toegang tot Inkomen") for s in found)
    assert "Je voegde Inkomen 2025 ACME BV toe" in found
    table = page[page.index('<table class="records" id="log">'):]
    assert org.client_id not in table  # (the who filter's option value holds it, unseen)
    en = login(live_server.url, owner.username, owner.password, lang="en")
    en_found = sentences(en.get(f"{live_server.url}/log", timeout=30).text)
    assert "Woonstichting De Kern read your Income 2025 ACME BV" in en_found
    # The access log of the grants pages speaks the same sentences.
    access = http.get(f"{live_server.url}/grants/log", timeout=30).text
    assert "Woonstichting De Kern las je Inkomen 2025 ACME BV" in access
    assert org.client_id not in access.replace(f"/organisations/{org.client_id}/", "")


def test_security_events_read_as_sentences(live_server, make_owner):
    owner = make_owner()
    http = login(live_server.url, owner.username, owner.password)
    found = sentences(http.get(f"{live_server.url}/log", timeout=30).text)
    assert "Je maakte je kluis aan" in found
    assert "Je logde in" in found
    assert "Je maakte het app-token „tests”" in found


def test_failed_and_locked_out_logins_appear_after_the_next_successful_login(
        live_server, make_owner, redis_client):
    owner = make_owner()
    base = live_server.url
    assert attempt(base, owner.username, "not my password at all") == 401
    assert attempt(base, owner.username, "still not my password") == 401
    # Lock the account: the limit is 5 failures (two so far); then one refused attempt more.
    for _ in range(3):
        attempt(base, owner.username, "guessing again and again")
    assert attempt(base, owner.username, "one more guess") == 429
    assert attempt(base, owner.username, "and another one") == 429  # one note per lock
    # No plaintext of the attempt in instance.db: only sealed items from source "kluis".
    rows = live_server.app.extensions["kluis"].instance.conn.execute(
        "SELECT source, sealed FROM inbox_items WHERE vault_id = ?", (owner.vault_id,)).fetchall()
    assert len(rows) == 6 and {r["source"] for r in rows} == {"kluis"}
    assert not any(b"password" in bytes(r["sealed"]) or b"guess" in bytes(r["sealed"])
                   for r in rows)
    for key in redis_client.scan_iter("kluis:fail:*"):
        redis_client.delete(key)
    http = login(base, owner.username, owner.password)
    found = sentences(http.get(f"{base}/log", timeout=30).text)
    assert found.count("Inloggen mislukt: verkeerd wachtwoord") == 5
    assert found.count(
        "Inloggen geweigerd: te veel mislukte pogingen, tijdelijk geblokkeerd") == 1
    assert found.index("Je logde in") < found.index("Inloggen mislukt: verkeerd wachtwoord")
    events = owner.get("/api/v1/events", params={"limit": 100}).json()["events"]
    failed = [e for e in events if e["action"] == "owner.sign-in-failed"]
    assert failed and all(e["detail"] == {"reason": "password"} for e in failed)
    assert all(e["at"] < now_iso() for e in failed)


def test_a_wrong_totp_code_is_logged_for_the_owner(live_server, make_owner):
    import pyotp

    owner = make_owner()
    base = live_server.url
    http = login(base, owner.username, owner.password)
    page = http.get(f"{base}/security/totp", timeout=30).text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    resp = http.post(f"{base}/security/totp", timeout=30, data={
        "csrf_token": CSRF.search(page).group(1), "code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 200
    web = requests.Session()
    form = web.get(f"{base}/login", timeout=30).text
    web.post(f"{base}/login", timeout=30, data={
        "csrf_token": CSRF.search(form).group(1), "username": owner.username,
        "password": owner.password})
    step = web.get(f"{base}/login/totp", timeout=30).text
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    resp = web.post(f"{base}/login/totp", timeout=30, data={
        "csrf_token": CSRF.search(step).group(1), "code": wrong})
    assert resp.status_code == 401
    found = sentences(http.get(f"{base}/log", timeout=30).text)
    assert "Inloggen mislukt: verkeerde code uit de authenticator-app" in found


def test_filters_by_who_what_and_period(live_server, granted):
    owner, _org, token = granted()
    read_once(live_server.url, token)
    http = login(live_server.url, owner.username, owner.password)
    base = live_server.url
    page = http.get(f"{base}/log", timeout=30).text
    org_value = re.search(r'name="who" value="(org:[^"]+)"', page).group(1)

    by_org = sentences(http.get(f"{base}/log", params={"who": org_value}, timeout=30).text)
    assert by_org and all(s.startswith("Woonstichting De Kern") for s in by_org)
    mine = sentences(http.get(f"{base}/log", params={"who": "owner"}, timeout=30).text)
    assert mine and all(s.startswith("Je ") for s in mine)
    reads = http.get(f"{base}/log", params={"what": "access"}, timeout=30).text
    assert set(re.findall(r'data-action="([^"]+)"', reads)) <= {
        "grant.read", "grant.download", "grant.viewed", "grant.token-issued"}
    assert 'data-action="grant.read"' in reads
    security = http.get(f"{base}/log", params={"what": "security"}, timeout=30).text
    assert 'data-action="account.created"' in security
    assert 'data-action="grant.read"' not in security
    both = http.get(f"{base}/log", params=[("what", "access"), ("what", "records")],
                    timeout=30).text
    assert 'data-action="record.created"' in both and 'data-action="grant.read"' in both

    today = now_iso()[:10]
    assert 'id="log-empty"' in http.get(f"{base}/log", params={"to": "2001-01-01"},
                                        timeout=30).text
    assert 'id="log-empty"' in http.get(f"{base}/log", params={"from": "2999-01-01"},
                                        timeout=30).text
    around = http.get(f"{base}/log", params={"from": "2001-01-01", "to": "2999-12-31"},
                      timeout=30).text
    assert 'data-action="grant.read"' in around and today
    bad = http.get(f"{base}/log", params={"from": "gisteren"}, timeout=30).text
    assert 'aria-invalid="true"' in bad and "2025-03-14" in bad


def test_the_log_comes_in_pages_that_add_up_to_all_of_it(live_server, make_owner):
    owner = make_owner()
    for i in range(60):
        owner.post("/api/v1/records", json={"type": "income", "data": {
            "year": 1950 + i, "source": "ACME BV", "gross_amount_cents": 100}})
    http = login(live_server.url, owner.username, owner.password)
    seqs: list[int] = []
    url = f"{live_server.url}/log?what=records"
    pages = 0
    while url:
        page = http.get(url, timeout=30).text
        seqs += [int(s) for s in re.findall(r'data-seq="(\d+)"', page)]
        found = re.search(r'<a href="([^"]+)" id="log-older"', page)
        url = live_server.url + found.group(1).replace("&amp;", "&") if found else None
        pages += 1
        assert pages < 10
    assert pages == 2 and len(seqs) == 60 and seqs == sorted(seqs, reverse=True)
    assert len(set(seqs)) == 60
    # A cursor from elsewhere starts at the newest instead of failing.
    assert http.get(f"{live_server.url}/log?cursor=nonsense", timeout=30).status_code == 200


def test_csv_download_holds_the_filtered_sentences(live_server, granted):
    owner, _org, token = granted()
    read_once(live_server.url, token)
    http = login(live_server.url, owner.username, owner.password)
    resp = http.get(f"{live_server.url}/log.csv", params={"what": "access"}, timeout=30)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8"))))
    assert rows[0][:3] == ["Wanneer", "Wie", "Wat"]
    texts = [r[2] for r in rows[1:]]
    assert "Woonstichting De Kern las je Inkomen 2025 ACME BV" in texts
    assert {r[3] for r in rows[1:]} <= {"grant.read", "grant.download", "grant.viewed",
                                        "grant.token-issued"}
    assert all(r[1] == "Woonstichting De Kern" for r in rows[1:])


def test_a_formula_in_an_organisation_name_is_not_run_by_a_spreadsheet(
        live_server, make_owner, register_org):
    owner = make_owner()
    org = register_org(name="=HYPERLINK(\"http://x\")")
    resp = owner.post("/api/v1/grants", json={"client_id": org.client_id,
                                              "authorization_details": [{
                                                  "type": "kluis_records",
                                                  "purpose": "rental-eligibility",
                                                  "retention": "P60D", "duration": "P30D",
                                                  "records": [{"record_type": "income"}]}]})
    assert resp.status_code == 201, resp.text
    http = login(live_server.url, owner.username, owner.password)
    body = http.get(f"{live_server.url}/log.csv", timeout=30).content.decode("utf-8")
    cells = [c for row in csv.reader(io.StringIO(body)) for c in row]
    assert not any(c.startswith("=") for c in cells)


def test_pdf_download_holds_the_same_sentences_in_the_persons_language(live_server, granted):
    owner, _org, token = granted()
    read_once(live_server.url, token)
    for lang, title, sentence in (
            ("nl", "Logboek van mijn kluis", "Woonstichting De Kern las je Inkomen 2025 ACME BV"),
            ("en", "Log of my vault", "Woonstichting De Kern read your Income 2025 ACME BV")):
        http = login(live_server.url, owner.username, owner.password, lang=lang)
        resp = http.get(f"{live_server.url}/log.pdf", params={"what": "access"}, timeout=30)
        assert resp.status_code == 200 and resp.content.startswith(b"%PDF")
        text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(resp.content)).pages)
        flat = re.sub(r"\s+", " ", text)
        assert title in flat and sentence in flat, flat[:500]
        assert "Je voegde" not in flat and "You added" not in flat  # filtered: reads only
