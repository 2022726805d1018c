"""A replayed authorization (or pickup) code revokes what its first use issued (RFC 6749
section 4.1.2, RFC 9700): plain requests against the real app over HTTP."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.integration.grants.conftest import INCOME, ask
from vault.grants.organisations import PICKUP_GRANT_TYPE


def _approved_code(live_server, owner, org):
    """An authorization code the owner's approval handed to the organisation's redirect."""
    verifier = generate_token(64)
    params = {"response_type": "code", "client_id": org.client_id,
              "redirect_uri": org.redirect_uri, "state": "s1",
              "code_challenge": create_s256_code_challenge(verifier),
              "code_challenge_method": "S256",
              "authorization_details": json.dumps(ask({"income": None}))}
    link = requests.Request("GET", f"{live_server.url}/oauth/authorize", params=params).prepare().url
    resp = owner.post("/api/v1/requests", json={"authorize_url": link})
    assert resp.status_code == 201, resp.text
    approved = owner.post(f"/api/v1/requests/{resp.json()['id']}/approve", json={})
    assert approved.status_code == 200, approved.text
    code = parse_qs(urlsplit(approved.json()["redirect_uri"]).query)["code"][0]
    return code, verifier


def _exchange(live_server, org, code, verifier):
    return requests.post(f"{live_server.url}/oauth/token", timeout=30,
                         auth=(org.client_id, org.client_secret),
                         data={"grant_type": "authorization_code", "code": code,
                               "code_verifier": verifier, "redirect_uri": org.redirect_uri})


def _read(live_server, token):
    return requests.get(f"{live_server.url}/api/v1/grant/records", timeout=30,
                        headers={"Authorization": f"Bearer {token}"})


def _introspect(live_server, org, token):
    return requests.post(f"{live_server.url}/oauth/introspect", timeout=30,
                         auth=(org.client_id, org.client_secret), data={"token": token}).json()


def test_a_replayed_authorization_code_revokes_the_token_its_first_use_issued(
        live_server, make_owner, register_org):
    owner = make_owner()
    assert owner.post("/api/v1/records", json={"type": "income", "data": INCOME}).status_code == 201
    org = register_org()
    code, verifier = _approved_code(live_server, owner, org)

    first = _exchange(live_server, org, code, verifier)
    assert first.status_code == 200, first.text
    token = first.json()["access_token"]
    assert _read(live_server, token).status_code == 200
    assert _introspect(live_server, org, token)["active"] is True

    replay = _exchange(live_server, org, code, verifier)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"

    # The token the first exchange issued is dead on the very next request.
    assert _read(live_server, token).status_code == 401
    assert _introspect(live_server, org, token) == {"active": False}
    # The owner sees the grant revoked, and why, in the log.
    grant_id = first.json()["grant_id"]
    grant = owner.get(f"/api/v1/grants/{grant_id}").json()
    assert grant["status"] == "revoked" and grant["revoked_by"] == "code-replay"
    events = owner.get("/api/v1/events").json()["events"]
    revoked = [e for e in events if e["action"] == "grant.revoked" and e["grant_id"] == grant_id]
    assert len(revoked) == 1 and revoked[0]["detail"]["by"] == "code-replay"
    # A third use is refused too and changes nothing more.
    assert _exchange(live_server, org, code, verifier).json()["error"] == "invalid_grant"
    assert owner.get(f"/api/v1/grants/{grant_id}").json()["status"] == "revoked"


def test_a_replay_by_another_client_revokes_too(live_server, make_owner, register_org):
    owner = make_owner()
    org = register_org()
    other = register_org("Iemand Anders", redirect_uri="https://anders.example/cb")
    code, verifier = _approved_code(live_server, owner, org)
    token = _exchange(live_server, org, code, verifier).json()["access_token"]
    assert _read(live_server, token).status_code == 200
    replay = requests.post(f"{live_server.url}/oauth/token", timeout=30,
                           auth=(other.client_id, other.client_secret),
                           data={"grant_type": "authorization_code", "code": code,
                                 "code_verifier": verifier})
    assert replay.json()["error"] == "invalid_grant"
    assert _read(live_server, token).status_code == 401


def test_a_replayed_pickup_code_revokes_its_token(live_server, make_owner, register_org):
    owner = make_owner()
    org = register_org()
    resp = owner.post("/api/v1/grants", json={"client_id": org.client_id,
                                              "authorization_details": ask({"income": None})})
    assert resp.status_code == 201, resp.text
    pickup = resp.json()["pickup_code"]

    def pick_up():
        return requests.post(f"{live_server.url}/oauth/token", timeout=30,
                             auth=(org.client_id, org.client_secret),
                             data={"grant_type": PICKUP_GRANT_TYPE, "code": pickup})

    token = pick_up().json()["access_token"]
    assert _read(live_server, token).status_code == 200
    assert pick_up().json()["error"] == "invalid_grant"
    assert _read(live_server, token).status_code == 401


def test_an_unknown_code_revokes_nothing(live_server, make_owner, register_org):
    owner = make_owner()
    org = register_org()
    code, verifier = _approved_code(live_server, owner, org)
    token = _exchange(live_server, org, code, verifier).json()["access_token"]
    wrong = _exchange(live_server, org, "kluis_ac_" + "x" * 43, verifier)
    assert wrong.json()["error"] == "invalid_grant"
    assert _read(live_server, token).status_code == 200


def test_used_codes_are_remembered_until_the_grant_ends_and_purged_after(
        live_server, make_owner, register_org):
    from vault.crypto import keys
    from vault.grants import repository

    owner = make_owner()
    org = register_org()
    code, verifier = _approved_code(live_server, owner, org)
    first = _exchange(live_server, org, code, verifier).json()
    instance = live_server.app.extensions["kluis"].instance
    row = repository.used_code(instance.conn, keys.token_hash(code))
    assert row is not None and row["grant_id"] == first["grant_id"]
    assert row["expires_at"] == first["authorization_details"][0]["expires_at"]
    assert set(row.keys()) == {"code_hash", "grant_id", "slot_id", "used_at", "expires_at",
                               "replayed_at"}  # no token, nothing sealed
    with instance.transaction() as tx:
        assert repository.purge_expired(tx, row["expires_at"])["used_codes"] == 1
    assert repository.used_code(instance.conn, keys.token_hash(code)) is None


def test_the_used_codes_migration_applies_to_an_instance_with_data(tmp_path):
    import os

    from vault.storage import db, migrations

    conn = db.connect(tmp_path / "i.db", os.urandom(32))
    for migration in migrations.load("instance"):
        if migration.number >= 5:
            break
        for statement in migrations._split(migration.sql):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {migration.number}")
    conn.execute("INSERT INTO oauth_codes (code_hash, kind, client_id, sealed, created_at,"
                 " expires_at) VALUES ('h', 'pickup', 'c', x'00', 'x', 'y')")
    assert "0005_used_codes" in migrations.apply(conn, "instance")
    columns = {r[1] for r in conn.execute("PRAGMA table_info(oauth_used_codes)")}
    assert columns == {"code_hash", "grant_id", "slot_id", "used_at", "expires_at",
                       "replayed_at"}
    assert conn.execute("SELECT count(*) FROM oauth_codes").fetchone()[0] == 1
    conn.close()
