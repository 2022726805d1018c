"""``kluis vault export | import | delete`` as real subprocesses against real KLUIS_HOMEs."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, settings_env
from vault.accounts.service import Accounts
from vault.records import service as records
from vault.services import build

PASSWORD = "correct horse staple 42"
PASSPHRASE = "cli passphrase for moving"


def _kluis(settings, *args):
    return subprocess.run([sys.executable, "-m", "vault.cli", *args], env=settings_env(settings),
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_cli_moves_a_vault_and_then_deletes_the_old_one(make_settings, tmp_path):
    old = make_settings("old")
    svc = build(old)
    try:
        accounts: Accounts = svc.accounts
        vault_id, _ = accounts.register("kees", PASSWORD)
        dek = accounts.unlock_password("kees", PASSWORD).dek
        with accounts.open(vault_id, dek) as vault:
            records.create_record(vault, "pension", {"provider": "ABP", "scheme": "Middelloon"})
    finally:
        svc.close()
    target = tmp_path / "kees.kluis"
    out = _kluis(old, "vault", "export", "--username", "kees", "--password", PASSWORD,
                 "--passphrase", PASSPHRASE, "-o", str(target))
    assert out.returncode == 0, out.stderr
    assert b"ABP" not in target.read_bytes()

    new = make_settings("new")
    wrong = _kluis(new, "vault", "import", str(target), "--username", "kees2", "--password",
                   PASSWORD, "--passphrase", "not the right passphrase")
    assert wrong.returncode != 0 and "passphrase" in wrong.stderr
    done = _kluis(new, "vault", "import", str(target), "--username", "kees2", "--password",
                  PASSWORD, "--passphrase", PASSPHRASE)
    assert done.returncode == 0, done.stderr
    assert "Recovery code" in done.stdout and "grants" in done.stdout
    svc = build(new)
    try:
        unlocked = svc.accounts.unlock_password("kees2", PASSWORD)
        with svc.accounts.open(unlocked.vault_id, unlocked.dek) as vault:
            [pension] = records.list_records(vault)
        assert pension.data == {"provider": "ABP", "scheme": "Middelloon"}
    finally:
        svc.close()

    gone = _kluis(old, "vault", "delete", "--username", "kees", "--password", PASSWORD, "--yes")
    assert gone.returncode == 0, gone.stderr
    assert '"vaults_erased": 1' in gone.stdout
    for path in old.home_path.rglob("*"):
        if path.is_file():
            assert b"Middelloon" not in path.read_bytes()
