"""Consent receipts: Kantara CR v1.1 (checked against its JSON Schema) with ISO/IEC TS 27560."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.unit.grants.conftest import INCOME
from vault.grants import receipts
from vault.records.service import add_document, create_record

SCHEMA = json.loads((Path(__file__).parents[2] / "schemas"
                     / "kantara-consent-receipt-v1.1.schema.json").read_text())


@pytest.fixture
def receipt(grants, make_vault, make_org):
    owner = make_vault()
    with owner.open() as vault:
        add_document(vault, b"%PDF-1.4 x", name="jaaropgave-2025.pdf",
                     media_type="application/pdf", category="annual-statement")
        create_record(vault, "income", INCOME)
    org = make_org()
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


def test_the_schema_refuses_a_string_address(receipt, grants):
    payload = receipts.payload_of(receipt)
    payload["piiControllers"][0]["address"] = ""
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(payload, SCHEMA)


def test_the_receipt_carries_the_iso_27560_fields(receipt):
    record = receipts.payload_of(receipt)["consentRecord"]
    for key in ("purposes", "piiCategories", "controllers", "retention", "jurisdiction",
                "withdrawalMethod", "eventTime", "state"):
        assert record[key], key
    assert record["controllers"][0]["contact"]["emails"] == ["privacy@dekern.nl"]
    assert record["retention"]["duration"] == "P60D" and record["retention"]["until"]
    assert record["piiCategories"][0]["recordTitles"] == ["2025, ACME BV"]
    assert receipts.key_id(receipt)


def receipts_jwks(grants):
    from vault.crypto import signing

    return [signing.public_jwk(grants.instance.signing_key())]
