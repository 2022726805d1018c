"""Certified bundles: signing, and every way verification says why a bundle is not valid."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from tests.unit.portability.conftest import DOCUMENT, SAMPLE
from vault.crypto.keys import b64d, b64e
from vault.portability import bundle as bundles
from vault.portability import verify
from vault.records.catalogue import RECORD_TYPES


def _export(made, types=None, language="nl"):
    with made.open() as vault:
        return bundles.export_bundle(made.instance, vault, types=types, language=language)


def _rewrite_payload(document: dict, change) -> dict:
    altered = copy.deepcopy(document)
    payload = json.loads(b64d(altered["payload"]))
    change(payload)
    altered["payload"] = b64e(json.dumps(payload, sort_keys=True, separators=(",", ":"),
                                         ensure_ascii=False).encode())
    return altered


def test_a_bundle_of_all_records_verifies_and_names_its_issuer_and_time(make_vault):
    made = make_vault()
    bundle = _export(made)
    result = verify.verify_bundle(bundle.to_json(), made.instance.public_jwks())
    assert result.valid, result
    assert result.message == (f"valid, signed by https://home.kluis.test at "
                              f"{bundle.payload['exported_at']}")
    assert result.kid == made.instance.signing_key()["kid"]
    assert result.records == len(SAMPLE) + 1
    assert result.digest == bundle.digest
    assert bundle.document["kluis_digest"] == f"sha256:{bundle.digest}"


def test_the_payload_holds_versions_provenance_public_id_and_documents(make_vault):
    made = make_vault()
    bundle = _export(made)
    payload = bundle.payload
    assert payload["vault"] == bundles.vault_public_id(made.instance, made.vault_id)
    assert made.vault_id not in json.dumps(payload)
    income = next(r for r in payload["records"] if r["type"] == "income")
    assert income["version"] == 2
    assert income["provenance"]["source"] == "belastingdienst"
    assert income["provenance"]["evidence"] == {"signature": "sig-abc"}
    [doc] = payload["documents"]
    assert base64.b64decode(doc["content"]) == DOCUMENT
    header = json.loads(b64d(bundle.document["signatures"][0]["protected"]))
    assert header["kid"] == made.instance.signing_key()["kid"]
    assert header["alg"] == "ES256"


def test_a_bundle_of_chosen_types_holds_only_those(make_vault):
    made = make_vault()
    bundle = _export(made, types=["income", "address"])
    assert {r["type"] for r in bundle.payload["records"]} == {"income", "address"}
    assert bundle.payload["documents"] == []
    assert verify.verify_bundle(bundle.document, made.instance.public_jwks()).valid


def test_the_export_is_written_to_the_owners_log_without_values(make_vault):
    made = make_vault()
    bundle = _export(made, types=["person"])
    with made.open() as vault:
        event = vault.events(limit=1)[0]
    assert event.action == "export.created"
    assert event.detail["digest"] == bundle.digest
    assert "Brügge" not in json.dumps(event.detail)


def test_one_changed_byte_in_any_record_is_altered_content(make_vault):
    made = make_vault()
    bundle = _export(made)
    jwks = made.instance.public_jwks()
    for index in range(len(bundle.payload["records"])):
        def change(payload, index=index):
            data = payload["records"][index]["data"]
            key = sorted(data)[0]
            value = str(data[key])
            data[key] = value[:-1] + ("X" if value[-1] != "X" else "Y")

        result = verify.verify_bundle(_rewrite_payload(bundle.document, change), jwks)
        assert not result.valid
        assert result.reason == "altered-content", result


def test_one_changed_byte_of_the_raw_payload_is_altered_content(make_vault):
    made = make_vault()
    raw = bytearray(_export(made).to_json())
    text = raw.decode()
    start = text.index('"payload": "') + len('"payload": "') + 40
    raw[start] = ord("A") if raw[start] != ord("A") else ord("B")
    result = verify.verify_bundle(bytes(raw), made.instance.public_jwks())
    assert result.reason == "altered-content"


def test_one_changed_byte_of_the_signature_is_bad_signature(make_vault):
    made = make_vault()
    bundle = _export(made)
    altered = copy.deepcopy(bundle.document)
    sig = altered["signatures"][0]["signature"]
    middle = len(sig) // 2
    altered["signatures"][0]["signature"] = (
        sig[:middle] + ("A" if sig[middle] != "A" else "B") + sig[middle + 1:]
    )
    result = verify.verify_bundle(altered, made.instance.public_jwks())
    assert (result.valid, result.reason) == (False, "bad-signature")


def test_a_changed_record_with_a_recomputed_digest_is_bad_signature(make_vault):
    made = make_vault()
    bundle = _export(made)

    def change(payload):
        payload["records"][0]["data"]["surname"] = "Jansen"

    altered = _rewrite_payload(bundle.document, change)
    altered["kluis_digest"] = "sha256:" + bundles.payload_digest(b64d(altered["payload"]))
    result = verify.verify_bundle(altered, made.instance.public_jwks())
    assert result.reason == "bad-signature"


def test_a_bundle_signed_by_another_instance_is_unknown_key(make_vault):
    ours = make_vault("ours")
    theirs = make_vault("theirs")
    bundle = _export(theirs)
    result = verify.verify_bundle(bundle.to_json(), ours.instance.public_jwks())
    assert (result.valid, result.reason) == (False, "unknown-key")


def test_a_bundle_signed_after_its_key_was_retired_is_expired_key(make_vault):
    made = make_vault()
    bundle = _export(made)
    jwks = made.instance.public_jwks()
    jwks[0]["kluis_retired_at"] = "2000-01-01T00:00:00.000000Z"
    assert verify.verify_bundle(bundle.document, jwks).reason == "expired-key"
    jwks[0]["kluis_retired_at"] = "2999-01-01T00:00:00.000000Z"
    assert verify.verify_bundle(bundle.document, jwks).valid


def test_a_digest_from_the_pdf_must_match(make_vault):
    made = make_vault()
    bundle = _export(made)
    jwks = made.instance.public_jwks()
    assert verify.verify_bundle(bundle.document, jwks,
                                expected_digest=f"sha256:{bundle.digest}").valid
    other = verify.verify_bundle(bundle.document, jwks, expected_digest="0" * 64)
    assert other.reason == "altered-content"


def test_garbage_is_malformed(make_vault):
    made = make_vault(sample=False)
    jwks = made.instance.public_jwks()
    assert verify.verify_bundle(b"not json", jwks).reason == "malformed"
    assert verify.verify_bundle(b"[1]", jwks).reason == "malformed"
    assert verify.verify_bundle({"payload": 3}, jwks).reason == "malformed"


def test_a_jwks_file_is_read_and_a_broken_one_is_refused(make_vault, tmp_path):
    made = make_vault(sample=False)
    good = tmp_path / "jwks.json"
    good.write_text(json.dumps({"keys": made.instance.public_jwks()}))
    assert verify.load_jwks_file(good)[0]["kid"] == made.instance.signing_key()["kid"]
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    for path in (bad, tmp_path / "missing.json"):
        try:
            verify.load_jwks_file(path)
        except verify.JwksError:
            continue
        raise AssertionError(f"{path} was accepted")


def test_the_export_request_is_checked():
    assert bundles.parse_request("all", "pdf", "en") == (None, "pdf", "en")
    assert bundles.parse_request(["income"]) == (["income"], "json", "nl")
    try:
        bundles.parse_request(["income", "nope"], "doc", "fr")
    except bundles.ExportError as exc:
        assert set(exc.errors) == {"types", "format", "language"}
    else:
        raise AssertionError("accepted")
    assert set(RECORD_TYPES) >= {t for t, _ in SAMPLE}


@pytest.mark.parametrize("nothing", [None, []])
def test_an_export_with_nothing_chosen_is_an_error_not_everything(nothing):
    with pytest.raises(bundles.ExportError) as caught:
        bundles.parse_request(nothing, "pdf", "nl")
    assert "types" in caught.value.errors
