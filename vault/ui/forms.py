"""HTML forms generated from the record schemas, and form input back to record data.

Amounts are typed in euro ("1.234,56" or "1234.56") and stored as cents;
lists of WOZ values are typed one per line as ``date = amount``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from vault.records.catalogue import RecordType, field_kind
from vault.records.display import euro, format_value


@dataclass
class FormField:
    name: str
    label: str
    kind: str  # text, date, integer, cents, decimal, choice, list
    required: bool
    value: str
    choices: list[tuple[str, str]]
    error: str | None = None


class FormError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("form input is not valid")
        self.errors = errors


def euro_to_cents(text: str) -> int:
    cleaned = text.strip().replace("€", "").replace(" ", "")
    if re.fullmatch(r"-?\d{1,3}(\.\d{3})+(,\d{1,2})?", cleaned):
        cleaned = cleaned.replace(".", "").replace(",", ".")
    else:
        cleaned = cleaned.replace(",", ".")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError("not an amount") from None
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("at most two decimals")
    return int((amount * 100).to_integral_value())


def cents_to_euro(cents: int | None, lang: str) -> str:
    """An amount as typed back into a form (no euro sign)."""
    return euro(cents, lang)


def display_value(record_type: RecordType, name: str, value: Any, lang: str) -> str:
    """A field value as a person reads it (euro amounts, choice labels, WOZ lines)."""
    return format_value(record_type.fields()[name], value, lang)


def build_form(record_type: RecordType, data: dict | None, lang: str,
               errors: dict[str, str] | None = None, raw: dict | None = None) -> list[FormField]:
    data = data or {}
    errors = errors or {}
    out = []
    for name, field in record_type.fields().items():
        kind = field_kind(field)
        if raw is not None and name in raw:
            value = raw[name]
        else:
            value = data.get(name)
            if kind == "cents":
                value = cents_to_euro(value, lang) if value is not None else ""
            elif kind == "list":
                value = "\n".join(
                    f"{i.get('reference_date')} = {cents_to_euro(i.get('value_cents'), lang)}"
                    for i in (value or [])
                )
            else:
                value = "" if value is None else str(value)
        choices = [
            (key, labels.get(lang) or key)
            for key, labels in field.metadata.get("choices", {}).items()
        ]
        out.append(FormField(name, record_type.field_label(name, lang), kind, field.required,
                             value, choices, errors.get(name)))
    return out


def parse_form(record_type: RecordType, form: dict[str, str]) -> dict[str, Any]:
    """Turn posted form values into record data; raises FormError with per-field messages."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, field in record_type.fields().items():
        raw = (form.get(name) or "").strip()
        if raw == "":
            continue
        kind = field_kind(field)
        try:
            if kind == "cents":
                data[name] = euro_to_cents(raw)
            elif kind == "integer":
                data[name] = int(raw)
            elif kind == "list":
                data[name] = _parse_woz_lines(raw)
            elif name == "postcode":
                compact = raw.upper().replace(" ", "")
                data[name] = f"{compact[:4]} {compact[4:]}" if len(compact) == 6 else raw
            else:
                data[name] = raw
        except ValueError:
            errors[name] = "?"
    if errors:
        raise FormError(errors)
    return data


def _parse_woz_lines(text: str) -> list[dict[str, Any]]:
    items = []
    for line in text.splitlines():
        if not line.strip():
            continue
        date, sep, amount = line.partition("=")
        if not sep:
            raise ValueError("expected date = amount")
        items.append({"reference_date": date.strip(), "value_cents": euro_to_cents(amount)})
    return items
