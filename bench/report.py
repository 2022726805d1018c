"""Results: the JSON file, the figure list, and the table in BENCHMARKS.md."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from bench.procs import ROOT

START = "<!-- bench:table:start -->"
END = "<!-- bench:table:end -->"


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem_kib / 1048576, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "commit": commit}


def machine_line(m: dict) -> str:
    return f"{m['cores']}-core {m['cpu'] or platform.machine()}, {m['memory_gib']} GiB, " \
           f"Linux {m['kernel']}, Python {m['python']}"


def _f(value, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    else:
        text = f"{value:,}"
    return f"{text} {unit}".strip()


def figures(sections: dict) -> list[dict]:
    """One row per figure: what, value, baseline, ratio, target, met."""
    rows: list[dict] = []

    def add(section, figure, value, baseline_name, baseline, ratio, target="", met=None,
            unit=""):
        rows.append({"section": section, "figure": figure, "value": value, "unit": unit,
                     "baseline": baseline_name, "baseline_value": baseline, "ratio": ratio,
                     "target": target, "met": met})

    s = sections.get("authorized_read") or {}
    if "kluis" in s:
        k, b = s["kluis"], s["bare"]
        add("1", "Authorized read throughput (req/s)", k["rps"], "bare Flask, same bytes, same gunicorn",
            b["rps"], s["throughput_ratio"], ">= 0.85", s["throughput_ratio"] >= 0.85)
        add("1", "Authorized read p99 (ms)", k["p99_ms"], "bare Flask p99", b["p99_ms"],
            s["p99_ratio"], "<= 2", s["p99_ratio"] <= 2)
        add("1", "Authorized read p50 (ms)", k["p50_ms"], "bare Flask p50", b["p50_ms"],
            s["p50_ratio"])
        floors = s.get("floors") or {}
        names = {"commit": "one FULL SQLite commit per request, one file per worker",
                 "group": "the same rows group-committed by one writer process"}
        for floor, name in names.items():
            f = floors.get(floor)
            if not f:
                continue
            sync = s.get("sqlite_synchronous", "FULL")
            name = name.replace("FULL", sync)
            batch = f.get("rows_per_commit")
            extra = f"; {batch:.2f} rows per commit" if batch else ""
            add("1", f"Floor: bare Flask + {name} (req/s{extra})", f["rps"],
                "bare Flask", b["rps"], f["over_bare_rps"], "ceiling (information)")
            add("1", f"Floor p99 ({floor}) (ms)", f["p99_ms"], "bare Flask p99", b["p99_ms"],
                f["p99_over_bare"], "information")
            add("1", "Authorized read throughput (req/s)", k["rps"],
                f"the {floor} floor", f["rps"], f["read_over_floor_rps"], "information")
        add("1", "Access events committed per read served", s["access_events_written"],
            "reads served (200)", s["reads_served_ok"],
            round(s["access_events_written"] / max(1, s["reads_served_ok"]), 3), ">= 1",
            s["every_read_logged"])
    n = sections.get("authorized_read_normal") or {}
    if "normal" in n:
        add("1", "Authorized read at synchronous=NORMAL (req/s, not used)", n["normal"]["rps"],
            "same read at FULL", n["full"]["rps"], n["normal_over_full_rps"], "information")
    s = sections.get("revocation") or {}
    if "steady_rps" in s:
        add("2", "Reads succeeding after the revoke call returned",
            s["reads_ok_started_after_revoke_returned"], "", None, None, "0",
            s["reads_ok_started_after_revoke_returned"] == 0)
        add("2", "Other grant's reads while revoking (req/s)", s["control_during_revoke_rps"],
            "same readers before the revoke", s["control_steady_rps"], s["control_dip_ratio"])
        add("2", "All reads while revoking (req/s; 401s are cheap)", s["during_revoke_rps"],
            "all reads before the revoke", s["steady_rps"], s["dip_ratio"])
        add("2", "Revoke call (ms)", s["revoke_call_ms"], "", None, None)
    s = sections.get("vault_open") or {}
    if "levels" in s:
        first, last = s["levels"][0], s["levels"][-1]
        add("3", f"Per-request unwrap + open at {last['vaults']:,} vaults (ms)",
            last["per_request_ms"], "query on a cached connection", last["cached_query_ms"],
            last["per_request_over_cached"])
        add("3", f"Per-request open at {last['vaults']:,} vaults (ms)", last["per_request_ms"],
            f"same at {first['vaults']:,} vaults", first["per_request_ms"], s["growth_ratio"],
            "<= 1.5 (flat)", s["growth_ratio"] <= 1.5)
        add("3", "SQLCipher open with a passphrase (ms)", s["passphrase_open_ms"],
            "open with the raw key", last["sqlcipher_open_ms"], s["passphrase_over_raw_key"],
            "never per request")
    s = sections.get("owner_login") or {}
    if "argon2id_ms" in s:
        add("4", "Owner unlock, in process (ms)", s["unlock_ms"], "one Argon2id derivation",
            s["argon2id_ms"], s["unlock_over_argon2"])
        add("4", "Login over HTTP (ms)", s["login_http_ms"], "one Argon2id derivation",
            s["argon2id_ms"], s["login_http_over_argon2"])
        add("4", "Login to first record (ms)", s["first_record_ms"], "one Argon2id derivation",
            s["argon2id_ms"], s["first_record_over_argon2"])
    s = sections.get("connector_refresh") or {}
    if "runs" in s:
        add("5", "Vault refreshes/min, 1 worker", s["refreshes_per_min_1_worker"],
            "same source call made directly, serially", s["source_calls_per_min_direct"],
            s["one_worker_over_direct"])
        add("5", "Vault refreshes/min, 2 workers", s["refreshes_per_min_2_workers"],
            "1 worker", s["refreshes_per_min_1_worker"], s["two_over_one_worker"])
        add("5", "Inbox merge per record (ms)", s["merge_ms_per_record"],
            "create_record per record", s["create_ms_per_record"], s["merge_over_create"])
        add("5", "Redis bytes per queued refresh job", s["redis_bytes_per_queued_refresh"],
            "minimal rq job", s["redis_bytes_per_minimal_job"], s["refresh_job_over_minimal"])
    elif "skipped" in s:
        add("5", "Connector refresh", None, s["skipped"], None, None)
    s = sections.get("growth") or {}
    if "levels" in s:
        first, last = s["levels"][0], s["levels"][-1]
        add("6", f"Grant read p50 at {last['records']:,} records (ms)",
            last["grant_read"]["p50_ms"], f"same at {first['records']:,}",
            first["grant_read"]["p50_ms"], s["grant_read_p50_growth"])
        add("6", f"Owner dashboard p50 at {last['records']:,} records (ms)",
            last["dashboard"]["p50_ms"], f"same at {first['records']:,}",
            first["dashboard"]["p50_ms"], s["dashboard_p50_growth"])
        add("6", f"Disk per vault at {last['records']:,} records (bytes)", last["disk_bytes"],
            f"at {first['records']:,}", first["disk_bytes"], s["disk_growth"])
        for key, label in (("web_worker_rss", "Web worker"), ("rq_worker_rss", "rq worker")):
            rss = s.get(key) or {}
            if rss.get("at_rest_kib"):
                add("6", f"{label} RSS under load (KiB)", rss["under_load_kib"], "at rest",
                    rss["at_rest_kib"],
                    round(rss["under_load_kib"] / rss["at_rest_kib"], 3))
    _postgresql_figures(sections, add)
    return rows


def _postgresql_figures(sections: dict, add) -> None:
    """Rows of the PostgreSQL sections (bench/postgresql.py), numbered "pg"."""
    s = sections.get("pg_read") or {}
    if "pg_on" in s:
        on, b = s["pg_on"], s["bare"]
        add("pg", "Authorized read on PostgreSQL (req/s)", on["rps"], "bare Flask", b["rps"],
            s["pg_over_bare_rps"])
        add("pg", "Authorized read on PostgreSQL (req/s)", on["rps"], "file backend",
            s["files"]["rps"], s["pg_over_files_rps"])
        add("pg", "Authorized read on PostgreSQL p99 (ms)", on["p99_ms"], "bare Flask p99",
            b["p99_ms"], s["pg_p99_over_bare"])
        add("pg", "Same read, synchronous_commit=off (req/s, bench only)", s["pg_off"]["rps"],
            "synchronous_commit=on", on["rps"], s["pg_off_over_pg_on_rps"], "information")
        written, served = s["access_events_written"], s["reads_served_ok"]
        add("pg", "Access events committed per read served (PostgreSQL)", written["pg_on"],
            "reads served (200)", served["pg_on"],
            round(written["pg_on"] / max(1, served["pg_on"]), 3), ">= 1",
            written["pg_on"] >= served["pg_on"])
    s = sections.get("pg_vault_open") or {}
    if "postgresql" in s:
        for backend in ("files", "postgresql"):
            levels = s[backend]["levels"]
            first, last = levels[0], levels[-1]
            add("pg", f"{backend}: open one vault among {last['vaults']:,}, cache off (ms)",
                last["per_request_ms"], f"among {first['vaults']:,}", first["per_request_ms"],
                s[backend]["growth_ratio"], "<= 1.5 (flat)", s[backend]["growth_ratio"] <= 1.5)
            add("pg", f"{backend}: open one vault among {last['vaults']:,}, cached (ms)",
                last["cached_open_ms"], f"among {first['vaults']:,}", first["cached_open_ms"],
                s[backend]["cached_growth_ratio"])
    s = sections.get("pg_vault_bytes") or {}
    if "pg_table_bytes_per_vault" in s:
        add("pg", "Typical vault on PostgreSQL (table bytes)", s["pg_table_bytes_per_vault"],
            "as a file", s["file_bytes_per_vault"], s["pg_over_files"])
    s = sections.get("pg_two_nodes") or {}
    if "two_nodes_rps" in s:
        add("pg", "Read throughput, two web nodes on one host (req/s)", s["two_nodes_rps"],
            "one node", s["one_node_rps"], s["two_over_one"])


def write_results(results: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "" if results["meta"]["profile"] == "full" else f"-{results['meta']['profile']}"
    path = out_dir / f"{stamp}{suffix}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path


def table(results: dict, results_path: Path | None) -> str:
    meta = results["meta"]
    lines = [
        f"Machine: {machine_line(meta['machine'])}  ",
        f"Date: {meta['date']}  ",
        f"Command: `{meta['command']}` (profile {meta['profile']}, load generator "
        f"{meta['load_tool']}, commit {meta['machine'].get('commit') or 'n/a'})  ",
    ]
    if results_path is not None:
        try:
            shown = results_path.resolve().relative_to(ROOT)
        except ValueError:
            shown = results_path
        lines.append(f"Results: `{shown}`")
    lines += ["", "| # | figure | value | baseline | baseline value | ratio | target | met |",
              "|---|---|---:|---|---:|---:|---|---|"]
    for row in results["figures"]:
        met = {True: "yes", False: "**no**", None: ""}[row["met"]]
        lines.append(
            f"| {row['section']} | {row['figure']} | {_f(row['value'])} | {row['baseline']} | "
            f"{_f(row['baseline_value']) if row['baseline_value'] is not None else ''} | "
            f"{_f(row['ratio']) if row['ratio'] is not None else ''} | {row['target']} | {met} |"
        )
    return "\n".join(lines)


def update_markdown(path: Path, results: dict, results_path: Path | None) -> None:
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip("\n") + f"\n\n{START}\n{END}\n"
    block = f"{START}\n{table(results, results_path)}\n{END}"
    text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _m: block, text,
                  flags=re.S)
    path.write_text(text)
