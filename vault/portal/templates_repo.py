"""Request templates: what the organisation asks, for which purpose, for how long.

A template's ``records`` use the instance's record catalogue (:mod:`vault.records.catalogue`):
``{"record_type", "fields"?, "categories"?, "years"?, "max_records"?, "evidence"?}``;
``years: 2`` asks for the last two whole calendar years. ``refresh``: the portal reads again
while access lasts, at most once a day (:func:`vault.portal.dossiers.refresh_due`); otherwise
it reads once. :func:`authorization_details` turns a template into the RFC 9396 request a
Kluis instance understands.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from vault.clock import now_iso, utcnow
from vault.grants.models import PURPOSES
from vault.portal.store import Store
from vault.records.catalogue import RECORD_TYPES

DOCUMENT_CATEGORIES = ("payslip", "annual-statement", "uwv", "duo", "pension", "identity", "other")

EXAMPLES: list[dict[str, Any]] = [
    {"name": "Huurwoning toewijzen", "purpose": "rental-eligibility",
     "purpose_text": "Om te beoordelen of u in aanmerking komt voor de aangeboden huurwoning "
                     "hebben wij uw inkomen van de laatste twee jaar, uw huishouden en uw "
                     "jaaropgave nodig.",
     "records": [{"record_type": "income", "years": 2, "evidence": True},
                 {"record_type": "household-member"},
                 {"record_type": "document", "categories": ["annual-statement"],
                  "max_records": 2}],
     "duration_days": 30, "retention_days": 60, "delete_on_revoke": True},
    {"name": "Hypotheekaanvraag", "purpose": "mortgage-application",
     "purpose_text": "Voor de beoordeling van uw hypotheekaanvraag hebben wij uw inkomen, "
                     "pensioen, studieschuld en de WOZ-waarde van uw woning nodig.",
     "records": [{"record_type": "income", "years": 2, "evidence": True},
                 {"record_type": "pension"}, {"record_type": "student-debt"},
                 {"record_type": "property"}],
     "duration_days": 60, "retention_days": 365, "delete_on_revoke": False},
]


class TemplateError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def validate(data: dict[str, Any]) -> dict[str, Any]:
    """A clean template from form or JSON input; :class:`TemplateError` names each problem."""
    errors: dict[str, str] = {}
    name = str(data.get("name") or "").strip()
    if not 1 <= len(name) <= 120:
        errors["name"] = "Geef de sjabloon een naam (hoogstens 120 tekens)."
    purpose = data.get("purpose")
    if purpose not in PURPOSES:
        errors["purpose"] = "Kies een doel uit de lijst."
    purpose_text = str(data.get("purpose_text") or "").strip()
    if len(purpose_text) > 500:
        errors["purpose_text"] = "Hoogstens 500 tekens."
    records: list[dict[str, Any]] = []
    for entry in data.get("records") or []:
        type_id = entry.get("record_type")
        if type_id not in RECORD_TYPES:
            errors["records"] = f"Onbekend gegevenstype {type_id!r}."
            continue
        clean: dict[str, Any] = {"record_type": type_id}
        known = RECORD_TYPES[type_id].field_names()
        if entry.get("fields"):
            unknown = [f for f in entry["fields"] if f not in known]
            if unknown:
                errors["records"] = f"Onbekende velden {', '.join(unknown)}."
            clean["fields"] = [f for f in entry["fields"] if f in known]
        if entry.get("categories"):
            cats = [c for c in entry["categories"] if c in DOCUMENT_CATEGORIES]
            if type_id == "document" and cats:
                clean["categories"] = cats
        for key, low, high in (("years", 1, 10), ("max_records", 1, 1000)):
            if entry.get(key) not in (None, "", 0):
                try:
                    value = int(entry[key])
                except (TypeError, ValueError):
                    value = -1
                if not low <= value <= high:
                    what = "Laatste jaren" if key == "years" else "Aantal gegevens"
                    errors["records"] = f"{what}: van {low} tot {high}."
                else:
                    clean[key] = value
        if entry.get("evidence"):
            clean["evidence"] = True
        records.append(clean)
    if not records and "records" not in errors:
        errors["records"] = "Vraag ten minste één soort gegeven."
    numbers: dict[str, int] = {}
    for key, low, high in (("duration_days", 1, 730), ("retention_days", 1, 3650)):
        try:
            numbers[key] = int(data.get(key) or 0)
        except (TypeError, ValueError):
            numbers[key] = 0
        if not low <= numbers[key] <= high:
            errors[key] = f"Van {low} tot {high} dagen."
    if errors:
        raise TemplateError(errors)
    return {"name": name, "purpose": purpose, "purpose_text": purpose_text, "records": records,
            "duration_days": numbers["duration_days"],
            "retention_days": numbers["retention_days"],
            "delete_on_revoke": bool(data.get("delete_on_revoke")),
            "refresh": bool(data.get("refresh"))}


def save(store: Store, data: dict[str, Any], template_id: str | None = None) -> str:
    clean = validate(data)
    now = now_iso()
    with store.transaction() as tx:
        if template_id is None:
            template_id = secrets.token_hex(6)
            tx.execute("INSERT INTO templates (id, name, purpose, purpose_text, records,"
                       " duration_days, retention_days, delete_on_revoke, refresh, created_at,"
                       " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (template_id, clean["name"], clean["purpose"], clean["purpose_text"],
                        json.dumps(clean["records"]), clean["duration_days"],
                        clean["retention_days"], int(clean["delete_on_revoke"]),
                        int(clean["refresh"]), now, now))
        else:
            tx.execute("UPDATE templates SET name = ?, purpose = ?, purpose_text = ?, records = ?,"
                       " duration_days = ?, retention_days = ?, delete_on_revoke = ?,"
                       " refresh = ?, updated_at = ? WHERE id = ?",
                       (clean["name"], clean["purpose"], clean["purpose_text"],
                        json.dumps(clean["records"]), clean["duration_days"],
                        clean["retention_days"], int(clean["delete_on_revoke"]),
                        int(clean["refresh"]), now, template_id))
    return template_id


def seed_examples(store: Store) -> int:
    """Add the example templates to an empty catalogue; how many were added."""
    if store.conn.execute("SELECT count(*) FROM templates").fetchone()[0]:
        return 0
    for example in EXAMPLES:
        save(store, example)
    return len(EXAMPLES)


def _out(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["records"] = json.loads(row["records"])
    out["delete_on_revoke"] = bool(row["delete_on_revoke"])
    out["refresh"] = bool(row["refresh"])
    return out


def get(store: Store, template_id: str) -> dict[str, Any] | None:
    row = store.conn.execute("SELECT * FROM templates WHERE id = ?", (template_id,)).fetchone()
    return _out(row) if row else None


def list_all(store: Store, *, active_only: bool = False) -> list[dict[str, Any]]:
    query = "SELECT * FROM templates" + (" WHERE active = 1" if active_only else "") + \
        " ORDER BY name"
    return [_out(r) for r in store.conn.execute(query)]


def set_active(store: Store, template_id: str, active: bool) -> None:
    with store.transaction() as tx:
        tx.execute("UPDATE templates SET active = ? WHERE id = ?", (int(active), template_id))


def authorization_details(template: dict[str, Any], *, year: int | None = None
                          ) -> list[dict[str, Any]]:
    """The RFC 9396 ``kluis_records`` request for ``template`` (``years`` end last year)."""
    this_year = year or utcnow().year
    records = []
    for entry in template["records"]:
        asked: dict[str, Any] = {"record_type": entry["record_type"]}
        for key in ("fields", "categories", "max_records"):
            if entry.get(key):
                asked[key] = entry[key]
        if entry.get("years"):
            asked["period"] = {"from": this_year - int(entry["years"]), "to": this_year - 1}
        if entry.get("evidence"):
            asked["evidence"] = True
        records.append(asked)
    details: dict[str, Any] = {
        "type": "kluis_records", "records": records, "purpose": template["purpose"],
        "retention": f"P{int(template['retention_days'])}D",
        "duration": f"P{int(template['duration_days'])}D"}
    if template.get("purpose_text"):
        details["purpose_description"] = template["purpose_text"][:500]
    return [details]
