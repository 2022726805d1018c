"""The benchmark sections (issue 6, items 1-6). Each returns a plain dict of results.

Every figure comes with the baseline it is divided by, measured in the same run.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench import load, procs
from bench.world import FILLER_TYPE, GRANTED, PASSWORD, World, filler
from vault.crypto.slots import KeySlot

READ_PATH = "/api/v1/grant/records"
# Granted fields of the authorized read (a narrowed, minimal grant).
READ_FIELDS = {"person": ["given_names", "surname", "birth_date"],
               "address": ["postcode", "city"],
               "income": ["year", "gross_amount_cents"]}


@dataclass(frozen=True)
class Profile:
    """How big each section runs: ``FULL`` for the recorded run, ``SMOKE`` for CI."""

    name: str
    read_vaults: int
    connections: int
    read_seconds: float
    read_rounds: int
    compare_normal: bool
    revoke_readers: int
    revoke_control: int
    revoke_seconds: float
    open_counts: tuple[int, ...]
    open_samples: int
    login_runs: int
    connector_vaults: int
    connector_workers: tuple[int, ...]
    queued_jobs: int
    growth_sizes: tuple[int, ...]
    growth_requests: int


FULL = Profile("full", read_vaults=16, connections=16, read_seconds=10, read_rounds=3,
               compare_normal=True, revoke_readers=8, revoke_control=4, revoke_seconds=6,
               open_counts=(10, 1_000, 10_000), open_samples=400, login_runs=5,
               connector_vaults=30, connector_workers=(1, 2), queued_jobs=1_000,
               growth_sizes=(10, 100, 1_000, 10_000), growth_requests=100)
SMOKE = Profile("smoke", read_vaults=2, connections=4, read_seconds=1, read_rounds=1,
                compare_normal=False, revoke_readers=2, revoke_control=1, revoke_seconds=2,
                open_counts=(10, 40), open_samples=30, login_runs=1,
                connector_vaults=2, connector_workers=(1, 2), queued_jobs=20,
                growth_sizes=(10, 100), growth_requests=10)


def ratio(value: float, baseline: float) -> float:
    return round(value / baseline, 3) if baseline else 0.0


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


class RssSampler:
    """Peak RSS of some processes while a load runs (sampled every 0.2 s)."""

    def __init__(self, pids_fn) -> None:
        self.pids_fn = pids_fn
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self.pids_fn():
                self.peak[pid] = max(self.peak.get(pid, 0), procs.rss_kib(pid))
            self._stop.wait(0.2)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def max_kib(self) -> int:
        return max(self.peak.values(), default=0)


def _present(slot: KeySlot | None) -> KeySlot:
    """The key slot of a token the benchmark made itself: it exists."""
    if slot is None:
        raise RuntimeError("a benchmark token has no key slot")
    return slot


def timed_opens(instance, made: list[tuple[str, str]], rng: Any, samples: int,
                check: Callable[[str, Any], None] | None = None) -> tuple[list[float], ...]:
    """Open ``samples`` vaults picked from ``made`` (vault id, app token) the way a request
    does, timing each phase: token to key slot, unwrap, open, first query, close. Returns
    the seconds of each phase, and of all, per sample. ``check(vault_id, found)`` sees the
    vault id the opened vault holds."""
    from vault.crypto import keys, slots
    from vault.storage.vaults import open_vault

    lookup: list[float] = []
    unwrap: list[float] = []
    opening: list[float] = []
    first_query: list[float] = []
    total: list[float] = []
    for _ in range(samples):
        vault_id, token = rng.choice(made)
        t0 = time.perf_counter()
        slot = instance.slot_by_token_hash(keys.token_hash(token))
        t1 = time.perf_counter()
        dek = slots.unwrap(_present(slot), token)
        t2 = time.perf_counter()
        vault = open_vault(instance, vault_id, dek)
        t3 = time.perf_counter()
        found = vault.get_meta("vault_id")
        if check is not None:
            check(vault_id, found)
        t4 = time.perf_counter()
        vault.close()
        t5 = time.perf_counter()
        lookup.append(t1 - t0)
        unwrap.append(t2 - t1)
        opening.append(t3 - t2)
        first_query.append(t4 - t3)
        total.append(t5 - t0)
    return lookup, unwrap, opening, first_query, total


# -- 1. authorized read ------------------------------------------------------------------------


def _read_state(world: World, n: int) -> list:
    grants = []
    for _ in range(n):
        owner = world.make_owner({t: [d] for t, d in GRANTED.items()})
        grants.append(world.grant(owner, fields=READ_FIELDS))
    return grants


def _total_reads(world: World, grants: list) -> int:
    return sum(world.count_events(g.owner, "grant.read", g.grant_id) for g in grants)


FLOORS = ("commit", "group")  # bench/floor.py


def _rows_per_commit(log: Path) -> float | None:
    """The group-commit writer's last reported average batch (None before 1,000 commits)."""
    try:
        lines = [line for line in log.read_text().splitlines() if line.startswith("rows per")]
    except OSError:
        return None
    return float(lines[-1].rsplit(":", 1)[1]) if lines else None


def authorized_read(ctx, profile: Profile) -> dict:
    world: World = ctx.world
    grants = _read_state(world, profile.read_vaults)
    ctx.read_grants = grants
    tokens = [g.token for g in grants]
    kluis = ctx.kluis
    resp = requests.get(kluis.url + READ_PATH,
                        headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=30)
    resp.raise_for_status()
    body = resp.content
    body_file = load.write_body(ctx.tmp / "body.json", body)
    # The baseline, and the two floors: the same bytes plus one durable commit per request.
    servers = {floor or "bare": procs.start_bare(ctx.stack, world.settings, procs.free_port(),
                                                 body_file, ctx.tmp / f"{floor or 'bare'}.log",
                                                 floor=floor)
               for floor in ("", *FLOORS)}
    for server in servers.values():
        check = requests.get(server.url + READ_PATH, timeout=30)
        if check.content != body:
            raise RuntimeError(f"the {server.name} app does not return the same bytes")

    tool = ctx.tool
    warm = max(1.0, profile.read_seconds / 4)
    for server in (*servers.values(), kluis):
        load.run_load(server.port, READ_PATH, tokens, profile.connections, warm, tool=tool)

    rest_rss = {pid: procs.rss_kib(pid) for pid in kluis.worker_pids()}
    before = _total_reads(world, grants)
    runs: dict[str, list] = {name: [] for name in (*servers, "kluis")}
    with RssSampler(kluis.worker_pids) as sampler:
        for _ in range(profile.read_rounds):
            for name, server in (*servers.items(), ("kluis", kluis)):
                runs[name].append(load.run_load(server.port, READ_PATH, tokens,
                                                profile.connections, profile.read_seconds,
                                                tool=tool))
    kluis_runs = runs["kluis"]
    logged = _total_reads(world, grants) - before
    served_ok = sum(r.ok for r in kluis_runs)
    ctx.web_rss = {"at_rest_kib": max(rest_rss.values(), default=0),
                   "under_load_kib": sampler.max_kib(), "workers": len(rest_rss)}
    for server in servers.values():
        procs.stop_process(server.proc)

    def agg(runs: list) -> dict:
        return {"rps": round(median([r.rps for r in runs]), 1),
                "p50_ms": round(median([r.p50_ms for r in runs]), 3),
                "p99_ms": round(median([r.p99_ms for r in runs]), 3),
                "errors": sum(r.errors for r in runs), "runs": [r.summary() for r in runs]}

    b, k = agg(runs["bare"]), agg(kluis_runs)
    floors = {}
    for floor in FLOORS:
        f = agg(runs[floor])
        floors[floor] = {**f, "over_bare_rps": ratio(f["rps"], b["rps"]),
                         "p99_over_bare": ratio(f["p99_ms"], b["p99_ms"]),
                         "read_over_floor_rps": ratio(k["rps"], f["rps"])}
    floors["group"]["rows_per_commit"] = _rows_per_commit(ctx.tmp / "group-writer.log")
    result = {
        "body_bytes": len(body), "vaults": len(grants), "granted_types": sorted(READ_FIELDS),
        "connections": profile.connections, "seconds_per_run": profile.read_seconds,
        "rounds": profile.read_rounds, "load_tool": kluis_runs[0].tool,
        "web_workers": world.settings.web_workers,
        "sqlite_synchronous": world.settings.sqlite_synchronous,
        "bare": b, "kluis": k, "floors": floors,
        "throughput_ratio": ratio(k["rps"], b["rps"]),
        "p99_ratio": ratio(k["p99_ms"], b["p99_ms"]),
        "p50_ratio": ratio(k["p50_ms"], b["p50_ms"]),
        "access_events_written": logged, "reads_served_ok": served_ok,
        "every_read_logged": logged >= served_ok and k["errors"] == 0,
    }
    return result


def authorized_read_normal(ctx, profile: Profile) -> dict:
    """The same read against a second server whose vault writes use synchronous=NORMAL,
    to show what the durable (FULL) access log costs. Informational only."""
    world: World = ctx.world
    tokens = [g.token for g in ctx.read_grants]
    settings = world.settings.with_overrides(sqlite_synchronous="NORMAL")
    port = procs.free_port()
    server = procs.start_kluis(ctx.stack, settings, port, ctx.tmp / "kluis-normal.log")
    try:
        load.run_load(port, READ_PATH, tokens, profile.connections, 2, tool=ctx.tool)
        full = load.run_load(ctx.kluis.port, READ_PATH, tokens, profile.connections,
                             profile.read_seconds, tool=ctx.tool)
        normal = load.run_load(port, READ_PATH, tokens, profile.connections,
                               profile.read_seconds, tool=ctx.tool)
    finally:
        procs.stop_process(server.proc)
    return {"full": full.summary(), "normal": normal.summary(),
            "normal_over_full_rps": ratio(normal.rps, full.rps)}


# -- 2. revocation under load -----------------------------------------------------------------


def revocation(ctx, profile: Profile) -> dict:
    world: World = ctx.world
    owner = world.make_owner({t: [d] for t, d in GRANTED.items()})
    target = world.grant(owner, fields=READ_FIELDS)
    other = world.make_owner({t: [d] for t, d in GRANTED.items()})
    control = world.grant(other, fields=READ_FIELDS)
    app_token = world.app_token(owner)
    conns = ([load.Conn([target.token], "revoked")] * profile.revoke_readers
             + [load.Conn([control.token], "control")] * profile.revoke_control)
    marks: dict[str, float] = {}
    revoke_at = profile.revoke_seconds * 0.5

    def revoke(start_at: float) -> None:
        time.sleep(max(0.0, start_at + revoke_at - time.monotonic()))
        http = requests.Session()
        marks["start"] = time.monotonic()
        resp = http.delete(f"{ctx.kluis.url}/api/v1/grants/{target.grant_id}",
                           headers={"Authorization": f"Bearer {app_token}"}, timeout=30)
        marks["returned"] = time.monotonic()
        marks["status"] = resp.status_code
        http.close()

    threads: list[threading.Thread] = []

    def on_start(start_at: float) -> None:
        thread = threading.Thread(target=revoke, args=(start_at,))
        thread.start()
        threads.append(thread)

    result = load.run_python(ctx.kluis.port, READ_PATH, conns, profile.revoke_seconds,
                             record=True, on_start=on_start)
    for thread in threads:
        thread.join()
    if marks.get("status") != 200:
        raise RuntimeError(f"the revoke call answered {marks.get('status')}")
    t0, t1 = marks["start"], marks["returned"]
    samples = result.samples
    revoked = [s for s in samples if s[0] == "revoked"]
    ok_started_after = sum(1 for s in revoked if s[3] == 200 and s[1] > t1)
    ok_completed_after = sum(1 for s in revoked if s[3] == 200 and s[2] > t1)
    first = min(s[1] for s in samples)
    steady = [s for s in samples if first + 0.3 <= s[2] < t0]
    steady_rps = len(steady) / max(1e-6, t0 - (first + 0.3))
    window_end = max(t1, t0 + 0.1)
    during = [s for s in samples if t0 <= s[2] < window_end]
    during_rps = len(during) / (window_end - t0)
    ctl_steady = sum(1 for s in steady if s[0] == "control") / max(1e-6, t0 - (first + 0.3))
    ctl_during = sum(1 for s in during if s[0] == "control") / (window_end - t0)
    return {
        "readers_on_revoked_grant": profile.revoke_readers,
        "readers_on_control_grant": profile.revoke_control,
        "revoke_call_ms": round((t1 - t0) * 1000, 3),
        "reads_ok_started_after_revoke_returned": ok_started_after,
        "reads_ok_completed_after_revoke_returned": ok_completed_after,
        "revoked_reads_ok_total": sum(1 for s in revoked if s[3] == 200),
        "revoked_reads_401_total": sum(1 for s in revoked if s[3] == 401),
        "statuses": result.statuses,
        "steady_rps": round(steady_rps, 1),
        "during_revoke_rps": round(during_rps, 1),
        "dip_ratio": ratio(during_rps, steady_rps),
        "control_steady_rps": round(ctl_steady, 1),
        "control_during_revoke_rps": round(ctl_during, 1),
        "control_dip_ratio": ratio(ctl_during, ctl_steady),
        "window_ms": round((window_end - t0) * 1000, 1),
    }


# -- 3. vault opening -------------------------------------------------------------------------


def _passphrase_open_ms(tmp: Path, runs: int) -> float:
    import sqlcipher3

    path = tmp / "passphrase.db"
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        conn = sqlcipher3.connect(str(path))
        conn.execute("PRAGMA key = 'a passphrase, not a raw key'")
        conn.execute("CREATE TABLE IF NOT EXISTS t (x)" if i == 0 else "SELECT count(*) FROM t")
        conn.close()
        if i:
            times.append((time.perf_counter() - start) * 1000)
    return median(times)


def vault_opening(ctx, profile: Profile) -> dict:
    import random

    from vault.crypto import keys, slots
    from vault.storage.vaults import open_vault

    # The connection cache off: every sample is a real SQLCipher open, at every scale.
    world = World(ctx.tmp / "open-home", ctx.redis_url, procs.free_port(), vault_cache_seconds=0)
    instance = world.svc.instance
    made: list[tuple[str, str]] = []
    levels = []
    try:
        for count in profile.open_counts:
            start = time.perf_counter()
            made += world.add_small_vaults(count - len(made))
            build_s = time.perf_counter() - start
            rng = random.Random(count)
            lookup, unwrap, opening, first_query, total = timed_opens(
                instance, made, rng, profile.open_samples)
            cached_ids = [rng.choice(made) for _ in range(8)]
            cached = []
            for vault_id, token in cached_ids:
                slot = instance.slot_by_token_hash(keys.token_hash(token))
                cached.append(open_vault(instance, vault_id, slots.unwrap(_present(slot), token)))
            cached_times = []
            for i in range(profile.open_samples):
                vault = cached[i % len(cached)]
                t0 = time.perf_counter()
                vault.get_meta("vault_id")
                cached_times.append(time.perf_counter() - t0)
            for vault in cached:
                vault.close()

            def ms(values: list[float]) -> float:
                return round(median(values) * 1000, 4)

            levels.append({
                "vaults": len(made), "build_seconds": round(build_s, 2),
                "per_request_ms": ms(total), "slot_lookup_ms": ms(lookup),
                "unwrap_ms": ms(unwrap), "sqlcipher_open_ms": ms(opening),
                "first_query_ms": ms(first_query), "cached_query_ms": ms(cached_times),
                "per_request_over_cached": ratio(median(total), median(cached_times)),
            })
        passphrase = _passphrase_open_ms(ctx.tmp, 3 if profile.name == "full" else 1)
    finally:
        world.close()
    first, last = levels[0], levels[-1]
    return {
        "levels": levels, "samples": profile.open_samples,
        "growth_ratio": ratio(last["per_request_ms"], first["per_request_ms"]),
        "passphrase_open_ms": round(passphrase, 2),
        "passphrase_over_raw_key": ratio(passphrase, last["sqlcipher_open_ms"]),
    }


def web_login(http: requests.Session, url: str, username: str) -> requests.Response:
    """Sign in through the login form (its CSRF token first), as a browser does."""
    import re

    page = http.get(url + "/login", timeout=30)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if match is None:
        raise RuntimeError("the login form has no csrf_token")
    resp = http.post(url + "/login", allow_redirects=False, timeout=30,
                     data={"username": username, "password": PASSWORD,
                           "csrf_token": match.group(1)})
    if resp.status_code not in (302, 303) or "dashboard" not in resp.headers.get("Location", ""):
        raise RuntimeError(f"login answered {resp.status_code}")
    return resp


# -- 4. owner login ---------------------------------------------------------------------------


def owner_login(ctx, profile: Profile) -> dict:
    from vault.crypto.kdf import argon2id

    world: World = ctx.world
    owner = world.make_owner({t: [d] for t, d in GRANTED.items()})
    params = world.svc.accounts.argon2_floor
    salt = os.urandom(16)
    kdf, unlock, login_http, first_record, first_page = [], [], [], [], []
    for _ in range(profile.login_runs):
        t0 = time.perf_counter()
        argon2id(PASSWORD, salt, params)
        kdf.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        world.svc.accounts.unlock_password(owner.username, PASSWORD)
        unlock.append(time.perf_counter() - t0)
        http = requests.Session()
        t0 = time.perf_counter()
        web_login(http, ctx.kluis.url, owner.username)
        t1 = time.perf_counter()
        records = http.get(ctx.kluis.url + "/api/v1/records", timeout=30)
        t2 = time.perf_counter()
        if records.status_code != 200 or not records.json()["records"]:
            raise RuntimeError(f"first records answered {records.status_code}")
        page = http.get(ctx.kluis.url + "/dashboard", timeout=30)
        t3 = time.perf_counter()
        if page.status_code != 200:
            raise RuntimeError(f"dashboard answered {page.status_code}")
        login_http.append(t1 - t0)
        first_record.append(t2 - t0)
        first_page.append(t3 - t1 + (t1 - t0))
        http.close()

    def ms(values: list[float]) -> float:
        return round(median(values) * 1000, 2)

    argon = ms(kdf)
    return {
        "argon2id": {"time_cost": params.time_cost, "memory_kib": params.memory_kib,
                     "lanes": params.lanes},
        "runs": profile.login_runs,
        "argon2id_ms": argon, "unlock_ms": ms(unlock), "login_http_ms": ms(login_http),
        "first_record_ms": ms(first_record), "login_plus_dashboard_ms": ms(first_page),
        "unlock_over_argon2": ratio(ms(unlock), argon),
        "login_http_over_argon2": ratio(ms(login_http), argon),
        "first_record_over_argon2": ratio(ms(first_record), argon),
    }


# -- 5. connector refresh ---------------------------------------------------------------------


def connector_refresh(ctx, profile: Profile) -> dict:
    try:
        from tests.standins.brp import BrpStandIn
    except ImportError as exc:  # the stand-ins need the test extras (pyyaml, openapi-core)
        return {"skipped": f"the BRP stand-in needs the test extras: {exc}"}
    import logging

    from rq import Queue
    from rq.serializers import JSONSerializer

    from vault.connectors import jobs
    from vault.connectors.brp.connector import FIELDS
    from vault.connectors.inbox import merge_inbox
    from vault.connectors.service import create_connection, get_connection
    from vault.records.service import create_record, list_records
    from vault.storage.vaults import open_vault

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the stand-in's request lines
    bsn, api_key = "900194054", "bench-key"
    world: World = ctx.world
    instance = world.svc.instance
    standin = BrpStandIn(api_key=api_key, slow_seconds=0).start()
    try:
        # Baseline: the same source call, made directly and one after the other.
        http = requests.Session()
        n_direct = max(5, profile.connector_vaults)
        t0 = time.perf_counter()
        for _ in range(n_direct):
            resp = http.post(standin.base_url + "/personen", timeout=30, headers={
                "X-API-KEY": api_key, "Accept": "application/json",
                "Content-Type": "application/json; charset=utf-8"},
                json={"type": "RaadpleegMetBurgerservicenummer", "burgerservicenummer": [bsn],
                      "fields": FIELDS})
            resp.raise_for_status()
        direct_per_min = n_direct / (time.perf_counter() - t0) * 60
        http.close()

        queue = world.svc.queue()
        runs = []
        worker_rss = {}
        all_vaults: list[tuple[str, str]] = []
        for n_workers in profile.connector_workers:
            vaults = world.add_small_vaults(profile.connector_vaults)
            all_vaults += vaults
            ids = [create_connection(instance, vault_id, "brp",
                                     {"base_url": standin.base_url, "bsn": bsn},
                                     {"api_key": api_key}).id for vault_id, _ in vaults]
            workers = [procs.start_worker(ctx.stack, world.settings,
                                          ctx.tmp / f"worker-{n_workers}-{i}.log")
                       for i in range(n_workers)]
            _wait_workers(world.svc.redis, n_workers)
            rest = max(procs.rss_kib(w.pid) for w in workers)
            with RssSampler(lambda ws=workers: [w.pid for w in ws]) as sampler:
                t0 = time.perf_counter()
                for cid in ids:
                    jobs.enqueue_refresh(instance, queue, cid)
                pending = set(ids)
                deadline = time.monotonic() + 300
                while pending and time.monotonic() < deadline:
                    for cid in list(pending):
                        status = get_connection(instance, cid).status
                        if status == "ok":
                            pending.discard(cid)
                        elif status in ("failed", "needs_attention"):
                            raise RuntimeError(f"refresh {cid} ended {status}")
                    time.sleep(0.05)
                elapsed = time.perf_counter() - t0
            if pending:
                raise RuntimeError(f"{len(pending)} refreshes did not finish")
            for w in workers:
                procs.stop_process(w)
            worker_rss = {"at_rest_kib": rest, "under_load_kib": sampler.max_kib()}
            runs.append({"workers": n_workers, "vaults": len(ids),
                         "seconds": round(elapsed, 3),
                         "refreshes_per_min": round(len(ids) / elapsed * 60, 1)})
        ctx.rq_rss = worker_rss

        # Inbox merge, per record, against creating the same records directly.
        merge_s, merged = 0.0, 0
        for vault_id, token in all_vaults[:max(2, profile.connector_vaults)]:
            slot = instance.slot_by_token_hash(_hash(token))
            from vault.crypto import slots as slots_mod

            dek = slots_mod.unwrap(_present(slot), token)
            with open_vault(instance, vault_id, dek) as vault:
                t0 = time.perf_counter()
                summary = merge_inbox(vault)
                merge_s += time.perf_counter() - t0
                merged += summary.created + summary.updated + summary.unchanged
                drafts = [(r.type, r.data) for r in list_records(vault)]
        direct = World(ctx.tmp / "merge-baseline", ctx.redis_url, procs.free_port())
        try:
            [(vault_id, token)] = direct.add_small_vaults(1)
            slot = direct.svc.instance.slot_by_token_hash(_hash(token))
            from vault.crypto import slots as slots_mod

            dek = slots_mod.unwrap(_present(slot), token)
            reps = max(1, merged // max(1, len(drafts)))
            with open_vault(direct.svc.instance, vault_id, dek) as vault:
                t0 = time.perf_counter()
                for _ in range(reps):
                    with vault.transaction() as tx:
                        for type_id, data in drafts:
                            create_record(vault, type_id, data, conn=tx)
                create_s = time.perf_counter() - t0
                created = reps * len(drafts)
        finally:
            direct.close()
        merge_ms = merge_s / max(1, merged) * 1000
        create_ms = create_s / max(1, created) * 1000

        # Redis memory per queued refresh job, against a minimal rq job.
        memory = _queued_job_memory(world.svc.redis, profile.queued_jobs, Queue, JSONSerializer,
                                    jobs)
    finally:
        standin.stop()
    one = runs[0]
    two = runs[-1]
    return {
        "source_calls_per_min_direct": round(direct_per_min, 1),
        "runs": runs,
        "refreshes_per_min_1_worker": one["refreshes_per_min"],
        "refreshes_per_min_2_workers": two["refreshes_per_min"],
        "one_worker_over_direct": ratio(one["refreshes_per_min"], direct_per_min),
        "two_over_one_worker": ratio(two["refreshes_per_min"], one["refreshes_per_min"]),
        "merged_records": merged, "merge_ms_per_record": round(merge_ms, 4),
        "create_ms_per_record": round(create_ms, 4),
        "merge_over_create": ratio(merge_ms, create_ms),
        **memory,
        "rq_worker_rss": worker_rss,
    }


def _hash(token: str) -> str:
    from vault.crypto import keys

    return keys.token_hash(token)


def _wait_workers(redis, n: int, timeout: float = 30.0) -> None:
    from rq import Worker

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(Worker.all(connection=redis)) >= n:
            return
        time.sleep(0.05)
    raise RuntimeError("the rq workers did not start")


def _queued_job_memory(redis, n: int, queue_cls, serializer, jobs) -> dict:
    def used() -> int:
        return int(redis.info("memory")["used_memory"])

    def measure(enqueue) -> float:
        queue = queue_cls("bench-memory", connection=redis, serializer=serializer)
        queue.empty()
        before = used()
        for i in range(n):
            enqueue(queue, i)
        after = used()
        queue.empty()
        return (after - before) / n

    def refresh(queue, i: int) -> None:
        connection_id = os.urandom(12).hex()
        queue.enqueue_call(jobs.ENTRY, args=(connection_id, 1),
                           job_id=f"kluis-refresh-{connection_id}-{os.urandom(16).hex()}",
                           timeout=jobs.JOB_TIMEOUT, result_ttl=jobs.RESULT_TTL,
                           failure_ttl=jobs.RESULT_TTL,
                           description=f"refresh connection {connection_id}")

    def minimal(queue, i: int) -> None:
        queue.enqueue_call("bench.noop", args=())

    refresh_bytes = measure(refresh)
    minimal_bytes = measure(minimal)
    return {"queued_jobs_measured": n,
            "redis_bytes_per_queued_refresh": round(refresh_bytes, 1),
            "redis_bytes_per_minimal_job": round(minimal_bytes, 1),
            "refresh_job_over_minimal": ratio(refresh_bytes, minimal_bytes)}


# -- 6. growth --------------------------------------------------------------------------------


def _vault_disk(world: World, vault_id: str) -> int:
    path = world.svc.instance.vault_path(vault_id)
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal"))
               if p.exists())


def growth(ctx, profile: Profile) -> dict:
    world: World = ctx.world
    owner = world.make_owner({t: [d] for t, d in GRANTED.items()})
    grant = world.grant(owner, fields=READ_FIELDS)
    url = ctx.kluis.url
    dash = requests.Session()
    web_login(dash, url, owner.username)
    org = requests.Session()
    headers = {"Authorization": f"Bearer {grant.token}"}
    levels: list[dict[str, Any]] = []
    have = len(GRANTED)
    try:
        for size in profile.growth_sizes:
            more = size - have
            if more > 0:
                world.add_records(owner, {FILLER_TYPE: [filler(i) for i in range(have, size)]})
                have = size
            # Dashboards of big vaults are slow to render: fewer samples there.
            n_dash = max(5, min(profile.growth_requests, 200_000 // max(size, 1)))
            read = load.sequential(url + READ_PATH, profile.growth_requests, headers, org)
            page = load.sequential(url + "/dashboard", n_dash, None, dash)
            disk = _vault_disk(world, owner.vault_id)
            levels.append({"records": size, "grant_read": read, "dashboard": page,
                           "disk_bytes": disk, "disk_bytes_per_record": round(disk / size, 1)})
    finally:
        dash.close()
        org.close()
    first, last = levels[0], levels[-1]
    return {
        "levels": levels,
        "grant_read_p50_growth": ratio(last["grant_read"]["p50_ms"], first["grant_read"]["p50_ms"]),
        "dashboard_p50_growth": ratio(last["dashboard"]["p50_ms"], first["dashboard"]["p50_ms"]),
        "disk_growth": ratio(last["disk_bytes"], first["disk_bytes"]),
        "web_worker_rss": getattr(ctx, "web_rss", {}),
        "rq_worker_rss": getattr(ctx, "rq_rss", {}),
    }


def dumps(value) -> str:
    return json.dumps(value, indent=2, sort_keys=False)
