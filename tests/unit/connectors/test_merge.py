"""Sealing runs to a vault's inbox and merging them: ordered, idempotent, whole or nothing."""

from __future__ import annotations

from vault.connectors.base import Draft
from vault.connectors.inbox import describe_changes, merge_inbox
from vault.connectors.jobs import run_payload
from vault.records import service as records
from vault.storage.vaults import seal_for_vault

PERSON = {"given_names": "Tina", "surname": "Bruin", "bsn": "900194054"}


def deliver(instance, vault, drafts, run_id="r1", connection_id="c1"):
    payload = run_payload(connection_id, "brp", run_id, "2026-01-01T00:00:00.000000Z", drafts)
    seal_for_vault(instance, vault.id, "connector:brp", payload)


def test_merge_creates_records_with_provenance_and_empties_inbox(instance, make_vault):
    vault = make_vault()
    deliver(instance, vault, [Draft("person", "person:1", PERSON, {"sha256": "ab"}, "person")])
    summary = merge_inbox(vault)
    assert (summary.items, summary.created) == (1, 1)
    [record] = records.list_records(vault)
    assert record.provenance.source == "brp" and record.provenance.evidence == {"sha256": "ab"}
    assert record.source_key == "brp:person:1"
    assert instance.inbox(vault.id) == []


def test_same_data_in_a_later_run_adds_no_version(instance, make_vault):
    vault = make_vault()
    deliver(instance, vault, [Draft("person", "person:1", PERSON)], run_id="r1")
    deliver(instance, vault, [Draft("person", "person:1", PERSON)], run_id="r2")
    summary = merge_inbox(vault)
    assert (summary.created, summary.unchanged) == (1, 1)
    [record] = records.list_records(vault)
    assert record.version == 1


def test_items_merge_in_order_so_the_newest_data_wins(instance, make_vault):
    vault = make_vault()
    deliver(instance, vault, [Draft("person", "p", PERSON)], run_id="r1")
    deliver(instance, vault, [Draft("person", "p", {**PERSON, "surname": "Jansen"})], run_id="r2")
    merge_inbox(vault)
    [record] = records.list_records(vault)
    assert record.data["surname"] == "Jansen" and record.version == 2


def test_an_item_merged_before_is_only_dropped(instance, make_vault):
    """A crash between the vault commit and dropping the item must not merge it twice."""
    vault = make_vault()
    deliver(instance, vault, [Draft("person", "p", PERSON)], run_id="r1")
    items = instance.inbox(vault.id)
    merge_inbox(vault)
    # Put the very same sealed item back, as if the drop had not happened.
    instance.deliver(vault.id, items[0][1], items[0][3])
    summary = merge_inbox(vault)
    assert (summary.skipped, summary.created, summary.unchanged) == (1, 0, 0)
    assert instance.inbox(vault.id) == []
    assert len(records.list_records(vault)) == 1


def test_invalid_draft_is_rejected_and_the_rest_merges(instance, make_vault):
    vault = make_vault()
    deliver(instance, vault, [Draft("person", "p", {"surname": "no given names"}),
                              Draft("person", "q", PERSON)])
    summary = merge_inbox(vault)
    assert (summary.created, summary.rejected) == (1, 1)


def test_unreadable_item_is_dropped_and_logged(instance, make_vault):
    vault = make_vault()
    instance.deliver(vault.id, "connector:brp", b"not sealed at all")
    summary = merge_inbox(vault)
    assert summary.unreadable == 1 and instance.inbox(vault.id) == []
    assert vault.events(limit=1)[0].action == "inbox.unreadable"
    assert vault.verify_log() == []


def test_what_changed_reads_in_plain_words(instance, make_vault):
    vault = make_vault()
    deliver(instance, vault, [Draft("person", "p", PERSON, label="person"),
                              Draft("address", "a", {"street": "Croeselaan", "house_number": 15,
                                                     "city": "Utrecht"}, label="address")])
    merge_inbox(vault)
    from vault.connectors.inbox import changes

    [entry] = changes(vault)
    assert describe_changes(entry) == "2 records (2 new): person, address"
