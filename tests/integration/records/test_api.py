"""Records through the owner API: versions, provenance, documents, bad input changes nothing."""

from __future__ import annotations

import hashlib

INCOME = {"year": 2025, "source": "Woonstichting Werk BV", "kind": "employment",
          "gross_amount_cents": 4_250_000}


def test_add_edit_delete_record_with_versions(make_owner):
    owner = make_owner()
    resp = owner.post("/api/v1/records", json={"type": "income", "data": INCOME})
    assert resp.status_code == 201, resp.text
    record = resp.json()
    assert record["version"] == 1
    assert record["provenance"]["source"] == "manual"
    assert resp.headers["Location"].endswith(f"/api/v1/records/{record['id']}")

    changed = {**INCOME, "gross_amount_cents": 4_300_000}
    resp = owner.put(f"/api/v1/records/{record['id']}", json={"data": changed})
    assert resp.status_code == 200
    assert resp.json()["version"] == 2
    # the same data again adds no version
    assert owner.put(f"/api/v1/records/{record['id']}", json={"data": changed}).json()["version"] == 2

    versions = owner.get(f"/api/v1/records/{record['id']}/versions").json()["versions"]
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["data"]["gross_amount_cents"] == 4_250_000

    assert owner.delete(f"/api/v1/records/{record['id']}").status_code == 204
    assert owner.get(f"/api/v1/records/{record['id']}").status_code == 404
    assert owner.get("/api/v1/records").json()["records"] == []


def test_invalid_record_gets_problem_with_field_paths_and_changes_nothing(make_owner):
    owner = make_owner()
    bad = {"type": "person", "data": {"given_names": "Jan", "bsn": "123456789",
                                      "birth_date": "not a date", "shoe_size": 44}}
    resp = owner.post("/api/v1/records", json=bad)
    assert resp.status_code == 422
    assert resp.headers["Content-Type"] == "application/problem+json"
    errors = resp.json()["errors"]
    assert {"data.surname", "data.bsn", "data.birth_date", "data.shoe_size"} <= set(errors)
    assert owner.get("/api/v1/records").json()["records"] == []


def test_invalid_update_keeps_the_current_version(make_owner):
    owner = make_owner()
    record = owner.post("/api/v1/records", json={"type": "income", "data": INCOME}).json()
    resp = owner.put(f"/api/v1/records/{record['id']}",
                     json={"data": {**INCOME, "gross_amount_cents": -5}})
    assert resp.status_code == 422
    assert "data.gross_amount_cents" in resp.json()["errors"]
    again = owner.get(f"/api/v1/records/{record['id']}").json()
    assert again["version"] == 1 and again["data"] == record["data"]


def test_unknown_type_malformed_json_and_wrong_media_type_are_problems(make_owner):
    owner = make_owner()
    resp = owner.post("/api/v1/records", json={"type": "shoe", "data": {}})
    assert resp.status_code == 422 and "type" in resp.json()["errors"]
    resp = owner.post("/api/v1/records", data="{not json",
                      headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.json()["type"].endswith("malformed-json")
    resp = owner.post("/api/v1/records", data="type=income")
    assert resp.status_code == 415
    resp = owner.post("/api/v1/records", json={"type": "income", "data": INCOME, "extra": 1})
    assert resp.status_code == 422 and "extra" in resp.json()["errors"]


def test_oversized_body_is_refused(make_owner, settings):
    owner = make_owner()
    huge = {"type": "document", "data": {"description": "x" * (settings.max_body_bytes + 10)}}
    resp = owner.post("/api/v1/records", json=huge)
    assert resp.status_code == 413
    assert resp.headers["Content-Type"] == "application/problem+json"


def test_document_upload_and_download_are_byte_identical(make_owner):
    owner = make_owner()
    content = b"%PDF-1.4\n" + bytes(range(256)) * 40
    resp = owner.post("/api/v1/documents", files={"file": ("jaaropgave 2025.pdf", content,
                                                           "application/pdf")},
                      data={"category": "annual-statement"})
    assert resp.status_code == 201, resp.text
    record = resp.json()
    assert record["data"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert record["data"]["size"] == len(content)
    assert record["provenance"]["source"] == "upload"
    assert record["provenance"]["evidence"]["sha256"] == record["data"]["sha256"]
    download = owner.get(f"/api/v1/records/{record['id']}/content")
    assert download.status_code == 200
    assert download.content == content
    assert "attachment" in download.headers["Content-Disposition"]


def test_typed_fields_can_cite_an_uploaded_document(make_owner):
    owner = make_owner()
    doc = owner.post("/api/v1/documents",
                     files={"file": ("loonstrook.pdf", b"%PDF-1.4 payslip", "application/pdf")}
                     ).json()
    resp = owner.post("/api/v1/records", json={"type": "income", "data": {
        **INCOME, "document_sha256": doc["data"]["sha256"]}})
    assert resp.status_code == 201
    assert resp.json()["data"]["document_sha256"] == doc["data"]["sha256"]


def test_record_types_are_listed_with_labels_and_json_schema(live_server):
    import requests

    types = requests.get(f"{live_server.url}/api/v1/record-types", timeout=30).json()
    by_id = {t["id"]: t for t in types["record_types"]}
    assert {"person", "address", "household-member", "income", "pension", "student-debt",
            "property", "employment", "bank-account", "document"} <= set(by_id)
    income = by_id["income"]
    assert income["label"] == {"nl": "Inkomen", "en": "Income"}
    gross = next(f for f in income["fields"] if f["name"] == "gross_amount_cents")
    assert gross["label"]["nl"] == "Bruto bedrag" and gross["type"] == "cents"
    assert income["json_schema"]["properties"]["year"]["type"] == "integer"


def test_openapi_document_lists_owner_endpoints_and_is_valid(live_server):
    import requests
    from openapi_spec_validator import validate

    doc = requests.get(f"{live_server.url}/api/v1/openapi.json", timeout=30).json()
    validate(doc)
    assert "post" in doc["paths"]["/api/v1/records"]
    schema = doc["paths"]["/api/v1/accounts"]["post"]["requestBody"]["content"]
    assert "application/json" in schema


def test_a_record_cannot_cite_a_document_that_is_not_in_the_vault(make_owner):
    owner = make_owner()
    resp = owner.post("/api/v1/records", json={"type": "income", "data": {
        **INCOME, "document_sha256": "ab" * 32}})
    assert resp.status_code == 422
    assert "data.document_sha256" in resp.json()["errors"]
    assert owner.get("/api/v1/records").json()["records"] == []


def test_citing_a_document_makes_it_the_evidence_of_the_version(make_owner):
    owner = make_owner()
    doc = owner.post("/api/v1/documents",
                     files={"file": ("loonstrook.pdf", b"%PDF-1.4 payslip", "application/pdf")}
                     ).json()
    record = owner.post("/api/v1/records", json={"type": "income", "data": {
        **INCOME, "document_sha256": doc["data"]["sha256"]}}).json()
    assert record["provenance"]["source"] == "manual"
    assert record["provenance"]["evidence"] == {"document_sha256": doc["data"]["sha256"]}
