"""Portability over real HTTP: export, verify (API and CLI), archive, import, erasure."""

from __future__ import annotations

import copy
import io
import json
import re
import subprocess
import sys
import time

import pytest
from pypdf import PdfReader

from tests.conftest import ROOT, free_port, settings_env
from vault.app import create_app
from vault.portability import pdf as pdf_mod
from vault.records.catalogue import get_type

PASSPHRASE = "a long passphrase for moving"
DOCUMENT = b"%PDF-1.4 jaaropgave 2025 \xe2\x82\xac 52.345,67\n" + bytes(range(256)) * 4

RECORDS = [
    ("person", {"given_names": "Sanne", "surname": "Visser", "bsn": "111222333",
                "birth_date": "1988-02-29"}),
    ("income", {"year": 2025, "source": "Gemeente Utrecht", "gross_amount_cents": 6100000,
                "kind": "employment"}),
    ("bank-account", {"iban": "NL91ABNA0417164300", "bank": "ABN AMRO",
                      "balance_cents": -12345}),
]


def _fill(owner) -> list[dict]:
    made = []
    for type_id, data in RECORDS:
        resp = owner.post("/api/v1/records", json={"type": type_id, "data": data})
        assert resp.status_code == 201, resp.text
        made.append(resp.json())
    income = made[1]
    resp = owner.put(f"/api/v1/records/{income['id']}",
                     json={"data": {**RECORDS[1][1], "net_amount_cents": 4000000}})
    assert resp.status_code == 200, resp.text
    resp = owner.post("/api/v1/documents", files={"file": ("jaaropgave.pdf", DOCUMENT,
                                                           "application/pdf")},
                      data={"category": "annual-statement"})
    assert resp.status_code == 201, resp.text
    return made


def _export(owner, **body):
    body.setdefault("types", "all")
    resp = owner.post("/api/v1/exports", json=body)
    assert resp.status_code == 200, resp.text
    return resp


def test_an_exported_bundle_verifies_through_the_api_and_the_jwks_is_published(make_owner,
                                                                               live_server):
    owner = make_owner()
    _fill(owner)
    resp = _export(owner)
    bundle = resp.json()
    assert resp.headers["X-Kluis-Digest"] == bundle["kluis_digest"]
    jwks = owner.http.get(live_server.url + "/.well-known/jwks.json", timeout=30).json()
    header = json.loads(__import__("base64").urlsafe_b64decode(
        bundle["signatures"][0]["protected"] + "=="))
    assert header["kid"] in [k["kid"] for k in jwks["keys"]]
    assert all("d" not in k for k in jwks["keys"])

    result = owner.http.post(live_server.url + "/api/v1/verify", json=bundle, timeout=30).json()
    assert result["valid"] and result["message"].startswith(f"valid, signed by {live_server.url}")
    altered = copy.deepcopy(bundle)
    sig = altered["signatures"][0]["signature"]
    altered["signatures"][0]["signature"] = sig[:20] + ("A" if sig[20] != "A" else "B") + sig[21:]
    result = owner.http.post(live_server.url + "/api/v1/verify", json=altered, timeout=30).json()
    assert (result["valid"], result["reason"]) == (False, "bad-signature")


def test_a_bad_export_request_is_a_validation_problem(make_owner):
    owner = make_owner()
    resp = owner.post("/api/v1/exports", json={"types": ["nope"], "format": "doc"})
    assert resp.status_code == 422
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    assert set(resp.json()["errors"]) == {"types", "format"}


def test_an_export_of_nothing_is_a_validation_problem_not_everything(make_owner):
    owner = make_owner()
    resp = owner.post("/api/v1/exports", json={"types": [], "format": "json"})
    assert resp.status_code == 422 and set(resp.json()["errors"]) == {"types"}


def test_the_pdf_export_holds_every_value_and_label_and_embeds_the_bundle(make_owner):
    owner = make_owner()
    _fill(owner)
    resp = _export(owner, format="pdf", language="en")
    assert resp.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(resp.content))
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in reader.pages))
    embedded = reader.attachments[pdf_mod.ATTACHMENT][0]
    payload = json.loads(__import__("base64").urlsafe_b64decode(
        json.loads(embedded)["payload"] + "=="))
    for record in payload["records"]:
        record_type = get_type(record["type"])
        for label, value in pdf_mod.record_rows(record_type, record["data"], "en"):
            assert re.sub(r"\s+", "", label) in text
            assert re.sub(r"\s+", "", value) in text
    assert "EUR-123.45" in text and "NL91ABNA0417164300" in text
    assert resp.headers["X-Kluis-Digest"].split(":")[1] in text


def test_kluis_verify_checks_a_bundle_offline_and_against_the_instance(make_owner, live_server,
                                                                      settings, tmp_path):
    owner = make_owner()
    _fill(owner)
    bundle_path = tmp_path / "bundle.json"
    bundle_path.write_bytes(_export(owner, types=["income"]).content)
    jwks_path = tmp_path / "jwks.json"
    jwks_path.write_bytes(owner.http.get(live_server.url + "/.well-known/jwks.json",
                                         timeout=30).content)
    env = settings_env(settings)
    cmd = [sys.executable, "-m", "vault.cli", "verify", str(bundle_path)]
    offline = subprocess.run(cmd + ["--jwks", str(jwks_path)], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert offline.returncode == 0, offline.stderr
    assert offline.stdout.startswith(f"valid, signed by {live_server.url} at ")
    online = subprocess.run(cmd + ["--instance", live_server.url], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert online.returncode == 0, online.stderr

    bundle = json.loads(bundle_path.read_text())
    payload = json.loads(__import__("base64").urlsafe_b64decode(bundle["payload"] + "=="))
    payload["records"][0]["data"]["gross_amount_cents"] += 1
    bundle["payload"] = __import__("base64").urlsafe_b64encode(
        json.dumps(payload).encode()).decode().rstrip("=")
    bundle_path.write_text(json.dumps(bundle))
    altered = subprocess.run(cmd + ["--jwks", str(jwks_path)], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert altered.returncode == 1
    assert "altered-content" in altered.stdout


def _archive(owner) -> bytes:
    resp = owner.post("/api/v1/vault/archive", json={"passphrase": PASSPHRASE})
    assert resp.status_code == 202, resp.text
    status_url = resp.json()["status_url"]
    deadline = time.monotonic() + 60
    job = resp.json()
    while job["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
        job = owner.get(status_url).json()
    assert job["state"] == "done", job
    assert job["percent"] == 100
    resp = owner.get(job["download_url"])
    assert resp.status_code == 200
    assert owner.get(job["download_url"]).status_code == 404  # once only
    return resp.content


@pytest.fixture
def other_server(make_settings, make_live_server):
    port = free_port()
    settings = make_settings("other", base_url=f"http://127.0.0.1:{port}")
    app = create_app({"settings": settings, "TESTING": True})
    server = make_live_server(app, port)
    yield server
    app.extensions["kluis"].close()


def _everything(owner) -> dict:
    records = owner.get("/api/v1/records").json()
    records = records["records"] if isinstance(records, dict) else records
    out = {"records": {}, "documents": {}}
    for record in records:
        versions = owner.get(f"/api/v1/records/{record['id']}/versions").json()
        out["records"][record["id"]] = (record["type"], record["data"], versions)
        if record["type"] == "document":
            out["documents"][record["id"]] = owner.get(
                f"/api/v1/records/{record['id']}/content").content
    events = owner.get("/api/v1/events?limit=1000").json()
    out["events"] = [(e["seq"], e["at"], e["actor"], e["action"], json.dumps(e["detail"]))
                     for e in events["events"]]
    out["log_intact"] = events["log_intact"]
    return out


def test_a_vault_moves_to_another_instance_whole(make_owner, other_server):
    import requests

    owner = make_owner()
    _fill(owner)
    blob = _archive(owner)
    before = _everything(owner)

    resp = requests.post(other_server.url + "/api/v1/vault/import",
                         files={"archive": ("vault.kluis", blob)},
                         data={"passphrase": PASSPHRASE, "username": "moved",
                               "password": "another horse staple 43"}, timeout=60)
    assert resp.status_code == 201, resp.text
    result = resp.json()
    assert result["recovery_code"] and "grants" in result["notice"]
    token = requests.post(other_server.url + "/api/v1/tokens",
                          json={"username": "moved", "password": "another horse staple 43"},
                          timeout=30).json()["token"]
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    owner.http, owner.base_url = http, other_server.url
    after = _everything(owner)
    assert after["records"] == before["records"]
    assert after["documents"] == before["documents"]
    assert DOCUMENT in after["documents"].values()
    old_events = set(before["events"])
    assert old_events <= set(after["events"])
    assert after["log_intact"]
    http.close()


def test_a_wrong_passphrase_fails_cleanly_and_imports_nothing(make_owner, other_server):
    import requests

    owner = make_owner()
    _fill(owner)
    blob = _archive(owner)
    resp = requests.post(other_server.url + "/api/v1/vault/import",
                         files={"archive": ("vault.kluis", blob)},
                         data={"passphrase": "this is not it at all", "username": "moved",
                               "password": "another horse staple 43"}, timeout=60)
    assert resp.status_code == 422
    assert resp.json()["type"] == "urn:kluis:problem:wrong-passphrase"
    login = requests.post(other_server.url + "/api/v1/tokens",
                          json={"username": "moved", "password": "another horse staple 43"},
                          timeout=30)
    assert login.status_code == 401


def test_after_deletion_no_file_under_home_holds_a_record_value(make_owner, settings,
                                                                live_server):
    owner = make_owner()
    _fill(owner)
    _archive(owner)
    wrong = owner.delete("/api/v1/vault", json={"confirm": owner.username, "password": "nope"})
    assert wrong.status_code == 403
    resp = owner.delete("/api/v1/vault", json={"confirm": owner.username,
                                               "password": owner.password})
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert report["kept"] == {"vaults_erased": 1}
    assert report["slots_destroyed"] >= 3
    values = [b"Visser", b"Gemeente Utrecht", b"NL91ABNA0417164300", b"ABN AMRO",
              b"111222333", DOCUMENT[:30]]
    for path in settings.home_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for value in values:
                assert value not in data, (path, value)
    assert owner.get("/api/v1/records").status_code == 401
