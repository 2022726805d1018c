"""Owner accounts over real HTTP with a real Redis: sign-up, tokens, TOTP, recovery, sessions."""

from __future__ import annotations

import concurrent.futures
import re

import requests

from vault.accounts import totp as totp_mod


def _signup(base: str, username: str, password: str = "correct horse staple 42"):
    return requests.post(f"{base}/api/v1/accounts",
                         json={"username": username, "password": password}, timeout=30)


def test_signup_returns_vault_id_and_recovery_code(live_server):
    resp = _signup(live_server.url, "annemarie")
    assert resp.status_code == 201
    body = resp.json()
    assert re.fullmatch(r"[0-9a-f]{32}", body["vault_id"])
    assert len(body["recovery_code"].replace("-", "")) == 32


def test_signup_refuses_short_and_common_passwords_with_problem_json(live_server):
    for password, fragment in [("short", "at least 12"), ("passwordpassword", "common")]:
        resp = _signup(live_server.url, "someone", password)
        assert resp.status_code == 422
        assert resp.headers["Content-Type"] == "application/problem+json"
        assert fragment in resp.json()["title"]
    # nothing was created: the username is still free
    assert _signup(live_server.url, "someone").status_code == 201


def test_signup_with_taken_username_conflicts(live_server):
    assert _signup(live_server.url, "dup").status_code == 201
    resp = _signup(live_server.url, "DUP")
    assert resp.status_code == 409


def test_token_with_wrong_password_and_unknown_user_answer_the_same(live_server):
    _signup(live_server.url, "known")
    wrong = requests.post(f"{live_server.url}/api/v1/tokens",
                          json={"username": "known", "password": "wrong password 123"}, timeout=30)
    unknown = requests.post(f"{live_server.url}/api/v1/tokens",
                            json={"username": "nobody", "password": "wrong password 123"},
                            timeout=30)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_failed_logins_are_rate_limited_per_account(live_server, settings):
    _signup(live_server.url, "target")
    codes = []
    for _ in range(settings.login_max_failures + 1):
        resp = requests.post(f"{live_server.url}/api/v1/tokens",
                             json={"username": "target", "password": "guess guess guess"},
                             timeout=30)
        codes.append(resp.status_code)
    assert codes[-1] == 429
    assert int(resp.headers["Retry-After"]) > 0
    # even the right password waits now
    right = requests.post(f"{live_server.url}/api/v1/tokens",
                          json={"username": "target", "password": "correct horse staple 42"},
                          timeout=30)
    assert right.status_code == 429


def test_requests_without_token_get_401_problem(live_server):
    resp = requests.get(f"{live_server.url}/api/v1/records", timeout=30)
    assert resp.status_code == 401
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    resp = requests.get(f"{live_server.url}/api/v1/records",
                        headers={"Authorization": "Bearer kluis_at_nottherealtoken"}, timeout=30)
    assert resp.status_code == 401


def test_revoked_app_token_stops_working(make_owner):
    owner = make_owner()
    tokens = owner.get("/api/v1/tokens").json()["tokens"]
    assert len(tokens) == 1
    assert owner.delete(f"/api/v1/tokens/{tokens[0]['id']}").status_code == 204
    assert owner.get("/api/v1/records").status_code == 401


def _enable_totp(owner) -> str:
    start = owner.post("/api/v1/account/totp")
    assert start.status_code == 200
    secret = start.json()["secret"]
    assert start.json()["otpauth_uri"].startswith("otpauth://totp/")
    resp = owner.post("/api/v1/account/totp/confirm",
                      json={"secret": secret, "code": totp_mod.current_code(secret)})
    assert resp.status_code == 204, resp.text
    return secret


def test_totp_code_outside_one_step_window_is_refused(make_owner, clock):
    owner = make_owner()
    secret = _enable_totp(owner)
    clock.advance(totp_mod.STEP)
    stale = totp_mod.current_code(secret)
    clock.advance(2 * totp_mod.STEP)
    resp = requests.post(owner.url("/api/v1/tokens"), json={
        "username": owner.username, "password": owner.password, "totp": stale}, timeout=30)
    assert resp.status_code == 401
    assert resp.json()["type"].endswith("totp-invalid")


def test_totp_is_required_after_enrolment_and_a_code_works_once(make_owner, clock):
    owner = make_owner()
    secret = _enable_totp(owner)
    url = owner.url("/api/v1/tokens")
    creds = {"username": owner.username, "password": owner.password}
    resp = requests.post(url, json=creds, timeout=30)
    assert resp.status_code == 401
    assert resp.json()["type"].endswith("totp-required")
    clock.advance(totp_mod.STEP)
    code = totp_mod.current_code(secret)
    first = requests.post(url, json={**creds, "totp": code}, timeout=30)
    assert first.status_code == 201, first.text
    replay = requests.post(url, json={**creds, "totp": code}, timeout=30)
    assert replay.status_code == 401
    assert replay.json()["type"].endswith("totp-replayed")


def test_totp_code_is_accepted_once_under_concurrent_submissions(make_owner, clock):
    owner = make_owner()
    secret = _enable_totp(owner)
    clock.advance(totp_mod.STEP)
    code = totp_mod.current_code(secret)
    body = {"username": owner.username, "password": owner.password, "totp": code}

    def attempt(_):
        return requests.post(owner.url("/api/v1/tokens"), json=body, timeout=60).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(attempt, range(6)))
    assert statuses.count(201) == 1, statuses


def test_password_reset_with_recovery_code_rewraps_and_issues_new_code(make_owner):
    owner = make_owner()
    created = owner.post("/api/v1/records", json={"type": "income", "data": {
        "year": 2025, "source": "ACME BV", "gross_amount_cents": 4_200_000}})
    assert created.status_code == 201
    resp = requests.post(owner.url("/api/v1/account/password-reset"), json={
        "username": owner.username, "recovery_code": owner.recovery_code,
        "new_password": "a brand new passphrase 7"}, timeout=30)
    assert resp.status_code == 200, resp.text
    new_code = resp.json()["recovery_code"]
    assert new_code != owner.recovery_code
    # the old password and old code are dead; the new password opens the same records
    old = requests.post(owner.url("/api/v1/tokens"), json={
        "username": owner.username, "password": owner.password}, timeout=30)
    assert old.status_code == 401
    again = requests.post(owner.url("/api/v1/account/password-reset"), json={
        "username": owner.username, "recovery_code": owner.recovery_code,
        "new_password": "another new passphrase 8"}, timeout=30)
    assert again.status_code == 401
    new = requests.post(owner.url("/api/v1/tokens"), json={
        "username": owner.username, "password": "a brand new passphrase 7"}, timeout=30)
    assert new.status_code == 201
    records = requests.get(owner.url("/api/v1/records"), timeout=30,
                           headers={"Authorization": f"Bearer {new.json()['token']}"}).json()
    assert records["records"][0]["data"]["source"] == "ACME BV"


def test_password_reset_needs_totp_when_it_is_on(make_owner, clock):
    owner = make_owner()
    secret = _enable_totp(owner)
    body = {"username": owner.username, "recovery_code": owner.recovery_code,
            "new_password": "a brand new passphrase 7"}
    resp = requests.post(owner.url("/api/v1/account/password-reset"), json=body, timeout=30)
    assert resp.status_code == 401
    clock.advance(totp_mod.STEP)
    resp = requests.post(owner.url("/api/v1/account/password-reset"),
                         json={**body, "totp": totp_mod.current_code(secret)}, timeout=30)
    assert resp.status_code == 200, resp.text


def test_lost_authenticator_reset_with_password_and_recovery_code(make_owner, clock):
    owner = make_owner()
    _enable_totp(owner)
    resp = requests.post(owner.url("/api/v1/account/totp-reset"), json={
        "username": owner.username, "password": owner.password,
        "recovery_code": owner.recovery_code}, timeout=30)
    assert resp.status_code == 200, resp.text
    # TOTP is off now: password alone gives a token
    token = requests.post(owner.url("/api/v1/tokens"), json={
        "username": owner.username, "password": owner.password}, timeout=30)
    assert token.status_code == 201
    # the reset revoked the owner's earlier app token: read the log with the new one
    events = requests.get(owner.url("/api/v1/events"), timeout=30, headers={
        "Authorization": f"Bearer {token.json()['token']}"}).json()
    assert any(e["action"] == "totp.reset" for e in events["events"])
    assert events["log_intact"] is True
