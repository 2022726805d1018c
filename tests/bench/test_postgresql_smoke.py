"""The PostgreSQL sections of the benchmark (bench/postgresql.py) run end to end at smoke size.

A real PostgreSQL from Debian's binaries (tests/pgserver.py), real ``kluis serve`` processes,
real HTTP. Timings are never asserted: only that each section ran and its results have the
shape BENCHMARKS.md and docs/scaling.md read.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PG_SECTIONS = ("pg_read", "pg_vault_open", "pg_vault_bytes", "pg_two_nodes")


@pytest.fixture(scope="module")
def pg_run(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("pgbench")
    only = [arg for name in PG_SECTIONS for arg in ("--only", name)]
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", *only, "--results-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [results_file] = out.glob("*-smoke.json")
    return json.loads(results_file.read_text())


def test_every_postgresql_section_ran(pg_run):
    assert pg_run["meta"]["failed_sections"] == []
    assert set(pg_run["sections"]) == set(PG_SECTIONS)
    for name in PG_SECTIONS:
        assert "error" not in pg_run["sections"][name], pg_run["sections"][name]
        assert "skipped" not in pg_run["sections"][name], pg_run["sections"][name]


def test_the_read_on_postgresql_has_its_three_baselines_and_logs_every_read(pg_run):
    read = pg_run["sections"]["pg_read"]
    for side in ("bare", "files", "pg_on", "pg_off"):
        assert read[side]["rps"] > 0, side
        assert read[side]["p99_ms"] > 0, side
    for key in ("pg_over_bare_rps", "pg_over_files_rps", "pg_off_over_pg_on_rps"):
        assert read[key] > 0, key
    # The product's sessions commit durably; the bench's comparison server really does not.
    assert read["product_session_synchronous_commit"] == "on"
    assert read["bench_off_session_synchronous_commit"] == "off"
    assert read["postgresql"]["fsync"] == "on"
    for side in ("pg_on", "pg_off"):
        assert read["reads_served_ok"][side] > 0
        assert read["access_events_written"][side] >= read["reads_served_ok"][side]
    assert read["server_logs"]["pg_on"]["statuses"].get("200", 0) > 0


def test_vault_opening_is_measured_at_each_count_on_both_backends(pg_run):
    opening = pg_run["sections"]["pg_vault_open"]
    for backend in ("files", "postgresql"):
        levels = opening[backend]["levels"]
        assert [level["vaults"] for level in levels] == opening["vault_counts"]
        for level in levels:
            assert level["per_request_ms"] > 0 and level["cached_open_ms"] > 0
            assert level["open_ms"] > 0
        assert opening[backend]["growth_ratio"] > 0
    assert opening["pg_over_files_per_request"] > 0


def test_a_typical_vault_is_measured_on_both_backends(pg_run):
    size = pg_run["sections"]["pg_vault_bytes"]
    documents = size["documents_total_bytes"]
    assert documents == 2 * size["document_bytes"]
    for vault in size["files"] + size["postgresql"]:
        assert vault["events"] >= size["events_target"]
    # The documents are inside the vault on both backends (ciphertext is never smaller).
    assert size["file_bytes_per_vault"] > documents
    assert size["pg_sealed_bytes_per_vault"] > documents
    assert size["pg_table_bytes_per_vault"] >= size["pg_sealed_bytes_per_vault"]
    assert all(vault["rows"] > 0 for vault in size["postgresql"])


def test_two_web_nodes_both_serve_against_one(pg_run):
    nodes = pg_run["sections"]["pg_two_nodes"]
    assert nodes["one_node_rps"] > 0 and nodes["two_nodes_rps"] > 0
    assert nodes["two_over_one"] > 0
    for run in nodes["two_nodes"]:
        assert len(run["nodes"]) == 2
        assert all(node["ok"] > 0 for node in run["nodes"])
    assert nodes["server_logs"]["node2"]["statuses"].get("200", 0) > 0
    assert nodes["reads_served_ok"] > 0
    assert nodes["every_read_logged"]
