"""Plain values for grants: purposes, grant conditions, requests, grants, organisations.

Grant conditions are small frozen dataclasses with a stable ``tag`` and a
``verify(context)`` that says why it failed (after Warehouse's macaroon
caveats). New conditions are added at the end of :data:`CONDITIONS`, never
reordered or renamed: stored grants name them by tag.

Longer than the feature's other modules (about 430 lines) on purpose: it is
the one catalogue of plain values that every other grants module and the
stored rows share, with no I/O; split, each part would import the others.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar, cast
from urllib.parse import urlsplit

from vault.clock import from_iso

# -- purposes ---------------------------------------------------------------------------------

PURPOSES: dict[str, dict[str, str]] = {
    "rental-eligibility": {
        "nl": "beoordelen of je in aanmerking komt voor een huurwoning",
        "en": "assessing eligibility for a rental home",
    },
    "mortgage-application": {
        "nl": "beoordelen van een hypotheekaanvraag",
        "en": "assessing a mortgage application",
    },
    "credit-check": {
        "nl": "kredietwaardigheid toetsen",
        "en": "checking creditworthiness",
    },
    "employment": {
        "nl": "aangaan of uitvoeren van een dienstverband",
        "en": "entering into or carrying out employment",
    },
    "income-verification": {
        "nl": "inkomen controleren",
        "en": "verifying income",
    },
    "benefit-application": {
        "nl": "beoordelen van een aanvraag voor een uitkering of toeslag",
        "en": "assessing an application for a benefit or allowance",
    },
    "identity-verification": {
        "nl": "je identiteit vaststellen",
        "en": "verifying your identity",
    },
    "insurance-application": {
        "nl": "beoordelen van een verzekeringsaanvraag",
        "en": "assessing an insurance application",
    },
}


def purpose_label(code: str, lang: str = "nl") -> str:
    labels = PURPOSES.get(code)
    if not labels:
        return code
    return labels.get(lang) or labels["en"]


# -- ISO 8601 durations -----------------------------------------------------------------------

_DURATION = re.compile(
    r"^P(?!$)(?:(\d{1,4})Y)?(?:(\d{1,4})M)?(?:(\d{1,4})W)?(?:(\d{1,5})D)?"
    r"(?:T(?=\d)(?:(\d{1,6})H)?(?:(\d{1,7})M)?(?:(\d{1,9})S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration (``P30D``, ``P2M``, ``PT12H``) as a timedelta.

    A year counts as 365 days and a month as 30 days. Raises ``ValueError``.
    """
    match = _DURATION.match(text or "")
    if not match:
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P30D")
    y, mo, w, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=y * 365 + mo * 30 + w * 7 + d, hours=h, minutes=mi, seconds=s)


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    if rest == 0:
        return f"P{days}D"
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = f"P{days}D" if days else "P"
    out += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    out += f"{secs}S" if secs else ""
    return out


# -- conditions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The result of checking one condition: ``ok``, or a stable ``code`` and a ``reason``."""

    ok: bool
    code: str = ""
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


OK = Verdict(True)


@dataclass(frozen=True)
class AccessContext:
    """What a condition is checked against on one organisation request."""

    now: datetime
    uses: int = 0  # reads and document downloads already made under this grant
    purpose: str | None = None  # the purpose the organisation states, if it states one
    types: tuple[str, ...] = ()  # record types this request asks for (empty: all granted)


@dataclass(frozen=True)
class Expiry:
    tag: ClassVar[str] = "expiry"
    not_before: str
    expires_at: str

    def verify(self, context: AccessContext) -> Verdict:
        if context.now < from_iso(self.not_before):
            return Verdict(False, "not-yet-valid", f"the grant starts at {self.not_before}")
        if context.now >= from_iso(self.expires_at):
            return Verdict(False, "expired", f"the grant expired at {self.expires_at}")
        return OK


@dataclass(frozen=True)
class Purpose:
    tag: ClassVar[str] = "purpose"
    code: str

    def verify(self, context: AccessContext) -> Verdict:
        if self.code not in PURPOSES:
            return Verdict(False, "purpose-withdrawn", f"purpose {self.code!r} is not known")
        if context.purpose is not None and context.purpose != self.code:
            return Verdict(
                False, "wrong-purpose",
                f"the grant is for {self.code!r}, not for {context.purpose!r}",
            )
        return OK


@dataclass(frozen=True)
class Fields:
    """Record types and, per type, the fields granted. Only these ever leave the vault."""

    tag: ClassVar[str] = "fields"
    allowed: tuple[tuple[str, tuple[str, ...]], ...]

    @classmethod
    def of(cls, mapping: Mapping[str, Sequence[str]]) -> Fields:
        return cls(tuple(sorted((t, tuple(dict.fromkeys(f))) for t, f in mapping.items())))

    def as_dict(self) -> dict[str, list[str]]:
        return {t: list(f) for t, f in self.allowed}

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(t for t, _ in self.allowed)

    def verify(self, context: AccessContext) -> Verdict:
        extra = [t for t in context.types if t not in self.types]
        if extra:
            return Verdict(False, "type-not-granted",
                           f"record type(s) not granted: {', '.join(sorted(extra))}")
        return OK

    def filter(self, type_id: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """Only the granted fields of ``data`` (absent fields stay absent); None if not granted."""
        granted = dict(self.allowed).get(type_id)
        if granted is None:
            return None
        return {k: v for k, v in data.items() if k in granted}


@dataclass(frozen=True)
class UsageLimit:
    tag: ClassVar[str] = "usage-limit"
    max_uses: int

    def verify(self, context: AccessContext) -> Verdict:
        if context.uses >= self.max_uses:
            return Verdict(False, "usage-limit",
                           f"the grant allowed {self.max_uses} reads and downloads")
        return OK


@dataclass(frozen=True)
class Records:
    """The records the person chose, by id per type (their later versions included), and
    the types whose records added after ``since`` are covered too (she ticked "also records
    I add later" for them). A grant without this condition covers every record of its types
    (grants made before record-level consent).

    ``evidence_types``: the types whose shared records' evidence is shared too: the
    documents their **current** versions cite (``document_sha256``). It is worked out at
    each read (:func:`vault.grants.selection.cited_documents`), so a refreshed record that
    cites a new document shares the new one and no longer the one it stopped citing.
    (Grants approved before this member kept the documents cited at approval as chosen
    ``document`` ids.)"""

    tag: ClassVar[str] = "records"
    ids_by_type: tuple[tuple[str, tuple[str, ...]], ...]
    include_later_types: tuple[str, ...] = ()
    since: str = ""
    evidence_types: tuple[str, ...] = ()

    @classmethod
    def of(cls, ids: Mapping[str, Sequence[str]], include_later: Sequence[str] = (),
           since: str = "", evidence: Sequence[str] = ()) -> Records:
        return cls(tuple(sorted((t, tuple(dict.fromkeys(i))) for t, i in ids.items())),
                   tuple(sorted(set(include_later))), since, tuple(sorted(set(evidence))))

    def as_dict(self) -> dict[str, list[str]]:
        return {t: list(i) for t, i in self.ids_by_type}

    def ids(self, type_id: str) -> tuple[str, ...]:
        return dict(self.ids_by_type).get(type_id, ())

    def covers(self, type_id: str, record_id: str, created_at: str) -> bool:
        """Whether the record (any version of it) is shared under this grant."""
        if record_id in self.ids(type_id):
            return True
        return type_id in self.include_later_types and created_at > self.since

    def shares_document(self, record_id: str, created_at: str, sha256: Any,
                        cited: Set[str]) -> bool:
        """Whether a ``document`` record is shared: chosen (or added later, when ticked), or
        cited as evidence (``cited``: the hashes :func:`~vault.grants.selection.
        cited_documents` found for this grant)."""
        return self.covers("document", record_id, created_at) or (
            isinstance(sha256, str) and sha256 in cited)

    def verify(self, context: AccessContext) -> Verdict:
        return OK  # a filter on what is read, not a reason to refuse the read


Condition = Expiry | Purpose | Fields | UsageLimit | Records
_C = TypeVar("_C", Expiry, Purpose, Fields, UsageLimit, Records)

# Append only: the tags are stored inside vaults.
CONDITIONS: tuple[type[Condition], ...] = (Expiry, Purpose, Fields, UsageLimit, Records)
_BY_TAG: dict[str, type[Condition]] = {c.tag: c for c in CONDITIONS}


class UnknownCondition(ValueError):
    """A stored condition names a tag this version does not know: the grant fails closed."""


def condition_to_dict(condition: Condition) -> dict[str, Any]:
    if isinstance(condition, Fields):
        return {"tag": condition.tag, "allowed": condition.as_dict()}
    if isinstance(condition, Records):
        out_records: dict[str, Any] = {
            "tag": condition.tag, "ids_by_type": condition.as_dict(),
            "include_later_types": list(condition.include_later_types),
            "since": condition.since}
        if condition.evidence_types:
            out_records["evidence_types"] = list(condition.evidence_types)
        return out_records
    out: dict[str, Any] = {"tag": condition.tag}
    out.update({k: v for k, v in condition.__dict__.items()})
    return out


def condition_from_dict(data: dict[str, Any]) -> Condition:
    tag = data.get("tag")
    cls = _BY_TAG.get(tag) if isinstance(tag, str) else None
    if cls is None:
        raise UnknownCondition(f"unknown grant condition {tag!r}")
    args = {k: v for k, v in data.items() if k != "tag"}
    if cls is Fields:
        return Fields.of(args["allowed"])
    if cls is Records:
        return Records.of(args["ids_by_type"], args.get("include_later_types", ()),
                          args.get("since", ""), args.get("evidence_types", ()))
    return cls(**args)


def verify_all(conditions: list[Condition], context: AccessContext) -> Verdict:
    """The first failing condition's verdict, or OK when all hold."""
    for condition in conditions:
        verdict = condition.verify(context)
        if not verdict:
            return verdict
    return OK


# -- organisations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Organisation:
    """An OAuth 2.0 client as the owner sees it."""

    client_id: str
    name: str
    home_url: str
    logo_url: str | None = None
    contacts: tuple[str, ...] = ()
    redirect_uris: tuple[str, ...] = ()
    jwks_uri: str | None = None
    jwks: dict[str, Any] | None = None
    policy_url: str | None = None
    auth_method: str = "client_secret_basic"
    source: str = "registered"  # or "metadata-url"
    status: str = "active"  # or "pending" (awaiting operator approval)
    domain_verified: bool = False
    address: dict[str, str] | None = None  # schema.org PostalAddress members, for receipts

    @property
    def domain(self) -> str:
        return (urlsplit(self.home_url).hostname or "").lower()

    def summary(self) -> dict[str, Any]:
        """What is stored with a request or grant inside the vault (a snapshot)."""
        return {
            "client_id": self.client_id,
            "name": self.name,
            "home_url": self.home_url,
            "domain": self.domain,
            "domain_verified": self.domain_verified,
            "logo_url": self.logo_url,
            "contacts": list(self.contacts),
            "policy_url": self.policy_url,
            **({"address": dict(self.address)} if self.address else {}),
        }


# -- requests and grants ----------------------------------------------------------------------


@dataclass(frozen=True)
class RequestedRecords:
    """The validated content of one ``kluis_records`` authorization detail."""

    fields: dict[str, list[str]]  # type -> field names (all fields of the type when not narrowed)
    narrowed: dict[str, bool]  # type -> whether the organisation listed fields
    purpose: str
    purpose_description: str
    retention: str
    duration: str
    max_uses: int | None = None
    #: type -> how the organisation narrowed what it asks: ``categories`` (documents),
    #: ``max_records``, ``period`` (``{"from": ..., "to": ...}``), ``evidence`` (bool).
    narrowing: dict[str, dict[str, Any]] = field(default_factory=dict)

    def narrowing_of(self, type_id: str) -> dict[str, Any]:
        return self.narrowing.get(type_id, {})

    def evidence(self, type_id: str) -> bool:
        return bool(self.narrowing_of(type_id).get("evidence"))

    def to_detail(self) -> dict[str, Any]:
        detail: dict[str, Any] = {
            "type": "kluis_records",
            "records": [{"record_type": t, "fields": list(f), **self.narrowing_of(t)}
                        for t, f in self.fields.items()],
            "purpose": self.purpose,
            "retention": self.retention,
            "duration": self.duration,
        }
        if self.purpose_description:
            detail["purpose_description"] = self.purpose_description
        if self.max_uses is not None:
            detail["max_uses"] = self.max_uses
        return detail


@dataclass
class DataRequest:
    """An organisation's request as bound to one vault."""

    id: str
    organisation: dict[str, Any]
    requested: RequestedRecords
    redirect_uri: str | None
    state: str | None
    code_challenge: str | None
    received_at: str
    expires_at: str
    status: str = "pending"  # pending | approved | denied | expired
    decided_at: str | None = None
    grant_id: str | None = None
    origin: str = "oauth"  # oauth | owner


@dataclass
class Grant:
    id: str
    organisation: dict[str, Any]
    purpose: str
    purpose_description: str
    retention: str
    conditions: list[Condition]
    created_at: str
    status: str  # active | revoked  (expired is derived from the Expiry condition)
    slot_id: str | None
    request_id: str | None = None
    origin: str = "oauth"
    revoked_at: str | None = None
    revoked_by: str | None = None
    access_count: int = 0
    last_access_at: str | None = None
    receipt: dict[str, Any] | None = None
    receipt_id: str | None = None
    picked_up: bool = False

    def condition(self, cls: type[_C]) -> _C | None:
        for c in self.conditions:
            if isinstance(c, cls):
                return c
        return None

    # Every grant is written with an Expiry and a Fields condition (consent._create_grant);
    # only a row written otherwise lacks one, and then these are None (as before).
    @property
    def expiry(self) -> Expiry:
        return cast(Expiry, self.condition(Expiry))

    @property
    def fields(self) -> Fields:
        return cast(Fields, self.condition(Fields))

    @property
    def records(self) -> Records | None:
        """The record-level binding, or None (a grant from before it: every record of the
        granted types)."""
        return self.condition(Records)

    @property
    def usage_limit(self) -> int | None:
        limit = self.condition(UsageLimit)
        return limit.max_uses if limit else None

    @property
    def client_id(self) -> str:
        client_id: str = self.organisation["client_id"]
        return client_id

    def status_at(self, now: datetime) -> str:
        """``active``, ``not-yet-valid``, ``expired``, ``used-up`` or ``revoked``."""
        if self.status != "active":
            return self.status
        exp = self.expiry
        if exp and now >= from_iso(exp.expires_at):
            return "expired"
        if exp and now < from_iso(exp.not_before):
            return "not-yet-valid"
        if self.usage_limit is not None and self.access_count >= self.usage_limit:
            return "used-up"
        return "active"

    def authorization_details(self) -> list[dict[str, Any]]:
        """The grant as RFC 9396 authorization details (what the organisation receives)."""
        bound = self.records
        entries: list[dict[str, Any]] = []
        for t, f in self.fields.allowed:
            entry: dict[str, Any] = {"record_type": t, "fields": list(f)}
            if bound is not None:
                entry["record_ids"] = list(bound.ids(t))
                entry["include_later"] = t in bound.include_later_types
                if t in bound.evidence_types:
                    entry["evidence"] = True
            entries.append(entry)
        detail: dict[str, Any] = {
            "type": "kluis_records",
            "records": entries,
            "purpose": self.purpose,
            "retention": self.retention,
            "not_before": self.expiry.not_before,
            "expires_at": self.expiry.expires_at,
        }
        if self.purpose_description:
            detail["purpose_description"] = self.purpose_description
        if self.usage_limit is not None:
            detail["max_uses"] = self.usage_limit
        return [detail]

    def to_dict(self, now: datetime, *, for_owner: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "status": self.status_at(now),
            "organisation": self.organisation,
            "purpose": self.purpose,
            "purpose_label": {"nl": purpose_label(self.purpose, "nl"),
                              "en": purpose_label(self.purpose, "en")},
            "purpose_description": self.purpose_description,
            "retention": self.retention,
            "records": self.fields.as_dict(),
            "record_ids": self.records.as_dict() if self.records else None,
            "include_later": list(self.records.include_later_types) if self.records else None,
            "not_before": self.expiry.not_before,
            "expires_at": self.expiry.expires_at,
            "max_uses": self.usage_limit,
            "created_at": self.created_at,
            "access_count": self.access_count,
            "last_access_at": self.last_access_at,
        }
        if for_owner:
            out.update({
                "origin": self.origin,
                "request_id": self.request_id,
                "revoked_at": self.revoked_at,
                "revoked_by": self.revoked_by,
                "receipt_id": self.receipt_id,
                "picked_up": self.picked_up,
            })
        return out

