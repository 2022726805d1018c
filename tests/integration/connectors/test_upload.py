"""The upload connector: a PDF kept as a document, typed fields citing it."""

from __future__ import annotations

import hashlib
import json

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def test_upload_pdf_with_income_citing_it(make_owner):
    owner = make_owner()
    facts = [{"type": "income", "data": {"year": 2025, "source": "UWV", "kind": "benefit",
                                         "gross_amount_cents": 1850000}}]
    resp = owner.post("/api/v1/uploads", files={"file": ("uwv.pdf", PDF, "application/pdf")},
                      data={"category": "uwv", "facts": json.dumps(facts)})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    digest = hashlib.sha256(PDF).hexdigest()
    assert body["document"]["data"]["sha256"] == digest
    [income] = body["records"]
    assert income["data"]["document_sha256"] == digest
    assert income["provenance"]["source"] == "upload"
    assert income["provenance"]["evidence"]["document_record"] == body["document"]["id"]


def test_invalid_fact_stores_nothing(make_owner):
    owner = make_owner()
    facts = [{"type": "income", "data": {"year": 2025}}]
    resp = owner.post("/api/v1/uploads", files={"file": ("uwv.pdf", PDF, "application/pdf")},
                      data={"facts": json.dumps(facts)})
    assert resp.status_code == 422
    assert "facts.0.data.source" in resp.json()["errors"]
    assert owner.get("/api/v1/records").json()["records"] == []


def test_not_a_pdf_is_refused(make_owner):
    owner = make_owner()
    resp = owner.post("/api/v1/uploads", files={"file": ("x.pdf", b"hello", "application/pdf")})
    assert resp.status_code == 422
