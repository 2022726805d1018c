"""Read helpers for the owner's access log (the hash-chained events inside the vault)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vault.storage.vaults import Event, VaultDB

# Plain-language titles of the actions the grants feature writes, Dutch first.
ACTIONS: dict[str, dict[str, str]] = {
    "grant.read": {"nl": "Gegevens gelezen", "en": "Data read"},
    "grant.download": {"nl": "Document gedownload", "en": "Document downloaded"},
    "grant.viewed": {"nl": "Toestemming bekeken", "en": "Grant viewed"},
    "grant.created": {"nl": "Toestemming gegeven", "en": "Access granted"},
    "grant.revoked": {"nl": "Toestemming ingetrokken", "en": "Access revoked"},
    "grant.token-issued": {"nl": "Toegangssleutel opgehaald", "en": "Access token collected"},
    "request.received": {"nl": "Verzoek ontvangen", "en": "Request received"},
    "request.denied": {"nl": "Verzoek geweigerd", "en": "Request refused"},
    "owner.signed-in": {"nl": "Ingelogd", "en": "Signed in"},
    "account.created": {"nl": "Account aangemaakt", "en": "Account created"},
    "record.created": {"nl": "Gegeven toegevoegd", "en": "Record added"},
    "record.updated": {"nl": "Gegeven bijgewerkt", "en": "Record updated"},
    "record.deleted": {"nl": "Gegeven verwijderd", "en": "Record deleted"},
}


def action_label(action: str, lang: str = "nl") -> str:
    labels = ACTIONS.get(action)
    return (labels.get(lang) or labels["en"]) if labels else action


@dataclass(frozen=True)
class LogPage:
    events: list[dict[str, Any]]
    intact: bool
    problems: list[str]


def event_dict(event: Event) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": event.at,
        "actor": event.actor,
        "action": event.action,
        "grant_id": event.grant_id,
        "detail": event.detail,
        "hash": event.hash,
    }


def read_log(vault: VaultDB, *, grant_id: str | None = None, limit: int = 200,
             before: int | None = None) -> LogPage:
    """Newest events first (optionally of one grant), and whether the whole chain is intact."""
    limit = max(1, min(int(limit), 1000))
    events = vault.events(grant_id=grant_id, limit=limit, before=before)
    problems = vault.verify_log()
    return LogPage([event_dict(e) for e in events], not problems, problems)


