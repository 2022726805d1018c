"""Property: whatever is granted, a response holds exactly the granted fields, nothing else."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.grants.conftest import details
from vault.grants.organisations import PICKUP_GRANT_TYPE
from vault.records.catalogue import RECORD_TYPES

FULL = {
    "person": {"given_names": "Annemarie", "surname_prefix": "de", "surname": "Vries",
               "bsn": "111222333", "birth_date": "1991-04-02", "birth_place": "Utrecht",
               "birth_country": "Nederland", "nationality": "Nederlandse", "gender": "V"},
    "address": {"street": "Kerkstraat", "house_number": 5, "house_number_addition": "A",
                "postcode": "3511 AB", "city": "Utrecht", "municipality": "Utrecht",
                "country": "Nederland", "valid_from": "2020-01-01"},
    "income": {"year": 2025, "source": "ACME BV", "kind": "employment",
               "gross_amount_cents": 5_400_000, "net_amount_cents": 3_900_000},
    "employment": {"employer": "ACME BV", "role": "Engineer", "start_date": "2019-05-01",
                   "hours_per_week": "36.0", "contract": "permanent"},
    "bank-account": {"iban": "NL91ABNA0417164300", "bank": "ABN AMRO", "owner_name": "A de Vries",
                     "currency": "EUR", "balance_cents": 123_456, "balance_date": "2026-01-01"},
}
TYPES = sorted(FULL)


@st.composite
def grants_asked(draw) -> dict[str, list[str]]:
    types = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=len(TYPES), unique=True))
    out = {}
    for type_id in types:
        names = RECORD_TYPES[type_id].field_names()
        out[type_id] = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    return out


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(asked=grants_asked(), ask_types=st.booleans())
def test_responses_contain_only_granted_fields(grants, make_vault, make_org, asked, ask_types):
    if not hasattr(test_responses_contain_only_granted_fields, "state"):
        owner = make_vault({t: [d] for t, d in FULL.items()})
        test_responses_contain_only_granted_fields.state = (owner, make_org())
    owner, org = test_responses_contain_only_granted_fields.state
    with owner.open() as vault:
        decision = grants.create_owner_grant(vault, owner.dek, client_id=org.client_id,
                                             authorization_details=details(asked))
    token = grants.exchange(org.client_id, PICKUP_GRANT_TYPE, {"code": decision.pickup_code})
    types = sorted(asked)[:1] if ask_types else None
    result = grants.redeem(token["access_token"], types=types)
    seen_types = set()
    for record in result["records"]:
        granted = asked[record["type"]]
        assert set(record["data"]) <= set(granted), (record, granted)
        # Nothing granted and present in the vault is left out; nothing absent becomes null.
        assert record["data"] == {k: v for k, v in FULL[record["type"]].items() if k in granted}
        assert None not in record["data"].values()
        seen_types.add(record["type"])
    assert seen_types == (set(types) if types else set(asked))


def teardown_module() -> None:
    if hasattr(test_responses_contain_only_granted_fields, "state"):
        del test_responses_contain_only_granted_fields.state
