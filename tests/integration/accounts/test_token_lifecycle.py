"""Owner app tokens end with a token logout, a password change (unless kept) and any reset,
and the owner sees which ended."""

from __future__ import annotations

import html

import requests

from tests.integration.accounts.test_sessions import csrf, web_login
from vault.accounts import totp as totp_mod

NEW_PASSWORD = "a different passphrase 9"


def _token(owner, name: str, password: str | None = None) -> dict:
    resp = requests.post(owner.url("/api/v1/tokens"), timeout=30, json={
        "username": owner.username, "password": password or owner.password, "name": name})
    assert resp.status_code == 201, resp.text
    return resp.json()


def _reads(owner, token: str) -> int:
    return requests.get(owner.url("/api/v1/records"), timeout=30,
                        headers={"Authorization": f"Bearer {token}"}).status_code


def _events(owner, token: str) -> list[dict]:
    resp = requests.get(owner.url("/api/v1/events"), timeout=30,
                        headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return resp.json()["events"]


def test_logout_with_a_bearer_token_revokes_that_token(make_owner):
    owner = make_owner()
    other = _token(owner, "script")
    resp = requests.post(owner.url("/api/v1/logout"), timeout=30,
                         headers={"Authorization": f"Bearer {other['token']}"})
    assert resp.status_code == 204
    assert _reads(owner, other["token"]) == 401
    assert _reads(owner, owner.token) == 200  # only the token that logged out
    assert [t["id"] for t in owner.get("/api/v1/tokens").json()["tokens"]] != [other["id"]]
    assert other["id"] not in {t["id"] for t in owner.get("/api/v1/tokens").json()["tokens"]}
    ended = [e for e in _events(owner, owner.token) if e["action"] == "app-token.revoked"]
    assert ended[-1]["detail"] == {"token": other["id"], "name": "script", "reason": "logout"}


def test_password_change_revokes_the_other_app_tokens_unless_kept(make_owner):
    owner = make_owner()
    kept = _token(owner, "backup-script")
    dropped = _token(owner, "old-laptop")
    resp = owner.post("/api/v1/account/password", json={
        "old_password": owner.password, "new_password": NEW_PASSWORD,
        "keep_tokens": [kept["id"]]})
    assert resp.status_code == 204, resp.text
    assert _reads(owner, owner.token) == 200  # the token that made the change
    assert _reads(owner, kept["token"]) == 200
    assert _reads(owner, dropped["token"]) == 401
    events = _events(owner, owner.token)
    changed = [e for e in events if e["action"] == "password.changed"][-1]
    assert changed["detail"]["app_tokens_revoked"] == [{"id": dropped["id"],
                                                        "name": "old-laptop"}]
    ended = [e["detail"] for e in events if e["action"] == "app-token.revoked"]
    assert ended == [{"token": dropped["id"], "name": "old-laptop",
                      "reason": "password-changed"}]


def test_password_change_keeping_an_unknown_token_changes_nothing(make_owner):
    owner = make_owner()
    other = _token(owner, "script")
    resp = owner.post("/api/v1/account/password", json={
        "old_password": owner.password, "new_password": NEW_PASSWORD,
        "keep_tokens": ["no-such-token"]})
    assert resp.status_code == 422
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert _reads(owner, other["token"]) == 200
    _token(owner, "still the old password")


def test_password_reset_revokes_every_app_token_and_says_which(make_owner):
    owner = make_owner()
    other = _token(owner, "script")
    resp = requests.post(owner.url("/api/v1/account/password-reset"), timeout=30, json={
        "username": owner.username, "recovery_code": owner.recovery_code,
        "new_password": NEW_PASSWORD})
    assert resp.status_code == 200, resp.text
    revoked = {t["id"]: t["name"] for t in resp.json()["revoked_tokens"]}
    tokens = {t["id"] for t in requests.get(owner.url("/api/v1/tokens"), timeout=30, headers={
        "Authorization": f"Bearer {_token(owner, 'new', NEW_PASSWORD)['token']}"}).json()["tokens"]}
    assert revoked[other["id"]] == "script" and len(revoked) == 2
    assert not set(revoked) & tokens
    assert _reads(owner, owner.token) == 401 and _reads(owner, other["token"]) == 401
    fresh = _token(owner, "reader", NEW_PASSWORD)["token"]
    reset = [e for e in _events(owner, fresh) if e["action"] == "password.reset"][-1]
    assert {t["id"] for t in reset["detail"]["app_tokens_revoked"]} == set(revoked)


def test_totp_reset_revokes_every_app_token_and_says_which(make_owner):
    owner = make_owner()
    start = owner.post("/api/v1/account/totp").json()
    assert owner.post("/api/v1/account/totp/confirm", json={
        "secret": start["secret"], "code": totp_mod.current_code(start["secret"])}
    ).status_code == 204
    resp = requests.post(owner.url("/api/v1/account/totp-reset"), timeout=30, json={
        "username": owner.username, "password": owner.password,
        "recovery_code": owner.recovery_code})
    assert resp.status_code == 200, resp.text
    assert [t["name"] for t in resp.json()["revoked_tokens"]] == ["tests"]
    assert _reads(owner, owner.token) == 401


def test_the_recover_page_names_the_tokens_it_revoked(make_owner, live_server):
    owner = make_owner()
    _token(owner, "Thuisserver")
    web = requests.Session()
    page = web.get(f"{live_server.url}/recover", timeout=30)
    resp = web.post(f"{live_server.url}/recover", timeout=30, data={
        "csrf_token": csrf(page.text), "username": owner.username,
        "recovery_code": owner.recovery_code, "new_password": NEW_PASSWORD})
    assert resp.status_code == 200, resp.text[:500]
    text = html.unescape(resp.text)
    assert "\u201cThuisserver\u201d" in text and "\u201ctests\u201d" in text
    assert _reads(owner, owner.token) == 401


def test_the_security_page_lists_the_tokens_unticked_and_keeps_only_the_ticked(
        make_owner, live_server):
    owner = make_owner()
    kept = _token(owner, "Back-up")
    dropped = _token(owner, "Oude laptop")
    web = web_login(live_server.url, owner.username, owner.password)
    page = web.get(f"{live_server.url}/security", timeout=30).text
    for token in (kept, dropped):
        box = f'<input type="checkbox" name="keep_tokens" value="{token["id"]}">'
        assert box in page  # off by default
    resp = web.post(f"{live_server.url}/security/password", timeout=30, data={
        "csrf_token": csrf(page), "old_password": owner.password,
        "new_password": NEW_PASSWORD, "new_password_repeat": NEW_PASSWORD,
        "keep_tokens": [kept["id"]]})
    assert resp.status_code == 200 and resp.url.endswith("/security")
    text = html.unescape(resp.text)
    assert "\u201cOude laptop\u201d" in text and "\u201ctests\u201d" in text
    assert "\u201cBack-up\u201d" not in text.split("keep-tokens")[0]
    assert _reads(owner, kept["token"]) == 200
    assert _reads(owner, dropped["token"]) == 401 and _reads(owner, owner.token) == 401
    assert web.get(f"{live_server.url}/api/v1/records", timeout=30).status_code == 200



def test_a_wrong_current_password_is_a_403_and_counts_toward_the_lock_out(make_owner, settings):
    owner = make_owner()
    for _ in range(settings.login_max_failures):
        resp = owner.post("/api/v1/account/password", json={
            "old_password": "not my password at all 1", "new_password": "another passphrase 77"})
        assert resp.status_code == 403
        assert resp.json()["type"] == "urn:kluis:problem:wrong-password"
    resp = owner.post("/api/v1/account/password", json={
        "old_password": owner.password, "new_password": "another passphrase 77"})
    assert resp.status_code == 429  # even the right password waits: the account is locked out
    assert owner.get("/api/v1/records").status_code == 200  # the token still works
