"""Record-level consent: the person picks records; the grant shares those and nothing else."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.unit.grants.conftest import INCOME, auth_params, pkce
from vault.grants.consent import shared_records
from vault.grants.errors import InvalidInput, NotFound
from vault.grants.models import Records, condition_from_dict, condition_to_dict
from vault.records.service import add_document, create_record, update_record

INCOME_2024 = INCOME | {"year": 2024, "gross_amount_cents": 4_800_000}
STATEMENT = b"%PDF-1.4 jaaropgave 2025\n" + bytes(range(256)) * 40
PAYSLIP = b"%PDF-1.4 loonstrook maart\n" + b"\x00\xff" * 500

ASK = {"type": "kluis_records", "purpose": "rental-eligibility", "retention": "P60D",
       "duration": "P30D", "records": [
           {"record_type": "income"},
           {"record_type": "document", "categories": ["annual-statement"]}]}


@pytest.fixture
def person(make_vault):
    """An owner with two income records and two documents; ids by name."""
    owner = make_vault()
    with owner.open() as vault:
        statement = add_document(vault, STATEMENT, name="jaaropgave-2025.pdf",
                                 media_type="application/pdf", category="annual-statement")
        payslip = add_document(vault, PAYSLIP, name="loonstrook-maart.pdf",
                               media_type="application/pdf", category="payslip")
        old = create_record(vault, "income", INCOME_2024)
        new = create_record(vault, "income", INCOME | {"document_sha256":
                                                       statement.data["sha256"]})
    return owner, {"statement": statement.id, "payslip": payslip.id, "income2024": old.id,
                   "income2025": new.id}


def _bind(grants, owner, org, ask=None):
    verifier, challenge = pkce()
    params = auth_params(org, challenge)
    params["authorization_details"] = json.dumps([ask or ASK])
    pushed = grants.push(org.client_id, params)
    with owner.open() as vault:
        request = grants.bind(vault, {"request_uri": pushed.request_uri})
    return request, verifier


def _token(grants, org, decision, verifier):
    code = parse_qs(urlsplit(decision.redirect_uri).query)["code"][0]
    return grants.exchange(org.client_id, "authorization_code", {
        "code": code, "code_verifier": verifier, "redirect_uri": org.redirect_uri})


def _approve(grants, person, make_org, choice, ask=None):
    owner, ids = person
    org = make_org()
    request, verifier = _bind(grants, owner, org, ask)
    with owner.open() as vault:
        decision = grants.approve(vault, owner.dek, request.id, records=choice)
    return owner, org, _token(grants, org, decision, verifier)


def test_only_the_chosen_income_and_document_are_read(grants, person, make_org):
    _owner, ids = person
    _o, _org, token = _approve(grants, person, make_org, [
        {"record_type": "income", "record_ids": [ids["income2025"]], "fields": ["year",
                                                                                "gross_amount_cents"]},
        {"record_type": "document", "record_ids": [ids["statement"]]}])
    body = grants.redeem_records(token["access_token"])
    read = json.loads(body)["records"]
    assert sorted((r["type"], r["id"]) for r in read) == sorted(
        [("income", ids["income2025"]), ("document", ids["statement"])])
    income = next(r for r in read if r["type"] == "income")
    assert income["data"] == {"year": 2025, "gross_amount_cents": 5_400_000}
    assert b"4800000" not in body and ids["income2024"].encode() not in body
    assert ids["payslip"].encode() not in body
    document = next(r for r in read if r["type"] == "document")
    assert document["download_url"].endswith(f"/api/v1/grant/documents/{ids['statement']}")


def test_introspection_and_the_grant_name_the_record_ids(grants, person, make_org):
    _owner, ids = person
    _o, org, token = _approve(grants, person, make_org, [
        {"record_type": "income", "record_ids": [ids["income2024"]]}])
    info = grants.introspect(org.client_id, token["access_token"])
    entries = info["authorization_details"][0]["records"]
    assert entries == [{"record_type": "income", "fields": entries[0]["fields"],
                        "record_ids": [ids["income2024"]], "include_later": False}]
    view = grants.redeem(token["access_token"], view="grant")
    assert view["grant"]["record_ids"] == {"income": [ids["income2024"]]}


@pytest.mark.parametrize("wrong", ["payslip", "income2024", "nonexistent"])
def test_a_document_outside_the_request_is_refused_and_nothing_granted(
        grants, person, make_org, wrong):
    owner, ids = person
    org = make_org()
    request, _ = _bind(grants, owner, org)
    with owner.open() as vault, pytest.raises(InvalidInput) as caught:
        grants.approve(vault, owner.dek, request.id, records=[
            {"record_type": "income", "record_ids": [ids["income2025"]]},
            {"record_type": "document", "record_ids": [ids.get(wrong, "abc123")]}])
    assert caught.value.status == 422
    assert "records.1.record_ids" in caught.value.errors
    with owner.open() as vault:
        assert grants.get_request(vault, request.id).status == "pending"
        assert grants.list_grants(vault) == []


def test_a_type_not_asked_for_is_refused(grants, person, make_org):
    owner, ids = person
    org = make_org()
    request, _ = _bind(grants, owner, org)
    with owner.open() as vault, pytest.raises(InvalidInput) as caught:
        grants.approve(vault, owner.dek, request.id, records=[
            {"record_type": "person", "record_ids": []}])
    assert "records.0.record_type" in caught.value.errors


def test_a_record_added_later_is_invisible_unless_later_was_ticked(grants, person, make_org):
    owner, ids = person
    choice = [{"record_type": "income", "record_ids": [ids["income2025"]]}]
    _o, _org, plain = _approve(grants, person, make_org, choice)
    _o, _org, later = _approve(grants, person, make_org,
                               [dict(choice[0], include_later=True)])
    with owner.open() as vault:
        added = create_record(vault, "income", INCOME | {"year": 2026, "source": "Nieuw BV"})
        # A new version of a chosen record stays visible: refreshed data.
        update_record(vault, ids["income2025"], INCOME | {"net_amount_cents": 4_000_000})
    seen = {r["id"]: r for r in json.loads(grants.redeem_records(plain["access_token"]))["records"]}
    assert set(seen) == {ids["income2025"]}
    assert seen[ids["income2025"]]["data"]["net_amount_cents"] == 4_000_000
    seen_later = {r["id"] for r in json.loads(
        grants.redeem_records(later["access_token"]))["records"]}
    assert seen_later == {ids["income2025"], added.id}
    assert ids["income2024"] not in seen_later


def test_evidence_shares_the_cited_document(grants, person, make_org):
    _owner, ids = person
    ask = {**ASK, "records": [{"record_type": "income", "evidence": True}]}
    _o, _org, token = _approve(grants, person, make_org, [
        {"record_type": "income", "record_ids": [ids["income2025"]]}], ask=ask)
    read = json.loads(grants.redeem_records(token["access_token"]))["records"]
    assert {r["id"] for r in read} == {ids["income2025"], ids["statement"]}
    download = grants.redeem_document(token["access_token"], ids["statement"])
    try:
        assert b"".join(download) == STATEMENT
    finally:
        download.close()


def test_evidence_follows_the_current_version_of_the_shared_record(grants, person, make_org):
    owner, ids = person
    ask = {**ASK, "records": [{"record_type": "income", "evidence": True}]}
    _o, org, token = _approve(grants, person, make_org, [
        {"record_type": "income", "record_ids": [ids["income2025"]]}], ask=ask)
    access = token["access_token"]
    entry = token["authorization_details"][0]["records"]
    assert {e["record_type"]: e.get("evidence") for e in entry} == {"income": True,
                                                                    "document": None}
    payslip_sha = hashlib.sha256(PAYSLIP).hexdigest()
    statement_sha = hashlib.sha256(STATEMENT).hexdigest()
    with owner.open() as vault:
        # A refresh: the shared income now cites the payslip, no longer the annual statement.
        update_record(vault, ids["income2025"], INCOME | {"document_sha256": payslip_sha})
        # A record that is not shared shares nothing it cites.
        update_record(vault, ids["income2024"], INCOME_2024 | {"document_sha256": statement_sha})
    read = json.loads(grants.redeem_records(access))["records"]
    assert {r["id"] for r in read} == {ids["income2025"], ids["payslip"]}
    with pytest.raises(NotFound):
        grants.redeem_document(access, ids["statement"])
    download = grants.redeem_document(access, ids["payslip"])
    try:
        assert b"".join(download) == PAYSLIP
    finally:
        download.close()
    only_documents = json.loads(grants.redeem_records(access, types=["document"]))["records"]
    assert [r["id"] for r in only_documents] == [ids["payslip"]]
    with owner.open() as vault:
        with_evidence = [s for s in shared_records(vault, grants.list_grants(vault)[0])
                         if s["record_type"] == "document"]
    assert [r["id"] for r in with_evidence[0]["records"]] == [ids["payslip"]]
    # Not citing anything any more: no document is shared at all.
    with owner.open() as vault:
        update_record(vault, ids["income2025"], INCOME)
    assert {r["id"] for r in json.loads(grants.redeem_records(access))["records"]} == {
        ids["income2025"]}


def test_a_download_streams_the_exact_bytes_and_is_logged(grants, person, make_org):
    owner, ids = person
    _o, _org, token = _approve(grants, person, make_org, [
        {"record_type": "document", "record_ids": [ids["statement"]]}])
    download = grants.redeem_document(token["access_token"], ids["statement"])
    try:
        chunks = list(download)
    finally:
        download.close()
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == download.sha256
    assert download.size == len(STATEMENT) and download.name == "jaaropgave-2025.pdf"
    assert all(len(c) <= download.CHUNK for c in chunks)
    with pytest.raises(NotFound):
        grants.redeem_document(token["access_token"], ids["payslip"])
    with pytest.raises(NotFound):
        grants.redeem_document(token["access_token"], ids["income2025"])
    with owner.open() as vault:
        downloads = [e for e in vault.events(limit=50) if e.action == "grant.download"]
    assert [e.detail["document"] for e in downloads] == ["jaaropgave-2025.pdf"]


def test_downloads_count_toward_max_uses_like_reads(grants, person, make_org):
    from vault.clock import utcnow
    from vault.grants.errors import InvalidToken

    owner, ids = person
    ask = {**ASK, "max_uses": 3}
    _o, _org, token = _approve(grants, person, make_org, [
        {"record_type": "document", "record_ids": [ids["statement"]]}], ask=ask)
    access = token["access_token"]
    grants.redeem_records(access)
    for _ in range(2):
        download = grants.redeem_document(access, ids["statement"])
        download.close()
    # One read and two downloads: the third use was the last one.
    with pytest.raises(InvalidToken) as caught:
        grants.redeem_records(access)
    assert caught.value.reason == "used_up"
    with pytest.raises(InvalidToken):
        grants.redeem_document(access, ids["statement"])
    with owner.open() as vault:  # merged into the vault, the count says the same
        grant = grants.list_grants(vault)[0]
        assert grant.access_count == 3 and grant.status_at(utcnow()) == "used-up"


def test_without_a_choice_the_matching_records_are_shared(grants, person, make_org):
    _owner, ids = person
    ask = {**ASK, "records": [{"record_type": "income", "period": {"from": 2025},
                               "max_records": 1},
                              {"record_type": "document", "categories": ["payslip"]}]}
    _o, _org, token = _approve(grants, person, make_org, None, ask=ask)
    read = json.loads(grants.redeem_records(token["access_token"]))["records"]
    assert {r["id"] for r in read} == {ids["income2025"], ids["payslip"]}


def test_the_period_limits_what_may_be_chosen(grants, person, make_org):
    owner, ids = person
    org = make_org()
    ask = {**ASK, "records": [{"record_type": "income", "period": {"from": "2025-01-01",
                                                                   "to": 2025}}]}
    request, _ = _bind(grants, owner, org, ask)
    with owner.open() as vault, pytest.raises(InvalidInput):
        grants.approve(vault, owner.dek, request.id, records=[
            {"record_type": "income", "record_ids": [ids["income2024"]]}])


def test_the_records_condition_round_trips():
    condition = Records.of({"income": ["b", "a", "b"]}, ["income"], since="2026-01-01T00:00:00Z")
    again = condition_from_dict(json.loads(json.dumps(condition_to_dict(condition))))
    assert again == condition and again.ids("income") == ("b", "a")
    assert again.covers("income", "zzz", "2026-02-01T00:00:00Z")
    assert not again.covers("income", "zzz", "2025-12-01T00:00:00Z")
    assert not again.covers("document", "a", "2026-02-01T00:00:00Z")


def test_a_20_mib_document_is_streamed_not_held_whole(grants, make_vault, make_org):
    import os
    import tracemalloc

    owner = make_vault()
    content = os.urandom(20 * 1024 * 1024)
    digest = hashlib.sha256(content).hexdigest()
    with owner.open() as vault:
        big = add_document(vault, content, name="scan.pdf", media_type="application/pdf",
                           category="annual-statement")
    del content
    _o, _org, token = _approve(grants, (owner, {}), make_org, [
        {"record_type": "document", "record_ids": [big.id]}])
    tracemalloc.start()
    try:
        download = grants.redeem_document(token["access_token"], big.id)
        hasher = hashlib.sha256()
        try:
            for chunk in download:
                hasher.update(chunk)
        finally:
            download.close()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert hasher.hexdigest() == digest
    assert peak < 4 * 1024 * 1024, f"{peak} bytes held at once"
