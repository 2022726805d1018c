import pytest

from vault.accounts.errors import WeakPassword
from vault.accounts.passwords import check_password


@pytest.mark.parametrize("password", ["short", "a" * 129, "welkomwelkom", "Password1234",
                                      "aaaaaaaaaaaaaaaa"])
def test_weak_passwords_are_refused(password):
    with pytest.raises(WeakPassword):
        check_password(password)


def test_password_equal_to_username_is_refused():
    with pytest.raises(WeakPassword):
        check_password("annemarie-utrecht", username="annemarie-utrecht")


@pytest.mark.parametrize("password", ["correct horse staple 42", "x" * 11 + "yz9", "é" * 3 + "abcdefghij",
                                      "p" * 60 + "q1w2"])
def test_good_passwords_of_12_to_64_characters_pass(password):
    check_password(password)
