"""The benchmark harness runs end to end (smoke profile) and records every section.

Timings are never asserted: only that each section ran and produced sane, non-zero numbers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("authorized_read", "revocation", "vault_open", "owner_login", "connector_refresh",
            "growth")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("bench")
    markdown = out / "BENCHMARKS.md"
    markdown.write_text("# Benchmarks\n\nintro stays\n\n<!-- bench:table:start -->\nold\n"
                        "<!-- bench:table:end -->\n\noutro stays\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--results-dir", str(out / "results"),
         "--markdown", str(markdown)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [results_file] = (out / "results").glob("*-smoke.json")
    return json.loads(results_file.read_text()), markdown


def test_the_smoke_run_records_every_section(smoke_run):
    results, _ = smoke_run
    assert results["meta"]["failed_sections"] == []
    for name in SECTIONS:
        assert name in results["sections"], name
        assert "error" not in results["sections"][name], results["sections"][name]


def test_the_authorized_read_and_its_baseline_have_non_zero_numbers(smoke_run):
    read = smoke_run[0]["sections"]["authorized_read"]
    for side in ("bare", "kluis"):
        assert read[side]["rps"] > 0
        assert read[side]["p99_ms"] > 0
        assert read[side]["errors"] == 0
    assert read["throughput_ratio"] > 0 and read["p99_ratio"] > 0
    for floor in ("commit", "group"):  # the ceilings run in the same rounds
        assert read["floors"][floor]["rps"] > 0
        assert read["floors"][floor]["errors"] == 0
        assert read["floors"][floor]["read_over_floor_rps"] > 0
    assert read["reads_served_ok"] > 0
    assert read["access_events_written"] >= read["reads_served_ok"]


def test_no_read_succeeds_after_the_revoke_returned(smoke_run):
    revocation = smoke_run[0]["sections"]["revocation"]
    assert revocation["reads_ok_started_after_revoke_returned"] == 0
    assert revocation["revoked_reads_ok_total"] > 0
    assert revocation["revoked_reads_401_total"] > 0


def test_vault_opening_login_connectors_and_growth_have_numbers(smoke_run):
    sections = smoke_run[0]["sections"]
    assert all(level["per_request_ms"] > 0 and level["cached_query_ms"] > 0
               for level in sections["vault_open"]["levels"])
    assert sections["owner_login"]["argon2id_ms"] > 0
    assert sections["owner_login"]["first_record_ms"] > sections["owner_login"]["argon2id_ms"]
    connectors = sections["connector_refresh"]
    assert connectors["refreshes_per_min_1_worker"] > 0
    assert connectors["merged_records"] > 0
    assert connectors["redis_bytes_per_queued_refresh"] > 0
    growth = sections["growth"]
    assert len(growth["levels"]) >= 2
    assert all(level["disk_bytes"] > 0 for level in growth["levels"])
    assert growth["web_worker_rss"]["at_rest_kib"] > 0
    assert growth["rq_worker_rss"]["at_rest_kib"] > 0


def test_the_markdown_table_is_rewritten_between_its_markers(smoke_run):
    results, markdown = smoke_run
    text = markdown.read_text()
    assert "intro stays" in text and "outro stays" in text
    assert "\nold\n" not in text
    assert "| # | figure | value | baseline |" in text
    assert len(results["figures"]) >= 10
    assert "python -m bench --smoke" in text
