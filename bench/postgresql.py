"""The PostgreSQL backend (issue 18): the sections ``pg_read``, ``pg_vault_open``,
``pg_vault_bytes`` and ``pg_two_nodes``.

One PostgreSQL server from Debian's binaries runs on loopback for the whole run (the tests'
:mod:`tests.pgserver`, its own data directory), on the same machine as everything else. A
second KLUIS_HOME with ``KLUIS_DATABASE_URL`` set keeps its vaults and its instance tables in
PostgreSQL; its ``kluis serve`` runs beside the file backend's, so every figure is a ratio to
a baseline measured in the same run: bare Flask, the file backend, and the same read with
``synchronous_commit=off`` (:mod:`bench.pgasync`, bench only).
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from bench import load, procs
from bench.sections import (
    GRANTED,
    READ_FIELDS,
    READ_PATH,
    Profile,
    _present,
    _read_state,
    _total_reads,
    median,
    ratio,
    timed_opens,
)
from bench.world import World

SECTIONS = ("pg_read", "pg_vault_open", "pg_vault_bytes", "pg_two_nodes")


@dataclass(frozen=True)
class PgProfile:
    read_vaults: int
    connections: int
    read_seconds: float
    read_rounds: int
    open_counts: tuple[int, ...]
    open_samples: int
    typical_vaults: int
    document_bytes: int
    node_rounds: int
    warm: bool


PG_FULL = PgProfile(read_vaults=16, connections=16, read_seconds=8, read_rounds=3,
                    open_counts=(10, 10_000), open_samples=300, typical_vaults=3,
                    document_bytes=200_000, node_rounds=3, warm=True)
PG_SMOKE = PgProfile(read_vaults=2, connections=4, read_seconds=1, read_rounds=1,
                     open_counts=(10, 30), open_samples=20, typical_vaults=1,
                     document_bytes=20_000, node_rounds=1, warm=False)


def pg_profile(profile: Profile) -> PgProfile:
    return PG_FULL if profile.name == "full" else PG_SMOKE


# -- what the sections share --------------------------------------------------------------------


def missing() -> dict | None:
    """A section's result when PostgreSQL's server binaries are not installed."""
    from tests import pgserver

    if pgserver.binaries() is None:
        return {"skipped": "PostgreSQL's server binaries are not installed "
                           "(apt-get install postgresql, or ./deploy.sh test)"}
    return None


def server(ctx):
    """The run's PostgreSQL (started on first use)."""
    if getattr(ctx, "pg", None) is None:
        ctx.pg = procs.start_postgres(ctx.stack)
    return ctx.pg


def new_database(ctx, name: str) -> str:
    """A fresh database on the run's server (a section's own counts start from zero)."""
    import psycopg

    pg = server(ctx)
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg.url(name)


def pg_world(ctx) -> World:
    """The KLUIS_HOME whose vaults live in PostgreSQL, and its ``kluis serve``."""
    if getattr(ctx, "pg_world", None) is None:
        port = procs.free_port()
        world = World(ctx.tmp / "pg-home", ctx.redis_url, port,
                      base_url=f"http://127.0.0.1:{port}", database_url=server(ctx).url())
        ctx.stack.callback(world.close)
        ctx.pg_world = world
        ctx.pg_kluis = procs.start_kluis(ctx.stack, world.settings, port, ctx.tmp / "pg.log")
    return ctx.pg_world


def _server_settings(ctx) -> dict:
    import psycopg

    names = ("server_version", "synchronous_commit", "fsync", "wal_sync_method",
             "shared_buffers", "max_connections")
    with psycopg.connect(server(ctx).url(), autocommit=True) as conn:
        found = {name: _first(conn.execute(f"SHOW {name}").fetchone()) for name in names}
    return found


def _session_commit(ctx, *, bench_off: bool) -> str:
    """What ``SHOW synchronous_commit`` says in a session of the product's pool, or of one
    opened under :func:`bench.pgasync.synchronous_commit_off` (proves the bench's off switch
    takes; the product's own pool says ``on``)."""
    from contextlib import nullcontext

    from bench.pgasync import synchronous_commit_off
    from vault.storage.pg import Database

    with synchronous_commit_off() if bench_off else nullcontext():
        database = Database(server(ctx).url())
    try:
        with database.connection() as conn:
            return str(_first(conn.execute("SHOW synchronous_commit").fetchone()))
    finally:
        database.close()


_REQUEST = re.compile(r"kluis\.requests:GET /api/v1/grant/records (\d{3}) ")


def answers(log) -> dict:
    """What a ``kluis serve`` log says it answered to the read (status -> count), and its
    error lines (the reason of any non-200, with the request log's id)."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return {}
    statuses: dict[str, int] = {}
    for match in _REQUEST.finditer(text):
        statuses[match.group(1)] = statuses.get(match.group(1), 0) + 1
    errors = [line for line in text.splitlines()
              if ("ERROR" in line or "Traceback" in line or "WARNING:kluis" in line)][:10]
    return {"statuses": statuses, "error_lines": errors}


def _first(row) -> Any:
    """The first column of a row a query always returns."""
    if row is None:
        raise RuntimeError("the query returned no row")
    return row[0]


def _agg(runs: list) -> dict:
    return {"rps": round(median([r.rps for r in runs]), 1),
            "p50_ms": round(median([r.p50_ms for r in runs]), 3),
            "p99_ms": round(median([r.p99_ms for r in runs]), 3),
            "errors": sum(r.errors for r in runs), "runs": [r.summary() for r in runs]}


def _started(*starts):
    """Start servers at the same time (each waits for its own first answer)."""
    found: list = [None] * len(starts)
    failed: list[BaseException] = []

    def go(i: int, start) -> None:
        try:
            found[i] = start()
        except BaseException as exc:  # noqa: BLE001 - raised below, in the caller
            failed.append(exc)

    threads = [threading.Thread(target=go, args=(i, start)) for i, start in enumerate(starts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    return found


# -- the organisation read on PostgreSQL ---------------------------------------------------------


def pg_read(ctx, profile: Profile) -> dict:
    """The read of section 1 on PostgreSQL (synchronous_commit on: the product; off: bench
    only), in the same rounds as bare Flask and the file backend."""
    if (skip := missing()) is not None:
        return skip
    p = pg_profile(profile)
    world = pg_world(ctx)
    file_grants = getattr(ctx, "read_grants", None) or _read_state(ctx.world, p.read_vaults)
    ctx.read_grants = file_grants
    on_grants = _read_state(world, p.read_vaults)
    off_grants = _read_state(world, p.read_vaults)  # other vaults: their events count apart
    tokens = {"files": [g.token for g in file_grants], "pg_on": [g.token for g in on_grants],
              "pg_off": [g.token for g in off_grants]}
    resp = requests.get(ctx.pg_kluis.url + READ_PATH,
                        headers={"Authorization": f"Bearer {tokens['pg_on'][0]}"}, timeout=30)
    resp.raise_for_status()
    body = resp.content
    file_body = requests.get(ctx.kluis.url + READ_PATH, timeout=30,
                             headers={"Authorization": f"Bearer {tokens['files'][0]}"}).content
    body_file = load.write_body(ctx.tmp / "pg-body.json", body)
    bare, off = _started(
        lambda: procs.start_bare(ctx.stack, ctx.world.settings, procs.free_port(), body_file,
                                 ctx.tmp / "pg-bare.log"),
        lambda: procs.start_kluis_async_commit(ctx.stack, world.settings, procs.free_port(),
                                               ctx.tmp / "pg-off.log"))
    servers = {"bare": (bare, tokens["pg_on"]), "files": (ctx.kluis, tokens["files"]),
               "pg_on": (ctx.pg_kluis, tokens["pg_on"]), "pg_off": (off, tokens["pg_off"])}
    check = requests.get(bare.url + READ_PATH, timeout=30)
    if check.content != body:
        raise RuntimeError("the bare app does not return the same bytes")
    warm = max(1.0, p.read_seconds / 4)
    for srv, toks in servers.values() if p.warm else ():
        load.run_load(srv.port, READ_PATH, toks, p.connections, warm, tool=ctx.tool)
    before = {name: _total_reads(world, g) for name, g in (("pg_on", on_grants),
                                                           ("pg_off", off_grants))}
    runs: dict[str, list] = {name: [] for name in servers}
    for _ in range(p.read_rounds):
        for name, (srv, toks) in servers.items():
            runs[name].append(load.run_load(srv.port, READ_PATH, toks, p.connections,
                                            p.read_seconds, tool=ctx.tool))
    logged = {name: _total_reads(world, g) - before[name]
              for name, g in (("pg_on", on_grants), ("pg_off", off_grants))}
    procs.stop_process(bare.proc)
    procs.stop_process(off.proc)
    agg = {name: _agg(r) for name, r in runs.items()}
    served = {name: sum(r.ok for r in runs[name]) for name in ("pg_on", "pg_off")}
    b, f, on, of = agg["bare"], agg["files"], agg["pg_on"], agg["pg_off"]
    return {
        "server_logs": {name: answers(ctx.tmp / log) for name, log in (
            ("files", "kluis.log"), ("pg_on", "pg.log"), ("pg_off", "pg-off.log"))},
        "body_bytes": len(body), "file_backend_body_bytes": len(file_body),
        "vaults_per_server": p.read_vaults, "connections": p.connections,
        "seconds_per_run": p.read_seconds, "rounds": p.read_rounds,
        "load_tool": runs["bare"][0].tool, "web_workers": world.settings.web_workers,
        "postgresql": _server_settings(ctx),
        "product_session_synchronous_commit": _session_commit(ctx, bench_off=False),
        "bench_off_session_synchronous_commit": _session_commit(ctx, bench_off=True),
        "bare": b, "files": f, "pg_on": on, "pg_off": of,
        "pg_over_bare_rps": ratio(on["rps"], b["rps"]),
        "pg_over_files_rps": ratio(on["rps"], f["rps"]),
        "files_over_bare_rps": ratio(f["rps"], b["rps"]),
        "pg_off_over_pg_on_rps": ratio(of["rps"], on["rps"]),
        "pg_off_over_bare_rps": ratio(of["rps"], b["rps"]),
        "pg_p99_over_bare": ratio(on["p99_ms"], b["p99_ms"]),
        "pg_p99_over_files": ratio(on["p99_ms"], f["p99_ms"]),
        "pg_off_p99_over_pg_on": ratio(of["p99_ms"], on["p99_ms"]),
        "access_events_written": logged, "reads_served_ok": served,
        "errors": {"pg_on": on["errors"], "pg_off": of["errors"], "files": f["errors"]},
        "every_read_logged": all(logged[n] >= served[n] for n in served),
    }


# -- vault opening at 10 and 10,000 vaults, both backends ----------------------------------------


def _open_levels(world: World, counts: tuple[int, ...], samples: int) -> list[dict]:
    from vault.crypto import keys, slots
    from vault.storage.vaults import open_vault

    instance = world.svc.instance
    uncached = instance.settings
    cached_settings = uncached.with_overrides(vault_cache_seconds=600)
    made: list[tuple[str, str]] = []
    levels = []
    for count in counts:
        start = time.perf_counter()
        made += world.add_small_vaults(count - len(made))
        build_s = time.perf_counter() - start
        rng = random.Random(count)
        lookup, unwrap, opening, first_query, total = timed_opens(
            instance, made, rng, samples, check=_own_rows(instance))
        # The same opens with the per-process cache on (production): files hand back the
        # cached connection; PostgreSQL checks the vault's version (one statement) first.
        picked = [rng.choice(made) for _ in range(8)]
        deks = {vault_id: slots.unwrap(_present(instance.slot_by_token_hash(
            keys.token_hash(token))), token) for vault_id, token in picked}
        instance.settings = cached_settings
        cached = []
        try:
            for vault_id in deks:
                open_vault(instance, vault_id, deks[vault_id]).close()  # into the cache
            for i in range(samples):
                vault_id = picked[i % len(picked)][0]
                t0 = time.perf_counter()
                vault = open_vault(instance, vault_id, deks[vault_id])
                vault.get_meta("vault_id")
                vault.close()
                cached.append(time.perf_counter() - t0)
        finally:
            instance.settings = uncached
            from vault.storage.cache import CONNECTIONS, MIRRORS

            for vault_id in deks:
                CONNECTIONS.forget(vault_id)
                MIRRORS.forget(vault_id)

        def ms(values: list[float]) -> float:
            return round(median(values) * 1000, 4)

        levels.append({
            "vaults": len(made), "build_seconds": round(build_s, 2),
            "per_request_ms": ms(total), "slot_lookup_ms": ms(lookup), "unwrap_ms": ms(unwrap),
            "open_ms": ms(opening), "first_query_ms": ms(first_query),
            "cached_open_ms": ms(cached),
            "per_request_over_cached": ratio(median(total), median(cached)),
        })
    return levels


def _own_rows(instance) -> Callable[[str, Any], None]:
    def check(vault_id: str, found: Any) -> None:
        # File copies keep the template's id inside; PostgreSQL copies carry their own.
        if found is None or (instance.pg is not None and found != vault_id):
            raise RuntimeError(f"vault {vault_id} opened with another vault's rows")

    return check


def pg_vault_open(ctx, profile: Profile) -> dict:
    """Open cost of one vault among 10 and among 10,000, on both backends: with the cache
    off (every sample a real open: files, SQLCipher open; PostgreSQL, every row read and
    decrypted into memory) and with it on (what a request pays when its vault is cached)."""
    if (skip := missing()) is not None:
        return skip
    p = pg_profile(profile)
    out: dict = {"samples": p.open_samples, "vault_counts": list(p.open_counts)}
    homes = {"files": {}, "postgresql": {"database_url": new_database(ctx, "kluis_open")}}
    for backend, extra in homes.items():
        world = World(ctx.tmp / f"open-{backend}", ctx.redis_url, procs.free_port(),
                      vault_cache_seconds=0, **extra)
        try:
            levels = _open_levels(world, p.open_counts, p.open_samples)
        finally:
            world.close()
        first, last = levels[0], levels[-1]
        out[backend] = {"levels": levels,
                        "growth_ratio": ratio(last["per_request_ms"], first["per_request_ms"]),
                        "cached_growth_ratio": ratio(last["cached_open_ms"],
                                                     first["cached_open_ms"])}
    f, g = out["files"]["levels"][-1], out["postgresql"]["levels"][-1]
    out["pg_over_files_per_request"] = ratio(g["per_request_ms"], f["per_request_ms"])
    out["pg_over_files_cached"] = ratio(g["cached_open_ms"], f["cached_open_ms"])
    out["vault_rows_created"] = ("files: one migrated vault file copied per vault; PostgreSQL: "
                                 "one vault made with create_vault_file, its rows sealed afresh "
                                 "per vault id and inserted in batches (bench.world)")
    return out


# -- bytes per typical vault, both backends ------------------------------------------------------


TYPICAL_EVENTS = 100


def _typical_vault(world: World, kluis_url: str, document_bytes: int):
    """A person, an address, two incomes, two documents, and grant reads up to 100 events in
    the vault's log (merged from the access journal by the owner's open)."""
    from vault.records.service import add_document

    records = {"person": [GRANTED["person"]], "address": [GRANTED["address"]],
               "income": [GRANTED["income"], {**GRANTED["income"], "year": 2024}]}
    owner = world.make_owner(records)
    with world.svc.accounts.open(owner.vault_id, owner.dek) as vault:
        for i in range(2):
            add_document(vault, os.urandom(document_bytes), name=f"loonstrook-{i}.pdf",
                         media_type="application/pdf", category="payslip")
    grant = world.grant(owner, fields=READ_FIELDS)
    http = requests.Session()
    for _ in range(max(0, TYPICAL_EVENTS - _events(world, owner))):
        http.get(kluis_url + READ_PATH, headers={"Authorization": f"Bearer {grant.token}"},
                 timeout=30).raise_for_status()
    http.close()
    events = _events(world, owner)  # merges the journal into the log
    return owner, events


def _events(world: World, owner) -> int:
    with world.svc.accounts.open(owner.vault_id, owner.dek) as vault:
        return int(_first(vault.conn.execute("SELECT count(*) FROM events").fetchone()))


def _file_bytes(world: World, owner) -> dict:
    """The vault file after a checkpoint (its WAL moved in and truncated: the steady size),
    and the access journal's files as they are (emptied by merges, not shrunk)."""
    with world.svc.accounts.open(owner.vault_id, owner.dek) as vault:
        busy = _first(vault.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
    vault_id = owner.vault_id
    path = world.svc.instance.vault_path(vault_id)
    found = {}
    for suffix in ("", "-wal", ".access", ".access-wal"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            found[suffix or "db"] = candidate.stat().st_size
    found["checkpoint_busy"] = int(busy)
    return found


def _pg_relations(world: World) -> int:
    database = world.svc.instance.pg
    assert database is not None  # noqa: S101 - a PostgreSQL world
    with database.connection() as conn:
        row = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
            " WHERE c.relname IN ('kluis_vaults', 'kluis_rows', 'kluis_journal_heads',"
            " 'kluis_journal')").fetchone()  # with their TOAST tables and indexes
    return int(_first(row) or 0)


def _pg_payload(world: World, vault_id: str) -> dict:
    database = world.svc.instance.pg
    assert database is not None  # noqa: S101 - a PostgreSQL world
    with database.connection() as conn:
        rows = conn.execute(
            "SELECT count(*), coalesce(sum(octet_length(sealed)), 0),"
            " coalesce(sum(pg_column_size(r.*)), 0) FROM kluis_rows r"
            " WHERE vault_id = %s AND sealed IS NOT NULL", (vault_id,)).fetchone()
        if rows is None:
            raise RuntimeError("the query returned no row")
        tomb = conn.execute("SELECT count(*) FROM kluis_rows WHERE vault_id = %s"
                            " AND sealed IS NULL", (vault_id,)).fetchone()
    return {"rows": int(rows[0]), "sealed_bytes": int(rows[1]), "tuple_bytes": int(rows[2]),
            "tombstones": int(_first(tomb))}


def pg_vault_bytes(ctx, profile: Profile) -> dict:
    """Bytes per typical vault: a person, an address, two incomes, two documents of 200 KB
    (random bytes, as incompressible as a scanned PDF), 100 events in the log."""
    if (skip := missing()) is not None:
        return skip
    p = pg_profile(profile)
    if profile.name == "full":
        # Its own database and KLUIS_HOME: the tables' growth is these vaults' alone (in the
        # shared database, space freed by the read sections' merged journal rows is reused).
        port = procs.free_port()
        pgw = World(ctx.tmp / "bytes-home", ctx.redis_url, port,
                    base_url=f"http://127.0.0.1:{port}",
                    database_url=new_database(ctx, "kluis_bytes"))
        ctx.stack.callback(pgw.close)
        pg_server = procs.start_kluis(ctx.stack, pgw.settings, port, ctx.tmp / "pg-bytes.log")
    else:  # smoke: the shared database (its growth is then only roughly these vaults')
        pgw, pg_server = pg_world(ctx), ctx.pg_kluis
    files = []
    for _ in range(p.typical_vaults):
        owner, events = _typical_vault(ctx.world, ctx.kluis.url, p.document_bytes)
        files.append({"events": events, **_file_bytes(ctx.world, owner)})
    before = _pg_relations(pgw)
    pgs = []
    for _ in range(p.typical_vaults):
        owner, events = _typical_vault(pgw, pg_server.url, p.document_bytes)
        pgs.append({"events": events, **_pg_payload(pgw, owner.vault_id)})
    after = _pg_relations(pgw)
    if pg_server is not ctx.pg_kluis:
        procs.stop_process(pg_server.proc)
    file_total = median([float(f["db"] + f.get("-wal", 0)) for f in files])
    journal = median([float(f.get(".access", 0)) for f in files])
    pg_tables = (after - before) / p.typical_vaults
    documents = 2 * p.document_bytes
    return {
        "vaults": p.typical_vaults, "document_bytes": p.document_bytes,
        "documents_total_bytes": documents, "events_target": TYPICAL_EVENTS,
        "files": files, "postgresql": pgs,
        "file_bytes_per_vault": round(file_total),
        "file_access_journal_bytes": round(journal),
        "pg_sealed_bytes_per_vault": round(median([float(v["sealed_bytes"]) for v in pgs])),
        "pg_table_bytes_per_vault": round(pg_tables),
        "pg_over_files": ratio(pg_tables, file_total),
        "file_over_documents": ratio(file_total, documents),
        "pg_over_documents": ratio(pg_tables, documents),
    }


# -- two web nodes against one -------------------------------------------------------------------


def _parallel(ports: list[int], tokens: list[str], connections: int, seconds: float,
              tool: str) -> dict:
    """The same total connections spread over ``ports``, at the same moment."""
    results: list = [None] * len(ports)
    share = max(1, connections // len(ports))

    def go(i: int, port: int) -> None:
        results[i] = load.run_load(port, READ_PATH, tokens, share, seconds, tool=tool)

    threads = [threading.Thread(target=go, args=(i, port)) for i, port in enumerate(ports)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"rps": round(sum(r.rps for r in results), 1),
            "p99_ms": round(max(r.p99_ms for r in results), 3),
            "errors": sum(r.errors for r in results),
            "nodes": [r.summary() for r in results]}


def pg_two_nodes(ctx, profile: Profile) -> dict:
    """Read throughput from two ``kluis serve`` processes against one, the same connections
    in all. The nodes share only PostgreSQL (vaults and instance tables), Redis and the
    instance key: node 2 has its own KLUIS_HOME with ``KLUIS_INSTANCE_KEY``, as a second
    machine would (tests/integration/storage/test_pg_instance_nodes.py). One host: both nodes
    share its cores with PostgreSQL and the load generator, so this measures that a second
    node serves the same reads correctly and what sharing the cores costs, not the gain of a
    second machine."""
    if (skip := missing()) is not None:
        return skip
    from vault.storage.instance import init_home, read_instance_key

    p = pg_profile(profile)
    world = pg_world(ctx)
    grants = getattr(ctx, "pg_node_grants", None) or _read_state(world, p.read_vaults)
    tokens = [g.token for g in grants]
    node2_settings = world.settings.with_overrides(
        home=str(ctx.tmp / "pg-node2-home"),
        instance_key=read_instance_key(world.settings).hex())
    init_home(node2_settings)
    node2 = procs.start_kluis(ctx.stack, node2_settings, procs.free_port(),
                              ctx.tmp / "pg-node2.log")
    ports = [ctx.pg_kluis.port, node2.port]
    check = requests.get(node2.url + READ_PATH, timeout=30,
                         headers={"Authorization": f"Bearer {tokens[0]}"})
    check.raise_for_status()
    if p.warm:
        _parallel(ports, tokens, p.connections, max(1.0, p.read_seconds / 4), ctx.tool)
    before = _total_reads(world, grants)
    one, two = [], []
    try:
        for _ in range(p.node_rounds):
            one.append(_parallel(ports[:1], tokens, p.connections, p.read_seconds, ctx.tool))
            two.append(_parallel(ports, tokens, p.connections, p.read_seconds, ctx.tool))
    finally:
        procs.stop_process(node2.proc)
    logged = _total_reads(world, grants) - before
    served = sum(n["ok"] for run in one + two for n in run["nodes"])
    one_rps = median([r["rps"] for r in one])
    two_rps = median([r["rps"] for r in two])
    return {
        "connections": p.connections, "seconds_per_run": p.read_seconds,
        "rounds": p.node_rounds, "web_workers_per_node": world.settings.web_workers,
        "cores": os.cpu_count(), "node2_own_home": True, "one_node": one, "two_nodes": two,
        "one_node_rps": round(one_rps, 1), "two_nodes_rps": round(two_rps, 1),
        "two_over_one": ratio(two_rps, one_rps),
        "one_node_p99_ms": median([r["p99_ms"] for r in one]),
        "two_nodes_p99_ms": median([r["p99_ms"] for r in two]),
        "server_logs": {"node1": answers(ctx.tmp / "pg.log"),
                        "node2": answers(ctx.tmp / "pg-node2.log")},
        "access_events_written": logged, "reads_served_ok": served,
        "errors": sum(r["errors"] for r in one + two),
        "every_read_logged": logged >= served,
    }
