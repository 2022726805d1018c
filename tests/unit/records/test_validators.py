import pytest
from marshmallow import ValidationError

from vault.records import validators


@pytest.mark.parametrize("bsn", ["999993653", "111222333"])
def test_valid_bsns_pass_the_eleven_test(bsn):
    validators.bsn(bsn)


@pytest.mark.parametrize("bsn", ["123456789", "12345678", "abcdefghi", ""])
def test_invalid_bsns_are_refused(bsn):
    with pytest.raises(ValidationError):
        validators.bsn(bsn)


def test_iban_check_digits():
    validators.iban("NL91ABNA0417164300")
    with pytest.raises(ValidationError):
        validators.iban("NL92ABNA0417164300")
