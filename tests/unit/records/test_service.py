import pytest

from vault.records.catalogue import RECORD_TYPES
from vault.records.service import InvalidRecord, RecordTooLarge, data_digest, validate_data


def test_every_field_of_every_type_has_dutch_and_english_labels():
    for record_type in RECORD_TYPES.values():
        assert record_type.labels["nl"] and record_type.labels["en"]
        for name, field in record_type.fields().items():
            labels = field.metadata.get("label", {})
            assert labels.get("nl") and labels.get("en"), f"{record_type.id}.{name}"


def test_validation_errors_carry_nested_field_paths():
    with pytest.raises(InvalidRecord) as info:
        validate_data("property", {"address": "Dorpsstraat 1",
                                   "woz_values": [{"reference_date": "2025-01-01",
                                                   "value_cents": "veel"}]})
    assert "data.woz_values.0.value_cents" in info.value.errors


def test_canonical_form_makes_equal_data_digest_equal():
    a = validate_data("income", {"year": 2025, "source": "X", "gross_amount_cents": 1})
    b = validate_data("income", {"gross_amount_cents": 1, "source": "X", "year": 2025})
    assert data_digest("income", a) == data_digest("income", b)


def test_records_are_bounded_in_size():
    with pytest.raises(RecordTooLarge):
        validate_data("document", {"name": "a", "media_type": "text/plain", "size": 1,
                                   "sha256": "0" * 64, "description": "x" * 1000},
                      max_bytes=500)
