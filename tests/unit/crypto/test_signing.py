import pytest

from vault.crypto import signing
from vault.crypto.errors import SignatureError


def test_signed_json_verifies_and_returns_payload():
    key = signing.new_signing_key()
    doc = signing.sign_json({"a": 1, "naam": "Jansen"}, key)
    payload, header = signing.verify_json(doc, [signing.public_jwk(key)])
    assert payload == {"a": 1, "naam": "Jansen"}
    assert header["kid"] == key["kid"]


def test_altered_payload_is_a_bad_signature():
    key = signing.new_signing_key()
    doc = signing.sign_json({"a": 1}, key)
    from vault.crypto.keys import b64e

    doc["payload"] = b64e(b'{"a":2}')
    with pytest.raises(SignatureError) as info:
        signing.verify_json(doc, [signing.public_jwk(key)])
    assert info.value.reason == "bad-signature"


def test_other_key_is_unknown():
    doc = signing.sign_json({"a": 1}, signing.new_signing_key())
    with pytest.raises(SignatureError) as info:
        signing.verify_json(doc, [signing.public_jwk(signing.new_signing_key())])
    assert info.value.reason == "unknown-key"
