"""Record values as a person reads them (euro amounts, choice labels, lists), in nl or en.

One place for the UI, the consent screen and the PDF export.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields as mfields


def euro(cents: int | None, lang: str) -> str:
    """Cents as a euro amount without the sign: ``1.234,56`` (nl) or ``1,234.56`` (en)."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(int(cents)), 100)
    grouped = f"{whole:,}"
    if lang == "nl":
        return f"{sign}{grouped.replace(',', '.')},{rest:02d}"
    return f"{sign}{grouped}.{rest:02d}"


def format_cents(cents: int, lang: str) -> str:
    return f"€ {euro(cents, lang)}"


def field_label(field: mfields.Field[Any], name: str, lang: str) -> str:
    labels = field.metadata.get("label", {})
    return labels.get(lang) or labels.get("en") or name


def format_value(field: mfields.Field[Any], value: Any, lang: str, *, with_code: bool = False) -> str:
    """One field value as a person reads it. ``with_code`` keeps a choice's code beside its label
    (the PDF, where the machine-readable value matters too)."""
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
    if isinstance(field, mfields.List) and isinstance(value, list):
        inner = field.inner
        if isinstance(inner, mfields.Nested):
            lines = []
            for item in value:
                parts = [f"{field_label(sub, name, lang)}: {format_value(sub, item[name], lang)}"
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
LOCAL_TIME = "Europe/Amsterdam"


def format_day(iso: str | None, lang: str) -> str:
    """An RFC 3339 moment as a person reads the day, in local time (Europe/Amsterdam):
    ``31 december 2026`` (nl) or ``31 December 2026`` (en)."""
    if not iso:
        return ""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        day = moment.astimezone(ZoneInfo(LOCAL_TIME))
    except (ValueError, KeyError):
        return iso[:10]
    months = MONTHS.get(lang, MONTHS["en"])
    return f"{day.day} {months[day.month - 1]} {day.year}"
