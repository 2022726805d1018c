from datetime import UTC, datetime, timedelta

import pytest

from vault.clock import to_iso
from vault.grants.models import (
    AccessContext,
    Expiry,
    Fields,
    Purpose,
    UnknownCondition,
    UsageLimit,
    condition_from_dict,
    condition_to_dict,
    format_duration,
    parse_duration,
    verify_all,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def ctx(**kw) -> AccessContext:
    return AccessContext(now=kw.pop("now", NOW), **kw)


def test_expiry_holds_between_not_before_and_expires_at():
    cond = Expiry(to_iso(NOW - timedelta(days=1)), to_iso(NOW + timedelta(seconds=1)))
    assert cond.verify(ctx())
    assert cond.verify(ctx(now=NOW + timedelta(seconds=1))).code == "expired"
    assert cond.verify(ctx(now=NOW - timedelta(days=2))).code == "not-yet-valid"


def test_purpose_fails_for_another_stated_purpose_and_unknown_codes():
    assert Purpose("credit-check").verify(ctx())
    assert Purpose("credit-check").verify(ctx(purpose="credit-check"))
    assert Purpose("credit-check").verify(ctx(purpose="employment")).code == "wrong-purpose"
    assert Purpose("astrology").verify(ctx()).code == "purpose-withdrawn"


def test_fields_filter_keeps_only_granted_fields_and_drops_other_types():
    cond = Fields.of({"income": ["year", "gross_amount_cents"]})
    data = {"year": 2025, "source": "ACME", "gross_amount_cents": 1}
    assert cond.filter("income", data) == {"year": 2025, "gross_amount_cents": 1}
    assert cond.filter("income", {"source": "x"}) == {}
    assert cond.filter("person", {"bsn": "1"}) is None
    assert cond.verify(ctx(types=("person",))).code == "type-not-granted"


def test_usage_limit_counts_reads():
    assert UsageLimit(2).verify(ctx(uses=1))
    assert UsageLimit(2).verify(ctx(uses=2)).code == "usage-limit"


def test_conditions_round_trip_through_their_stable_tags():
    conds = [Expiry("2026-01-01T00:00:00.000000Z", "2026-02-01T00:00:00.000000Z"),
             Purpose("employment"), Fields.of({"person": ["surname"]}), UsageLimit(3)]
    dumped = [condition_to_dict(c) for c in conds]
    assert [d["tag"] for d in dumped] == ["expiry", "purpose", "fields", "usage-limit"]
    assert [condition_from_dict(d) for d in dumped] == conds


def test_an_unknown_condition_fails_closed():
    with pytest.raises(UnknownCondition):
        condition_from_dict({"tag": "geofence", "area": "NL"})


def test_verify_all_reports_the_first_failure():
    verdict = verify_all([Purpose("employment"), UsageLimit(1)], ctx(uses=1))
    assert not verdict and verdict.code == "usage-limit"


@pytest.mark.parametrize("text,days", [("P30D", 30), ("P2M", 60), ("P1Y", 365), ("P2W", 14)])
def test_durations_parse(text, days):
    assert parse_duration(text) == timedelta(days=days)
    assert format_duration(parse_duration(text)) == f"P{days}D"


@pytest.mark.parametrize("text", ["", "P", "30D", "PT", "P-1D", "P1.5D"])
def test_bad_durations_are_rejected(text):
    with pytest.raises(ValueError):
        parse_duration(text)
