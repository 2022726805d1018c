"""The consent receipt in the dossier as a PDF, Dutch or English, rendered by the vault's own
receipt renderer from the receipt kept in the dossier (the signed receipt attached), logged in
the audit log, and gone with the dossier's data."""

from __future__ import annotations

import io
import json

import requests
from pypdf import PdfReader

from tests.integration.portal.conftest import INCOME_2025
from tests.integration.portal.test_flow import _applicant_goes, _ask
from vault.portability import receipt_pdf
from vault.portability.pdf import text_in
from vault.portal import dossiers, staff


def _text(content: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages
                             ).split())


def test_the_receipt_pdf_reads_in_dutch_and_english_and_carries_the_signed_receipt(
        make_instance, make_portal, make_staff, make_owner):
    instance = make_instance()
    portal = make_portal([instance.url])
    caseworker = make_staff(portal, "caseworker", "fatima", "Fatima")
    owner = make_owner(server=instance)
    record = owner.post("/api/v1/records", json={"type": "income", "data": INCOME_2025}).json()
    dossier_id, link = _ask(portal, caseworker)
    authorize = _applicant_goes(link, instance.url)
    request_id = owner.post("/api/v1/requests", json={"authorize_url": authorize}).json()["id"]
    approved = owner.post(f"/api/v1/requests/{request_id}/approve", json={
        "records": [{"record_type": "income", "record_ids": [record["id"]]}]}).json()
    requests.get(approved["redirect_uri"], timeout=30)

    page = caseworker.get(f"{portal.url}/dossiers/{dossier_id}", timeout=30).text
    assert f'href="/dossiers/{dossier_id}/receipt.pdf?lang=nl"' in page
    kept = dossiers.contents(portal.store, dossier_id)["receipt"]
    for lang in ("nl", "en"):
        resp = caseworker.get(f"{portal.url}/dossiers/{dossier_id}/receipt.pdf",
                              params={"lang": lang}, timeout=30)
        assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/pdf"
        text = _text(resp.content)
        for key in ("title", "organisation", "purpose", "access_until", "retention",
                    "receipt_id"):
            assert text_in(receipt_pdf.TEXT, key, lang) in text, (lang, key)
        assert "Woonstichting De Kern" in text and instance.url in text
        other = "en" if lang == "nl" else "nl"
        assert text_in(receipt_pdf.TEXT, "title", other) not in text
        attached = PdfReader(io.BytesIO(resp.content)).attachments[receipt_pdf.ATTACHMENT][0]
        assert json.loads(attached) == kept  # the signed receipt the portal verified
    # The language of the page when none is asked (English for an English browser).
    english = caseworker.get(f"{portal.url}/dossiers/{dossier_id}/receipt.pdf", timeout=30,
                             headers={"Accept-Language": "en"})
    assert text_in(receipt_pdf.TEXT, "title", "en") in _text(english.content)
    logged = [r for r in staff.audit_rows(portal.store, dossier_id=dossier_id)
              if r["action"] == "receipt.downloaded"]
    assert {r["detail"] for r in logged} == {"pdf nl", "pdf en"}
    assert {r["staff_name"] for r in logged} == {"Fatima"}

    dossiers.delete_data(portal.store, portal.portal.client, dossier_id, reason="retention")
    assert caseworker.get(f"{portal.url}/dossiers/{dossier_id}/receipt.pdf",
                          timeout=30).status_code == 404
    assert requests.get(f"{portal.url}/dossiers/{dossier_id}/receipt.pdf", timeout=30,
                        allow_redirects=False).status_code == 302  # staff only
