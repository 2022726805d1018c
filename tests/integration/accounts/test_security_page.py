"""The security page: sessions and app tokens listed and ended, TOTP off with password and
code, the new password's repeat field; the recovery code page; the start page and the
newcomer checklist on the dashboard."""

from __future__ import annotations

import html
import re

import requests

from vault.accounts import sessions
from vault.accounts import totp as totp_mod

PASSWORD = "correct horse staple 42"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")


def csrf(text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)


def web_login(base: str, username: str, password: str = PASSWORD, agent: str = FIREFOX
              ) -> requests.Session:
    web = requests.Session()
    web.headers["User-Agent"] = agent
    token = csrf(web.get(f"{base}/login", timeout=30).text)
    resp = web.post(f"{base}/login", timeout=30, data={
        "username": username, "password": password, "csrf_token": token})
    assert resp.url.endswith("/dashboard"), resp.url
    return web


def test_sessions_are_listed_and_one_ended_stops_its_cookie(make_owner, live_server,
                                                           redis_client):
    base = live_server.url
    owner = make_owner(password=PASSWORD)
    laptop = web_login(base, owner.username)
    phone = web_login(base, owner.username, agent=IPHONE)
    page = laptop.get(f"{base}/security", timeout=30).text
    rows = re.findall(r'<tr class="session" data-session="([0-9a-f]+)">(.*?)</tr>', page, re.S)
    assert len(rows) == 2
    devices = {sid: body for sid, body in rows}
    assert any("Firefox, Linux" in b and "dit apparaat" in b for b in devices.values())
    phone_id = next(sid for sid, b in devices.items() if "Safari, iOS" in b)
    # the page names sessions by a public id, never by the sid in the cookie
    for raw in redis_client.smembers(sessions.BY_VAULT + owner.vault_id):
        assert raw.decode() not in page
    assert phone.get(f"{base}/api/v1/records", timeout=30).status_code == 200
    resp = laptop.post(f"{base}/security/sessions/{phone_id}/end",
                       data={"csrf_token": csrf(page)}, timeout=30)
    assert resp.url.endswith("/security") and "Die sessie is beëindigd." in resp.text
    assert phone.get(f"{base}/api/v1/records", timeout=30).status_code == 401
    assert laptop.get(f"{base}/api/v1/records", timeout=30).status_code == 200
    page = laptop.get(f"{base}/security", timeout=30).text
    assert len(re.findall(r'<tr class="session"', page)) == 1


def test_another_vaults_session_cannot_be_ended(make_owner, live_server):
    base = live_server.url
    one, two = make_owner(password=PASSWORD), make_owner(password=PASSWORD)
    web_one = web_login(base, one.username)
    web_two = web_login(base, two.username)
    page_two = web_two.get(f"{base}/security", timeout=30).text
    two_id = re.search(r'data-session="([0-9a-f]+)"', page_two).group(1)
    page_one = web_one.get(f"{base}/security", timeout=30).text
    web_one.post(f"{base}/security/sessions/{two_id}/end", data={"csrf_token": csrf(page_one)},
                 timeout=30)
    assert web_two.get(f"{base}/api/v1/records", timeout=30).status_code == 200


def test_app_tokens_show_their_last_use_and_end_with_a_button(make_owner, live_server):
    base = live_server.url
    owner = make_owner(password=PASSWORD)
    web = web_login(base, owner.username)
    page = html.unescape(web.get(f"{base}/security", timeout=30).text)
    row = re.search(r'<tr class="token" data-token="([0-9a-f]+)">(.*?)</tr>', page, re.S)
    assert "tests" in row.group(2) and "nog niet" in row.group(2)
    assert owner.get("/api/v1/records").status_code == 200
    page = html.unescape(web.get(f"{base}/security", timeout=30).text)
    row = re.search(r'<tr class="token" data-token="([0-9a-f]+)">(.*?)</tr>', page, re.S)
    assert "nog niet" not in row.group(2)
    web.post(f"{base}/security/tokens/{row.group(1)}/revoke", data={"csrf_token": csrf(page)},
             timeout=30)
    assert owner.get("/api/v1/records").status_code == 401


def _enable_totp(owner) -> str:
    secret = owner.post("/api/v1/account/totp").json()["secret"]
    resp = owner.post("/api/v1/account/totp/confirm",
                      json={"secret": secret, "code": totp_mod.current_code(secret)})
    assert resp.status_code in (200, 204), resp.text
    return secret


def _totp_on(web, base) -> bool:
    return "Tweestapsverificatie staat aan." in web.get(f"{base}/security", timeout=30).text


def test_turning_totp_off_needs_the_password_and_a_current_code(make_owner, live_server, clock):
    base = live_server.url
    owner = make_owner(password=PASSWORD)
    web = web_login(base, owner.username)  # before TOTP: no second step for this session
    secret = _enable_totp(owner)
    token = csrf(web.get(f"{base}/security", timeout=30).text)
    clock.advance(totp_mod.STEP)  # a step not used yet
    code = totp_mod.current_code(secret)
    wrong_password = web.post(f"{base}/security/totp/off", timeout=30, data={
        "csrf_token": token, "password": "not my password at all", "code": code})
    assert wrong_password.status_code == 403 and _totp_on(web, base)
    wrong_code = web.post(f"{base}/security/totp/off", timeout=30, data={
        "csrf_token": token, "password": PASSWORD,
        "code": "000000" if code != "000000" else "111111"})
    assert wrong_code.status_code == 401 and _totp_on(web, base)
    no_code = web.post(f"{base}/security/totp/off", timeout=30, data={
        "csrf_token": token, "password": PASSWORD, "code": ""})
    assert no_code.status_code == 401 and _totp_on(web, base)
    done = web.post(f"{base}/security/totp/off", timeout=30, data={
        "csrf_token": token, "password": PASSWORD, "code": code})
    assert done.url.endswith("/security") and "Tweestapsverificatie staat nu uit." in done.text
    assert not _totp_on(web, base)
    login = requests.post(f"{base}/api/v1/tokens", timeout=30,
                          json={"username": owner.username, "password": PASSWORD})
    assert login.status_code == 201  # no code asked any more
    events = [e["action"] for e in owner.get("/api/v1/events", params={"limit": 1000}).json()["events"]]
    assert "totp.disabled" in events


def test_a_new_password_repeated_wrongly_changes_nothing(make_owner, live_server):
    base = live_server.url
    owner = make_owner(password=PASSWORD)
    web = web_login(base, owner.username)
    page = web.get(f"{base}/security", timeout=30).text
    assert 'name="new_password_repeat"' in page
    resp = web.post(f"{base}/security/password", timeout=30, data={
        "csrf_token": csrf(page), "old_password": PASSWORD,
        "new_password": "a brand new passphrase 1", "new_password_repeat": "a brand new passphrase 2"})
    assert resp.status_code == 422
    assert "De nieuwe wachtwoorden zijn niet gelijk. Er is niets gewijzigd." in resp.text
    assert owner.get("/api/v1/records").status_code == 200  # tokens not revoked
    web_login(base, owner.username)  # the old password still works


def test_the_recovery_code_page_has_no_menu_unbroken_groups_and_asks_if_it_was_stored(
        live_server):
    base = live_server.url
    web = requests.Session()
    token = csrf(web.get(f"{base}/signup", timeout=30).text)
    resp = web.post(f"{base}/signup", timeout=30, data={
        "csrf_token": token, "username": "nieuweling", "password": PASSWORD,
        "password_repeat": PASSWORD})
    page = resp.text
    assert 'id="recovery-code"' in page
    assert '<nav aria-label="main">' not in page and 'id="logout"' not in page
    groups = re.findall(r'<span class="code-group">([0-9A-Z]{4})-?</span>', page)
    assert len(groups) == 8
    assert "Heb je hem bewaard?" in page
    assert re.search(r'<input type="checkbox" name="saved" value="yes" id="recovery-saved" '
                     r'required>', page)
    css = web.get(f"{base}/static/kluis.css", timeout=30).text
    assert re.search(r"\.recovery-code \.code-group \{[^}]*white-space: nowrap", css)
    dashboard = web.get(f"{base}/dashboard", timeout=30).text
    assert 'data-step="recovery"' in dashboard
    assert re.search(r'<li class="open" data-step="recovery">', dashboard)
    done = web.post(f"{base}/recovery/saved", timeout=30, data={
        "csrf_token": csrf(page), "saved": "yes", "next": "/dashboard"})
    assert done.url.endswith("/dashboard")
    assert re.search(r'<li class="done" data-step="recovery">', done.text)


def test_a_visitor_at_the_root_reads_what_kluis_is(live_server):
    resp = requests.get(f"{live_server.url}/", timeout=30, allow_redirects=False)
    assert resp.status_code == 200
    text = html.unescape(resp.text)
    assert "Kluis is een digitale kluis voor je persoonlijke papieren" in text
    assert 'id="start-signup" href="/signup"' in text and 'id="start-login" href="/login"' in text
    english = requests.get(f"{live_server.url}/", timeout=30,
                           headers={"Accept-Language": "en"}).text
    assert "Kluis is a digital safe for your personal paperwork" in html.unescape(english)


def test_an_owner_at_the_root_goes_to_the_dashboard(make_owner, live_server):
    owner = make_owner(password=PASSWORD)
    web = web_login(live_server.url, owner.username)
    resp = web.get(f"{live_server.url}/", timeout=30, allow_redirects=False)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/dashboard")


def _steps(web, base) -> dict[str, str]:
    page = web.get(f"{base}/dashboard", timeout=30).text
    return dict((step, state) for state, step in
                re.findall(r'<li class="(done|open)" data-step="([a-z-]+)">', page))


def test_the_dashboard_checklist_ticks_itself_off_from_real_state(make_owner, live_server):
    base = live_server.url
    owner = make_owner(password=PASSWORD)
    web = web_login(base, owner.username)
    assert _steps(web, base) == {"details": "open", "two-step": "open", "recovery": "open",
                                 "source": "open"}
    resp = owner.post("/api/v1/records", json={"type": "person", "data": {
        "given_names": "Sanne", "surname": "de Vries", "birth_date": "1990-04-01"}})
    assert resp.status_code == 201, resp.text
    assert _steps(web, base)["details"] == "done"
    _enable_totp(owner)
    assert _steps(web, base)["two-step"] == "done"
    resp = owner.post("/api/v1/documents", files={"file": ("loonstrook.pdf", b"%PDF-1.4 x",
                                                           "application/pdf")})
    assert resp.status_code == 201, resp.text
    assert _steps(web, base)["source"] == "done"
    page = web.get(f"{base}/security", timeout=30).text
    new_code = web.post(f"{base}/security/recovery", timeout=30,
                        data={"csrf_token": csrf(page), "password": PASSWORD})
    assert 'id="recovery-code"' in new_code.text and "Heb je hem bewaard?" in new_code.text
    done = web.post(f"{base}/recovery/saved", timeout=30, data={
        "csrf_token": csrf(page), "saved": "yes", "next": "/security"})
    assert done.url.endswith("/security")
    assert _steps(web, base) == {}  # all four done: the checklist is gone
