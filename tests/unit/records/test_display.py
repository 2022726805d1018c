from vault.records.catalogue import get_type
from vault.records.display import format_cents, format_value


def test_euro_amounts_are_formatted_per_language():
    assert format_cents(123456, "nl") == "EUR 1.234,56"
    assert format_cents(123456, "en") == "EUR 1,234.56"
    assert format_cents(-5, "nl") == "EUR -0,05"


def test_choices_show_their_label_and_optionally_the_code():
    relation = get_type("household-member").fields()["relation"]
    assert format_value(relation, "child", "nl") == "kind"
    assert format_value(relation, "child", "en", with_code=True) == "child (child)"


def test_woz_values_read_as_lines():
    values = get_type("property").fields()["woz_values"]
    text = format_value(values, [{"reference_date": "2025-01-01", "value_cents": 37_100_000}], "nl")
    assert text == "Waardepeildatum: 2025-01-01; WOZ-waarde: EUR 371.000,00"
