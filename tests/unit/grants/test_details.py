import json

import pytest

from vault.grants.schemas import InvalidDetails, parse_authorization_details


def detail(**over):
    base = {"type": "kluis_records", "records": [{"record_type": "income"}],
            "purpose": "rental-eligibility", "retention": "P60D", "duration": "P30D"}
    base.update(over)
    return json.dumps([base])


def test_a_type_without_fields_asks_for_every_field_of_the_type():
    requested = parse_authorization_details(detail())
    assert "gross_amount_cents" in requested.fields["income"]
    assert requested.narrowed == {"income": False}


def test_listed_fields_are_kept_in_catalogue_order():
    requested = parse_authorization_details(detail(records=[
        {"record_type": "income", "fields": ["gross_amount_cents", "year"]}]))
    assert requested.fields == {"income": ["year", "gross_amount_cents"]}


@pytest.mark.parametrize("over,path", [
    ({"records": [{"record_type": "horoscope"}]}, "authorization_details.0.records.0.record_type"),
    ({"records": [{"record_type": "income", "fields": ["shoe_size"]}]},
     "authorization_details.0.records.0.fields"),
    ({"purpose": "marketing"}, "authorization_details.0.purpose"),
    ({"duration": "forever"}, "authorization_details.0.duration"),
    ({"duration": "P5Y"}, "authorization_details.0.duration"),
    ({"surprise": 1}, "authorization_details.0.surprise"),
])
def test_unknown_types_fields_and_purposes_are_errors_with_paths(over, path):
    with pytest.raises(InvalidDetails) as info:
        parse_authorization_details(detail(**over))
    assert path in info.value.errors


def test_other_detail_types_and_shapes_are_rejected():
    with pytest.raises(InvalidDetails):
        parse_authorization_details(json.dumps([{"type": "payment_initiation"}]))
    with pytest.raises(InvalidDetails):
        parse_authorization_details("not json")
    with pytest.raises(InvalidDetails):
        parse_authorization_details(None)
