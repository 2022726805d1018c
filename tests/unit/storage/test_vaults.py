import json

import pytest

from vault.crypto import keys
from vault.crypto.errors import WrongKey
from vault.storage.instance import InboxKeyTampered, Instance
from vault.storage.vaults import (
    create_vault_file,
    new_vault_id,
    open_inbox,
    open_vault,
    seal_for_vault,
)


def test_vault_file_does_not_open_with_another_key(instance, vault_and_key):
    vault, _ = vault_and_key
    with pytest.raises(WrongKey):
        open_vault(instance, vault.id, keys.random_key())


def test_event_log_detects_edit_removal_and_reorder(vault_and_key):
    vault, _ = vault_and_key
    with vault.transaction() as tx:
        for i in range(4):
            vault.append_event(tx, actor="org:x", action="grant.read", detail={"i": i})
    assert vault.verify_log() == []

    with vault.transaction() as tx:
        tx.execute("UPDATE events SET detail = ? WHERE seq = 2", (json.dumps({"i": 99}),))
    assert any("changed" in p for p in vault.verify_log())
    with vault.transaction() as tx:
        tx.execute("UPDATE events SET detail = ? WHERE seq = 2", (json.dumps({"i": 1}),))
    assert vault.verify_log() == []

    with vault.transaction() as tx:
        tx.execute("DELETE FROM events WHERE seq = 3")
    assert vault.verify_log()


def test_removing_the_newest_event_is_detected(vault_and_key):
    vault, _ = vault_and_key
    with vault.transaction() as tx:
        vault.append_event(tx, actor="owner", action="a")
        vault.append_event(tx, actor="owner", action="b")
    with vault.transaction() as tx:
        tx.execute("DELETE FROM events WHERE seq = 2")
    assert "the newest events were removed" in vault.verify_log()


def test_inbox_items_are_sealed_and_open_only_inside_the_vault(instance, vault_and_key):
    vault, _ = vault_and_key
    seal_for_vault(instance, vault.id, "brp", {"surname": "Vermeulen-Sijbrands"})
    raw = instance.conn.execute("SELECT sealed FROM inbox_items").fetchone()[0]
    assert b"Vermeulen" not in bytes(raw)
    items = open_inbox(vault)
    assert [(source, payload) for _, source, payload in items] == [
        ("brp", {"surname": "Vermeulen-Sijbrands"})
    ]


def test_an_inbox_key_swapped_in_the_tables_is_refused_and_nothing_is_sealed(
        instance, vault_and_key):
    """Someone who can write the instance's tables but has no instance key (PostgreSQL: a
    database administrator) puts in an inbox key of their own: nothing is sealed to it."""
    vault, _ = vault_and_key
    _, theirs = create_vault_file(instance, new_vault_id(), keys.random_key())
    with instance.transaction() as tx:
        tx.execute("UPDATE vaults SET inbox_public_key = ? WHERE id = ?", (theirs, vault.id))
    with pytest.raises(InboxKeyTampered):
        seal_for_vault(instance, vault.id, "brp", {"surname": "Vermeulen-Sijbrands"})
    assert instance.conn.execute("SELECT count(*) FROM inbox_items").fetchone()[0] == 0


def test_an_inbox_key_without_its_tag_is_tagged_on_files_and_refused_in_postgresql(
        instance, vault_and_key):
    vault, _ = vault_and_key
    with instance.transaction() as tx:
        tx.execute("UPDATE vaults SET inbox_key_tag = NULL WHERE id = ?", (vault.id,))
    if instance.backend == "files":  # made before migration 0009: tagged at its first use
        seal_for_vault(instance, vault.id, "brp", {"surname": "Vermeulen-Sijbrands"})
        tag = instance.conn.execute("SELECT inbox_key_tag FROM vaults WHERE id = ?",
                                    (vault.id,)).fetchone()[0]
        assert bytes(tag) == instance.inbox_key_tag(vault.id, instance.inbox_public_key(vault.id))
        assert [p for _, _, p in open_inbox(vault)] == [{"surname": "Vermeulen-Sijbrands"}]
    else:  # in the database a missing tag is someone's doing: never filled in there
        with pytest.raises(InboxKeyTampered):
            seal_for_vault(instance, vault.id, "brp", {"surname": "Vermeulen-Sijbrands"})


def test_cached_connection_is_reused_only_with_the_same_data_key(instance, vault_and_key):
    vault, dek = vault_and_key
    vault.close()
    first = open_vault(instance, vault.id, dek)
    conn = first.conn
    first.close()
    second = open_vault(instance, vault.id, dek)
    assert second.conn is conn  # handed back from the cache
    second.close()
    with pytest.raises(WrongKey):
        open_vault(instance, vault.id, keys.random_key())


def test_forgotten_vault_connections_are_closed(instance, vault_and_key):
    from vault.storage.cache import forget_cached

    vault, dek = vault_and_key
    vault.close()
    opened = open_vault(instance, vault.id, dek)
    conn = opened.conn
    opened.close()
    forget_cached(vault.id)
    again = open_vault(instance, vault.id, dek)
    assert again.conn is not conn
    again.close()


def test_cache_can_be_turned_off(make_settings):
    settings = make_settings("nocache", vault_cache_seconds=0)
    inst = Instance(settings)
    try:
        vault_id, dek = new_vault_id(), keys.random_key()
        vault, _ = create_vault_file(inst, vault_id, dek)
        vault.close()
        a = open_vault(inst, vault_id, dek)
        conn = a.conn
        a.close()
        b = open_vault(inst, vault_id, dek)
        assert b.conn is not conn
        b.close()
    finally:
        inst.close()
