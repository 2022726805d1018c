"""The grant life cycle at the domain level: request, approve, token, read, revoke, expire."""

from __future__ import annotations

import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.unit.grants.conftest import INCOME, PERSON, auth_params, details, pkce
from vault.clock import from_iso, utcnow
from vault.crypto import keys, slots
from vault.grants import jobs, receipts
from vault.grants.errors import Conflict, InsufficientScope, InvalidToken, OAuthError
from vault.grants.organisations import PICKUP_GRANT_TYPE
from vault.storage import journal


def test_approved_request_gives_a_token_that_reads_only_granted_fields(issue):
    _owner, _org, token = issue(asked={"income": ["year", "gross_amount_cents"], "person": None},
                                fields={"income": ["year", "gross_amount_cents"],
                                        "person": ["surname"]})
    assert token["token_type"] == "Bearer"
    assert 29 * 86400 < token["expires_in"] <= 30 * 86400
    body = token["authorization_details"][0]
    assert {r["record_type"]: r["fields"] for r in body["records"]} == {
        "income": ["year", "gross_amount_cents"], "person": ["surname"]}


def test_records_carry_only_granted_fields_with_provenance(grants, issue):
    _owner, _org, token = issue(fields={"income": ["year", "gross_amount_cents"]})
    result = grants.redeem(token["access_token"])
    assert [r["data"] for r in result["records"]] == [{"year": 2025, "gross_amount_cents": 5_400_000}]
    assert result["records"][0]["provenance"]["source"] == "manual"
    assert result["fetched_at"]


def test_the_token_endpoint_returns_a_token_once(grants, make_vault, make_org):
    owner, org = make_vault({"income": [INCOME]}), make_org()
    verifier, challenge = pkce()
    pushed = grants.push(org.client_id, auth_params(org, challenge))
    with owner.open() as vault:
        req = grants.bind(vault, {"request_uri": pushed.request_uri})
        decision = grants.approve(vault, owner.dek, req.id)
    code = parse_qs(urlsplit(decision.redirect_uri).query)["code"][0]
    form = {"code": code, "code_verifier": verifier, "redirect_uri": org.redirect_uri}
    grants.exchange(org.client_id, "authorization_code", form)
    with pytest.raises(OAuthError) as info:
        grants.exchange(org.client_id, "authorization_code", form)
    assert info.value.error == "invalid_grant"


def test_the_instance_keeps_no_usable_token(grants, svc, issue, backend, request):
    _owner, _org, token = issue()
    digest = keys.token_hash(token["access_token"])
    if backend:  # every table of the database, as its administrator's pg_dump has it
        server = request.getfixturevalue("postgres_server")
        dump = server.dump(backend.rsplit("/", 1)[1]).decode()
    else:
        conn = svc.instance.conn
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        dump = "\n".join(repr(tuple(row)) for t in tables
                         for row in conn.execute(f"SELECT * FROM {t}"))
    assert token["access_token"] not in dump
    assert digest in dump  # only the SHA-256


def test_a_wrong_pkce_verifier_is_refused(grants, make_vault, make_org):
    owner, org = make_vault({"income": [INCOME]}), make_org()
    _verifier, challenge = pkce()
    pushed = grants.push(org.client_id, auth_params(org, challenge))
    with owner.open() as vault:
        req = grants.bind(vault, {"request_uri": pushed.request_uri})
        decision = grants.approve(vault, owner.dek, req.id)
    code = parse_qs(urlsplit(decision.redirect_uri).query)["code"][0]
    with pytest.raises(OAuthError, match="code_verifier"):
        grants.exchange(org.client_id, "authorization_code",
                        {"code": code, "code_verifier": pkce()[0]})


def test_plain_pkce_is_not_accepted(grants, make_org):
    org = make_org()
    params = auth_params(org, pkce()[1]) | {"code_challenge_method": "plain"}
    with pytest.raises(OAuthError, match="S256"):
        grants.push(org.client_id, params)


def test_unknown_fields_are_an_error_to_the_organisation(grants, make_org):
    org = make_org()
    params = auth_params(org, pkce()[1], {"income": ["shoe_size"]})
    with pytest.raises(OAuthError) as info:
        grants.push(org.client_id, params)
    assert info.value.error == "invalid_authorization_details"
    assert "authorization_details.0.records.0.fields" in info.value.errors


def test_a_pushed_request_binds_to_one_vault_only(grants, make_vault, make_org):
    org = make_org()
    pushed = grants.push(org.client_id, auth_params(org, pkce()[1]))
    with make_vault().open() as vault:
        grants.bind(vault, {"request_uri": pushed.request_uri})
    with make_vault().open() as vault, pytest.raises(OAuthError):
        grants.bind(vault, {"request_uri": pushed.request_uri})


def test_denial_redirects_with_access_denied(grants, make_vault, make_org):
    owner, org = make_vault(), make_org()
    pushed = grants.push(org.client_id, auth_params(org, pkce()[1]))
    with owner.open() as vault:
        req = grants.bind(vault, {"request_uri": pushed.request_uri})
        decision = grants.deny(vault, req.id)
        query = parse_qs(urlsplit(decision.redirect_uri).query)
        assert query["error"] == ["access_denied"] and query["state"] == ["xyz"]
        with pytest.raises(Conflict):
            grants.approve(vault, owner.dek, req.id)


def test_the_owner_cannot_widen_a_request(grants, make_vault, make_org):
    from vault.grants.errors import InvalidInput

    owner, org = make_vault(), make_org()
    pushed = grants.push(org.client_id, auth_params(org, pkce()[1], {"income": ["year"]}))
    with owner.open() as vault:
        req = grants.bind(vault, {"request_uri": pushed.request_uri})
        with pytest.raises(InvalidInput):
            grants.approve(vault, owner.dek, req.id, fields={"income": ["year", "source"]})
        with pytest.raises(InvalidInput):
            grants.approve(vault, owner.dek, req.id, fields={"person": ["bsn"]})
        too_late = (utcnow() + timedelta(days=31)).isoformat()
        with pytest.raises(InvalidInput):
            grants.approve(vault, owner.dek, req.id, expires_at=too_late)


def test_revocation_kills_the_token_on_the_next_request(grants, issue):
    owner, _org, token = issue()
    grants.redeem(token["access_token"])
    with owner.open() as vault:
        grants.revoke(vault, token["grant_id"])
        assert grants.get_grant(vault, token["grant_id"]).status == "revoked"
    with pytest.raises(InvalidToken):
        grants.redeem(token["access_token"])
    assert grants.introspect(_org.client_id, token["access_token"]) == {"active": False}


def test_revoke_all_deletes_every_grant_slot(grants, svc, issue):
    owner, _org, token = issue()
    with owner.open() as vault:
        assert grants.revoke_all(vault) == 1
    assert svc.instance.slots(owner.vault_id, slots.GRANT) == []


def test_a_read_one_second_after_expiry_fails_and_one_before_succeeds(grants, issue, clock):
    _owner, _org, token = issue(duration="P1D")
    expires = from_iso(token["authorization_details"][0]["expires_at"])
    clock(expires - timedelta(seconds=1))
    assert grants.redeem(token["access_token"])["records"]
    clock(expires + timedelta(seconds=1))
    with pytest.raises(InvalidToken, match="expired"):
        grants.redeem(token["access_token"])


def test_the_purge_job_deletes_expired_slots(grants, svc, issue, clock):
    owner, _org, token = issue(duration="P1D")
    clock(utcnow() + timedelta(days=2))
    assert jobs.purge_expired(grants)["slots"] == 1
    assert svc.instance.slots(owner.vault_id, slots.GRANT) == []
    assert jobs.purge_expired(grants)["slots"] == 0  # safe to run twice


def test_a_usage_limit_stops_reads(grants, issue):
    _owner, _org, token = issue(max_uses=2)
    grants.redeem(token["access_token"])
    grants.redeem(token["access_token"])
    with pytest.raises(InvalidToken, match="2 reads"):
        grants.redeem(token["access_token"])


def test_a_stated_purpose_must_match_and_types_must_be_granted(grants, issue):
    _owner, _org, token = issue()
    with pytest.raises(InsufficientScope):
        grants.redeem(token["access_token"], purpose="credit-check")
    with pytest.raises(InsufficientScope):
        grants.redeem(token["access_token"], types=["person"])


def test_every_read_is_logged_in_the_vault(grants, issue):
    owner, org, token = issue(fields={"income": ["year"]})
    grants.redeem(token["access_token"])
    with owner.open() as vault:
        reads = [e for e in vault.events(grant_id=token["grant_id"]) if e.action == "grant.read"]
        assert len(reads) == 1
        assert reads[0].actor == f"org:{org.client_id}"
        assert reads[0].detail["fields"] == {"income": ["year"]}
        assert grants.get_grant(vault, token["grant_id"]).access_count == 1


def test_tampering_with_the_access_log_is_detected(grants, issue):
    owner, _org, token = issue()
    grants.redeem(token["access_token"])
    with owner.open() as vault:
        assert vault.verify_log() == []
        vault.conn.execute("UPDATE events SET detail = '{\"records\": 0}'"
                           " WHERE action = 'grant.read'")
        assert any("changed" in p for p in vault.verify_log())


def test_removing_an_access_event_is_detected(grants, issue):
    owner, _org, token = issue()
    grants.redeem(token["access_token"])
    with owner.open() as vault:
        vault.conn.execute("DELETE FROM events WHERE action = 'grant.read'")
        assert vault.verify_log()


def test_if_the_access_cannot_be_logged_nothing_is_served(grants, svc, issue, backend):
    from vault.grants.errors import AccessNotLogged

    owner, _org, token = issue()
    # A trigger makes every new access journal row fail, as a full disk would.
    if backend:
        import psycopg

        with psycopg.connect(backend, autocommit=True) as conn:
            conn.execute("CREATE FUNCTION no_log() RETURNS trigger LANGUAGE plpgsql AS $$"
                         " BEGIN RAISE EXCEPTION 'disk full'; END $$")
            conn.execute("CREATE TRIGGER no_log BEFORE INSERT ON kluis_journal"
                         " FOR EACH ROW EXECUTE FUNCTION no_log()")
    else:
        with owner.open() as vault:
            access = journal.ref(vault, str(svc.instance.vault_path(owner.vault_id)))
            with journal.opened(access, svc.settings) as conn:
                conn.execute("CREATE TRIGGER no_log BEFORE INSERT ON entries BEGIN"
                             " SELECT RAISE(ABORT, 'disk full'); END")
    with pytest.raises(AccessNotLogged):
        grants.redeem(token["access_token"])
    with pytest.raises(AccessNotLogged):
        grants.redeem(token["access_token"])  # also once the grant is known to this process
    with owner.open() as vault:
        assert grants.get_grant(vault, token["grant_id"]).access_count == 0
        assert [e for e in vault.events() if e.action == "grant.read"] == []


def test_the_consent_receipt_is_signed_kantara_json(grants, svc, issue):
    owner, org, token = issue(fields={"person": ["bsn"], "income": ["year"]},
                              asked={"income": None, "person": None})
    receipt = receipts.verify(token["consent_receipt"], svc.instance.public_jwks())
    for key in ("version", "jurisdiction", "consentTimestamp", "collectionMethod",
                "consentReceiptID", "piiPrincipalId", "piiControllers", "policyUrl",
                "services", "sensitive", "spiCat"):
        assert key in receipt
    assert receipt["piiControllers"][0]["piiController"] == "Woonstichting De Kern"
    assert receipt["sensitive"] is True
    with owner.open() as vault:
        assert grants.receipt(vault, token["grant_id"]) == token["consent_receipt"]


def test_an_owner_created_grant_is_picked_up_once(grants, make_vault, make_org):
    owner, org = make_vault({"income": [INCOME], "person": [PERSON]}), make_org()
    with owner.open() as vault:
        decision = grants.create_owner_grant(
            vault, owner.dek, client_id=org.client_id,
            authorization_details=details({"person": ["surname"]}, purpose="employment"))
    token = grants.exchange(org.client_id, PICKUP_GRANT_TYPE, {"code": decision.pickup_code})
    assert grants.redeem(token["access_token"])["records"][0]["data"] == {"surname": "de Vries"}
    with pytest.raises(OAuthError):
        grants.exchange(org.client_id, PICKUP_GRANT_TYPE, {"code": decision.pickup_code})


def test_a_token_revoked_before_pickup_cannot_be_collected(grants, make_vault, make_org):
    owner, org = make_vault(), make_org()
    with owner.open() as vault:
        decision = grants.create_owner_grant(
            vault, owner.dek, client_id=org.client_id,
            authorization_details=details({"person": None}))
        grants.revoke(vault, decision.grant.id)
    with pytest.raises(OAuthError, match="revoked"):
        grants.exchange(org.client_id, PICKUP_GRANT_TYPE, {"code": decision.pickup_code})


def test_the_organisation_can_revoke_its_own_token(grants, issue):
    owner, org, token = issue()
    grants.revoke_token("someone-else", token["access_token"])
    assert grants.introspect(org.client_id, token["access_token"])["active"] is True
    grants.revoke_token(org.client_id, token["access_token"])
    assert grants.introspect(org.client_id, token["access_token"]) == {"active": False}
    with owner.open() as vault:
        assert grants.get_grant(vault, token["grant_id"]).revoked_by == f"org:{org.client_id}"


def test_no_read_succeeds_after_revoke_returns_under_load(grants, issue):
    owner, _org, token = issue()
    stop = threading.Event()
    revoked_at: list[float] = []
    late_successes: list[float] = []
    served: list[float] = []
    errors: list[BaseException] = []
    import time

    def reader() -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                grants.redeem(token["access_token"])
            except InvalidToken:
                continue
            except BaseException as exc:  # noqa: BLE001 - report anything else
                errors.append(exc)
                return
            served.append(started)
            if revoked_at and started > revoked_at[0]:
                late_successes.append(started)

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    with owner.open() as vault:
        grants.revoke(vault, token["grant_id"])
    revoked_at.append(time.monotonic())
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    assert late_successes == []
    with owner.open() as vault:
        events = vault.events(grant_id=token["grant_id"], limit=100000)
        # Every read served left exactly one access event (merged from the access journal).
        assert served
        assert sum(e.action == "grant.read" for e in events) == len(served)
        assert grants.get_grant(vault, token["grant_id"]).access_count == len(served)
        assert vault.verify_log() == []
