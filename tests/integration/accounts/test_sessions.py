"""Web sessions: new id at login, CSRF, logout ends the session server-side, no plaintext at rest."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import requests

SECRET_VALUE = "Zwanenburgwal-Geheimstraat"


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def web_login(base: str, username: str, password: str) -> requests.Session:
    web = requests.Session()
    page = web.get(f"{base}/login", timeout=30)
    resp = web.post(f"{base}/login", data={"username": username, "password": password,
                                           "csrf_token": csrf(page.text)}, timeout=30)
    assert resp.status_code == 200 and "/dashboard" in resp.url, resp.text[:500]
    return web


def test_login_sets_a_hardened_cookie_with_a_new_session_id(make_owner, live_server):
    owner = make_owner()
    web = requests.Session()
    web.get(f"{live_server.url}/login", timeout=30)
    before = web.cookies.get("kluis_session")
    resp = web.post(f"{live_server.url}/login", allow_redirects=False, timeout=30, data={
        "username": owner.username, "password": owner.password,
        "csrf_token": csrf(web.get(f"{live_server.url}/login", timeout=30).text)})
    assert resp.status_code == 302
    set_cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert web.cookies.get("kluis_session") != before


def test_form_post_without_csrf_token_changes_nothing(make_owner, live_server):
    owner = make_owner()
    web = web_login(live_server.url, owner.username, owner.password)
    resp = web.post(f"{live_server.url}/records/new/income", timeout=30, data={
        "year": "2025", "source": "Zonder Token BV", "gross_amount_cents": "1000"})
    assert resp.status_code == 200  # redirected back with a message
    assert owner.get("/api/v1/records").json()["records"] == []


def test_api_write_with_session_needs_csrf_header(make_owner, live_server):
    owner = make_owner()
    web = web_login(live_server.url, owner.username, owner.password)
    body = {"type": "income", "data": {"year": 2025, "source": "X", "gross_amount_cents": 1}}
    resp = web.post(f"{live_server.url}/api/v1/records", json=body, timeout=30)
    assert resp.status_code == 403
    token = csrf(web.get(f"{live_server.url}/dashboard", timeout=30).text)
    resp = web.post(f"{live_server.url}/api/v1/records", json=body, timeout=30,
                    headers={"X-CSRF-Token": token})
    assert resp.status_code == 201


def test_logout_ends_the_session_and_a_replayed_cookie_gets_nothing(make_owner, live_server):
    owner = make_owner()
    web = web_login(live_server.url, owner.username, owner.password)
    cookie = web.cookies.get("kluis_session")
    token = csrf(web.get(f"{live_server.url}/dashboard", timeout=30).text)
    web.post(f"{live_server.url}/logout", data={"csrf_token": token}, timeout=30)
    replay = requests.get(f"{live_server.url}/api/v1/records", timeout=30,
                          cookies={"kluis_session": cookie})
    assert replay.status_code == 401
    page = requests.get(f"{live_server.url}/dashboard", cookies={"kluis_session": cookie},
                        allow_redirects=False, timeout=30)
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_password_change_ends_other_sessions(make_owner, live_server):
    owner = make_owner()
    other = web_login(live_server.url, owner.username, owner.password)
    resp = owner.post("/api/v1/account/password", json={
        "old_password": owner.password, "new_password": "a different passphrase 9"})
    assert resp.status_code == 204
    assert other.get(f"{live_server.url}/api/v1/records", timeout=30).status_code == 401


def test_pages_send_a_strict_content_security_policy(live_server):
    resp = requests.get(f"{live_server.url}/login", timeout=30)
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_record_values_are_not_in_any_file_redis_or_log(make_owner, live_server, settings,
                                                        redis_client, caplog):
    owner = make_owner()
    web = web_login(live_server.url, owner.username, owner.password)
    resp = owner.post("/api/v1/records", json={"type": "address", "data": {
        "street": SECRET_VALUE, "house_number": 12, "postcode": "1011 AB", "city": "Amsterdam"}})
    assert resp.status_code == 201
    assert SECRET_VALUE in web.get(f"{live_server.url}/dashboard", timeout=30).text
    needle = SECRET_VALUE.encode()
    for path in Path(settings.home).rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), f"plaintext in {path}"
    redis_client.save()
    dump_dir = redis_client.config_get("dir")["dir"]
    for path in Path(dump_dir).glob("*"):
        if path.is_file():
            assert needle not in path.read_bytes()
    for key in redis_client.scan_iter("*"):
        kind = redis_client.type(key)
        if kind == b"hash":
            values = b"".join(redis_client.hvals(key))
        elif kind == b"string":
            values = redis_client.get(key) or b""
        else:
            values = b""
        assert needle not in values
    assert SECRET_VALUE not in caplog.text


def test_instance_key_file_is_private(settings):
    mode = (Path(settings.home) / "instance.key").stat().st_mode & 0o777
    assert mode == 0o600


def test_kluis_init_is_idempotent(settings):
    from tests.conftest import settings_env

    env = settings_env(settings)
    key_before = (Path(settings.home) / "instance.key").read_bytes()
    out = subprocess.run([sys.executable, "-m", "vault.cli", "init"], env=env, capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[3])
    assert "Already initialised" in out.stdout
    assert (Path(settings.home) / "instance.key").read_bytes() == key_before


def test_login_returns_to_a_local_next_path_but_never_to_another_site(make_owner, live_server):
    owner = make_owner()
    for target, expected in [("/security", "/security"), ("//evil.example/x", "/dashboard"),
                             ("https://evil.example/", "/dashboard")]:
        web = requests.Session()
        page = web.get(f"{live_server.url}/login", params={"next": target}, timeout=30)
        resp = web.post(f"{live_server.url}/login", allow_redirects=False, timeout=30, data={
            "username": owner.username, "password": owner.password, "next": target,
            "csrf_token": csrf(page.text)})
        assert resp.status_code == 302
        assert resp.headers["Location"] == expected


def test_login_refuses_a_next_with_control_characters_or_other_tricks(make_owner, live_server):
    from urllib.parse import quote

    owner = make_owner()
    # The first is the request of the report, verbatim: ?next=/%0d%0a... (CR LF once decoded).
    for query in ("/%0d%0aSet-Cookie:%20x=1",
                  *(quote(t, safe="") for t in ("/\r\nSet-Cookie: x=1", "/a\tb", "/a b",
                                                "/records//evil.example", "/\\evil.example",
                                                "/caf\u00e9", "/x\x7f", "/x\x00"))):
        web = requests.Session()
        page = web.get(f"{live_server.url}/login?next={query}", timeout=30)
        assert page.status_code == 200, query
        resp = web.post(f"{live_server.url}/login?next={query}", allow_redirects=False,
                        timeout=30, data={
                            "username": owner.username, "password": owner.password,
                            "csrf_token": csrf(page.text)})
        assert resp.status_code == 302, (query, resp.status_code)
        assert resp.headers["Location"] == "/dashboard", query
        assert "x=1" not in resp.headers.get("Set-Cookie", "")


def test_dashboard_shows_the_newest_records_per_category_and_links_to_all(make_owner,
                                                                          live_server):
    from vault.ui.records import DASHBOARD_PER_CATEGORY

    owner = make_owner()
    total = DASHBOARD_PER_CATEGORY + 5
    for year in range(2000, 2000 + total):
        assert owner.post("/api/v1/records", json={"type": "income", "data": {
            "year": year, "source": f"Werkgever {year}", "gross_amount_cents": 100}}
        ).status_code == 201
    web = web_login(live_server.url, owner.username, owner.password)
    page = web.get(f"{live_server.url}/dashboard", timeout=30).text
    assert page.count('class="record"') == DASHBOARD_PER_CATEGORY
    assert f"Werkgever {2000 + total - 1}" in page and "Werkgever 2000<" not in page
    assert f"Alle {total} tonen" in page or f"Show all {total}" in page
    listing = web.get(f"{live_server.url}/records", params={"category": "finance"},
                      timeout=30).text
    assert listing.count('class="record"') == total
