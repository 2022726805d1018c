"""records.updated: one event per active grant per batch of changes, naming records, not values."""

from __future__ import annotations

import json

from tests.unit.grants.conftest import INCOME
from vault.grants import changes
from vault.records.service import create_record, update_record


def _events(svc) -> list[dict]:
    return [json.loads(r["body"]) for r in svc.instance.conn.execute(
        "SELECT body FROM webhook_events WHERE type = 'records.updated' ORDER BY created_at")]


def _grant(grants, vault, owner, org, ids, later=False):
    return grants.create_owner_grant(vault, owner.dek, client_id=org.client_id,
                                     authorization_details=[{
                                         "type": "kluis_records", "purpose": "income-verification",
                                         "retention": "P60D", "duration": "P30D",
                                         "records": [{"record_type": "income"}]}],
                                     records=[{"record_type": "income", "record_ids": ids,
                                               "include_later": later}]).grant


def test_one_event_per_grant_per_batch_and_only_for_covered_records(grants, svc, make_vault,
                                                                     make_org):
    owner = make_vault()
    org, other = make_org(), make_org()
    with owner.open() as vault:
        a = create_record(vault, "income", INCOME)
        b = create_record(vault, "income", INCOME | {"year": 2024})
        c = create_record(vault, "income", INCOME | {"year": 2023})
        one = _grant(grants, vault, owner, org, [a.id, b.id])
        two = _grant(grants, vault, owner, other, [c.id], later=True)
        gone = _grant(grants, vault, owner, org, [a.id])
        grants.revoke(vault, gone.id)
        assert changes.records_changed(vault) == 0  # added before the grants: nobody is told
        before = len(_events(svc))
        # One batch: two granted records of grant one get new versions, one record of
        # grant two too, and a record is added that grant two covers under "later".
        update_record(vault, a.id, INCOME | {"net_amount_cents": 1})
        update_record(vault, b.id, INCOME | {"year": 2024, "net_amount_cents": 2})
        update_record(vault, c.id, INCOME | {"year": 2023, "net_amount_cents": 3})
        added = create_record(vault, "income", INCOME | {"year": 2026})
        assert changes.records_changed(vault) == 2
        assert changes.records_changed(vault) == 0  # emptied: nothing twice
    made = _events(svc)[before:]
    by_grant = {e["grant_id"]: e for e in made}
    assert set(by_grant) == {one.id, two.id}
    assert sorted(by_grant[one.id]["data"]["record_ids"]["income"]) == sorted([a.id, b.id])
    assert sorted(by_grant[two.id]["data"]["record_ids"]["income"]) == sorted([c.id, added.id])
    assert by_grant[two.id]["client_id"] == other.client_id
    for event in made:
        assert "ACME" not in json.dumps(event) and "3900000" not in json.dumps(event)


def test_nothing_changed_costs_one_read_and_queues_nothing(grants, svc, make_vault, make_org):
    owner = make_vault()
    with owner.open() as vault:
        record = create_record(vault, "income", INCOME)
        _grant(grants, vault, owner, make_org(), [record.id])
        changes.records_changed(vault)
        assert changes.records_changed(vault) == 0
    assert _events(svc) == []
