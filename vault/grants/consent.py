"""The owner's side: requests bound to the vault, decisions, grants, revocation. No Flask.

Approving a request (optionally narrowed: fewer types and fields, a shorter
time) creates the grant, its key slot, the signed consent receipt and a
one-time code that hands the access token to the token endpoint
(:mod:`vault.grants.codes`). The owner can also create a grant directly and
hand over a pickup code. Revocation deletes the slot first (the token is dead
from then on, whatever happens next), then marks the grant revoked in the vault.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from vault.clock import from_iso, now_iso, to_iso, utcnow
from vault.config import Settings
from vault.crypto import keys, slots
from vault.grants import codes, events, receipts, repository, selection
from vault.grants.errors import Conflict, InvalidInput, NotFound, OAuthError
from vault.grants.models import (
    Condition,
    DataRequest,
    Expiry,
    Fields,
    Grant,
    Purpose,
    Records,
    RequestedRecords,
    UsageLimit,
    parse_duration,
    purpose_label,
)
from vault.grants.organisations import Organisations
from vault.grants.schemas import InvalidDetails, parse_authorization_details
from vault.records.catalogue import RECORD_TYPES
from vault.records.service import list_records
from vault.storage.instance import Instance
from vault.storage.vaults import VaultDB


@dataclass(frozen=True)
class Decision:
    """What approving or denying returns: where to send the person's browser."""

    redirect_uri: str | None
    grant: Grant | None = None
    pickup_code: str | None = None


@dataclass(frozen=True)
class Approval(Decision):
    """What approving returns: a :class:`Decision` that always has its grant."""

    grant: Grant


class Consent:
    """Requests, decisions and grants inside one vault (the owner's session has it open)."""

    def __init__(self, instance: Instance, settings: Settings, orgs: Organisations) -> None:
        self.instance = instance
        self.settings = settings
        self.orgs = orgs

    @property
    def issuer(self) -> str:
        return self.settings.public_url

    # -- requests ---------------------------------------------------------------------------

    def get_request(self, vault: VaultDB, request_id: str) -> DataRequest:
        request = repository.data_request(vault.conn, request_id)
        if request is None:
            raise NotFound("no such request")
        return request

    def list_requests(self, vault: VaultDB, status: str | None = None) -> list[DataRequest]:
        out = repository.data_requests(vault.conn)
        return [r for r in out if status is None or r.status == status]

    # -- decisions --------------------------------------------------------------------------

    def deny(self, vault: VaultDB, request_id: str) -> Decision:
        """Refuse a request; the organisation gets ``access_denied``."""
        request = self.get_request(vault, request_id)
        if request.status != "pending":
            raise Conflict(f"this request is {request.status} already")
        with vault.transaction() as tx:
            repository.deny_request(tx, request_id, now_iso())
            with self.instance.transaction() as itx:
                events.request_decided(tx, itx, request_id, approved=False)
            vault.append_event(tx, actor="owner", action="request.denied",
                               detail={"request": request_id,
                                       "organisation": request.organisation.get("name")})
        redirect = None
        if request.redirect_uri:
            redirect = _with_query(request.redirect_uri, {
                "error": "access_denied",
                "error_description": "The person refused the request.",
                "state": request.state, "iss": self.issuer,
            })
        return Decision(redirect)

    def narrow(self, requested: RequestedRecords, fields: dict[str, list[str]] | None
               ) -> dict[str, list[str]]:
        """Apply the owner's narrowing: a subset of the asked types and fields, never more."""
        if fields is None:
            return {t: list(f) for t, f in requested.fields.items()}
        if not isinstance(fields, dict):
            raise InvalidInput("fields must map record types to field lists",
                               {"fields": ["An object: record type -> list of fields."]})
        errors: dict[str, list[str]] = {}
        out: dict[str, list[str]] = {}
        for type_id, names in fields.items():
            asked = requested.fields.get(type_id)
            if asked is None:
                errors[f"fields.{type_id}"] = ["This record type was not asked for."]
                continue
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                errors[f"fields.{type_id}"] = ["A list of field names."]
                continue
            extra = [n for n in names if n not in asked]
            if extra:
                errors[f"fields.{type_id}"] = [f"Not asked for: {', '.join(extra)}."]
                continue
            if names:
                out[type_id] = [n for n in asked if n in names]
        if errors:
            raise InvalidInput("the narrowed fields are not valid", errors)
        if not out:
            raise InvalidInput("nothing left to share; refuse the request instead",
                               {"fields": ["Choose at least one field, or refuse."]})
        return out

    def approve(self, vault: VaultDB, dek: bytes, request_id: str, *,
                fields: dict[str, list[str]] | None = None, expires_at: str | None = None,
                lang: str = "nl", records: list[dict[str, Any]] | None = None) -> Approval:
        """Approve a request (optionally narrowed). Creates the grant, its key slot, the
        signed receipt and a one-time authorization code; returns the redirect with the code.

        ``records`` is the person's choice of records per type (see
        :func:`vault.grants.selection.resolve`); without it the records matching the
        request are shared, none added later. The grant is bound to those record ids.
        """
        request = self.get_request(vault, request_id)
        if request.status != "pending":
            raise Conflict(f"this request is {request.status} already")
        narrowed = (self.narrow(request.requested, fields) if records is None or fields
                    else {t: list(f) for t, f in request.requested.fields.items()})
        choice = selection.resolve(vault, request.requested, narrowed, records)
        not_before, until = _expires(request.requested.duration, expires_at)
        code = keys.new_token(codes.CODE_PREFIX)
        grant = self._create_grant(
            vault, dek, organisation=request.organisation, requested=request.requested,
            granted=choice.fields, choice=choice, not_before=not_before, expires_at=until,
            origin="oauth",
            request_id=request_id, code=code, code_kind="authorization_code",
            redirect_uri=request.redirect_uri, code_challenge=request.code_challenge,
            lang=lang,
        )
        redirect = _with_query(request.redirect_uri or "", {
            "code": code, "state": request.state, "iss": self.issuer,
        })
        return Approval(redirect, grant)

    def create_owner_grant(self, vault: VaultDB, dek: bytes, *, client_id: str,
                           authorization_details: Any, lang: str = "nl",
                           records: list[dict[str, Any]] | None = None) -> Approval:
        """The owner picks an organisation and what to share; returns a one-time pickup code.

        Record-level like an approved request: ``records`` is her choice of records per type
        (as for :meth:`approve`; ``include_later`` off unless she ticks it); without it the
        grant is bound to the records of the written types she holds now (narrowed by any
        ``categories``/``period``/``max_records``), none added later.
        """
        try:
            org = self.orgs.get(client_id)
        except OAuthError as exc:
            raise InvalidInput(exc.description, {"client_id": [exc.description]}) from None
        try:
            requested = parse_authorization_details(authorization_details)
        except InvalidDetails as exc:
            raise InvalidInput("what to share is not valid", exc.errors) from None
        not_before, until = _expires(requested.duration, None)
        choice = selection.resolve(vault, requested, dict(requested.fields), records)
        code = keys.new_token(codes.PICKUP_PREFIX)
        request_id = os.urandom(12).hex()
        grant = self._create_grant(
            vault, dek, organisation=org.summary(), requested=requested,
            granted=choice.fields, choice=choice, not_before=not_before,
            expires_at=until,
            origin="owner", request_id=request_id, code=code, code_kind="pickup",
            redirect_uri=None, code_challenge=None, lang=lang,
        )
        return Approval(None, grant, code)

    def _create_grant(self, vault: VaultDB, dek: bytes, *, organisation: dict[str, Any],
                      requested: RequestedRecords, granted: dict[str, list[str]],
                      choice: selection.Choice | None, not_before: str, expires_at: str,
                      origin: str, request_id: str,
                      code: str, code_kind: str, redirect_uri: str | None,
                      code_challenge: str | None, lang: str) -> Grant:
        grant_id = os.urandom(12).hex()
        now = now_iso()
        conditions: list[Condition] = [
            Expiry(not_before, expires_at),
            Purpose(requested.purpose),
            Fields.of(granted),
        ]
        if requested.max_uses is not None:
            conditions.append(UsageLimit(requested.max_uses))
        if choice is not None:
            conditions.append(Records.of(choice.record_ids, choice.include_later, since=now,
                                         evidence=choice.evidence))
        grant = Grant(
            id=grant_id, organisation=organisation, purpose=requested.purpose,
            purpose_description=requested.purpose_description, retention=requested.retention,
            conditions=conditions, created_at=now, status="active", slot_id=None,
            request_id=request_id, origin=origin, receipt_id=str(uuid.uuid4()),
        )
        document = receipts.build(grant, vault_id=vault.id, issuer=self.issuer, lang=lang,
                                  shared=shared_records(vault, grant, lang))
        signed = receipts.sign(document, self.instance.signing_key())
        token = keys.new_token(codes.ACCESS_TOKEN_PREFIX)
        slot = slots.wrap_token(
            dek, token, vault_id=vault.id, kind=slots.GRANT, token_hash=keys.token_hash(token),
            grant_id=grant_id, created_at=now, expires_at=expires_at,
        )
        grant = replace(grant, slot_id=slot.id, receipt=signed)
        code_lifetime = (codes.CODE_LIFETIME if code_kind == "authorization_code"
                         else codes.PICKUP_LIFETIME)
        code_expires = min(from_iso(expires_at), utcnow() + code_lifetime)
        code_hash = keys.token_hash(code)
        sealed = codes.seal(code, code_hash, {
            "access_token": token,
            "grant_id": grant_id,
            "expires_at": expires_at,
            "authorization_details": grant.authorization_details(),
            "consent_receipt": signed,
        })
        with vault.transaction() as vtx:
            if origin == "owner":
                repository.insert_owner_request(
                    vtx, request_id=request_id, organisation=organisation,
                    details=requested.to_detail(), at=now, expires_at=expires_at,
                    grant_id=grant_id)
            elif not repository.approve_request(vtx, request_id, grant_id, now):
                raise Conflict("this request was decided already")
            repository.insert_grant(vtx, grant, conditions=conditions, not_before=not_before,
                                    expires_at=expires_at, slot_id=slot.id, receipt=signed)
            vault.append_event(
                vtx, actor="owner", action="grant.created", grant_id=grant_id,
                detail={"organisation": organisation.get("name"), "purpose": grant.purpose,
                        "records": granted,
                        **({"record_ids": choice.record_ids,
                            "include_later": choice.include_later} if choice else {}),
                        "expires_at": expires_at, "origin": origin},
            )
            # The instance rows are written last inside the vault transaction: if they fail,
            # the vault rolls back; if the vault commit then fails, they are removed again.
            with self.instance.transaction() as itx:
                self.instance.put_slot(itx, slot)
                repository.insert_code(
                    itx, code_hash=code_hash, kind=code_kind,
                    client_id=organisation["client_id"], redirect_uri=redirect_uri,
                    code_challenge=code_challenge, sealed=sealed, created_at=now,
                    expires_at=to_iso(code_expires))
                events.grant_created(itx, grant_id=grant_id,
                                     client_id=organisation["client_id"], vault_id=vault.id,
                                     expires_at=expires_at)
                if origin != "owner":
                    events.request_decided(vtx, itx, request_id, approved=True,
                                           grant_id=grant_id)
        return self.get_grant(vault, grant_id)

    # -- grants -----------------------------------------------------------------------------

    def get_grant(self, vault: VaultDB, grant_id: str) -> Grant:
        grant = repository.grant(vault.conn, grant_id)
        if grant is None:
            raise NotFound("no such grant")
        return grant

    def list_grants(self, vault: VaultDB) -> list[Grant]:
        return repository.grants(vault.conn)

    def revoke_grant(self, vault: VaultDB, grant: Grant, *, by: str) -> bool:
        """Delete the slot first (the token is dead from then on), then mark the grant.

        ``by`` is ``owner`` or ``org:<client id>``; True when this call revoked it.
        """
        if grant.slot_id:
            with self.instance.transaction() as itx:
                self.instance.delete_slot(itx, grant.slot_id)
        if grant.status != "active":
            return False
        with vault.transaction() as tx:
            changed = repository.mark_revoked(tx, grant.id, at=now_iso(), by=by)
            if changed:
                with self.instance.transaction() as itx:
                    events.emit(itx, events.GRANT_REVOKED, client_id=grant.client_id,
                                grant_id=grant.id,
                                data={"by": "organisation" if by.startswith("org:")
                                      else "person"})
                vault.append_event(tx, actor=by if by.startswith("org:") else "owner",
                                   action="grant.revoked", grant_id=grant.id,
                                   detail={"organisation": grant.organisation.get("name"),
                                           "by": "organisation" if by.startswith("org:")
                                           else "owner"})
        return changed

    def revoke(self, vault: VaultDB, grant_id: str) -> Grant:
        """One click: the grant's token stops working on the very next request."""
        grant = self.get_grant(vault, grant_id)
        self.revoke_grant(vault, grant, by="owner")
        return self.get_grant(vault, grant_id)

    def revoke_all(self, vault: VaultDB) -> int:
        """Revoke every grant still active; returns how many were revoked."""
        count = 0
        for grant in self.list_grants(vault):
            if grant.status == "active":
                count += int(self.revoke_grant(vault, grant, by="owner"))
        # Slots of grants whose rows are gone or expired: none may remain.
        with self.instance.transaction() as itx:
            for slot in self.instance.slots(vault.id, slots.GRANT):
                self.instance.delete_slot(itx, slot.id)
        return count

    def receipt(self, vault: VaultDB, grant_id: str) -> dict[str, Any]:
        grant = self.get_grant(vault, grant_id)
        if not grant.receipt:
            raise NotFound("this grant has no receipt")
        return grant.receipt


def _expires(duration: str, expires_at: str | None) -> tuple[str, str]:
    """``(not_before, expires_at)`` of a new grant: from now for at most ``duration``, or
    until the owner's earlier ``expires_at``."""
    now = utcnow()
    latest = now + parse_duration(duration)
    if expires_at:
        try:
            chosen = from_iso(expires_at)
        except ValueError:
            raise InvalidInput("expires_at is not a date-time",
                               {"expires_at": ["An RFC 3339 date-time."]}) from None
        if chosen <= now:
            raise InvalidInput("expires_at is in the past",
                               {"expires_at": ["Choose a moment in the future."]})
        if chosen > latest:
            raise InvalidInput("access may be shortened, not lengthened",
                               {"expires_at": [f"At most {to_iso(latest)}."]})
        latest = chosen
    return to_iso(now), to_iso(latest)


def _with_query(uri: str, params: dict[str, str | None]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + [
        (k, v) for k, v in params.items() if v is not None
    ]
    return parts._replace(query=urlencode(query)).geturl()


# -- plain-language views ---------------------------------------------------------------------


def describe_request(vault: VaultDB, request: DataRequest, lang: str = "nl",
                     settings: Settings | None = None) -> dict[str, Any]:
    """A request in plain terms for the consent screen and the owner API: who asks what, why,
    for how long, and the owner's records of each asked type (newest first, each with its
    title and current values, and whether it matches the request and is preselected)."""
    from vault.records.display import format_value

    requested = request.requested
    found = selection.candidates(vault, requested)
    ticked = selection.preselected(requested, found)
    with_evidence = any(requested.evidence(t) for t in requested.fields)
    documents = {d.data.get("sha256"): d for d in list_records(vault, ["document"])} \
        if with_evidence else {}
    records = []
    for type_id, names in requested.fields.items():
        record_type = RECORD_TYPES[type_id]
        schema_fields = record_type.fields()
        items = found[type_id]
        narrow = requested.narrowing_of(type_id)
        records.append({
            "record_type": type_id,
            "label": record_type.label(lang),
            "count": len(items),
            "fields": [{
                "name": name,
                "label": record_type.field_label(name, lang),
                "values": [r.data[name] for r in items if name in r.data],
                "shown": [format_value(schema_fields[name], r.data[name], lang)
                          for r in items if name in r.data],
            } for name in names],
            "items": [{
                "id": r.id,
                "title": record_title(r.type, r.data, lang),
                "updated_at": r.updated_at,
                "matches": selection.matches(requested, r),
                "preselected": r.id in ticked.get(type_id, []),
                "values": [{"name": name, "label": record_type.field_label(name, lang),
                            "shown": format_value(schema_fields[name], r.data[name], lang)}
                           for name in names if name in r.data],
                "evidence": _evidence_names(r.data, documents)
                if requested.evidence(type_id) else [],
            } for r in items],
            "categories": narrow.get("categories"),
            "max_records": narrow.get("max_records"),
            "period": narrow.get("period"),
            "evidence": bool(narrow.get("evidence")),
        })
    now = utcnow()
    access_end = now + parse_duration(requested.duration)
    retention_end = access_end + parse_duration(requested.retention)
    duration_days = parse_duration(requested.duration).days
    retention_days = parse_duration(requested.retention).days
    warn = settings or Settings()
    warnings = [name for name, over in (
        ("duration", duration_days > warn.consent_warn_days),
        ("retention", retention_days > warn.consent_warn_retention_days),
        ("max_uses", (requested.max_uses or 0) > warn.consent_warn_uses)) if over]
    return {
        "id": request.id,
        "status": request.status,
        "origin": request.origin,
        "organisation": request.organisation,
        "purpose": requested.purpose,
        "purpose_label": purpose_label(requested.purpose, lang),
        "purpose_description": requested.purpose_description,
        "duration": requested.duration,
        "duration_days": duration_days,
        "retention": requested.retention,
        "retention_days": retention_days,
        "access_ends_at": to_iso(access_end),
        "retention_ends_at": to_iso(retention_end),
        "warnings": warnings,
        "max_uses": requested.max_uses,
        "records": records,
        "received_at": request.received_at,
        "expires_at": request.expires_at,
        "decided_at": request.decided_at,
        "grant_id": request.grant_id,
    }


def _evidence_names(data: dict[str, Any], documents: dict[Any, Any]) -> list[str]:
    cited = documents.get(data.get("document_sha256"))
    return [str(cited.data.get("name", ""))] if cited is not None else []


def record_title(type_id: str, data: dict[str, Any], lang: str = "nl") -> str:
    """A record's name in lists: its type's title fields as a person reads them
    ("2025, ACME BV"), or the type's label."""
    from vault.records.display import format_value

    record_type = RECORD_TYPES[type_id]
    schema_fields = record_type.fields()
    parts = [format_value(schema_fields[name], data[name], lang)
             for name in record_type.title_fields if data.get(name) not in (None, "")]
    return ", ".join(p for p in parts if p) or record_type.label(lang)


def shared_records(vault: VaultDB, grant: Grant, lang: str = "nl") -> list[dict[str, Any]]:
    """What a grant shares, per type, as a person reads it: the type, the field labels, the
    chosen records by title (newest first) and whether records added later are shared too.
    A grant without record binding lists the type's current records."""
    bound = grant.records
    cited = selection.cited_documents(vault, grant)
    out = []
    for type_id, names in grant.fields.allowed:
        record_type = RECORD_TYPES[type_id]
        current = list_records(vault, [type_id], newest_first=True)
        if bound is not None and type_id == "document":
            items = [r for r in current
                     if bound.shares_document(r.id, r.created_at, r.data.get("sha256"), cited)]
        elif bound is not None:
            items = [r for r in current if bound.covers(type_id, r.id, r.created_at)]
        else:
            items = current
        out.append({
            "record_type": type_id,
            "label": record_type.label(lang),
            "fields": [record_type.field_label(n, lang) for n in names],
            "records": [{"id": r.id, "title": record_title(type_id, r.data, lang)}
                        for r in items],
            "include_later": bound is None or type_id in bound.include_later_types,
        })
    return out
