"""HTML forms generated from the record schemas, and form input back to record data.

Amounts are typed in euro ("1.234,56" or "1234.56") and stored as cents;
lists of WOZ values are typed one per line as ``date = amount``.

Every field that goes wrong gets its own sentence with an example of what fits
("Huisnummer: alleen cijfers; zet 'a' bij Toevoeging"), shown beside it; text fields show
their maximum length and a longer value is an error, never cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import fields as mfields
from marshmallow import validate

from vault.records import plausibility
from vault.records.catalogue import RecordType, field_kind
from vault.records.display import euro, format_value
from vault.records.service import InvalidRecord, RecordTooLarge, validate_data
from vault.ui.i18n import register, t

register({
    "rform.required": {"nl": "{label}: vul dit in.", "en": "{label}: please fill this in."},
    "rform.cents": {"nl": "{label}: een getal in euro, bijv. 1234,56.",
                    "en": "{label}: a number in euro, e.g. 1234.56."},
    "rform.cents_decimals": {"nl": "{label}: hoogstens twee cijfers na de komma, bijv. 1234,56.",
                             "en": "{label}: at most two decimals, e.g. 1234.56."},
    "rform.negative": {"nl": "{label}: kan niet negatief zijn.",
                       "en": "{label}: cannot be negative."},
    "rform.too_large": {"nl": "{label}: dat bedrag is te groot.",
                        "en": "{label}: that amount is too large."},
    "rform.house_number": {"nl": "Huisnummer: alleen cijfers; zet 'a' bij Toevoeging.",
                           "en": "House number: digits only; put 'a' under Addition."},
    "rform.house_number_range": {"nl": "Huisnummer: een getal van 1 tot en met 99999.",
                                 "en": "House number: a number from 1 to 99999."},
    "rform.year": {"nl": "{label}: een jaartal, bijv. 2025.",
                   "en": "{label}: a year, e.g. 2025."},
    "rform.year_range": {"nl": "{label}: een jaartal van {min} tot en met {max}.",
                         "en": "{label}: a year from {min} to {max}."},
    "rform.integer": {"nl": "{label}: een heel getal, bijv. 12.",
                      "en": "{label}: a whole number, e.g. 12."},
    "rform.decimal": {"nl": "{label}: een getal, bijv. 2,5.", "en": "{label}: a number, e.g. 2.5."},
    "rform.decimal_range": {"nl": "{label}: een getal van {min} tot en met {max}.",
                            "en": "{label}: a number from {min} to {max}."},
    "rform.date": {"nl": "{label}: een datum, bijv. 2025-03-14.",
                   "en": "{label}: a date, e.g. 2025-03-14."},
    "rform.future": {"nl": "{label}: die datum ligt in de toekomst.",
                     "en": "{label}: that date is in the future."},
    "rform.before": {"nl": "{label}: een datum vanaf {year}.",
                     "en": "{label}: a date from {year} on."},
    "rform.woz_line": {
        "nl": "{label}, regel {line}: verwacht datum = bedrag, bijv. 2025-01-01 = 350000.",
        "en": "{label}, line {line}: expected date = amount, e.g. 2025-01-01 = 350000."},
    "rform.too_long": {"nl": "{label}: hoogstens {max} tekens (nu {n}).",
                       "en": "{label}: at most {max} characters (now {n})."},
    "rform.max_hint": {"nl": "hoogstens {max} tekens", "en": "at most {max} characters"},
    "rform.choice": {"nl": "{label}: kies een van de mogelijkheden.",
                     "en": "{label}: choose one of the options."},
    "rform.bsn": {"nl": "BSN: negen cijfers die de elfproef doorstaan, bijv. 111222333.",
                  "en": "BSN: nine digits that pass the eleven test, e.g. 111222333."},
    "rform.postcode": {"nl": "Postcode: vier cijfers en twee letters, bijv. 1234 AB.",
                       "en": "Postcode: four digits and two letters, e.g. 1234 AB."},
    "rform.iban": {"nl": "{label}: een IBAN, bijv. NL91 ABNA 0417 1643 00.",
                   "en": "{label}: an IBAN, e.g. NL91 ABNA 0417 1643 00."},
    "rform.currency": {"nl": "{label}: drie hoofdletters, bijv. EUR.",
                       "en": "{label}: three capital letters, e.g. EUR."},
    "rform.document": {"nl": "{label}: kies een van je documenten.",
                       "en": "{label}: choose one of your documents."},
    "rform.invalid": {"nl": "{label}: deze waarde past niet.",
                      "en": "{label}: this value does not fit."},
    "rform.hint.house_number": {"nl": "alleen cijfers", "en": "digits only"},
    "rform.hint.postcode": {"nl": "bijv. 1234 AB", "en": "e.g. 1234 AB"},
    "rform.hint.bsn": {"nl": "negen cijfers", "en": "nine digits"},
    "rform.hint.iban": {"nl": "bijv. NL91 ABNA 0417 1643 00", "en": "e.g. NL91 ABNA 0417 1643 00"},
    "rform.hint.year": {"nl": "bijv. 2025", "en": "e.g. 2025"},
    "rform.duplicate": {"nl": "Je hebt al {record}; toch opslaan?",
                        "en": "You already have {record}; save anyway?"},
    "rform.duplicate.income": {"nl": "Je hebt al een inkomen {year} van {source}; toch toevoegen?",
                               "en": "You already have an income {year} from {source}; add it "
                                     "anyway?"},
    "rform.duplicate_confirm": {"nl": "Ja, toch opslaan", "en": "Yes, save anyway"},
    "rform.duplicate_see": {"nl": "Bekijk het bestaande gegeven", "en": "See the existing record"},
})


@dataclass
class FormField:
    name: str
    label: str
    kind: str  # text, date, integer, cents, decimal, choice, list
    required: bool
    value: str
    choices: list[tuple[str, str]]
    error: str | None = None
    max_length: int | None = None
    hint: str | None = None


class FormError(ValueError):
    """Per field, the sentence that says what is wrong (in the person's language)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("form input is not valid")
        self.errors = errors


def max_length(field: mfields.Field[Any]) -> int | None:
    """A text field's maximum length from its schema (None: no maximum)."""
    for validator in field.validators:
        if isinstance(validator, validate.Length) and validator.max is not None:
            return int(validator.max)
    return None


def _range(field: mfields.Field[Any]) -> tuple[Any, Any]:
    for validator in field.validators:
        if isinstance(validator, validate.Range):
            return validator.min, validator.max
    return None, None


def _hint(name: str, field: mfields.Field[Any], kind: str, lang: str) -> str | None:
    if name in ("house_number", "postcode", "bsn"):
        return t(f"rform.hint.{name}", lang)
    if name in ("iban", "account_iban"):
        return t("rform.hint.iban", lang)
    if name in plausibility.YEARS:
        return t("rform.hint.year", lang)
    if kind == "text":
        limit = max_length(field)
        return t("rform.max_hint", lang, max=limit) if limit else None
    return None


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
                             value, choices, errors.get(name),
                             max_length(field) if kind == "text" else None,
                             _hint(name, field, kind, lang)))
    return out


def parse_form(record_type: RecordType, form: dict[str, str], lang: str = "nl",
               today: date | None = None) -> dict[str, Any]:
    """Turn posted form values into record data; raises :class:`FormError` with a sentence per
    field (format, length, plausibility: a birth date in the future, a year out of range)."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, field in record_type.fields().items():
        raw = (form.get(name) or "").strip()
        if raw == "":
            continue
        label = record_type.field_label(name, lang)
        problem = _parse_field(name, field, raw, data)
        if problem is not None:
            key, values = problem
            errors[name] = t(f"rform.{key}", lang, label=label, **values)
    for name, (code, values) in plausibility.check(record_type, data,
                                                   today or date.today()).items():
        if name not in errors:
            errors[name] = t(f"rform.{code}", lang, label=record_type.field_label(name, lang),
                             **values)
    if errors:
        # Every complaint at once: the schema's about the fields that did parse (a BSN failing
        # the eleven test beside a date in the wrong format), not only the form's own.
        try:
            validate_data(record_type.id, data)
        except InvalidRecord as exc:
            schema = schema_errors(record_type, exc.errors, lang, dict(form))
            for name, sentence in schema.items():
                if name not in errors and (form.get(name) or "").strip():
                    errors[name] = sentence
        except RecordTooLarge:
            pass  # said when the rest is right
        raise FormError(errors)
    return data


def _parse_field(name: str, field: mfields.Field[Any], raw: str,
                 data: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """Put ``raw`` into ``data[name]``; or the problem (message key and values)."""
    kind = field_kind(field)
    low, high = _range(field)
    if kind == "cents":
        try:
            cents = euro_to_cents(raw)
        except ValueError as exc:
            return ("cents_decimals" if "decimals" in str(exc) else "cents"), {}
        if low is not None and cents < low:
            return "negative", {}
        if high is not None and cents > high:
            return "too_large", {}
        data[name] = cents
    elif kind == "integer":
        if not re.fullmatch(r"-?\d+", raw):
            if name == "house_number":
                return "house_number", {}
            return ("year" if name in plausibility.YEARS else "integer"), {}
        value = int(raw)
        if name == "house_number" and not (low or 1) <= value <= (high or 99999):
            return "house_number_range", {}
        if name not in plausibility.YEARS and low is not None and value < low:
            return "negative", {}
        data[name] = value
    elif kind == "decimal":
        text = raw.replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation:
            return "decimal", {}
        if (low is not None and number < low) or (high is not None and number > high):
            return "decimal_range", {"min": low, "max": high}
        data[name] = text
    elif kind == "date":
        try:
            date.fromisoformat(raw)
        except ValueError:
            return "date", {}
        data[name] = raw
    elif kind == "list":
        try:
            data[name] = _parse_woz_lines(raw)
        except _BadLine as exc:
            return "woz_line", {"line": exc.line}
    elif kind == "choice":
        if raw not in field.metadata.get("choices", {}):
            return "choice", {}
        data[name] = raw
    else:
        limit = max_length(field)
        if limit is not None and len(raw) > limit:
            return "too_long", {"max": limit, "n": len(raw)}
        if name == "postcode":
            compact = raw.upper().replace(" ", "")
            data[name] = f"{compact[:4]} {compact[4:]}" if len(compact) == 6 else raw
        else:
            data[name] = raw
    return None


def schema_errors(record_type: RecordType, errors: dict[str, list[str]], lang: str,
                  form: dict[str, str]) -> dict[str, str]:
    """The schema's complaints (field paths ``data.<name>``) as the form's sentences."""
    out: dict[str, str] = {}
    known = record_type.fields()
    for path in errors:
        name = path.split(".")[1] if path.startswith("data.") else path
        if name not in known:
            out.setdefault(name, t("record.invalid", lang))
            continue
        out[name] = field_sentence(record_type, name, lang, empty=not (form.get(name) or "").strip())
    return out


def field_sentence(record_type: RecordType, name: str, lang: str, *, empty: bool = False) -> str:
    """What a field expects, as a sentence with an example."""
    field = record_type.fields()[name]
    label = record_type.field_label(name, lang)
    kind = field_kind(field)
    if empty:
        return t("rform.required", lang, label=label)
    if name in ("bsn", "postcode"):
        return t(f"rform.{name}", lang)
    if name in ("iban", "account_iban"):
        return t("rform.iban", lang, label=label)
    if name == "currency":
        return t("rform.currency", lang, label=label)
    if name == "document_sha256":
        return t("rform.document", lang, label=label)
    if name in plausibility.YEARS:
        low, high = _range(field)
        return t("rform.year_range", lang, label=label, min=low, max=high)
    if name == "house_number":
        return t("rform.house_number_range", lang)
    if kind in ("cents", "date", "decimal", "integer", "choice"):
        return t(f"rform.{kind}", lang, label=label)
    if kind == "text" and max_length(field):
        return t("rform.too_long", lang, label=label, max=max_length(field), n="?")
    return t("rform.invalid", lang, label=label)


class _BadLine(ValueError):
    def __init__(self, line: int) -> None:
        super().__init__(f"line {line} is not date = amount")
        self.line = line


def _parse_woz_lines(text: str) -> list[dict[str, Any]]:
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        day, sep, amount = line.partition("=")
        try:
            if not sep:
                raise ValueError("expected date = amount")
            date.fromisoformat(day.strip())
            cents = euro_to_cents(amount)
            if cents < 0:
                raise ValueError("negative")
        except ValueError:
            raise _BadLine(number) from None
        items.append({"reference_date": day.strip(), "value_cents": cents})
    return items
