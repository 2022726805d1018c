"""Which records a grant shares: what matches a request, and the person's choice. No Flask.

An organisation asks by record type, optionally narrowed (document ``categories``,
a ``period``, ``max_records``, ``evidence``). The person picks records. This module
says which of her records match the request (only those are preselected and only
those may be chosen), turns her choice into the grant's :class:`Fields` and
:class:`Records` conditions, and finds the documents shared records cite as
evidence (at each read: evidence follows the records' current versions). A choice
that names a record outside the request is refused whole (:class:`InvalidInput`,
422): nothing is granted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from vault.grants.errors import InvalidInput
from vault.grants.models import RequestedRecords
from vault.grants.schemas import period_bounds
from vault.records.models import Record
from vault.records.service import list_records
from vault.storage.vaults import VaultDB

# Date fields that say what period a record is about, per type, in order of preference.
_PERIOD_DATES = ("reference_date", "balance_date", "valid_from", "start_date")


def record_period(record: Record) -> tuple[date, date]:
    """The period a record is about: its year (income, tax year), else its own date
    (start, valuation, balance), else the day it was added."""
    data = record.data
    for key in ("year", "tax_year"):
        if isinstance(data.get(key), int):
            return date(data[key], 1, 1), date(data[key], 12, 31)
    for key in _PERIOD_DATES:
        value = data.get(key)
        if isinstance(value, str):
            try:
                start = date.fromisoformat(value)
            except ValueError:
                continue
            end = data.get("end_date")
            try:
                stop = date.fromisoformat(end) if isinstance(end, str) else start
            except ValueError:
                stop = start
            return start, max(start, stop)
    day = date.fromisoformat(record.created_at[:10])
    return day, day


def matches(requested: RequestedRecords, record: Record) -> bool:
    """Whether ``record`` is of a type asked for and within the request's categories and
    period (``max_records`` is a limit on the choice, not on a record)."""
    if record.type not in requested.fields:
        return False
    narrow = requested.narrowing_of(record.type)
    categories = narrow.get("categories")
    if categories and record.data.get("category") not in categories:
        return False
    period = narrow.get("period")
    if period:
        start, stop = period_bounds(period)
        first, last = record_period(record)
        if last < start or first > stop:
            return False
    return True


def candidates(vault: VaultDB, requested: RequestedRecords) -> dict[str, list[Record]]:
    """The vault's records of every asked type, newest first."""
    out: dict[str, list[Record]] = {t: [] for t in requested.fields}
    for record in list_records(vault, list(requested.fields), newest_first=True):
        out[record.type].append(record)
    return out


def preselected(requested: RequestedRecords, found: Mapping[str, Sequence[Record]]
                ) -> dict[str, list[str]]:
    """The ids ticked before the person touches anything: what matches the request, newest
    first, at most ``max_records`` per type."""
    out: dict[str, list[str]] = {}
    for type_id, records in found.items():
        ids = [r.id for r in records if matches(requested, r)]
        limit = requested.narrowing_of(type_id).get("max_records")
        out[type_id] = ids[:limit] if limit else ids
    return out


def cited_documents(vault: VaultDB, grant: Any) -> set[str]:
    """The SHA-256 of every document the grant shares as evidence: cited
    (``document_sha256``) by the current version of a record it shares, of a type whose
    evidence the person shares (:attr:`Records.evidence_types`). Empty for a grant without
    evidence or without ``document`` among its granted types."""
    bound = grant.records
    if bound is None or not bound.evidence_types \
            or grant.fields.filter("document", {}) is None:
        return set()
    return {r.data["document_sha256"]
            for r in list_records(vault, list(bound.evidence_types))
            if isinstance(r.data.get("document_sha256"), str)
            and bound.covers(r.type, r.id, r.created_at)}


@dataclass(frozen=True)
class Choice:
    """What the person shares: fields per type, record ids per type, the "later" types,
    and the types whose evidence documents are shared (worked out at each read)."""

    fields: dict[str, list[str]]
    record_ids: dict[str, list[str]]
    include_later: list[str]
    evidence: list[str] = field(default_factory=list)


def resolve(vault: VaultDB, requested: RequestedRecords, fields: dict[str, list[str]],
            records: list[dict[str, Any]] | None) -> Choice:
    """The person's choice checked against the request and the vault.

    ``fields`` is the (already narrowed) fields per type; ``records`` the owner API's
    ``records`` member: ``[{"record_type", "record_ids", "fields", "include_later",
    "evidence"}]``. Without ``records`` the matching records are shared (what the consent
    screen preselects), none added later. Evidence documents the request asks for are
    added under ``document``. Raises :class:`InvalidInput` naming every wrong entry.
    """
    found = candidates(vault, requested)
    by_id = {r.id: r for items in found.values() for r in items}
    if records is None:
        chosen_ids = {t: ids for t, ids in preselected(requested, found).items() if t in fields}
        choice_fields = dict(fields)
        later: list[str] = []
        evidence = {t: requested.evidence(t) for t in chosen_ids}
    else:
        chosen_ids, choice_fields, later, evidence = _check(requested, records, fields, by_id)
    shared: dict[str, list[str]] = {}
    for type_id, ids in chosen_ids.items():
        if ids or type_id in later:
            shared[type_id] = ids
    # Evidence is not fixed here: the grant shares what the shared records cite at each
    # read (cited_documents), so "document" is granted whenever evidence is.
    with_evidence = sorted(t for t in shared if evidence.get(t) and choice_fields.get(t))
    if with_evidence:
        shared.setdefault("document", [])
        if not choice_fields.get("document"):
            from vault.records.catalogue import RECORD_TYPES

            choice_fields["document"] = RECORD_TYPES["document"].field_names()
    final_fields = {t: f for t, f in choice_fields.items() if t in shared and f}
    if not final_fields and records is None:
        # Approved as asked while she holds nothing that matches: a grant that shares
        # nothing (now or later), which the consent screen says in words.
        empty = {t: f for t, f in choice_fields.items() if f}
        return Choice(empty, {t: [] for t in empty}, [])
    if not final_fields:
        raise InvalidInput("nothing left to share; refuse the request instead",
                           {"records": ["Choose at least one record, or refuse."]})
    return Choice(final_fields, {t: shared[t] for t in final_fields},
                  [t for t in later if t in final_fields],
                  [t for t in with_evidence if t in final_fields])


def _check(requested: RequestedRecords, records: Any, fields: dict[str, list[str]],
           by_id: dict[str, Record]
           ) -> tuple[dict[str, list[str]], dict[str, list[str]], list[str], dict[str, bool]]:
    if not isinstance(records, list):
        raise InvalidInput("records must be a list", {"records": ["A list of choices."]})
    errors: dict[str, list[str]] = {}
    ids: dict[str, list[str]] = {}
    chosen_fields: dict[str, list[str]] = {}
    later: list[str] = []
    evidence: dict[str, bool] = {}
    for n, entry in enumerate(records):
        path = f"records.{n}"
        if not isinstance(entry, dict):
            errors[path] = ["An object with record_type and record_ids."]
            continue
        type_id = entry.get("record_type")
        if not isinstance(type_id, str) or type_id not in requested.fields:
            errors[f"{path}.record_type"] = ["This record type was not asked for."]
            continue
        if type_id in ids:
            errors[f"{path}.record_type"] = ["Each record type may appear once."]
            continue
        wanted = entry.get("record_ids", [])
        if not isinstance(wanted, list) or not all(isinstance(i, str) for i in wanted):
            errors[f"{path}.record_ids"] = ["A list of record ids."]
            continue
        wrong = []
        for record_id in wanted:
            record = by_id.get(record_id)
            if record is None or record.type != type_id:
                wrong.append(f"{record_id} is not a record of type {type_id}")
            elif not matches(requested, record):
                wrong.append(f"{record_id} does not match what was asked")
        limit = requested.narrowing_of(type_id).get("max_records")
        if limit and len(set(wanted)) > limit:
            wrong.append(f"At most {limit} records were asked for.")
        if wrong:
            errors[f"{path}.record_ids"] = wrong
            continue
        names = entry.get("fields")
        asked = requested.fields[type_id]
        if names is None:
            names = fields.get(type_id, [])
        elif not isinstance(names, list) or not all(isinstance(f, str) for f in names):
            errors[f"{path}.fields"] = ["A list of field names."]
            continue
        else:
            extra = [f for f in names if f not in asked]
            if extra:
                errors[f"{path}.fields"] = [f"Not asked for: {', '.join(extra)}."]
                continue
        include_later = entry.get("include_later", False)
        if not isinstance(include_later, bool):
            errors[f"{path}.include_later"] = ["true or false."]
            continue
        with_evidence = entry.get("evidence", requested.evidence(type_id))
        if not isinstance(with_evidence, bool) or (with_evidence
                                                    and not requested.evidence(type_id)):
            errors[f"{path}.evidence"] = ["Evidence may be left out, not added."]
            continue
        ids[type_id] = list(dict.fromkeys(wanted))
        chosen_fields[type_id] = [f for f in asked if f in names]
        evidence[type_id] = with_evidence
        if include_later:
            later.append(type_id)
    if errors:
        raise InvalidInput("the chosen records are not valid", errors)
    return ids, chosen_fields, later, evidence
