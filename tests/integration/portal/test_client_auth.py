"""The portal authenticates at instances with private_key_jwt and its own key: it registers
without a secret, pushes, exchanges, asks the status and sends its deletion statement with
assertions the instance verifies; with another key nothing of that is accepted. A registration
an earlier portal made with a client secret keeps working."""

from __future__ import annotations

import json

import requests
from joserfc.jwk import ECKey

from tests.integration.portal.conftest import INCOME_2025
from tests.integration.portal.test_flow import _applicant_goes, _ask
from vault.crypto import signing
from vault.portal import dossiers, templates_repo
from vault.portal.client import AUTH_METHOD, InstanceError


def _registered_at(instance, client_id: str) -> dict:
    conn = instance.app.extensions["kluis"].instance.conn
    row = conn.execute("SELECT secret_hash, metadata FROM oauth_clients WHERE client_id = ?",
                       (client_id,)).fetchone()
    return {"secret_hash": row["secret_hash"], "metadata": json.loads(row["metadata"])}


def _details(portal) -> list[dict]:
    rental = next(t for t in templates_repo.list_all(portal.store)
                  if t["name"] == "Huurwoning toewijzen")
    return templates_repo.authorization_details(rental)


def test_the_portal_registers_with_its_key_and_no_secret(make_instance, make_portal):
    instance = make_instance()
    portal = make_portal([instance.url])
    reg = portal.portal.client.ensure_registered(instance.url)
    assert reg.auth_method == AUTH_METHOD == "private_key_jwt" and reg.client_secret is None
    at_instance = _registered_at(instance, reg.client_id)
    assert at_instance["secret_hash"] is None
    assert at_instance["metadata"]["token_endpoint_auth_method"] == "private_key_jwt"
    own = signing.public_jwk(portal.portal.client.signing_key())
    assert at_instance["metadata"]["jwks"]["keys"] == [own]
    row = portal.store.conn.execute("SELECT auth_method, wrapped_secret FROM registrations"
                                    ).fetchone()
    assert row["auth_method"] == "private_key_jwt" and row["wrapped_secret"] is None
    # Its assertions open PAR, the form status endpoint and introspection.
    pushed = portal.portal.client.push(reg, _details(portal))
    status = portal.portal.client.request_status(reg, pushed["request_uri"])
    assert status is not None and status["status"] == "pending"
    assert portal.portal.client.introspect(reg, "not-a-token")["active"] is False


def _swap_signing_key(portal) -> None:
    """Replace the portal's key in portal.db by a new one the instance never saw (same kid)."""
    store = portal.store
    row = store.conn.execute("SELECT kid FROM signing_keys").fetchone()
    forged = ECKey.generate_key("P-256", parameters={"kid": row["kid"]}, private=True)
    jwk = forged.as_dict(private=True) | {"kid": row["kid"], "alg": "ES256", "use": "sig"}
    with store.transaction() as tx:
        tx.execute("UPDATE signing_keys SET wrapped_jwk = ? WHERE kid = ?",
                   (store.wrap("signing-key", json.dumps(jwk).encode(), row["kid"]), row["kid"]))


def test_assertions_and_statements_signed_with_another_key_are_refused(
        make_instance, make_portal, make_staff, make_owner):
    instance = make_instance()
    portal = make_portal([instance.url])
    caseworker = make_staff(portal, "caseworker", "fatima")
    owner = make_owner(server=instance)
    record = owner.post("/api/v1/records", json={"type": "income", "data": INCOME_2025}).json()
    dossier_id, link = _ask(portal, caseworker)
    authorize = _applicant_goes(link, instance.url)
    request_id = owner.post("/api/v1/requests", json={"authorize_url": authorize}).json()["id"]
    approved = owner.post(f"/api/v1/requests/{request_id}/approve", json={
        "records": [{"record_type": "income", "record_ids": [record["id"]]}]}).json()
    requests.get(approved["redirect_uri"], timeout=30)  # exchanged with a real assertion
    the = portal.portal
    assert dossiers.get(the.store, dossier_id)["status"] == "approved"
    reg = the.client.registration(dossiers.get(the.store, dossier_id)["issuer"])

    _swap_signing_key(portal)
    try:
        the.client.push(reg, _details(portal))
        raise AssertionError("a forged assertion opened PAR")
    except InstanceError as exc:
        assert "401" in str(exc)
    assert the.client.introspect(reg, "not-a-token") is None
    assert the.client.request_status(reg, "urn:ietf:params:oauth:request_uri:x") is None
    dossiers.delete_data(the.store, the.client, dossier_id, reason="retention")
    row = the.store.conn.execute("SELECT * FROM dossiers WHERE id = ?", (dossier_id,)).fetchone()
    assert row["deleted_at"] and row["deletion_status"] == "refused: 401"
    assert row["deletion_sent_at"] is None  # the sweep will try again
    conn = instance.app.extensions["kluis"].instance
    assert conn.inbox(owner.vault_id) == []


def test_a_registration_made_with_a_client_secret_keeps_working(make_instance, make_portal):
    instance = make_instance()
    portal = make_portal([instance.url])
    client = portal.portal.client
    meta = client.discover(instance.url)
    body = client.client_metadata() | {"token_endpoint_auth_method": "client_secret_basic"}
    made = requests.post(meta["registration_endpoint"], json=body, timeout=30).json()
    with portal.store.transaction() as tx:
        tx.execute("INSERT INTO registrations (issuer, metadata, client_id, auth_method,"
                   " wrapped_secret, created_at) VALUES (?, ?, ?, 'client_secret_basic', ?,"
                   " '2026-01-01T00:00:00Z')",
                   (meta["issuer"], json.dumps(meta), made["client_id"],
                    portal.store.wrap("client-secret", made["client_secret"].encode(),
                                      meta["issuer"])))
    reg = client.ensure_registered(instance.url)
    assert reg.auth_method == "client_secret_basic" and reg.client_secret
    pushed = client.push(reg, _details(portal))
    assert client.request_status(reg, pushed["request_uri"])["status"] == "pending"
