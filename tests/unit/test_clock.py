"""vault.clock: one text form for every moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from vault.clock import from_iso, to_iso

AWARE = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9998, 12, 30),
                     timezones=st.sampled_from([UTC, timezone(timedelta(hours=1)),
                                                timezone(timedelta(hours=-9, minutes=-30))]))


@given(AWARE)
def test_to_iso_is_rfc_3339_utc_with_microseconds(moment):
    text = to_iso(moment)
    assert text == moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert from_iso(text) == moment


def test_whole_seconds_keep_their_microseconds():
    assert to_iso(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000000Z"
