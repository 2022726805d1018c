"""Grant pages over real HTTP with a signed-in owner: create, overview, log, revoke all."""

from __future__ import annotations

import re

import requests

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def signed_in(base: str, owner) -> requests.Session:
    http = requests.Session()
    token = CSRF.search(http.get(f"{base}/login", timeout=30).text).group(1)
    resp = http.post(f"{base}/login", timeout=30, data={
        "csrf_token": token, "username": owner.username, "password": owner.password})
    assert resp.url.endswith("/dashboard")
    return http


def test_owner_creates_a_grant_sees_it_and_revokes_all_after_confirming(
        live_server, make_owner, register_org):
    base = live_server.url
    owner, org = make_owner(), register_org()
    owner.post("/api/v1/records", json={"type": "person",
                                        "data": {"given_names": "A", "surname": "B"}})
    http = signed_in(base, owner)
    page = http.get(f"{base}/grants/new", timeout=30).text
    csrf = CSRF.search(page).group(1)
    resp = http.post(f"{base}/grants/new", timeout=30, data={
        "csrf_token": csrf, "client_id": org.client_id, "purpose": "employment", "days": "10",
        "retention": "30", "field:person": ["surname"]})
    assert resp.status_code == 200
    code = re.search(r'id="pickup-code">([^<]+)<', resp.text).group(1)
    token = requests.post(f"{base}/oauth/token", auth=(org.client_id, org.client_secret),
                          data={"grant_type": "urn:kluis:params:oauth:grant-type:pickup",
                                "code": code}, timeout=30).json()
    data = requests.get(f"{base}/api/v1/grant/records", timeout=30,
                        headers={"Authorization": f"Bearer {token['access_token']}"}).json()
    assert data["records"][0]["data"] == {"surname": "B"}

    overview = http.get(f"{base}/grants", timeout=30).text
    assert f'data-grant="{token["grant_id"]}"' in overview
    assert "Woonstichting De Kern" in overview
    log = http.get(f"{base}/grants/log", timeout=30).text
    assert 'data-action="grant.read"' in log and "log-warning" not in log

    confirm = http.get(f"{base}/grants/revoke-all", timeout=30).text
    assert "confirm-revoke-all" in confirm
    http.post(f"{base}/grants/revoke-all", data={"csrf_token": CSRF.search(confirm).group(1)},
              timeout=30)
    assert "no-active" in http.get(f"{base}/grants", timeout=30).text
    # The next owner grant offers the organisation it dealt with before.
    again = http.get(f"{base}/grants/new", timeout=30).text
    assert f'<option value="{org.client_id}">Woonstichting De Kern</option>' in again
    resp = requests.get(f"{base}/api/v1/grant/records", timeout=30,
                        headers={"Authorization": f"Bearer {token['access_token']}"})
    assert resp.status_code == 401


def test_a_bad_owner_grant_form_shows_the_error_and_changes_nothing(live_server, make_owner,
                                                                    register_org):
    base = live_server.url
    owner, org = make_owner(), register_org()
    http = signed_in(base, owner)
    csrf = CSRF.search(http.get(f"{base}/grants/new", timeout=30).text).group(1)
    resp = http.post(f"{base}/grants/new", timeout=30, data={
        "csrf_token": csrf, "client_id": org.client_id, "purpose": "employment", "days": "10",
        "retention": "30"})
    assert resp.status_code == 422
    assert owner.get("/api/v1/grants").json()["grants"] == []
