"""Consent receipts: Kantara CR v1.1 (checked against its JSON Schema) with ISO/IEC TS 27560."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.unit.grants.conftest import INCOME
from vault.grants import receipts
from vault.records.service import add_document, create_record

SCHEMAS_DIR = Path(__file__).parents[2] / "schemas"
SCHEMA = json.loads((SCHEMAS_DIR / "kantara-consent-receipt-v1.1.schema.json").read_text())


def published_schema() -> dict:
    """Kantara's own v1.1 schema file, kept byte for byte as published (tests/schemas/
    README.md): it opens with two ``//`` comment lines, which JSON does not allow, so
    those lines are left out before parsing; nothing else is touched."""
    text = (SCHEMAS_DIR / "kantara-consent-receipt-v1_1-schema.published.json").read_text()
    return json.loads("\n".join(line for line in text.splitlines()
                                 if not line.strip().startswith("//")))


PUBLISHED = published_schema()


@pytest.fixture
def receipt(grants, make_vault):
    owner = make_vault()
    with owner.open() as vault:
        add_document(vault, b"%PDF-1.4 x", name="jaaropgave-2025.pdf",
                     media_type="application/pdf", category="annual-statement")
        create_record(vault, "income", INCOME)
    info, _ = grants.orgs.register({
        "client_name": "Woonstichting De Kern", "client_uri": "https://dekern.nl",
        "redirect_uris": ["https://dekern.nl/cb"], "contacts": ["privacy@dekern.nl"],
        "address": {"streetAddress": "Kerkstraat 1", "postalCode": "3511 AB",
                    "addressLocality": "Utrecht", "addressCountry": "NL"}})
    org = type("Org", (), {"client_id": info["client_id"]})
    with owner.open() as vault:
        made = grants.create_owner_grant(
            vault, owner.dek, client_id=org.client_id, authorization_details=[{
                "type": "kluis_records", "purpose": "rental-eligibility", "retention": "P60D",
                "duration": "P30D", "records": [{"record_type": "income"}]}])
    return made.grant.receipt


def test_the_receipt_payload_validates_against_the_kantara_schema(receipt, grants):
    payload = receipts.verify(receipt, receipts_jwks(grants))
    jsonschema.validate(payload, SCHEMA)
    assert isinstance(payload["piiControllers"][0]["address"], dict)


def test_the_receipt_payload_validates_against_kantaras_published_schema(receipt, grants):
    jsonschema.Draft4Validator.check_schema(PUBLISHED)
    example = json.loads((SCHEMAS_DIR / "kantara-consent-receipt-v1_1-example.published.json")
                         .read_text())
    jsonschema.Draft4Validator(PUBLISHED).validate(example)  # the published pair agrees
    payload = receipts.verify(receipt, receipts_jwks(grants))
    jsonschema.Draft4Validator(PUBLISHED).validate(payload)


@pytest.mark.parametrize("schema", ["ours", "published"])
def test_the_schema_refuses_a_string_address(receipt, grants, schema):
    payload = receipts.payload_of(receipt)
    payload["piiControllers"][0]["address"] = ""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(PUBLISHED).validate(payload) if schema == "published" \
            else jsonschema.validate(payload, SCHEMA)


def test_the_receipt_carries_the_iso_27560_fields(receipt):
    record = receipts.payload_of(receipt)["consentRecord"]
    for key in ("purposes", "piiCategories", "controllers", "retention", "jurisdiction",
                "withdrawalMethod", "eventTime", "state"):
        assert record[key], key
    assert record["controllers"][0]["contact"]["emails"] == ["privacy@dekern.nl"]
    assert record["controllers"][0]["address"]["addressLocality"] == "Utrecht"
    assert record["retention"]["duration"] == "P60D" and record["retention"]["until"]
    assert record["piiCategories"][0]["recordTitles"] == ["2025, ACME BV"]
    assert receipts.key_id(receipt)


def receipts_jwks(grants):
    from vault.crypto import signing

    return [signing.public_jwk(grants.instance.signing_key())]


def test_kluis_verify_accepts_a_receipt_and_refuses_an_altered_one(receipt, grants, tmp_path):
    import base64
    import subprocess
    import sys

    from tests.conftest import ROOT
    from vault.portability import verify

    jwks = receipts_jwks(grants)
    result = verify.verify_bundle(receipt, jwks)
    assert result.valid and result.kind == "consent-receipt", result
    assert result.kid == receipts.key_id(receipt)
    assert "Woonstichting De Kern" in result.message

    payload = receipts.payload_of(receipt)
    payload["services"][0]["purposes"][0]["purpose"] = "something else"
    altered = dict(receipt, payload=base64.urlsafe_b64encode(
        json.dumps(payload).encode()).rstrip(b"=").decode())
    assert not verify.verify_bundle(altered, jwks).valid

    path, keys = tmp_path / "receipt.json", tmp_path / "jwks.json"
    path.write_text(json.dumps(receipt))
    keys.write_text(json.dumps({"keys": jwks}))
    out = subprocess.run([sys.executable, "-m", "vault.cli", "verify", str(path), "--jwks",
                          str(keys)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "valid consent receipt" in out.stdout
