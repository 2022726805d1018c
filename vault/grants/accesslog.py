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
    "grant.narrowed": {"nl": "Toestemming kleiner gemaakt", "en": "Access narrowed"},
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
    #: The ``seq`` to pass as ``before`` for the next (older) page; None on the last page.
    next_before: int | None = None


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
    events = vault.events(grant_id=grant_id, limit=limit + 1, before=before)
    more = len(events) > limit
    events = events[:limit]
    problems = vault.verify_log()
    return LogPage([event_dict(e) for e in events], not problems, problems,
                   events[-1].seq if more and events else None)




HISTORY: dict[str, dict[str, str]] = {
    "created": {"nl": "Toestemming gegeven", "en": "Access granted"},
    "narrowed": {"nl": "Kleiner gemaakt dan gevraagd", "en": "Narrowed from what was asked"},
    "narrowed-later": {"nl": "Kleiner gemaakt: {count} gegeven(s) niet meer gedeeld",
                       "en": "Narrowed: {count} record(s) no longer shared"},
    "token-issued": {"nl": "Toegangssleutel opgehaald", "en": "Access token collected"},
    "read": {"nl": "Gegevens gelezen", "en": "Data read"},
    "download": {"nl": "Document {name} gedownload", "en": "Document {name} downloaded"},
    "viewed": {"nl": "Toestemming bekeken", "en": "Grant viewed"},
    "revoked": {"nl": "Ingetrokken", "en": "Revoked"},
    "expired": {"nl": "Verlopen", "en": "Expired"},
}
_KINDS = {"grant.created": "created", "grant.token-issued": "token-issued",
          "grant.read": "read", "grant.download": "download", "grant.viewed": "viewed",
          "grant.revoked": "revoked", "grant.narrowed": "narrowed-later"}


def grant_history(vault: VaultDB, grant: Any, now: str, lang: str = "nl",
                  asked: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    """What happened to one grant, oldest first: created (and narrowed, when less was
    shared than ``asked``), the token collected, every read and download, viewed, revoked,
    or expired. Each entry: ``at``, ``kind``, ``by`` (``owner`` or the organisation's
    name), ``text`` in ``lang`` and the event's ``detail``."""
    org = grant.organisation.get("name") or grant.client_id
    out: list[dict[str, Any]] = []
    for event in reversed(vault.events(grant_id=grant.id, limit=100_000)):
        kind = _KINDS.get(event.action)
        if kind is None:
            continue
        by = "owner" if event.actor == "owner" else (event.detail.get("organisation") or org)
        if kind == "revoked" and event.detail.get("by") == "organisation":
            by = org
        label = HISTORY[kind].get(lang) or HISTORY[kind]["en"]
        text = label.format(name=event.detail.get("document", "")) if kind == "download" \
            else label
        detail = event.detail
        if kind == "narrowed-later":
            # The owner narrowed the grant later: shown like a narrowing at approval (the
            # fields left out), saying how many records are no longer shared.
            removed = detail.get("removed") or {}
            text = label.format(count=sum(len(i) for i in
                                          (removed.get("record_ids") or {}).values()))
            kind = "narrowed"
            detail = {"left_out": removed.get("fields") or {},
                      "record_ids": detail.get("record_ids")}
        out.append({"at": event.at, "kind": kind, "by": by, "text": text, "detail": detail})
        if kind == "created" and asked is not None:
            granted = grant.fields.as_dict()
            left_out = {t: [f for f in names if f not in granted.get(t, [])]
                        for t, names in asked.items()}
            left_out = {t: f for t, f in left_out.items() if f}
            if left_out:
                out.append({"at": event.at, "kind": "narrowed", "by": "owner",
                            "text": HISTORY["narrowed"].get(lang) or HISTORY["narrowed"]["en"],
                            "detail": {"left_out": left_out,
                                       "record_ids": event.detail.get("record_ids")}})
    expires_at = grant.expiry.expires_at
    if grant.status == "active" and now >= expires_at:
        out.append({"at": expires_at, "kind": "expired", "by": "",
                    "text": HISTORY["expired"].get(lang) or HISTORY["expired"]["en"],
                    "detail": {}})
    return out
