"""``kluis verify-log`` opens the vault with an owner token and checks the hash chain."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, settings_env


def run_verify(settings, token: str) -> subprocess.CompletedProcess:
    env = settings_env(settings) | {"KLUIS_OWNER_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "vault.cli", "verify-log"], env=env,
                          cwd=str(ROOT), capture_output=True, text=True, timeout=60)


def test_verify_log_passes_then_detects_an_edited_event(live_server, make_owner, settings,
                                                        backend):
    owner = make_owner()
    owner.post("/api/v1/records", json={"type": "person",
                                        "data": {"given_names": "A", "surname": "B"}})
    ok = run_verify(settings, owner.token)
    assert ok.returncode == 0, ok.stderr
    assert "intact" in ok.stdout

    svc = live_server.app.extensions["kluis"]
    slot, dek = svc.accounts.unlock_token(owner.token)
    with svc.accounts.open(slot.vault_id, dek) as vault:
        if backend:  # written to PostgreSQL as a row sealed anew: only the hash chain tells
            with vault.transaction() as tx:
                tx.execute("UPDATE events SET actor = 'someone' WHERE seq = 1")
        else:  # the file itself, without Kluis's write path
            vault.conn.execute("UPDATE events SET actor = 'someone' WHERE seq = 1")
    bad = run_verify(settings, owner.token)
    assert bad.returncode == 1
    assert "TAMPERED: event 1 was changed" in bad.stderr
    log = owner.get("/api/v1/access-log").json()
    assert log["log_intact"] is False and log["problems"]


def test_verify_log_refuses_a_wrong_token(live_server, settings):
    result = run_verify(settings, "kluis_at_wrong")
    assert result.returncode != 0
    assert "not valid" in result.stderr
