"""The owner narrows a grant she gave: fewer fields, fewer records. No Flask.

A narrowed grant stays active and keeps its token: from the organisation's very next
request on it reads only what is left (the grant's conditions change in the vault, which
moves ``records_rev``, so every web worker's cached handle re-reads the grant, see
:mod:`vault.grants.redemption`). The organisation is told with a ``grant.narrowed``
webhook carrying the new authorization details, the owner's log says what was removed
(``grant.narrowed``), and the grant gets a new signed receipt that says what it covers
now. Only ever narrower: a field, record, "later" or evidence the grant did not cover is
refused (422) and nothing changes.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from vault.clock import utcnow
from vault.grants import events, receipts
from vault.grants.errors import Conflict, InvalidInput
from vault.grants.models import Condition, Fields, Grant, Records
from vault.records.service import list_records
from vault.storage.instance import Instance
from vault.storage.vaults import VaultDB


def narrow(instance: Instance, vault: VaultDB, grant: Grant, records: Any, *,
           issuer: str, lang: str = "nl") -> Grant:
    """Narrow ``grant`` to ``records``: ``[{"record_type", "fields"?, "record_ids"?,
    "include_later"?, "evidence"?}]``, what is left per type (types left out are removed;
    a member left out keeps what the grant has). Returns the grant as it is now.

    Raises :class:`InvalidInput` (naming each wrong path) when the choice adds anything,
    removes nothing or leaves nothing, :class:`Conflict` when the grant is not active.
    """
    from vault.grants import repository
    from vault.grants.consent import shared_records

    if grant.status_at(utcnow()) not in ("active", "not-yet-valid"):
        raise Conflict("only an active grant can be narrowed")
    fields, ids, later, evidence = _check(vault, grant, records)
    bound = grant.records
    new_records = Records.of(ids, later, since=bound.since if bound else grant.created_at,
                             evidence=evidence)
    new_fields = Fields.of(fields)
    old_fields = grant.fields.as_dict()
    old_ids = _covered_ids(vault, grant)
    if new_fields == grant.fields and bound is not None and ids == old_ids \
            and set(later) == set(bound.include_later_types) \
            and set(evidence) == set(bound.evidence_types):
        raise InvalidInput("nothing was removed", {"records": ["Leave out something the "
                                                               "grant shares now."]})
    conditions: list[Condition] = [c for c in grant.conditions
                                   if not isinstance(c, (Fields, Records))]
    conditions.insert(min(2, len(conditions)), new_fields)
    conditions.append(new_records)
    narrowed = replace(grant, conditions=conditions, receipt_id=str(uuid.uuid4()))
    document = receipts.build(narrowed, vault_id=vault.id, issuer=issuer, lang=lang,
                              shared=shared_records(vault, narrowed, lang))
    signed = receipts.sign(document, instance.signing_key())
    removed_fields = {t: [f for f in names if f not in fields.get(t, [])]
                      for t, names in old_fields.items()}
    removed_ids = {t: [i for i in old if i not in ids.get(t, [])]
                   for t, old in old_ids.items()}
    detail = {
        "organisation": grant.organisation.get("name"),
        "removed": {"fields": {t: f for t, f in removed_fields.items() if f},
                    "record_ids": {t: i for t, i in removed_ids.items() if i},
                    "include_later": sorted(set(bound.include_later_types if bound
                                                else old_fields) - set(later)),
                    "evidence": sorted(set(bound.evidence_types if bound else ())
                                       - set(evidence))},
        "records": fields, "record_ids": ids, "include_later": later,
    }
    with vault.transaction() as vtx:
        if not repository.set_conditions(vtx, grant.id, conditions, signed,
                                         narrowed.receipt_id or ""):
            raise Conflict("only an active grant can be narrowed")
        vault.append_event(vtx, actor="owner", action="grant.narrowed", grant_id=grant.id,
                           detail=detail)
        with instance.transaction() as itx:
            events.emit(itx, events.GRANT_NARROWED, client_id=grant.client_id,
                        grant_id=grant.id,
                        data={"authorization_details": narrowed.authorization_details()})
    current = repository.grant(vault.conn, grant.id)
    assert current is not None  # noqa: S101 - written just now, in this vault
    return current


def narrowable(vault: VaultDB, grant: Grant, lang: str = "nl") -> list[dict[str, Any]]:
    """What the owner may leave out, per granted type, for the grant page's form: the
    fields (name, label), the records shared now (id, title, newest first), and whether
    "later" and evidence are on (they can only be turned off)."""
    from vault.grants.consent import record_title
    from vault.records.catalogue import RECORD_TYPES

    bound = grant.records
    covered = _covered_ids(vault, grant)
    out = []
    for type_id, names in grant.fields.allowed:
        record_type = RECORD_TYPES[type_id]
        chosen = set(covered[type_id])
        out.append({
            "record_type": type_id,
            "label": record_type.label(lang),
            "fields": [(n, record_type.field_label(n, lang)) for n in names],
            "records": [(r.id, record_title(type_id, r.data, lang))
                        for r in list_records(vault, [type_id], newest_first=True)
                        if r.id in chosen],
            "include_later": bound is None or type_id in bound.include_later_types,
            "evidence": bound is not None and type_id in bound.evidence_types,
        })
    return out


def _covered_ids(vault: VaultDB, grant: Grant) -> dict[str, list[str]]:
    """Per granted type, the ids of the records the grant covers now (chosen, or added later
    under "later"; every record of the type for a grant without record binding). Evidence
    documents are not listed: they follow the records that cite them."""
    bound = grant.records
    out: dict[str, list[str]] = {}
    for type_id in grant.fields.types:
        current = list_records(vault, [type_id])
        if bound is None:
            out[type_id] = [r.id for r in current]
        else:
            chosen = list(bound.ids(type_id))
            out[type_id] = chosen + [r.id for r in current if r.id not in chosen
                                     and bound.covers(type_id, r.id, r.created_at)]
    return out


def _check(vault: VaultDB, grant: Grant, records: Any
           ) -> tuple[dict[str, list[str]], dict[str, list[str]], list[str], list[str]]:
    if not isinstance(records, list):
        raise InvalidInput("records must be a list", {"records": ["A list, one entry per type "
                                                                  "that stays shared."]})
    bound = grant.records
    granted = grant.fields.as_dict()
    covered = _covered_ids(vault, grant)
    errors: dict[str, list[str]] = {}
    fields: dict[str, list[str]] = {}
    ids: dict[str, list[str]] = {}
    later: list[str] = []
    evidence: list[str] = []
    for n, entry in enumerate(records):
        path = f"records.{n}"
        type_id = entry.get("record_type") if isinstance(entry, dict) else None
        if not isinstance(type_id, str) or type_id not in granted:
            errors[f"{path}.record_type"] = ["This record type is not shared under the grant."]
            continue
        if type_id in fields:
            errors[f"{path}.record_type"] = ["Each record type may appear once."]
            continue
        names = entry.get("fields", granted[type_id])
        if not isinstance(names, list) or any(n not in granted[type_id] for n in names):
            errors[f"{path}.fields"] = ["Only fields the grant shares now."]
            continue
        chosen = entry.get("record_ids", covered[type_id])
        if not isinstance(chosen, list) or any(i not in covered[type_id] for i in chosen):
            errors[f"{path}.record_ids"] = ["Only records the grant shares now."]
            continue
        was_later = bound is None or type_id in bound.include_later_types
        keep_later = entry.get("include_later", was_later)
        if not isinstance(keep_later, bool) or (keep_later and not was_later):
            errors[f"{path}.include_later"] = ["May be turned off, not on."]
            continue
        had_evidence = bound is not None and type_id in bound.evidence_types
        keep_evidence = entry.get("evidence", had_evidence)
        if not isinstance(keep_evidence, bool) or (keep_evidence and not had_evidence):
            errors[f"{path}.evidence"] = ["May be turned off, not on."]
            continue
        if not names:
            continue  # no field left: the type is removed
        fields[type_id] = [f for f in granted[type_id] if f in names]
        ids[type_id] = list(dict.fromkeys(chosen))
        if keep_later:
            later.append(type_id)
        if keep_evidence:
            evidence.append(type_id)
    if errors:
        raise InvalidInput("the narrowed grant is not valid", errors)
    # A type shares something while it has records, "later", or (documents) evidence.
    left = {t for t in fields if ids[t] or t in later
            or (t == "document" and any(e in fields for e in evidence))}
    evidence = [e for e in evidence if e in left]
    fields = {t: f for t, f in fields.items() if t in left}
    if not fields:
        raise InvalidInput("nothing left to share; revoke the grant instead",
                           {"records": ["Keep at least one record, or revoke the grant."]})
    return (fields, {t: ids[t] for t in fields}, sorted(t for t in later if t in fields),
            sorted(evidence))
