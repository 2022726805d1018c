"""kill -9 of ``kluis serve`` under concurrent writes over HTTP loses no acknowledged write,
and every vault's log verifies afterwards (a few bounded rounds)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import requests

from bench.procs import kluis_command, wait_for_http
from tests.conftest import ROOT, free_port, settings_env
from tests.integration.grants.conftest import INCOME, ask
from vault.grants.organisations import PICKUP_GRANT_TYPE

ROUNDS = 3
WRITE_SECONDS = 1.0
PASSWORD = "correct horse staple 42"


def _serve(settings, port: int, log) -> subprocess.Popen:
    env = settings_env(settings) | {"AUTHLIB_INSECURE_TRANSPORT": "1",
                                    "KLUIS_BASE_URL": f"http://127.0.0.1:{port}"}
    proc = subprocess.Popen(kluis_command() + ["serve", "--bind", f"127.0.0.1:{port}",
                                               "--workers", "2"],
                            env=env, cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    wait_for_http(port, "/api/v1/purposes", proc=proc)
    return proc


def _kill9(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)  # gunicorn's master and its workers, mid-write
    proc.wait(10)


def _owner(base: str, name: str) -> requests.Session:
    resp = requests.post(f"{base}/api/v1/accounts", json={"username": name,
                                                          "password": PASSWORD}, timeout=30)
    assert resp.status_code == 201, resp.text
    resp = requests.post(f"{base}/api/v1/tokens", json={"username": name, "password": PASSWORD,
                                                        "name": "t"}, timeout=30)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {resp.json()['token']}"
    return http


def _grant_token(base: str, owner: requests.Session) -> tuple[str, str]:
    assert owner.post(f"{base}/api/v1/records", json={"type": "income", "data": INCOME},
                      timeout=30).status_code == 201
    org = requests.post(f"{base}/oauth/register", timeout=30, json={
        "client_name": "Woonstichting De Kern", "client_uri": "https://dekern.example",
        "redirect_uris": ["https://dekern.example/cb"],
        "token_endpoint_auth_method": "client_secret_basic"}).json()
    grant = owner.post(f"{base}/api/v1/grants", timeout=30, json={
        "client_id": org["client_id"], "authorization_details": ask({"income": None})}).json()
    token = requests.post(f"{base}/oauth/token", timeout=30,
                          auth=(org["client_id"], org["client_secret"]),
                          data={"grant_type": PICKUP_GRANT_TYPE, "code": grant["pickup_code"]})
    assert token.status_code == 200, token.text
    return token.json()["access_token"], grant["grant"]["id"]


def test_kill_9_under_concurrent_writes_loses_no_acknowledged_write(settings, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "serve.log", "ab")  # noqa: SIM115 - closed at the end
    proc = _serve(settings, port, log)
    try:
        owners = {f"kill{i}": _owner(base, f"kill{i}") for i in range(3)}
        reader, grant_id = _grant_token(base, owners["kill0"])
        acked: dict[str, set[str]] = {name: set() for name in owners}
        reads = [0]

        def write(name: str, stop: threading.Event) -> None:
            http, i = owners[name], 0
            while not stop.is_set():
                i += 1
                try:
                    resp = http.post(f"{base}/api/v1/records", timeout=10, json={
                        "type": "person", "data": {"given_names": f"N{i}", "surname": name}})
                except requests.RequestException:
                    continue  # the server died under it: not acknowledged
                if resp.status_code == 201:
                    acked[name].add(resp.json()["id"])

        def read(stop: threading.Event) -> None:
            http = requests.Session()
            http.headers["Authorization"] = f"Bearer {reader}"
            while not stop.is_set():
                try:
                    if http.get(f"{base}/api/v1/grant/records", timeout=10).status_code == 200:
                        reads[0] += 1
                except requests.RequestException:
                    continue

        for _ in range(ROUNDS):
            stop = threading.Event()
            threads = [threading.Thread(target=write, args=(n, stop)) for n in owners]
            threads.append(threading.Thread(target=read, args=(stop,)))
            for t in threads:
                t.start()
            time.sleep(WRITE_SECONDS)
            _kill9(proc)
            stop.set()
            for t in threads:
                t.join(30)
            proc = _serve(settings, port, log)

        assert all(acked.values()) and reads[0] > 0
        for name, http in owners.items():
            have: set[str] = set()
            cursor = None
            while True:  # every page of the list (at most 1,000 records a page)
                resp = http.get(f"{base}/api/v1/records", timeout=30, params={
                    "type": "person", "limit": 1000, **({"cursor": cursor} if cursor else {})})
                assert resp.status_code == 200, resp.text
                have |= {r["id"] for r in resp.json()["records"]}
                cursor = resp.json()["next_cursor"]
                if cursor is None:
                    break
            assert acked[name] <= have, f"{len(acked[name] - have)} acknowledged records lost"
            page = http.get(f"{base}/api/v1/access-log?limit=500", timeout=30).json()
            assert page["log_intact"] is True, page.get("problems")
        page = owners["kill0"].get(f"{base}/api/v1/access-log?grant={grant_id}&limit=1000",
                                   timeout=30).json()
        logged = sum(1 for e in page["events"] if e["action"] == "grant.read")
        assert logged >= min(reads[0], 1000), "acknowledged organisation reads lost"
    finally:
        if proc.poll() is None:
            _kill9(proc)
        log.close()
