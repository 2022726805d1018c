"""Record values as a person reads them (euro amounts, choice labels, lists), in nl or en.

One place for the UI, the consent screen and the PDF export.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields as mfields

from vault import formats


def euro(cents: int | None, lang: str) -> str:
    """Cents as a euro amount without the sign: ``1.234,56`` (nl) or ``1,234.56`` (en)."""
    if cents is None:
        return ""
    return formats.number(cents, lang)


def format_cents(cents: int, lang: str) -> str:
    """``EUR 48.250,00`` (nl), ``EUR 48,250.00`` (en): :func:`vault.formats.money`."""
    return formats.money(cents, lang)


def field_label(field: mfields.Field[Any], name: str, lang: str) -> str:
    labels = field.metadata.get("label", {})
    return labels.get(lang) or labels.get("en") or name


def format_value(field: mfields.Field[Any], value: Any, lang: str, *, with_code: bool = False,
                 nested: bool = False) -> str:
    """One field value as a person reads it. ``with_code`` keeps a choice's code beside its label
    (the PDF, where the machine-readable value matters too). A date reads as ``14 maart 1992``,
    except inside a list (``nested``), whose lines keep the ISO day they are typed with
    (``2025-01-01 = 350000``, see vault/ui/forms.py)."""
    if value is None or value == "":
        return ""
    meta = field.metadata
    if meta.get("unit") == "cents" and isinstance(value, int):
        return format_cents(value, lang)
    if "choices" in meta and isinstance(value, str):
        choice = meta["choices"].get(value)
        if not choice:
            return value
        label = choice.get(lang) or choice["en"]
        return f"{label} ({value})" if with_code else label
    if isinstance(field, mfields.Date) and isinstance(value, str) and not nested:
        return formats.day(value, lang)
    if isinstance(field, mfields.List) and isinstance(value, list):
        inner = field.inner
        if isinstance(inner, mfields.Nested):
            lines = []
            for item in value:
                parts = [f"{field_label(sub, name, lang)}: {format_value(sub, item[name], lang, nested=True)}"
                         for name, sub in inner.schema.fields.items()
                         if isinstance(item, dict) and item.get(name) is not None]
                lines.append("; ".join(parts))
            return "\n".join(lines)
        return "\n".join(str(v) for v in value)
    return str(value)


MONTHS = {
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}


def format_day(iso: str | None, lang: str) -> str:
    """An RFC 3339 moment as a person reads the day, in the instance's time zone
    (``KLUIS_TIMEZONE``): ``31 december 2026`` (nl) or ``31 December 2026`` (en)."""
    return formats.day(iso, lang)
