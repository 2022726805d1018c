"""A dossier's status kept current with nobody looking: ``kluis portal sweep`` asks the
instance (request status, token introspection) about dossiers still waiting or approved, so a
request that expired or a grant that ended without a webhook (no worker delivers any here)
shows the right status."""

from __future__ import annotations

import json
from datetime import timedelta

import click
import requests
from click.testing import CliRunner

from tests.integration.portal.conftest import INCOME_2025
from tests.integration.portal.test_flow import _applicant_goes, _ask
from vault.cli import portal as portal_cli
from vault.portal import dossiers


def _status(portal, dossier_id: str) -> str:
    return str(dossiers.get(portal.store, dossier_id)["status"])


def _sweep_cli(portal) -> dict:
    settings = portal.settings
    cli = click.Group()
    portal_cli.register_commands(cli)
    result = CliRunner().invoke(cli, ["portal", "sweep"], env={
        "KLUIS_PORTAL_HOME": settings.home, "KLUIS_PORTAL_BASE_URL": settings.base_url,
        "KLUIS_PORTAL_NAME": settings.name, "KLUIS_ALLOW_PRIVATE_URLS": "1"})
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output.strip().splitlines()[-1]))


def test_a_request_nobody_answered_shows_expired_after_the_sweep(
        make_instance, make_portal, make_staff, clock):
    instance = make_instance()
    portal = make_portal([instance.url])
    caseworker = make_staff(portal, "caseworker", "fatima")
    dossier_id, link = _ask(portal, caseworker)
    _applicant_goes(link, instance.url)  # pushed; the applicant never decides
    assert _status(portal, dossier_id) == "waiting"
    assert dossiers.poll(portal.store, portal.portal.client) == 1
    assert _status(portal, dossier_id) == "waiting"  # still pending at the instance

    clock.advance(timedelta(days=40).total_seconds())
    assert _sweep_cli(portal) == {"deleted": 0, "statements_retried": 0, "status_checked": 1,
                                 "refreshed": 0}
    assert _status(portal, dossier_id) == "expired"
    assert _sweep_cli(portal)["status_checked"] == 0  # nothing waits any more


def _approved(make_instance, make_portal, make_staff, make_owner):
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
    requests.get(approved["redirect_uri"], timeout=30)
    assert _status(portal, dossier_id) == "approved"
    return portal, owner, dossier_id, approved["grant"]["id"]


def test_a_grant_that_ended_without_a_webhook_shows_expired_and_is_still_kept(
        make_instance, make_portal, make_staff, make_owner, clock):
    portal, _owner, dossier_id, _grant = _approved(make_instance, make_portal, make_staff,
                                                   make_owner)
    the = portal.portal
    assert dossiers.poll(the.store, the.client) == 1
    assert _status(portal, dossier_id) == "approved"
    assert dossiers.poll(the.store, the.client) == 0  # asked less than 50 minutes ago

    clock.advance(timedelta(days=31).total_seconds())  # the rental template: access 30 days
    assert dossiers.poll(the.store, the.client) == 1
    found = dossiers.get(the.store, dossier_id)
    assert found["status"] == "expired" and found["has_data"]  # kept 60 days, not deleted yet
    assert dossiers.poll(the.store, the.client) == 0


def test_a_revocation_whose_webhook_never_came_is_found_and_deletes_under_the_template(
        make_instance, make_portal, make_staff, make_owner, clock):
    portal, owner, dossier_id, grant_id = _approved(make_instance, make_portal, make_staff,
                                                    make_owner)
    assert owner.delete(f"/api/v1/grants/{grant_id}").status_code == 200
    assert _status(portal, dossier_id) == "approved"  # no worker: no webhook
    clock.advance(timedelta(hours=1).total_seconds())
    assert _sweep_cli(portal)["status_checked"] == 1
    row = portal.store.conn.execute("SELECT * FROM dossiers WHERE id = ?",
                                    (dossier_id,)).fetchone()
    assert row["status"] == "revoked" and row["deletion_reason"] == "revoked"
    assert row["data_key"] is None and row["deletion_status"] == "accepted"
