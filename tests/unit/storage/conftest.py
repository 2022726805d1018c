"""Storage fixtures: a real instance.db and a real vault file under a temporary KLUIS_HOME."""

from __future__ import annotations

import pytest

from vault.crypto import keys
from vault.storage.instance import Instance
from vault.storage.vaults import create_vault_file, new_vault_id


@pytest.fixture
def settings(make_settings, backend):
    """Every storage test runs on both backends: SQLCipher files and PostgreSQL rows."""
    return make_settings(database_url=backend)


@pytest.fixture
def instance(settings):
    inst = Instance(settings)
    yield inst
    inst.close()


@pytest.fixture
def vault_and_key(instance):
    vault_id, dek = new_vault_id(), keys.random_key()
    vault, public = create_vault_file(instance, vault_id, dek)
    with instance.transaction() as tx:
        instance.add_vault(tx, vault_id, "tester", public)
    yield vault, dek
    if vault.conn is not None:
        vault.close()
