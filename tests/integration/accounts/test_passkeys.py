"""Passkeys against real SQLCipher and Redis: a PRF passkey's key slot unlocks the vault key,
a passkey without PRF is a second factor only, removal deletes the slot; and over HTTP the
passwordless login and the passkey second step."""

from __future__ import annotations

import json
import re

import pytest
import requests

from tests.integration.accounts.softkey import SoftKey
from vault.accounts.errors import PasskeyInvalid, PasskeyRequired, PasskeySecondFactorOnly
from vault.accounts.passkeys import Relying
from vault.crypto import slots

PASSWORD = "correct horse staple 42"


@pytest.fixture
def accounts(app):
    return app.extensions["kluis"].accounts


def _owner(accounts, name: str = "sanne"):
    vault_id, _code = accounts.register(name, PASSWORD)
    return vault_id, accounts.unlock_password(name, PASSWORD).dek


def _register(accounts, vault_id, dek, key: SoftKey, label: str = "Telefoon"):
    options, challenge = accounts.passkey_registration_options(vault_id, "sanne")
    assert options["extensions"]["prf"]["eval"]["first"]
    assert options["authenticatorSelection"]["userVerification"] == "required"
    return accounts.add_passkey(vault_id, dek, key.create(options), challenge, label)


def _key(accounts, *, prf: bool = True) -> SoftKey:
    relying = Relying.of(accounts.settings)
    return SoftKey(relying.origin, relying.rp_id, prf=prf)


def test_a_prf_passkey_slot_unlocks_the_vault_key(accounts):
    vault_id, dek = _owner(accounts)
    key = _key(accounts)
    passkey, pending = _register(accounts, vault_id, dek, key)
    assert passkey.unlocks and not pending
    [slot] = accounts.instance.slots(vault_id, slots.PASSKEY)
    assert slot.kdf == slots.PRF_KDF and slot.wrapped != dek
    options, challenge = accounts.passkey_login_options()
    assert "allowCredentials" not in options or not options["allowCredentials"]
    unlocked_id, unlocked_dek = accounts.unlock_passkey(key.get(options), challenge)
    assert (unlocked_id, unlocked_dek) == (vault_id, dek)
    with accounts.open(vault_id, unlocked_dek) as vault:  # the real vault opens with it
        assert vault.get_meta("totp_secret") is None
    assert accounts.passkeys(vault_id)[0].last_used_at is not None


def test_a_prf_output_given_only_at_login_finishes_the_slot_with_one_assertion(accounts):
    vault_id, dek = _owner(accounts)
    relying = Relying.of(accounts.settings)
    key = SoftKey(relying.origin, relying.rp_id, prf_at_create=False)
    passkey, pending = _register(accounts, vault_id, dek, key)
    assert pending and not passkey.unlocks
    assert accounts.instance.slots(vault_id, slots.PASSKEY) == []
    options, challenge = accounts.passkey_login_options(vault_id)
    assert accounts.add_passkey_slot(vault_id, dek, passkey.id, key.get(options), challenge)
    assert accounts.passkeys(vault_id)[0].unlocks
    options, challenge = accounts.passkey_login_options()
    assert accounts.unlock_passkey(key.get(options), challenge) == (vault_id, dek)


def test_a_wrong_prf_output_or_a_replayed_challenge_opens_nothing(accounts):
    vault_id, dek = _owner(accounts)
    key = _key(accounts)
    _register(accounts, vault_id, dek, key)
    options, challenge = accounts.passkey_login_options()
    with pytest.raises(PasskeyInvalid):
        accounts.unlock_passkey(key.get(options, prf_output=bytes(32)), challenge)
    other_options, _ = accounts.passkey_login_options()
    with pytest.raises(PasskeyInvalid):  # signed over another challenge
        accounts.unlock_passkey(key.get(other_options), challenge)


def test_a_passkey_without_prf_is_a_second_factor_only(accounts):
    vault_id, dek = _owner(accounts)
    key = _key(accounts, prf=False)
    passkey, pending = _register(accounts, vault_id, dek, key)
    assert not passkey.unlocks and not pending
    assert accounts.instance.slots(vault_id, slots.PASSKEY) == []
    options, challenge = accounts.passkey_login_options()
    with pytest.raises(PasskeySecondFactorOnly):
        accounts.unlock_passkey(key.get(options), challenge)
    # as a second factor it verifies for this vault only
    options, challenge = accounts.passkey_login_options(vault_id)
    assert [c["id"] for c in options["allowCredentials"]] == [passkey.credential_id]
    verified, _prf = accounts.verify_passkey(key.get(options), challenge, vault_id=vault_id)
    assert verified.id == passkey.id
    other_id, _ = _owner(accounts, "joost")
    options, challenge = accounts.passkey_login_options(other_id)
    with pytest.raises(PasskeyInvalid):
        accounts.verify_passkey(key.get(options), challenge, vault_id=other_id)
    # a password login now needs the second step: the API, which cannot ask a passkey, says so
    assert accounts.unlock_password("sanne", PASSWORD).second_factor
    with pytest.raises(PasskeyRequired):
        accounts.login("sanne", PASSWORD)


def test_removing_a_passkey_removes_its_key_slot(accounts):
    vault_id, dek = _owner(accounts)
    key = _key(accounts)
    passkey, _ = _register(accounts, vault_id, dek, key)
    assert accounts.remove_passkey(vault_id, dek, passkey.id)
    assert accounts.instance.slots(vault_id, slots.PASSKEY) == []
    assert accounts.passkeys(vault_id) == []
    options, challenge = accounts.passkey_login_options()
    with pytest.raises(PasskeyInvalid):
        accounts.unlock_passkey(key.get(options), challenge)
    assert not accounts.remove_passkey(vault_id, dek, passkey.id)


def test_a_passkey_registered_twice_is_refused(accounts):
    vault_id, dek = _owner(accounts)
    key = _key(accounts)
    _register(accounts, vault_id, dek, key)
    with pytest.raises(PasskeyInvalid):
        _register(accounts, vault_id, dek, key)


# -- over HTTP --------------------------------------------------------------------------------


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def _web_login(base: str, username: str) -> requests.Session:
    web = requests.Session()
    token = _csrf(web.get(f"{base}/login", timeout=30).text)
    web.post(f"{base}/login", timeout=30, data={"username": username, "password": PASSWORD,
                                                "csrf_token": token})
    return web


def test_passwordless_login_and_passkey_second_step_over_http(make_owner, live_server):
    base = live_server.url
    owner = make_owner(password=PASSWORD)
    web = _web_login(base, owner.username)
    token = _csrf(web.get(f"{base}/security", timeout=30).text)
    relying = Relying.of(live_server.app.extensions["kluis"].settings)
    key = SoftKey(relying.origin, relying.rp_id)
    options = web.post(f"{base}/security/passkeys/options", data={"csrf_token": token},
                       timeout=30).json()
    added = web.post(f"{base}/security/passkeys", timeout=30, data={
        "csrf_token": token, "label": "Laptop", "credential": json.dumps(key.create(options))})
    assert added.status_code == 200 and added.json()["unlocks"] is True, added.text
    page = web.get(f"{base}/security", timeout=30).text
    assert "Laptop" in page and 'data-unlocks="yes"' in page

    visitor = requests.Session()
    vtoken = _csrf(visitor.get(f"{base}/login", timeout=30).text)
    options = visitor.post(f"{base}/login/passkey/options", data={"csrf_token": vtoken},
                           timeout=30).json()
    answer = visitor.post(f"{base}/login/passkey", timeout=30, data={
        "csrf_token": vtoken, "credential": json.dumps(key.get(options))})
    assert answer.status_code == 200 and answer.json()["redirect"].endswith("/dashboard")
    assert visitor.get(f"{base}/api/v1/records", timeout=30).status_code == 200
    # the challenge is used once
    replay = visitor.post(f"{base}/login/passkey", timeout=30, data={
        "csrf_token": _csrf(visitor.get(f"{base}/dashboard", timeout=30).text),
        "credential": json.dumps(key.get(options))})
    assert replay.status_code == 401

    # with a passkey, the password alone is not enough any more: the second step asks for it
    second = requests.Session()
    stoken = _csrf(second.get(f"{base}/login", timeout=30).text)
    resp = second.post(f"{base}/login", timeout=30, data={
        "username": owner.username, "password": PASSWORD, "csrf_token": stoken})
    assert "/login/totp" in resp.url and 'id="passkey-second"' in resp.text
    assert second.get(f"{base}/api/v1/records", timeout=30).status_code == 401
    stoken = _csrf(resp.text)
    code_only = second.post(f"{base}/login/totp", timeout=30,
                            data={"csrf_token": stoken, "code": "123456"})
    assert code_only.status_code == 401  # no TOTP on this account: a code opens nothing
    options = second.post(f"{base}/login/second/passkey/options", data={"csrf_token": stoken},
                          timeout=30).json()
    done = second.post(f"{base}/login/second/passkey", timeout=30, data={
        "csrf_token": stoken, "credential": json.dumps(key.get(options))})
    assert done.status_code == 200, done.text
    assert second.get(f"{base}/api/v1/records", timeout=30).status_code == 200
