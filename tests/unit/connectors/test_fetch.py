"""Each built-in connector's fetch against its stand-in server (pure core, no Redis)."""

from __future__ import annotations

import pytest

from tests.standins.fixtures import API_KEY, BRP_BSN, WOZ_ID
from vault.connectors import registry
from vault.connectors.base import FetchContext, NeedsAttention, TimeoutSession, TransientError
from vault.connectors.jobs import collect_drafts


def context(options, credentials=None, timeout=2.0, state=None):
    return FetchContext(options=options, credentials=credentials or {"api_key": API_KEY},
                        http=TimeoutSession(timeout=(2.0, timeout), allow_private=True),
                        state=state if state is not None else {})


def test_brp_fetch_maps_person_address_and_household(brp_standin):
    drafts, rejected = collect_drafts(
        registry.get("brp"), context({"base_url": brp_standin.base_url, "bsn": BRP_BSN}))
    assert rejected == 0
    by_type = {}
    for d in drafts:
        by_type.setdefault(d.type, []).append(d)
    person = by_type["person"][0].data
    assert person["surname"] == "Bruin" and person["birth_date"] == "1990-12-11"
    assert by_type["address"][0].data["city"] == "Utrecht"
    assert by_type["address"][0].data["postcode"] == "3521 BJ"
    relations = sorted(d.data["relation"] for d in by_type["household-member"])
    assert relations == ["child", "parent", "partner"]
    evidence = by_type["person"][0].evidence
    assert evidence["source_url"].endswith("/personen") and len(evidence["sha256"]) == 64
    assert evidence["request_id"] and evidence["response_date"]
    assert brp_standin.rejected == []


def test_brp_request_outside_the_spec_is_refused_by_the_standin(brp_standin):
    import requests

    resp = requests.post(f"{brp_standin.base_url}/personen", timeout=5,
                         headers={"X-API-KEY": API_KEY},
                         json={"type": "RaadpleegMetBurgerservicenummer",
                               "burgerservicenummer": ["12"], "fields": ["naam"]})
    assert resp.status_code == 400


def test_woz_fetch_by_id_and_by_address_give_the_same_property(woz_standin):
    connector = registry.get("woz")
    by_id, _ = collect_drafts(connector, context(
        {"base_url": woz_standin.base_url, "identificatie": WOZ_ID}))
    by_address, _ = collect_drafts(connector, context(
        {"base_url": woz_standin.base_url, "postcode": "2517 GN", "huisnummer": 28}))
    assert [d.data for d in by_id] == [d.data for d in by_address]
    data = by_id[0].data
    assert data["woz_values"][0] == {"reference_date": "2019-01-01", "value_cents": 19500000,
                                     "tax_year": 2020}
    assert by_id[0].label == "WOZ value 2020"
    assert woz_standin.rejected == []


def test_psd2_fetch_creates_consent_once_and_summarises(psd2_standin):
    from tests.standins.psd2 import fix_iban

    iban = fix_iban("DE2310010010123456789")
    state: dict = {}
    options = {"base_url": psd2_standin.base_url, "iban": iban, "psu_ip_address": "127.0.0.1",
               "frequency_per_day": 4}
    drafts, _ = collect_drafts(registry.get("psd2"), context(options, {}, state=state))
    assert drafts[0].data["iban"] == iban
    assert drafts[0].data["balance_cents"] == 50000
    assert "monthly_income_cents" in drafts[0].data
    assert state["consent"]["id"]
    collect_drafts(registry.get("psd2"), context(options, {}, state=state))
    assert psd2_standin.count("POST", "/v1/consents") == 1
    assert psd2_standin.rejected == []


def test_psd2_frequency_per_day_is_respected(psd2_standin):
    from tests.standins.psd2 import fix_iban

    options = {"base_url": psd2_standin.base_url, "iban": fix_iban("DE2310010010123456789"),
               "psu_ip_address": "127.0.0.1", "frequency_per_day": 1}
    state: dict = {}
    collect_drafts(registry.get("psd2"), context(options, {}, state=state))
    with pytest.raises(TransientError) as info:
        collect_drafts(registry.get("psd2"), context(options, {}, state=state))
    assert info.value.retry_after and info.value.retry_after > 0


def test_psd2_unapproved_consent_needs_attention(psd2_standin):
    from tests.standins.psd2 import fix_iban

    psd2_standin.approve_consents = False
    options = {"base_url": psd2_standin.base_url, "iban": fix_iban("DE2310010010123456789"),
               "psu_ip_address": "127.0.0.1", "frequency_per_day": 4}
    with pytest.raises(NeedsAttention, match="Approve the consent"):
        collect_drafts(registry.get("psd2"), context(options, {}))


@pytest.mark.parametrize(("fault", "error"), [
    ("401", NeedsAttention), ("404", NeedsAttention), ("429", TransientError),
    ("500", TransientError), ("slow", TransientError), ("malformed", TransientError),
])
def test_brp_misbehaviour_is_classified(brp_standin, fault, error):
    brp_standin.misbehave(fault)
    with pytest.raises(error):
        collect_drafts(registry.get("brp"),
                       context({"base_url": brp_standin.base_url, "bsn": BRP_BSN}, timeout=1.0))


def test_retry_after_is_carried(brp_standin):
    brp_standin.misbehave("429", retry_after=7)
    with pytest.raises(TransientError) as info:
        collect_drafts(registry.get("brp"),
                       context({"base_url": brp_standin.base_url, "bsn": BRP_BSN}))
    assert info.value.retry_after == 7


def test_wrong_api_key_needs_attention(brp_standin):
    with pytest.raises(NeedsAttention, match="credentials"):
        collect_drafts(registry.get("brp"), context(
            {"base_url": brp_standin.base_url, "bsn": BRP_BSN}, {"api_key": "wrong"}))


def test_psd2_fetch_keeps_each_booked_transaction_signed_from_the_holder_side(psd2_standin):
    from tests.standins.psd2 import fix_iban
    from vault.records.service import validate_data

    iban = fix_iban("DE2310010010123456789")
    options = {"base_url": psd2_standin.base_url, "iban": iban}
    drafts, _ = collect_drafts(registry.get("psd2"), context(options, {}, state={}))
    txs = {d.key: d.data for d in drafts if d.type == "bank-transaction"}
    booked = psd2_standin.transactions["booked"]
    assert set(txs) == {f"tx:{iban}:{t['transactionId']}" for t in booked}
    john = txs[f"tx:{iban}:1234567"]  # a creditor: money out, though the fixture sends "256.67"
    assert john["amount_cents"] == -25667 and john["counterparty_name"] == "John Miles"
    assert john["counterparty_iban"] == "DE67100100101306118605"
    paul = txs[f"tx:{iban}:1234568"]  # a debtor: money in
    assert paul["amount_cents"] == 34301 and paul["remittance"] == "Example 2"
    for data in txs.values():
        assert validate_data("bank-transaction", data) == data
