"""Refresh under a template that says so: while access lasts, the sweep reads the dossier
again at most once a day, so a change in the applicant's vault comes along; templates without
the flag are read once; a refused read (the grant revoked, no webhook) shows as such."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import requests
from pypdf import PdfReader

from tests.integration.portal.conftest import INCOME_2025, post_form
from tests.integration.portal.test_flow import _applicant_goes
from vault.portal import dossiers, templates_repo


def _template(portal, *, refresh: bool) -> str:
    rental = dict(templates_repo.EXAMPLES[0])
    rental.update(name=f"Huur {'met' if refresh else 'zonder'} verversen", refresh=refresh,
                  records=[{"record_type": "income"}])
    return templates_repo.save(portal.store, rental)


def _approved(portal, caseworker, owner, instance, template_id: str, record_id: str) -> str:
    resp = post_form(caseworker, f"{portal.url}/requests/new", {
        "template": template_id, "applicant_name": "A. de Vries", "reference": template_id})
    dossier_id = resp.url.rsplit("/", 1)[1]
    link = re.search(r'id="short-link" href="([^"]+)"', resp.text).group(1)
    authorize = _applicant_goes(link, instance.url)
    request_id = owner.post("/api/v1/requests", json={"authorize_url": authorize}).json()["id"]
    approved = owner.post(f"/api/v1/requests/{request_id}/approve", json={
        "records": [{"record_type": "income", "record_ids": [record_id]}]}).json()
    requests.get(approved["redirect_uri"], timeout=30)
    assert dossiers.get(portal.store, dossier_id)["status"] == "approved"
    return dossier_id


def _gross(portal, dossier_id: str) -> int:
    [record] = dossiers.contents(portal.store, dossier_id)["records"]
    return int(record["data"]["gross_amount_cents"])


def test_a_refresh_template_reads_again_at_most_daily_while_access_lasts(
        make_instance, make_portal, make_staff, make_owner, clock):
    instance = make_instance()
    portal = make_portal([instance.url])
    the = portal.portal
    caseworker = make_staff(portal, "caseworker", "fatima")
    owner = make_owner(server=instance)
    record = owner.post("/api/v1/records", json={"type": "income", "data": INCOME_2025}).json()
    fresh = _approved(portal, caseworker, owner, instance, _template(portal, refresh=True),
                      record["id"])
    once = _approved(portal, caseworker, owner, instance, _template(portal, refresh=False),
                     record["id"])
    assert owner.put(f"/api/v1/records/{record['id']}", json={
        "data": INCOME_2025 | {"gross_amount_cents": 6_000_000}}).status_code == 200

    assert dossiers.refresh_due(the.store, the.client) == 0  # read less than a day ago
    clock.advance(timedelta(days=1, minutes=1).total_seconds())
    assert dossiers.refresh_due(the.store, the.client) == 1
    assert _gross(portal, fresh) == 6_000_000
    assert _gross(portal, once) == INCOME_2025["gross_amount_cents"]  # read once, as promised
    assert dossiers.get(the.store, fresh)["refreshed_at"]
    page = caseworker.get(f"{portal.url}/dossiers/{fresh}", timeout=30).text
    assert 'id="refreshed-at"' in page and "EUR 60.000,00" in page
    assert dossiers.refresh_due(the.store, the.client) == 0  # again the same day: nothing

    clock.advance(timedelta(days=30).total_seconds())  # access (30 days) has ended
    assert dossiers.refresh_due(the.store, the.client) == 0


def test_a_refused_read_leaves_the_data_and_finds_the_revocation(
        make_instance, make_portal, make_staff, make_owner, clock):
    instance = make_instance()
    portal = make_portal([instance.url])
    the = portal.portal
    caseworker = make_staff(portal, "caseworker", "fatima")
    owner = make_owner(server=instance)
    record = owner.post("/api/v1/records", json={"type": "income", "data": INCOME_2025}).json()
    dossier_id = _approved(portal, caseworker, owner, instance,
                           _template(portal, refresh=True), record["id"])
    grant_id = dossiers.get(the.store, dossier_id)["grant_id"]
    assert owner.delete(f"/api/v1/grants/{grant_id}").status_code == 200  # no worker: no hook
    clock.advance(timedelta(days=1, minutes=1).total_seconds())
    assert dossiers.refresh_due(the.store, the.client) == 0
    row = the.store.conn.execute("SELECT * FROM dossiers WHERE id = ?", (dossier_id,)).fetchone()
    assert row["status"] == "revoked" and row["refreshed_at"] is None
    # The example rental template deletes on revocation; the statement went out.
    assert row["deletion_reason"] == "revoked" and row["deletion_status"] == "accepted"


def test_an_admin_sets_refresh_and_the_letter_and_applicant_page_say_so(
        make_instance, make_portal, make_staff):
    instance = make_instance()
    portal = make_portal([instance.url])
    admin = make_staff(portal, "admin", "beheer")
    saved = post_form(admin, f"{portal.url}/admin/templates/new", {
        "name": "Huur, ververst", "purpose": "rental-eligibility", "type_income": "1",
        "duration_days": "30", "retention_days": "60", "refresh": "1"})
    assert saved.status_code == 200, saved.text
    template = next(t for t in templates_repo.list_all(portal.store)
                    if t["name"] == "Huur, ververst")
    assert template["refresh"] is True
    caseworker = make_staff(portal, "caseworker", "fatima")
    resp = post_form(caseworker, f"{portal.url}/requests/new", {
        "template": template["id"], "applicant_name": "A. de Vries", "reference": "2026-1"})
    link = re.search(r'id="short-link" href="([^"]+)"', resp.text).group(1)
    page = requests.get(link, timeout=30).text
    assert 'id="refresh"' in page and "hoogstens eens per dag opnieuw" in page
    dossier_id = resp.url.rsplit("/", 1)[1]
    pdf = caseworker.get(f"{portal.url}/dossiers/{dossier_id}/letter.pdf", timeout=30).content
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).split())
    assert "hoogstens eens per dag opnieuw" in text
