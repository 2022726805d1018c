"""Each built-in connector through a real rq worker on a real Redis, against its stand-in."""

from __future__ import annotations

import pytest

from tests.integration.connectors.conftest import add_connection, records, wait_state
from tests.standins.fixtures import API_KEY, BRP_BSN, WOZ_ID
from tests.standins.psd2 import fix_iban

PSD2_IBAN = fix_iban("DE2310010010123456789")


def brp_connection(owner, standin):
    return add_connection(owner, "brp", {"base_url": standin.base_url, "bsn": BRP_BSN},
                          {"api_key": API_KEY})


def test_brp_records_appear_after_next_unlock_with_provenance(make_owner, start_worker,
                                                              brp_standin, live_server):
    owner = make_owner()
    start_worker()
    connection = brp_connection(owner, brp_standin)
    done = wait_state(owner, connection["id"], {"ok"})
    assert done["last_success_at"] and done["next_run_at"]
    assert done["progress"]["done"] == done["progress"]["total"] > 0
    instance = live_server.app.extensions["kluis"].instance
    assert len(instance.inbox(owner.vault_id)) == 1  # sealed, waiting for the owner

    found = records(owner)
    assert instance.inbox(owner.vault_id) == []
    types = sorted(r["type"] for r in found)
    assert types == ["address", "household-member", "household-member", "household-member",
                     "person"]
    person = next(r for r in found if r["type"] == "person")
    assert person["data"]["bsn"] == BRP_BSN
    assert person["provenance"]["source"] == "brp"
    evidence = person["provenance"]["evidence"]
    assert evidence["source_url"] == f"{brp_standin.base_url}/personen"
    assert len(evidence["sha256"]) == 64 and evidence["request_id"] and evidence["response_date"]

    changes = owner.get("/api/v1/changes").json()
    assert changes[0]["created"] == 5
    assert "address" in changes[0]["summary"] and "person" in changes[0]["summary"]


def test_woz_records_appear_with_value_history(make_owner, start_worker, woz_standin):
    owner = make_owner()
    start_worker()
    connection = add_connection(owner, "woz", {"base_url": woz_standin.base_url,
                                               "identificatie": WOZ_ID}, {"api_key": API_KEY})
    wait_state(owner, connection["id"], {"ok"})
    [prop] = records(owner, "property")
    assert prop["data"]["woz_object_id"] == WOZ_ID
    assert [v["tax_year"] for v in prop["data"]["woz_values"]] [:3] == [2020, 2019, 2018]
    assert prop["provenance"]["source"] == "woz"
    assert owner.get("/api/v1/changes").json()[0]["changes"][0]["label"] == "WOZ value 2020"


def test_psd2_bank_account_with_monthly_summary(make_owner, start_worker, psd2_standin):
    owner = make_owner()
    start_worker()
    connection = add_connection(owner, "psd2", {"base_url": psd2_standin.base_url,
                                                "iban": PSD2_IBAN})
    wait_state(owner, connection["id"], {"ok"})
    [account] = records(owner, "bank-account")
    assert account["data"]["iban"] == PSD2_IBAN
    assert account["data"]["balance_cents"] == 50000
    assert "2017-10" in account["provenance"]["evidence"]["months"]
    assert psd2_standin.rejected == []


def test_same_refresh_twice_gives_no_new_versions(make_owner, start_worker, brp_standin):
    owner = make_owner()
    start_worker()
    connection = brp_connection(owner, brp_standin)
    wait_state(owner, connection["id"], {"ok"})
    first = {r["id"]: r["version"] for r in records(owner)}
    resp = owner.post(f"/api/v1/connections/{connection['id']}/refresh")
    assert resp.status_code == 202
    wait_state(owner, connection["id"], {"ok"})
    second = {r["id"]: r["version"] for r in records(owner)}
    assert second == first and set(second.values()) == {1}
    latest = owner.get("/api/v1/changes").json()[0]
    assert latest["created"] == latest["updated"] == 0 and latest["unchanged"] == 5
    assert brp_standin.count("POST", "/personen") == 2


def test_removing_a_connection_stops_its_schedule(make_owner, start_worker, brp_standin,
                                                  live_server):
    owner = make_owner()
    start_worker()
    connection = brp_connection(owner, brp_standin)
    wait_state(owner, connection["id"], {"ok"})
    instance = live_server.app.extensions["kluis"].instance
    row = instance.conn.execute("SELECT scheduled_job_id FROM connections WHERE id = ?",
                                (connection["id"],)).fetchone()
    redis = live_server.app.extensions["kluis"].redis
    assert redis.zscore("rq:scheduled:kluis", row["scheduled_job_id"]) is not None
    assert owner.delete(f"/api/v1/connections/{connection['id']}").status_code == 204
    assert owner.get(f"/api/v1/connections/{connection['id']}").status_code == 404
    assert redis.zscore("rq:scheduled:kluis", row["scheduled_job_id"]) is None
    assert len(records(owner)) == 5  # the records stay


@pytest.mark.parametrize(("options", "field"), [
    ({"bsn": "123456789"}, "options.bsn"),
    ({"bsn": BRP_BSN, "base_url": "ftp://example.org"}, "options.base_url"),
])
def test_invalid_options_are_a_422_and_store_nothing(make_owner, brp_standin, options, field):
    owner = make_owner()
    body = {"base_url": brp_standin.base_url, **options}
    resp = owner.post("/api/v1/connections", json={"connector": "brp", "options": body,
                                                   "credentials": {"api_key": API_KEY}})
    assert resp.status_code == 422
    assert field in resp.json()["errors"]
    assert owner.get("/api/v1/connections").json() == []


def test_connectors_list_their_schemas(make_owner):
    owner = make_owner()
    body = owner.get("/api/v1/connectors").json()
    by_id = {c["id"]: c for c in body}
    assert set(by_id) >= {"brp", "woz", "psd2", "upload"}
    assert by_id["brp"]["options_schema"]["required"] == ["base_url", "bsn"]
    assert by_id["brp"]["credentials_schema"]["properties"]["api_key"]["writeOnly"] is True
