"""Marshmallow's and the domain's English messages map to catalogue keys in both languages."""

from __future__ import annotations

import inspect

from marshmallow import fields, validate

from vault.ui import messages  # noqa: F401 - registers the templates
from vault.ui.i18n import MESSAGES, t, template_key, translate


def _marshmallow_messages() -> set[str]:
    found: set[str] = set()
    for _, cls in inspect.getmembers(fields, inspect.isclass):
        found |= set(getattr(cls, "default_error_messages", {}).values())
    for _, cls in inspect.getmembers(validate, inspect.isclass):
        if isinstance(getattr(cls, "default_message", None), str):
            found.add(cls.default_message)
    for name in ("message_min", "message_max", "message_all", "message_equal"):
        found.add(getattr(validate.Length, name))
    return found


def test_every_marshmallow_default_message_has_a_dutch_text():
    samples = {"{input}": "x", "{obj_type}": "datetime", "{awareness}": "aware",
               "{min}": "1", "{max}": "9", "{equal}": "3", "{other}": "a", "{choices}": "a, b",
               "{values}": "a", "{input!r}": "'x'"}
    missing = []
    for template in _marshmallow_messages():
        text = template
        for placeholder, value in samples.items():
            text = text.replace(placeholder, value)
        if "{" in text:  # Range's operator templates are written out in messages.py
            continue
        if template_key(text) is None:
            missing.append(template)
    assert not missing


def test_range_messages_of_each_operator_translate():
    for minimum, maximum in ((0, None), (None, 10), (0, 10)):
        for min_inclusive in (True, False):
            for max_inclusive in (True, False):
                rng = validate.Range(minimum, maximum, min_inclusive=min_inclusive,
                                     max_inclusive=max_inclusive)
                try:
                    rng(-1 if minimum is not None else 11)
                except Exception as exc:  # noqa: BLE001 - marshmallow.ValidationError
                    message = exc.messages[0]  # type: ignore[attr-defined]
                    assert template_key(message) is not None, message


def test_a_message_translates_with_its_parameters():
    assert translate("Length must be between 1 and 200.", "nl") == \
        "Gebruik 1 tot en met 200 tekens."
    assert translate("Length must be between 1 and 200.", "en") == \
        "Length must be between 1 and 200."
    assert translate("A password has at least 12 characters.", "nl") == \
        "Een wachtwoord heeft minstens 12 tekens."
    assert translate("something nobody wrote a template for", "nl") == \
        "something nobody wrote a template for"


def test_every_catalogue_entry_has_both_languages():
    assert not [k for k, v in MESSAGES.items() if not v.get("nl") or not v.get("en")]
    assert t("mm.required", "nl") == "Dit veld is verplicht."
