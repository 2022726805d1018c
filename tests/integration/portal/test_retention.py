"""Keeping only as promised: at the end of retention the sweep deletes the dossier's data,
keeps a minimal trace and sends the signed deletion statement; and nothing received is in
the portal's database file in plaintext."""

from __future__ import annotations

import re
from datetime import timedelta

import requests

from tests.integration.grants.test_ui_pages import signed_in
from tests.integration.portal.conftest import INCOME_2025
from tests.integration.portal.test_flow import _applicant_goes, _ask
from vault.portal import dossiers
from vault.portal.store import DB_FILE

CANARY_SOURCE = "Kanarie-werkgever-7f3a9c BV"


def _received(make_instance, make_portal, make_staff, make_owner):
    instance = make_instance()
    portal = make_portal([instance.url])
    caseworker = make_staff(portal, "caseworker", "fatima")
    owner = make_owner(server=instance)
    record = owner.post("/api/v1/records", json={"type": "income", "data": INCOME_2025 | {
        "source": CANARY_SOURCE, "gross_amount_cents": 7_777_123}}).json()
    dossier_id, link = _ask(portal, caseworker)
    authorize = _applicant_goes(link, instance.url)
    request_id = owner.post("/api/v1/requests", json={"authorize_url": authorize}).json()["id"]
    approved = owner.post(f"/api/v1/requests/{request_id}/approve", json={
        "records": [{"record_type": "income", "record_ids": [record["id"]]}]}).json()
    requests.get(approved["redirect_uri"], timeout=30)
    return instance, portal, caseworker, owner, dossier_id, approved["grant"]["id"]


def test_retention_end_deletes_the_data_and_sends_the_statement(
        make_instance, make_portal, make_staff, make_owner, clock):
    instance, portal, caseworker, owner, dossier_id, grant_id = _received(
        make_instance, make_portal, make_staff, make_owner)
    the = portal.portal
    assert dossiers.sweep(the.store, the.client)["deleted"] == 0
    assert dossiers.contents(the.store, dossier_id)["records"][0]["data"]["source"] == \
        CANARY_SOURCE
    admin_view = dossiers.due(the.store)
    assert [d["id"] for d in admin_view] == [dossier_id] and not admin_view[0]["overdue"]

    clock.advance(timedelta(days=61).total_seconds())  # the rental template keeps 60 days
    done = dossiers.sweep(the.store, the.client)
    assert done == {"deleted": 1, "statements_retried": 0}
    row = the.store.conn.execute("SELECT * FROM dossiers WHERE id = ?", (dossier_id,)).fetchone()
    assert row["deleted_at"] and row["deletion_reason"] == "retention"
    assert row["deletion_status"] == "accepted" and row["reference"] == "2026-0412"
    assert row["data_key"] is None and row["applicant_name"] is None
    assert dossiers.sweep(the.store, the.client)["deleted"] == 0  # safe to run again
    page = caseworker.get(f"{portal.url}/dossiers/{dossier_id}", timeout=30).text
    assert CANARY_SOURCE not in page and 'id="deleted-on"' in page
    vault_page = signed_in(instance.url, owner).get(f"{instance.url}/grants/{grant_id}",
                                                    timeout=30).text
    assert re.search(r"Woonstichting De Kern verklaarde op \d+ \w+ 20\d\d je gegevens te "
                     r"hebben verwijderd", vault_page)


def test_the_portal_database_holds_no_record_value_in_plaintext(
        make_instance, make_portal, make_staff, make_owner):
    _instance, portal, caseworker, _owner, dossier_id, _grant = _received(
        make_instance, make_portal, make_staff, make_owner)
    page = caseworker.get(f"{portal.url}/dossiers/{dossier_id}", timeout=30).text
    assert CANARY_SOURCE in page  # the portal did receive it
    portal.store.conn.execute("PRAGMA wal_checkpoint(FULL)")
    home = portal.settings.home_path
    for path in home.iterdir():
        if path.name.startswith(DB_FILE):
            raw = path.read_bytes()
            for needle in (CANARY_SOURCE.encode(), b"7777123", b"A. de Vries",
                           CANARY_SOURCE.encode("utf-16-le")):
                assert needle not in raw, (path.name, needle)
    # And inside the SQLCipher file, the values are sealed under the dossier's key.
    blobs = b"".join(bytes(r[0]) for r in portal.store.conn.execute(
        "SELECT blob FROM dossier_items"))
    assert CANARY_SOURCE.encode() not in blobs
