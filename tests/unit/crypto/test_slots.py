import pytest

from vault.crypto import keys, slots
from vault.crypto.errors import CryptoError, TamperedSlot, WrongKey
from vault.crypto.kdf import Argon2Params

PARAMS = Argon2Params()


def _password_slot(dek: bytes, secret: str = "a long enough secret") -> slots.KeySlot:
    return slots.wrap_human(dek, secret, vault_id="v1", kind=slots.PASSWORD, params=PARAMS)


def test_password_slot_round_trips_the_data_key():
    dek = keys.random_key()
    assert slots.unwrap(_password_slot(dek), "a long enough secret") == dek


def test_wrong_password_raises_wrong_key():
    with pytest.raises(WrongKey):
        slots.unwrap(_password_slot(keys.random_key()), "not the secret at all")


@pytest.mark.parametrize("field", ["wrapped", "nonce"])
def test_flipped_byte_in_slot_ciphertext_raises_tampered(field):
    slot = _password_slot(keys.random_key())
    raw = bytearray(getattr(slot, field))
    raw[3] ^= 0x01
    setattr(slot, field, bytes(raw))
    with pytest.raises(TamperedSlot):
        slots.unwrap(slot, "a long enough secret")


@pytest.mark.parametrize("field", ["salt", "check"])
def test_flipped_byte_in_slot_metadata_fails_cleanly(field):
    slot = _password_slot(keys.random_key())
    raw = bytearray(getattr(slot, field))
    raw[0] ^= 0x80
    setattr(slot, field, bytes(raw))
    with pytest.raises(CryptoError):
        slots.unwrap(slot, "a long enough secret")


def test_slot_moved_to_another_vault_does_not_open():
    slot = _password_slot(keys.random_key())
    slot.vault_id = "v2"
    with pytest.raises(CryptoError):
        slots.unwrap(slot, "a long enough secret")


def test_token_slot_opens_only_with_its_token():
    dek = keys.random_key()
    token = keys.new_token("t_")
    slot = slots.wrap_token(dek, token, vault_id="v1", kind=slots.APP_TOKEN,
                            token_hash=keys.token_hash(token))
    assert slots.unwrap(slot, token) == dek
    with pytest.raises(WrongKey):
        slots.unwrap(slot, keys.new_token("t_"))


def test_argon2_parameters_are_stored_with_the_slot():
    slot = _password_slot(keys.random_key())
    assert slot.params == {"time_cost": 2, "memory_kib": 19 * 1024, "lanes": 1}
    assert Argon2Params(time_cost=1, memory_kib=8192).below(PARAMS)


def test_recovery_codes_normalise_typing_mistakes():
    code = keys.recovery_code()
    typed = code.lower().replace("-", " ")
    assert keys.normalise_recovery_code(typed) == code
    assert len(code.replace("-", "")) == 32
