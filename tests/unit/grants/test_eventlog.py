"""Every event type the code writes has a sentence in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import vault
from vault.grants import eventlog
from vault.storage.vaults import Event
from vault.ui import i18n
from vault.ui import log as log_ui  # noqa: F401 - registers the sentences

ROOT = Path(vault.__file__).parent
# ``action="x.y"`` keyword arguments, and the security page's ``_log(owner, "x.y", ...)``.
WRITTEN = re.compile(r"""(?:action\s*=\s*|\b_log\([^,()]+,\s*)["']([a-z0-9][a-z0-9.-]+\.[a-z0-9.-]+)["']""")


def written_actions() -> set[str]:
    found: set[str] = set()
    for path in ROOT.rglob("*.py"):
        found.update(WRITTEN.findall(path.read_text(encoding="utf-8")))
    return found


def event(action: str, actor: str = "owner", **detail) -> Event:
    return Event(1, "2025-03-14T08:09:00.000000Z", actor, action, None, detail, "", "")


def test_the_scan_finds_the_event_types_of_every_feature():
    found = written_actions()
    assert {"grant.read", "record.created", "owner.signed-in", "owner.sign-in-failed",
            "connector.merged", "export.created", "access-journal.damaged",
            "session.ended"} <= found


def test_every_event_type_the_code_writes_has_a_group_and_a_sentence():
    missing = sorted(written_actions() - set(eventlog.ACTIONS))
    assert not missing, f"event types without a sentence in vault/grants/eventlog.py: {missing}"


@pytest.mark.parametrize("action", sorted(eventlog.ACTIONS))
@pytest.mark.parametrize("actor", ["owner", "org:org_x", "connector:brp", "system"])
def test_each_sentence_exists_in_both_languages_and_fills_in(action, actor):
    for detail in ({}, {"reason": "totp", "by": "organisation", "method": "password+totp",
                        "receipt": True, "record": "r1", "type": "income"}):
        for lang in ("nl", "en"):
            message = eventlog.describe(event(action, actor, **detail), lang)
            entry = i18n.MESSAGES.get(message.key)
            assert entry is not None, message.key
            assert entry.get("nl") and entry.get("en"), message.key
            text = entry[lang].format(**message.params)
            assert "{" not in text and "org_x" not in text


def test_an_unknown_event_type_gets_a_readable_generic_sentence():
    message = eventlog.describe(event("future.thing", "org:org_x", organisation="De Kern"), "nl")
    assert message.key == "log.event.unknown"
    assert i18n.t(message.key, "nl", **message.params) == "De Kern: gebeurtenis „future.thing”"


def test_a_read_names_the_records_by_type_and_title():
    names = eventlog.Names(records={"r1": ("income", {"year": 2025, "source": "ACME BV"})})
    read = event("grant.read", "org:org_x", organisation="De Kern", types=["income"],
                 records=1, record_ids=["r1"])
    message = eventlog.describe(read, "nl", names)
    assert i18n.t(message.key, "nl", **message.params) == "De Kern las je Inkomen 2025 ACME BV"
    many = event("grant.read", "org:org_x", types=["income", "person"], records=9)
    message = eventlog.describe(many, "en", eventlog.Names(organisations={"org_x": "De Kern"}))
    assert i18n.t(message.key, "en", **message.params) == (
        "De Kern read your Income and Person (9 records)")


def test_groups_select_known_and_unknown_types():
    assert eventlog.actions_in(["access"])[0] == [
        "grant.read", "grant.download", "grant.viewed", "grant.token-issued"]
    actions, not_actions = eventlog.actions_in(["other"])
    assert actions == [] and "grant.read" in not_actions
