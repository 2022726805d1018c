"""The owner's log in plain sentences: an event becomes a message key and its parameters.

Imports no Flask. :func:`describe` turns one event of the vault's hash-chained log into a
:class:`Message` (a key of the UI's message catalogue, ``log.event.<...>``, and the values for
its placeholders, already in the reader's language): "Woonstichting De Kern las je Inkomen
2025 ACME BV", "Je zette tweestapsverificatie aan", "Inloggen mislukt: verkeerd wachtwoord".
Organisations are named by their display name (from the event, else from the grant it
concerns), never by their client id; records by their display title, looked up in the open
vault (:func:`names_for`). An event type nobody wrote a sentence for gets a generic one.

:data:`ACTIONS` lists every event type the code writes with the group the "what" filter puts
it in; a unit test scans the source and fails when an event type is missing here.
:func:`find` reads one filtered page (who, what, period) newest first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vault.records.catalogue import RECORD_TYPES
from vault.records.service import RecordNotFound, get_record
from vault.storage.vaults import Event, VaultDB

#: Every event type the code writes, and its group for the "what" filter.
ACTIONS: dict[str, str] = {
    # organisations looking at what was shared
    "grant.read": "access",
    "grant.download": "access",
    "grant.viewed": "access",
    "grant.token-issued": "access",
    # consent: requests, grants, their end
    "request.received": "consent",
    "request.denied": "consent",
    "grant.created": "consent",
    "grant.revoked": "consent",
    "grant.narrowed": "consent",
    "grant.deletion-stated": "consent",
    # the records themselves
    "record.created": "records",
    "record.updated": "records",
    "record.deleted": "records",
    "connector.merged": "records",
    "export.created": "records",
    # signing in and the keys to the vault
    "account.created": "security",
    "owner.signed-in": "security",
    "owner.sign-in-failed": "security",
    "owner.sign-in-locked": "security",
    "password.changed": "security",
    "password.reset": "security",
    "totp.enabled": "security",
    "totp.reset": "security",
    "totp.disabled": "security",
    "passkey.added": "security",
    "passkey.unlocks": "security",
    "passkey.removed": "security",
    "recovery.renewed": "security",
    "session.ended": "security",
    "app-token.created": "security",
    "app-token.revoked": "security",
    # the vault file and the instance
    "vault.archived": "vault",
    "vault.imported": "vault",
    "vault.older-state-accepted": "vault",
    "access-journal.damaged": "vault",
    "inbox.unreadable": "vault",
}
#: The "what" filter's groups, in the order the filter shows them; "other": any type not above.
GROUPS: tuple[str, ...] = ("access", "consent", "records", "security", "vault", "other")
#: The "who" filter's fixed choices (organisations are added per vault: ``org:<client id>``).
WHO: tuple[str, ...] = ("owner", "connectors", "system")

#: Record titles named one by one in a read; more records are counted per type instead.
TITLES_NAMED = 5


@dataclass(frozen=True)
class Message:
    """A sentence of the log: ``key`` in the message catalogue and its placeholders' values."""

    key: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Names:
    """What the sentences name, looked up once per page inside the open vault.

    ``organisations``: client id -> display name; ``grants``: grant id -> display name;
    ``records``: record id -> (type id, data); ``connectors``: connector id -> title.
    """

    organisations: dict[str, str] = field(default_factory=dict)
    grants: dict[str, str] = field(default_factory=dict)
    records: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    connectors: dict[str, str] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)  # records looked up and not found


_WORDS = {
    "you": {"nl": "Je", "en": "You"},
    "your": {"nl": "je", "en": "your"},
    "an_organisation": {"nl": "Een organisatie", "en": "An organisation"},
    "kluis": {"nl": "Kluis", "en": "Kluis"},
    "and": {"nl": "en", "en": "and"},
    "everything": {"nl": "al je gegevens", "en": "all your data"},
    "nothing": {"nl": "geen gegevens", "en": "no records"},
    "records": {"nl": "{n} gegevens", "en": "{n} records"},
    "deleted_record": {"nl": "een verwijderd gegeven", "en": "a deleted record"},
}


def _word(key: str, lang: str, **params: Any) -> str:
    entry = _WORDS[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**params) if params else text


def group_of(action: str) -> str:
    return ACTIONS.get(action, "other")


def actions_in(groups: Iterable[str]) -> tuple[list[str], list[str]]:
    """``(actions, not_actions)`` for :meth:`VaultDB.events` that select the given groups."""
    wanted = set(groups)
    actions = [a for a, g in ACTIONS.items() if g in wanted]
    if "other" in wanted:
        # Unknown types as well: everything but the known types of groups not wanted.
        return [], [a for a, g in ACTIONS.items() if g not in wanted]
    return actions, []


def _join(items: Sequence[str], lang: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {_word('and', lang)} {items[-1]}"


def type_label(type_id: str, lang: str) -> str:
    record_type = RECORD_TYPES.get(type_id)
    return record_type.label(lang) if record_type else type_id


def record_name(record_id: str | None, type_id: str | None, names: Names, lang: str) -> str:
    """A record as the log names it: its type and title ("Inkomen 2025 ACME BV")."""
    known = names.records.get(record_id or "")
    if known is not None:
        record_type = RECORD_TYPES.get(known[0])
        if record_type is not None:
            title = record_type.title(known[1], lang)
            return f"{record_type.label(lang)} {title}".strip()
    if type_id:
        return type_label(type_id, lang)
    return _word("deleted_record", lang)


def organisation(event: Event, names: Names, lang: str) -> str:
    """The organisation an event concerns, by display name; never its client id."""
    name = event.detail.get("organisation")
    if isinstance(name, str) and name:
        return name
    if event.grant_id and names.grants.get(event.grant_id):
        return names.grants[event.grant_id]
    if event.actor.startswith("org:"):
        found = names.organisations.get(event.actor.removeprefix("org:"))
        if found:
            return found
    return _word("an_organisation", lang)


def actor_name(event: Event, names: Names, lang: str) -> str:
    """Who did it, as the subject of a sentence."""
    actor = event.actor
    if actor == "owner":
        return _word("you", lang)
    if actor.startswith("org:"):
        return organisation(event, names, lang)
    if actor.startswith("connector:"):
        connector = actor.removeprefix("connector:")
        return names.connectors.get(connector) or connector
    return _word("kluis", lang)


def _read_what(event: Event, names: Names, lang: str) -> str:
    detail = event.detail
    ids = [i for i in detail.get("record_ids") or [] if isinstance(i, str)]
    if ids and len(ids) <= TITLES_NAMED:
        return _join([record_name(i, None, names, lang) for i in ids], lang)
    types = detail.get("types")
    if isinstance(types, list) and types:
        labels = [type_label(t, lang) for t in types if isinstance(t, str)]
        count = detail.get("records")
        what = _join(labels, lang)
        return f"{what} ({_word('records', lang, n=count)})" if isinstance(count, int) else what
    return _word("nothing", lang)


def _granted_what(detail: dict[str, Any], lang: str) -> str:
    granted = detail.get("records")
    if isinstance(granted, dict) and granted:
        return _join([type_label(t, lang) for t in granted], lang)
    if isinstance(granted, list) and granted:
        return _join([type_label(str(t), lang) for t in granted], lang)
    return _word("everything", lang)


def describe(event: Event, lang: str, names: Names | None = None) -> Message:
    """The sentence for ``event`` in ``lang``: a message key and its parameters."""
    names = names or Names()
    action, detail, actor = event.action, event.detail, event.actor
    who = actor_name(event, names, lang)
    by_owner = actor == "owner"
    org = organisation(event, names, lang)
    key = f"log.event.{action}"

    if action in ("record.created", "record.updated", "record.deleted"):
        what = record_name(detail.get("record"), detail.get("type"), names, lang)
        return Message(key if by_owner else f"{key}.by", {"who": who, "record": what})
    if action == "grant.read":
        return Message(key, {"org": org, "what": _read_what(event, names, lang)})
    if action == "grant.download":
        name = detail.get("document") or record_name(detail.get("record"), "document",
                                                     names, lang)
        return Message(key, {"org": org, "document": str(name)})
    if action == "grant.viewed":
        return Message(f"{key}.receipt" if detail.get("receipt") else key, {"org": org})
    if action in ("grant.token-issued", "grant.deletion-stated", "request.received",
                  "request.denied", "grant.narrowed"):
        return Message(key, {"org": org})
    if action == "grant.created":
        return Message(key, {"org": org, "what": _granted_what(detail, lang)})
    if action == "grant.revoked":
        by = detail.get("by")
        variant = {"organisation": ".by-organisation", "code-replay": ".code-replay"}.get(
            str(by), "")
        if not variant and actor.startswith("org:"):
            variant = ".by-organisation"
        return Message(key + variant, {"org": org})
    if action == "owner.signed-in":
        method = str(detail.get("method") or "")
        if "passkey" in method:
            return Message(f"{key}.passkey" if method == "passkey" else f"{key}.password-passkey",
                           {})
        return Message(f"{key}.totp" if "totp" in method else key, {})
    if action in ("passkey.added", "passkey.unlocks", "passkey.removed"):
        return Message(key, {"name": str(detail.get("name") or "")})
    if action == "session.ended":
        return Message(f"{key}.others" if detail.get("count") is not None else key,
                       {"n": str(int(detail.get("count") or 0))})
    if action == "owner.sign-in-failed":
        reason = str(detail.get("reason") or "")
        return Message(f"{key}.{reason}" if reason in ("password", "totp", "recovery-code")
                       else key, {})
    if action in ("app-token.created", "app-token.revoked"):
        return Message(key, {"name": str(detail.get("name") or "")})
    if action == "connector.merged":
        return Message(key, {"who": who, "created": str(int(detail.get("created") or 0)),
                             "updated": str(int(detail.get("updated") or 0))})
    if action == "export.created":
        return Message(key, {"n": str(int(detail.get("records") or 0))})
    if action in ACTIONS:
        return Message(key, {"who": who})
    return Message("log.event.unknown", {"who": who, "action": action})


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """The log's filters. ``who``: ``owner``, ``connectors``, ``system`` or ``org:<client id>``
    (empty: everyone); ``groups``: of :data:`GROUPS` (empty: all); ``since``/``until``: RFC
    3339 moments, ``since <= at < until``."""

    who: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None


def _query(filters: Filters) -> dict[str, Any]:
    args: dict[str, Any] = {"since": filters.since, "until": filters.until}
    if filters.who:
        exact = [w for w in filters.who if w == "owner" or w.startswith("org:")]
        prefixes = ["connector:"] if "connectors" in filters.who else []
        if "system" in filters.who:
            exact.append("system")
        args["actors"] = exact
        args["actor_prefixes"] = prefixes
    groups = [g for g in filters.groups if g in GROUPS]
    if groups and set(groups) != set(GROUPS):
        args["actions"], args["not_actions"] = actions_in(groups)
        if not args["actions"]:
            args["actions"] = None
    return args


def find(vault: VaultDB, filters: Filters, *, limit: int, before: int | None = None
         ) -> tuple[list[Event], int | None]:
    """One page of the filtered log, newest first, and the ``seq`` the next (older) page
    starts before (None: this was the last page)."""
    events = vault.events(limit=limit + 1, before=before, **_query(filters))
    more = len(events) > limit
    events = events[:limit]
    return events, (events[-1].seq if more and events else None)


def organisations(vault: VaultDB) -> dict[str, str]:
    """Every organisation this vault dealt with: client id -> display name (newest name)."""
    out: dict[str, str] = {}
    for row in vault.conn.execute("SELECT client_id, organisation FROM grants ORDER BY created_at"):
        out[row["client_id"]] = _name_of(row["organisation"]) or out.get(row["client_id"], "")
    for row in vault.conn.execute(
            "SELECT actor, detail FROM events WHERE actor LIKE 'org:%' ORDER BY seq"):
        client_id = row["actor"].removeprefix("org:")
        name = json.loads(row["detail"]).get("organisation")
        if isinstance(name, str) and name:
            out[client_id] = name
        else:
            out.setdefault(client_id, "")
    return out


def _name_of(organisation_json: str) -> str:
    try:
        value = json.loads(organisation_json)
    except ValueError:
        return ""
    name = value.get("name") if isinstance(value, dict) else None
    return name if isinstance(name, str) else ""


def names_for(vault: VaultDB, events: Sequence[Event], *,
              connectors: dict[str, str] | None = None, into: Names | None = None) -> Names:
    """The organisation names and record titles ``events`` mention, from the open vault.

    With ``into`` (names found for earlier events of the same request), only the records not
    looked up yet are read."""
    if into is None:
        names = Names(connectors=dict(connectors or {}))
        for row in vault.conn.execute("SELECT id, client_id, organisation FROM grants"):
            name = _name_of(row["organisation"])
            if name:
                names.organisations[row["client_id"]] = name
                names.grants[row["id"]] = name
    else:
        names = into
    record_ids: set[str] = set()
    for event in events:
        if isinstance(event.detail.get("record"), str):
            record_ids.add(event.detail["record"])
        ids = event.detail.get("record_ids")
        if isinstance(ids, list) and len(ids) <= TITLES_NAMED:
            record_ids.update(i for i in ids if isinstance(i, str))
    for record_id in sorted(record_ids - names.records.keys() - names.missing):
        try:
            record = get_record(vault, record_id)
        except RecordNotFound:
            names.missing.add(record_id)  # deleted since: the sentence names its type
            continue
        names.records[record_id] = (record.type, record.data)
    return names
