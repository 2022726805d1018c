"""The organisation's read path: what a worker keeps between reads never outlives the truth."""

from __future__ import annotations

import pytest

from tests.unit.grants.conftest import INCOME, PERSON
from vault.grants.errors import InvalidToken
from vault.grants.redemption import HANDLES
from vault.records.service import list_records, update_record
from vault.storage import journal
from vault.storage.instance import Instance
from vault.storage.vaults import open_vault


@pytest.fixture(autouse=True)
def _fresh_handles():
    HANDLES.clear()
    yield
    HANDLES.clear()


def test_a_changed_record_is_served_on_the_next_read(grants, issue):
    owner, _org, token = issue(fields={"income": ["year", "gross_amount_cents"]})
    first = grants.redeem(token["access_token"])
    assert first["records"][0]["data"]["gross_amount_cents"] == INCOME["gross_amount_cents"]
    with owner.open() as vault:
        record = list_records(vault, ["income"])[0]
        update_record(vault, record.id, {**INCOME, "gross_amount_cents": 6_100_000})
    second = grants.redeem(token["access_token"])
    assert second["records"][0]["data"]["gross_amount_cents"] == 6_100_000
    assert second["records"][0]["version"] == first["records"][0]["version"] + 1


def test_a_slot_deleted_by_another_process_ends_a_known_token(grants, svc, settings, issue):
    _owner, _org, token = issue()
    grants.redeem(token["access_token"])
    assert len(HANDLES) == 1
    # Another process (its own instance.db connection) deletes the slot, and nothing else.
    other = Instance(settings)
    try:
        with other.transaction() as tx:
            tx.execute("DELETE FROM key_slots WHERE grant_id = ?", (token["grant_id"],))
    finally:
        other.close()
    with pytest.raises(InvalidToken):
        grants.redeem(token["access_token"])
    assert len(HANDLES) == 0


def test_a_usage_limit_counts_reads_still_in_the_journal(grants, svc, issue):
    owner, _org, token = issue(max_uses=3)
    for _ in range(3):
        grants.redeem(token["access_token"])
    # Nothing merged yet: the vault's own count is still 0.
    with open_vault(svc.instance, owner.vault_id, owner.dek) as vault:
        assert vault.conn.execute("SELECT access_count FROM grants").fetchone()[0] == 0
    with pytest.raises(InvalidToken, match="3 reads"):
        grants.redeem(token["access_token"])
    with owner.open() as vault:  # the owner's open merges
        assert grants.get_grant(vault, token["grant_id"]).access_count == 3


def test_the_journal_is_merged_after_enough_reads(grants, svc, issue, monkeypatch):
    monkeypatch.setattr(journal, "MERGE_EVERY", 3)
    owner, _org, token = issue()
    deferred: list = []
    for _ in range(3):
        grants.redeem_records(token["access_token"], defer=deferred.append)
    assert len(deferred) == 1  # the third read asks for a merge after its response

    def logged() -> int:
        with open_vault(svc.instance, owner.vault_id, owner.dek) as vault:  # no merge on open
            return sum(e.action == "grant.read" for e in vault.events())

    assert logged() == 0
    deferred[0]()
    assert logged() == 3
    for _ in range(3):
        grants.redeem(token["access_token"])  # without defer: merged before returning
    assert logged() == 6


def test_each_read_shape_keeps_its_own_answer(grants, issue):
    _owner, _org, token = issue(vault_records={"income": [INCOME], "person": [PERSON]},
                              asked={"income": None, "person": None},
                              fields={"income": ["year"], "person": ["surname"]})
    narrow = grants.redeem(token["access_token"], types=["person"])
    wide = grants.redeem(token["access_token"])
    assert [r["type"] for r in narrow["records"]] == ["person"]
    assert sorted(r["type"] for r in wide["records"]) == ["income", "person"]
    assert [r["data"] for r in narrow["records"]] == [{"surname": "de Vries"}]


def test_a_read_without_a_usage_limit_has_committed_its_event_when_it_returns(grants, svc,
                                                                              issue, backend):
    from vault.storage import db

    owner, _org, token = issue()
    with open_vault(svc.instance, owner.vault_id, owner.dek) as vault:
        access = journal.ref(vault, str(svc.instance.vault_path(owner.vault_id)))
    for n in range(1, 4):
        grants.redeem_records(token["access_token"])
        # A connection of its own (another process would see the same): the row is there.
        if backend:
            assert _pg_journal_actions(backend, access) == ["grant.read"] * n
            continue
        conn = db.connect(access.path, access.key)
        try:
            assert conn.execute("SELECT count(*) FROM entries").fetchone()[0] == n
        finally:
            conn.close()


def _pg_journal_actions(url: str, access: journal.JournalRef) -> list[str]:
    """The actions in the vault's kluis_journal rows, read and opened on a new connection
    (not one of the pool's), in the default READ COMMITTED: only committed rows."""
    import json

    import psycopg

    from vault.crypto.rowseal import JournalKeys

    keys = JournalKeys(access.key, access.vault_id)
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT seq, sealed FROM kluis_journal WHERE vault_id = %s"
                            " ORDER BY seq", (access.vault_id,)).fetchall()
    return [json.loads(keys.open(seq, bytes(sealed)))[2] for seq, sealed in rows]
