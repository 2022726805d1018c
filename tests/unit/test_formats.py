"""Moments, days and amounts through Babel, in the instance's time zone."""

from __future__ import annotations

import pytest

from vault import formats
from vault.config import ConfigError, Settings


@pytest.fixture(autouse=True)
def _amsterdam():
    formats.set_timezone("Europe/Amsterdam")
    yield
    formats.set_timezone(formats.DEFAULT_TIMEZONE)


def test_a_winter_moment_reads_one_hour_ahead_of_utc_in_amsterdam():
    assert formats.time_of_day("2026-01-15T08:09:00Z", "nl") == "09:09"
    assert formats.moment("2026-01-15T08:09:00.000000Z", "nl") == "15 januari 2026 09:09"
    assert formats.moment("2026-01-15T08:09:00Z", "nl", zone=True).endswith("09:09 CET")


def test_a_summer_moment_reads_two_hours_ahead_of_utc_in_amsterdam():
    assert formats.time_of_day("2026-07-15T08:09:00Z", "en") == "10:09"
    assert formats.moment("2026-07-15T08:09:00Z", "en", zone=True) == "15 July 2026 10:09 CEST"


def test_another_zone_moves_the_same_moment():
    formats.set_timezone("America/New_York")
    assert formats.time_of_day("2026-01-15T08:09:00Z", "nl") == "03:09"


def test_days_read_as_words_and_a_late_utc_evening_is_the_next_local_day():
    assert formats.day("1992-03-14", "nl") == "14 maart 1992"
    assert formats.day("1992-03-14", "en") == "14 March 1992"
    assert formats.day("2026-12-31T23:30:00Z", "nl") == "1 januari 2027"


def test_amounts_carry_the_currency_code_and_the_languages_separators():
    assert formats.money(4_825_000, "nl") == "EUR 48.250,00"
    assert formats.money(4_825_000, "en") == "EUR 48,250.00"
    assert formats.money(-5, "nl") == "EUR -0,05"
    assert formats.money(None, "nl") == ""


def test_durations_read_as_words():
    assert formats.duration("P60D", "nl") == "60 dagen"
    assert formats.duration("P1Y2M", "en") == "1 year, 2 months"
    assert formats.duration("PT12H", "nl") == "PT12H"


def test_an_unknown_time_zone_is_refused_at_start_with_the_variable_name(tmp_path):
    with pytest.raises(ConfigError, match="KLUIS_TIMEZONE"):
        Settings(home=str(tmp_path), timezone="Europe/Atlantis")
    assert Settings(home=str(tmp_path)).timezone == "Europe/Amsterdam"
