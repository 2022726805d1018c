"""Plausibility of record values a person types in: what a schema allows but cannot be true.

Imports no Flask. :func:`check` returns, per field, a problem code and its values (the form
turns them into a sentence): a birth date in the future or before 1900, a year outside
1900 (or the schema's own lower bound) up to next year. Values from sources (connectors) are
not checked here: the source is the authority on them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from marshmallow import fields, validate

from vault.records.catalogue import RecordType

BIRTH_DATES = ("birth_date",)
YEARS = ("year", "tax_year")
EARLIEST = date(1900, 1, 1)


def year_bounds(record_type: RecordType, name: str, today: date) -> tuple[int, int]:
    """The years a form accepts in ``name``: the schema's minimum (at least 1900) up to next
    year."""
    low = EARLIEST.year
    field = record_type.fields()[name]
    for validator in field.validators if isinstance(field, fields.Integer) else ():
        if isinstance(validator, validate.Range) and validator.min is not None:
            low = max(low, int(validator.min))
    return low, today.year + 1


Problems = dict[str, tuple[str, dict[str, Any]]]


def check(record_type: RecordType, data: dict[str, Any], today: date) -> Problems:
    """``{field: (code, values)}`` for each implausible value in ``data`` (typed values)."""
    problems: Problems = {}
    names = record_type.fields()
    for name in BIRTH_DATES:
        raw = data.get(name)
        if name in names and isinstance(raw, str) and raw:
            try:
                day = date.fromisoformat(raw)
            except ValueError:
                continue  # not a date: the schema says so
            if day > today:
                problems[name] = ("future", {})
            elif day < EARLIEST:
                problems[name] = ("before", {"year": EARLIEST.year})
    for name in YEARS:
        value = data.get(name)
        if name in names and isinstance(value, int):
            low, high = year_bounds(record_type, name, today)
            if not low <= value <= high:
                problems[name] = ("year_range", {"min": low, "max": high})
    return problems
