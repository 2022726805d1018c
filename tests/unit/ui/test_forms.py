import pytest

from vault.records.catalogue import get_type
from vault.ui import forms


@pytest.mark.parametrize("text,cents", [("42.500,00", 4_250_000), ("1234.56", 123_456),
                                        ("€ 12", 1200), ("0,5", 50)])
def test_euro_amounts_become_cents(text, cents):
    assert forms.euro_to_cents(text) == cents


def test_more_than_two_decimals_is_an_error():
    with pytest.raises(ValueError):
        forms.euro_to_cents("1,234")


def test_property_form_parses_woz_lines():
    data = forms.parse_form(get_type("property"), {
        "address": "Dorpsstraat 1", "woz_values": "2024-01-01 = 350.000,00\n2025-01-01 = 371000"})
    assert data["woz_values"] == [
        {"reference_date": "2024-01-01", "value_cents": 35_000_000},
        {"reference_date": "2025-01-01", "value_cents": 37_100_000},
    ]
