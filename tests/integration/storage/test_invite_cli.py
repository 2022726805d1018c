"""``kluis operator invite --count``, ``operator invites`` and ``operator revoke-invite``."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, settings_env


def _cli(settings, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vault.cli", "operator", *args],
                          env=settings_env(settings), cwd=str(ROOT), capture_output=True,
                          text=True, timeout=60)


def test_invites_in_bulk_to_a_file_listed_and_revoked(settings, tmp_path):
    one = _cli(settings, "invite", "--note", "member 1")
    assert one.returncode == 0 and one.stdout.strip().startswith("inv_")
    assert len(one.stdout.split()) == 1  # without --count: one code, as before
    out = tmp_path / "codes.txt"
    many = _cli(settings, "invite", "--count", "25", "--note", "batch", "--output", str(out))
    assert many.returncode == 0, many.stderr
    assert "inv_" not in many.stdout  # the codes went to the file only
    codes = out.read_text().split()
    assert len(codes) == 25 and len(set(codes)) == 25 and (out.stat().st_mode & 0o777) == 0o600
    assert _cli(settings, "invite", "--output", str(out)).returncode == 1  # never overwritten

    listed = json.loads(_cli(settings, "invites", "--json").stdout)
    assert len(listed) == 26 and {i["state"] for i in listed} == {"open"}
    assert all(code not in json.dumps(listed) for code in codes)
    revoked = _cli(settings, "revoke-invite", codes[0])
    assert revoked.returncode == 0 and revoked.stdout.strip() == "revoked"
    again = _cli(settings, "revoke-invite", codes[0])
    assert again.returncode == 1 and "no unused invitation code" in again.stderr
    assert len(json.loads(_cli(settings, "invites", "--json").stdout)) == 25
    text = _cli(settings, "invites").stdout.splitlines()
    assert len(text) == 25 and all(" open " in line for line in text)
