import pytest

from vault.crypto import sealing
from vault.crypto.errors import SealError


def test_sealed_payload_opens_only_with_the_private_key():
    private, public = sealing.new_inbox_keypair()
    sealed = sealing.seal(public, b"income 2025", context=b"vault-a")
    assert b"income 2025" not in sealed
    assert sealing.unseal(private, sealed, context=b"vault-a") == b"income 2025"
    other_private, _ = sealing.new_inbox_keypair()
    with pytest.raises(SealError):
        sealing.unseal(other_private, sealed, context=b"vault-a")


def test_sealed_payload_is_bound_to_its_vault():
    private, public = sealing.new_inbox_keypair()
    sealed = sealing.seal(public, b"x", context=b"vault-a")
    with pytest.raises(SealError):
        sealing.unseal(private, sealed, context=b"vault-b")
