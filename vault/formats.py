"""Moments, days and amounts as a person reads them, in Dutch or English, through Babel.

One place for the pages, the PDFs and the CLI: nothing else slices ISO strings or groups
digits by hand. Moments are stored in UTC (RFC 3339, ``...Z``) and shown in the instance's
time zone (``KLUIS_TIMEZONE``, default ``Europe/Amsterdam``), which the composition root sets
once with :func:`set_timezone`. This module imports no Flask.

- ``moment("2026-01-15T08:09:00Z", "nl")`` -> ``15 januari 2026 09:09``
- ``day("1992-03-14", "nl")`` -> ``14 maart 1992``; ``"en"`` -> ``14 March 1992``
- ``money(4825000, "nl")`` -> ``EUR 48.250,00``; ``"en"`` -> ``EUR 48,250.00``
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.dates import format_time as _babel_time
from babel.numbers import format_decimal
from babel.units import format_unit

DEFAULT_TIMEZONE = "Europe/Amsterdam"

#: The Babel locale of each UI language. British English writes the day first
#: ("14 March 1992"), as the Dutch do.
LOCALES = {"nl": "nl_NL", "en": "en_GB"}

_DAY = "d MMMM y"
_TIME = "HH:mm"

_zone: tzinfo = ZoneInfo(DEFAULT_TIMEZONE)


def check_timezone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``Europe/Amsterdam``); ValueError when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as "
                         f"{DEFAULT_TIMEZONE})") from exc


def set_timezone(name: str) -> None:
    """The zone every moment is shown in, from then on (the composition root calls this)."""
    global _zone
    _zone = check_timezone(name)


def timezone() -> tzinfo:
    return _zone


def _locale(lang: str) -> str:
    return LOCALES.get(lang, LOCALES["nl"])


def _parse(value: str | datetime | date | None) -> datetime | date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def local(value: str | datetime) -> datetime | None:
    """A stored moment as an aware datetime in the instance's zone, or None."""
    moment = _parse(value)
    if not isinstance(moment, datetime):
        return None
    return moment.astimezone(_zone)


def moment(value: str | datetime | None, lang: str, *, zone: bool = False) -> str:
    """Day and time in the instance's zone: ``15 januari 2026 09:09`` (with ``zone``:
    ``15 januari 2026 09:09 CET``). A bare day is shown as :func:`day`; unreadable text as is."""
    parsed = _parse(value)
    if parsed is None:
        return "" if value in (None, "") else str(value)
    if not isinstance(parsed, datetime):
        return day(parsed, lang)
    pattern = f"{_DAY} {_TIME}" + (" zzz" if zone else "")
    return _babel_datetime(parsed, pattern, tzinfo=_zone, locale=_locale(lang))


def day(value: str | datetime | date | None, lang: str) -> str:
    """The day as a person reads it: ``14 maart 1992`` (nl), ``14 March 1992`` (en); a moment
    is first moved into the instance's zone (23:30Z on 31 December is 1 January in Amsterdam)."""
    parsed = _parse(value)
    if parsed is None:
        return "" if value in (None, "") else str(value)
    if isinstance(parsed, datetime):
        parsed = parsed.astimezone(_zone)
    return _babel_date(parsed, _DAY, locale=_locale(lang))


def time_of_day(value: str | datetime | None, lang: str) -> str:
    """``09:09``: the time in the instance's zone."""
    moment_ = local(value) if value else None
    if moment_ is None:
        return ""
    return _babel_time(moment_, _TIME, tzinfo=_zone, locale=_locale(lang))


def zone_name(lang: str, when: str | datetime | None = None) -> str:
    """The zone's short name at ``when`` (now by default): ``CET`` or ``CEST`` in Amsterdam."""
    at = local(when) if when else datetime.now(_zone)
    return _babel_datetime(at or datetime.now(_zone), "zzz", tzinfo=_zone,
                           locale=_locale(lang))


def number(cents: int, lang: str) -> str:
    """Cents as a grouped amount with two decimals, no currency: ``48.250,00`` / ``48,250.00``."""
    return format_decimal(Decimal(int(cents)).scaleb(-2), format="#,##0.00",
                          locale=_locale(lang), decimal_quantization=False)


def money(cents: int | None, lang: str) -> str:
    """``EUR 48.250,00`` (nl), ``EUR 48,250.00`` (en), ``EUR -5,00``; "" for None."""
    if cents is None:
        return ""
    return f"EUR {number(cents, lang)}"


_DURATION = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?")
_UNITS = ("duration-year", "duration-month", "duration-week", "duration-day")


def duration(text: str, lang: str) -> str:
    """An ISO 8601 duration of whole days, weeks, months or years as words: ``P60D`` ->
    ``60 dagen`` / ``60 days``, ``P1Y2M`` -> ``1 jaar, 2 maanden``; anything else as it is."""
    found = _DURATION.fullmatch(text or "")
    if not found or not any(found.groups()):
        return text or ""
    parts = [format_unit(int(n), unit, length="long", locale=_locale(lang))
             for n, unit in zip(found.groups(), _UNITS, strict=True) if n]
    return ", ".join(parts)
