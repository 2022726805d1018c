"""Finance fixtures: a real instance.db and a real (SQLCipher) vault file."""

from __future__ import annotations

import pytest

from vault.crypto import keys
from vault.storage.instance import Instance
from vault.storage.vaults import create_vault_file, new_vault_id


@pytest.fixture
def vault(settings):
    instance = Instance(settings)
    vault_id, dek = new_vault_id(), keys.random_key()
    opened, public = create_vault_file(instance, vault_id, dek)
    with instance.transaction() as tx:
        instance.add_vault(tx, vault_id, "tester", public)
    yield opened
    if opened.conn is not None:
        opened.close()
    instance.close()
