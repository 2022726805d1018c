"""Run every section, then write the results file and the BENCHMARKS.md table.

``python -m bench`` or ``kluis bench``; ``--smoke`` for the seconds-long CI version.
"""

from __future__ import annotations

import signal
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

import click

from bench import load, postgresql, procs, report, sections
from bench.world import World

SECTIONS = ("authorized_read", "revocation", "vault_open", "owner_login", "connector_refresh",
            "growth", *postgresql.SECTIONS)


class Context:
    """What the sections share: the process stack, Redis, the world and the Kluis server."""

    def __init__(self, stack: procs.Stack, tool: str) -> None:
        self.stack = stack
        self.tool = tool
        self.tmp = stack.tempdir("kluis-bench-")
        self.redis_url = procs.start_redis(stack)
        port = procs.free_port()
        self.world = World(self.tmp / "home", self.redis_url, port,
                           base_url=f"http://127.0.0.1:{port}")
        stack.callback(self.world.close)
        self.kluis = procs.start_kluis(stack, self.world.settings, port, self.tmp / "kluis.log")


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def run(profile: sections.Profile, *, results_dir: Path, markdown: Path | None,
        tool: str = "auto", only: tuple[str, ...] = (), echo=print) -> tuple[dict, Path]:
    if tool == "auto":
        tool = "wrk" if load.have_wrk() else "python"
    previous = signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    results: dict = {
        "meta": {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python -m bench" + (" --smoke" if profile.name == "smoke" else ""),
            "profile": profile.name, "load_tool": tool, "machine": report.machine(),
        },
        "sections": {},
    }
    failed = []
    try:
        with procs.Stack() as stack:
            ctx = Context(stack, tool)
            results["meta"]["sqlite_synchronous"] = ctx.world.settings.sqlite_synchronous
            results["meta"]["web_workers"] = ctx.world.settings.web_workers
            plan = [(name, getattr(postgresql if name in postgresql.SECTIONS else sections,
                                   _func(name))) for name in SECTIONS]
            if profile.compare_normal:
                plan.insert(1, ("authorized_read_normal", sections.authorized_read_normal))
            for name, func in plan:
                if only and name not in only:
                    continue
                echo(f"bench: {name} ...")
                t0 = time.monotonic()
                try:
                    results["sections"][name] = func(ctx, profile)
                except Exception as exc:  # noqa: BLE001 - record it, run the other sections
                    failed.append(name)
                    results["sections"][name] = {
                        "error": f"{type(exc).__name__}: {exc}",
                        "traceback": traceback.format_exc()}
                    echo(f"bench: {name} FAILED: {type(exc).__name__}: {exc}")
                results["sections"][name]["section_seconds"] = round(time.monotonic() - t0, 1)
    finally:
        signal.signal(signal.SIGTERM, previous)
    results["meta"]["total_seconds"] = round(time.monotonic() - started, 1)
    results["meta"]["failed_sections"] = failed
    results["figures"] = report.figures(results["sections"])
    path = report.write_results(results, results_dir)
    if markdown is not None:
        report.update_markdown(markdown, results, path)
    return results, path


def _func(name: str) -> str:
    return {"vault_open": "vault_opening"}.get(name, name)


@click.command("bench")
@click.option("--smoke", is_flag=True, help="A seconds-long run (CI): small sizes, short loads.")
@click.option("--results-dir", type=click.Path(path_type=Path), default=None,
              help="Where results/<timestamp>.json goes (default bench/results).")
@click.option("--markdown", type=click.Path(path_type=Path), default=None,
              help="The file whose table is rewritten (default BENCHMARKS.md for a full run; "
                   "a smoke run rewrites none unless given).")
@click.option("--tool", type=click.Choice(["auto", "wrk", "python"]), default="auto",
              help="Load generator: wrk when installed, else the Python one.")
@click.option("--only", multiple=True, type=click.Choice(SECTIONS + ("authorized_read_normal",)),
              help="Run only these sections (repeatable).")
def bench_command(smoke: bool, results_dir: Path | None, markdown: Path | None, tool: str,
                  only: tuple[str, ...]) -> None:
    """Benchmark every hot path against a baseline measured in the same run."""
    profile = sections.SMOKE if smoke else sections.FULL
    results_dir = results_dir or procs.ROOT / "bench" / "results"
    if markdown is None and not smoke and not only:
        markdown = procs.ROOT / "BENCHMARKS.md"
    results, path = run(profile, results_dir=results_dir, markdown=markdown, tool=tool,
                        only=only, echo=click.echo)
    click.echo(report.table(results, path))
    click.echo(f"\nresults: {path}")
    if results["meta"]["failed_sections"]:
        raise click.ClickException(
            "failed sections: " + ", ".join(results["meta"]["failed_sections"]))


def register_commands(cli) -> None:
    cli.add_command(bench_command)


def main() -> None:
    bench_command(prog_name="python -m bench")


if __name__ == "__main__":
    main()
