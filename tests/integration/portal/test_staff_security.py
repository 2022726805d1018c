"""Staff sign-in over HTTP: wrong passwords and codes lock the account for a while (counted in
portal.db); an administrator resets a member's authenticator (she enrols a new one at her next
sign-in; the old app's codes no longer work) and turns accounts off and on again."""

from __future__ import annotations

import re
from datetime import timedelta

import requests

from tests.integration.portal.conftest import csrf, post_form
from vault.accounts.totp import current_code
from vault.portal import lockout, staff

PASSWORD = "een lange wachtzin voor het portaal"


def _login(portal, username: str, password: str = PASSWORD) -> tuple[requests.Session,
                                                                       requests.Response]:
    http = requests.Session()
    return http, post_form(http, f"{portal.url}/login", {"username": username,
                                                         "password": password})


def _member_id(portal, username: str) -> str:
    return str(portal.store.conn.execute("SELECT id FROM staff WHERE username = ?",
                                         (username,)).fetchone()["id"])


def test_wrong_passwords_lock_the_account_until_the_lockout_ends(make_portal, make_staff,
                                                                 clock):
    portal = make_portal([])
    make_staff(portal, "caseworker", "fatima")
    for _ in range(lockout.ACCOUNT_LIMIT):
        assert _login(portal, "fatima", "fout")[1].status_code == 401
    http, resp = _login(portal, "fatima")  # the right password, but locked
    assert resp.status_code == 429 and "Te veel mislukte pogingen" in resp.text
    assert not resp.url.startswith(f"{portal.url}/login/totp")
    # An unknown username is counted the same way (a lockout says nothing about who exists).
    for _ in range(lockout.ACCOUNT_LIMIT):
        _login(portal, "niemand", "fout")
    assert _login(portal, "niemand", "fout")[1].status_code == 429

    clock.advance((lockout.LOCKOUT + timedelta(seconds=5)).total_seconds())
    http, resp = _login(portal, "fatima")
    assert resp.status_code == 200 and resp.url.startswith(f"{portal.url}/login/totp")


def test_wrong_codes_lock_the_second_step_too(make_portal, make_staff):
    portal = make_portal([])
    member = make_staff(portal, "caseworker", "fatima")
    http, resp = _login(portal, "fatima")
    for _ in range(lockout.ACCOUNT_LIMIT):
        assert post_form(http, f"{portal.url}/login/totp",
                         {"code": "000000"}).status_code == 401
    resp = post_form(http, f"{portal.url}/login/totp",
                     {"code": current_code(member.totp_secret)})
    assert resp.status_code == 429
    assert http.get(f"{portal.url}/", timeout=30).url.startswith(f"{portal.url}/login")


def test_a_reset_authenticator_is_enrolled_again_at_the_next_sign_in(make_portal, make_staff):
    portal = make_portal([])
    admin = make_staff(portal, "admin", "beheer")
    fatima = make_staff(portal, "caseworker", "fatima")
    old_secret = fatima.totp_secret
    fatima_id = _member_id(portal, "fatima")
    page = admin.get(f"{portal.url}/admin/staff", timeout=30).text
    resp = admin.post(f"{portal.url}/admin/staff", timeout=30,
                      data={"csrf": csrf(page), "reset_totp": fatima_id})
    assert resp.status_code == 200 and "stelt authenticator opnieuw in" in resp.text
    # Her open session ends at once.
    assert fatima.get(f"{portal.url}/", timeout=30).url.startswith(f"{portal.url}/login")

    http, resp = _login(portal, "fatima")
    assert resp.url.startswith(f"{portal.url}/login/enrol")
    # The old app's code does not open the second step, and nothing opens without enrolling.
    assert post_form(http, f"{portal.url}/login/totp",
                     {"code": current_code(old_secret)}).status_code == 401
    assert http.get(f"{portal.url}/", timeout=30).url.startswith(f"{portal.url}/login")
    page = http.get(f"{portal.url}/login/enrol", timeout=30).text
    new_secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert new_secret != old_secret
    assert http.post(f"{portal.url}/login/enrol", timeout=30, data={
        "csrf": csrf(page), "code": "000000"}).status_code == 422
    resp = http.post(f"{portal.url}/login/enrol", timeout=30, data={
        "csrf": csrf(page), "code": current_code(new_secret)})
    assert resp.status_code == 200 and resp.url.rstrip("/") == portal.url
    assert 'id="logout"' in resp.text
    audit = [r["action"] for r in staff.audit_rows(portal.store)]
    assert "staff.totp-reset" in audit and "staff.totp-enrolled" in audit
    # From now on the new app is the one.
    http, resp = _login(portal, "fatima")
    assert resp.url.startswith(f"{portal.url}/login/totp")


def test_an_account_turned_off_cannot_sign_in_until_turned_on_again(make_portal, make_staff):
    portal = make_portal([])
    admin = make_staff(portal, "admin", "beheer")
    fatima = make_staff(portal, "caseworker", "fatima")
    fatima_id = _member_id(portal, "fatima")
    page = admin.get(f"{portal.url}/admin/staff", timeout=30).text
    admin.post(f"{portal.url}/admin/staff", timeout=30,
               data={"csrf": csrf(page), "deactivate": fatima_id})
    assert fatima.get(f"{portal.url}/", timeout=30).url.startswith(f"{portal.url}/login")
    assert _login(portal, "fatima")[1].status_code == 401
    page = admin.get(f"{portal.url}/admin/staff", timeout=30).text
    assert f'name="reactivate" value="{fatima_id}"' in page
    admin.post(f"{portal.url}/admin/staff", timeout=30,
               data={"csrf": csrf(page), "reactivate": fatima_id})
    http, resp = _login(portal, "fatima")  # the failure while off is forgotten, too
    assert resp.url.startswith(f"{portal.url}/login/totp")
    # An administrator cannot turn herself off.
    admin_id = _member_id(portal, "beheer")
    page = admin.get(f"{portal.url}/admin/staff", timeout=30).text
    assert admin.post(f"{portal.url}/admin/staff", timeout=30,
                      data={"csrf": csrf(page), "deactivate": admin_id}).status_code == 422
    # Caseworkers cannot do any of it.
    karim = make_staff(portal, "caseworker", "karim")
    page = karim.get(f"{portal.url}/", timeout=30).text
    assert karim.post(f"{portal.url}/admin/staff", timeout=30, allow_redirects=False, data={
        "csrf": csrf(page), "reset_totp": admin_id}).status_code == 403
    assert not portal.store.conn.execute("SELECT must_enrol FROM staff WHERE id = ?",
                                         (admin_id,)).fetchone()[0]
