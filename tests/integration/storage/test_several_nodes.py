"""Several machines (issue 18, item 7): two ``kluis serve`` nodes and two ``kluis worker``s
that share only PostgreSQL, one Redis and the instance key.

Each node has its own KLUIS_HOME (nothing on disk in common); machine 1 is node 1 with
worker 1, machine 2 node 2 with worker 2. Everything is asserted over real HTTP against the
two nodes, except the connector runs, which are counted where they land: at each
connection's own stand-in source. The module's tests share one cluster and run in file order;
the third kills machine 1 while its worker holds rq's scheduler lock and runs a refresh, and
the last watches worker 2 take both over (without a worker restart) within bounds that follow
from rq's timings and KLUIS_WORKER_MAINTENANCE_SECONDS (see :data:`TAKEOVER` and
:data:`RETRIED`).
"""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import redis
import requests
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from bench.procs import (
    Stack,
    children,
    free_port,
    kluis_command,
    start_redis,
    stop_process,
    wait_for_http,
)
from tests.integration.grants.conftest import INCOME, ask
from tests.integration.readers import reads_around
from tests.pgserver import dump_holds
from tests.standins.brp import BrpStandIn
from tests.standins.fixtures import API_KEY, BRP_BSN
from vault.config import Settings
from vault.connectors.jobs import ENTRY
from vault.grants.organisations import PICKUP_GRANT_TYPE
from vault.storage.instance import init_home

INTERVAL = 4  # seconds between a connection's regular refreshes in this test
MAINTENANCE = 3  # KLUIS_WORKER_MAINTENANCE_SECONDS of both workers
RETRY_BASE = 1  # KLUIS_CONNECTOR_RETRY_BASE_SECONDS: the first retry waits this long
SLOW = 4.5  # seconds the stand-in takes over the request the kill interrupts (timeout 5 s)
#: rq's scheduler lock lease: the scheduler's 1 s poll + 60 s, renewed at every poll.
LEASE = 61
#: Kill to worker 2 holding the scheduler lock: the dead holder's lease runs out (at most
#: LEASE after the kill), worker 2 tries at its next maintenance (every MAINTENANCE s: its wait
#: for a job is that long too), plus 2 s for its loop and the scheduler process to start.
TAKEOVER = LEASE + MAINTENANCE + 2
#: Kill to the killed refresh asked again: rq finds the job abandoned at worker 2's first
#: maintenance (MAINTENANCE) after its started-registry entry expired, 60 s + the heartbeat
#: interval (min(30, MAINTENANCE)) after the last heartbeat (at most that before the kill);
#: the failure callback schedules the retry RETRY_BASE s later, which rq's scheduler (whole
#: seconds, polled each second: 2 s) moves to the queue once worker 2 has taken it over; 2 s
#: for the run to reach the stand-in.
RETRIED = max(60 + min(30, MAINTENANCE) + MAINTENANCE + RETRY_BASE, TAKEOVER) + 2 + 2
READERS = 50
CANARY_RECORD = "Kanarie-Knooppunt-4471"
CANARY_DOCUMENT = b"KANARIE-KNOOPPUNT-DOCUMENT-9120"
CANARY_DOCUMENT_NAME = "kanarie-knooppunt-loonstrook.pdf"
CANARY_CREDENTIAL = "kanarie-knooppunt-sleutel-3306"


class TimedBrp(BrpStandIn):
    """The BRP stand-in, remembering when each request arrived (one connection each)."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.times: list[tuple[float, str]] = []

    def _respond(self, request):
        self.times.append((time.monotonic(), request.path))
        return super()._respond(request)

    def runs(self) -> list[float]:
        """When each refresh run asked (the BRP connector asks one POST /personen a run)."""
        return sorted(at for at, path in self.times if path.endswith("/personen"))


@dataclass
class Owner:
    base: str  # the node this owner's requests go to (settable: node 1 dies)
    username: str
    vault_id: str
    http: requests.Session

    def call(self, method: str, path: str, node: str | None = None, **kw) -> requests.Response:
        return self.http.request(method, (node or self.base) + path, timeout=30, **kw)


@dataclass
class Cluster:
    stack: Stack
    database: str
    nodes: list[str]  # base URLs of node 1 and node 2
    servers: list  # their processes
    settings: list[Settings]
    workers: list = field(default_factory=list)
    logs: Path = Path()

    def start_workers(self) -> None:
        """Both workers together, as two machines booting at once."""
        self.workers = [self.start_worker(n) for n in range(len(self.settings))]

    def start_worker(self, n: int):
        return self.stack.popen(kluis_command() + ["worker"], env=self.settings[n].to_env(),
                                log=self.logs / f"worker{n + 1}.log")

    def stop_workers(self) -> None:
        from bench.procs import stop_process

        for proc in self.workers:
            stop_process(proc)
        self.workers = []

    def owner(self, node: int = 0) -> Owner:
        base = self.nodes[node]
        username = "o" + secrets.token_hex(5)
        password = "correct horse staple 42"
        resp = requests.post(f"{base}/api/v1/accounts", timeout=30,
                             json={"username": username, "password": password})
        assert resp.status_code == 201, resp.text
        vault_id = resp.json()["vault_id"]
        resp = requests.post(f"{base}/api/v1/tokens", timeout=30,
                             json={"username": username, "password": password, "name": "t"})
        assert resp.status_code == 201, resp.text
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {resp.json()['token']}"
        self.stack.callback(http.close)
        return Owner(base, username, vault_id, http)

    def grant(self, owner: Owner, records: dict, node: int = 0) -> dict:
        """An organisation registers, the owner grants, the organisation picks up its token
        (the OAuth flow of tests/integration/grants), all on ``node``."""
        base = self.nodes[node]
        resp = requests.post(f"{base}/oauth/register", timeout=30, json={
            "client_name": "Woonstichting De Kern", "client_uri": "https://dekern.example",
            "redirect_uris": ["https://dekern.example/oauth/callback"],
            "contacts": ["privacy@dekern.example"],
            "token_endpoint_auth_method": "client_secret_basic"})
        assert resp.status_code == 201, resp.text
        org = resp.json()
        resp = owner.call("POST", "/api/v1/grants", base, json={
            "client_id": org["client_id"], "authorization_details": ask(records)})
        assert resp.status_code == 201, resp.text
        token = requests.post(f"{base}/oauth/token", timeout=30,
                              auth=(org["client_id"], org["client_secret"]),
                              data={"grant_type": PICKUP_GRANT_TYPE,
                                    "code": resp.json()["pickup_code"]})
        assert token.status_code == 200, token.text
        return token.json()


def _start_node(stack: Stack, settings: Settings, port: int, log: Path):
    proc = stack.popen(kluis_command() + ["serve", "--bind", f"127.0.0.1:{port}"],
                       env=settings.to_env(), log=log)
    return proc


@pytest.fixture(scope="module")
def cluster(postgres_server, tmp_path_factory) -> Iterator[Cluster]:
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain HTTP on loopback; production: HTTPS
    database = postgres_server.new_database()
    postgres_server.created.remove(database.rsplit("/", 1)[1])  # this module drops it
    logs = tmp_path_factory.mktemp("nodes-logs")
    key = secrets.token_hex(32)
    ports = [free_port(), free_port()]
    with Stack() as stack:
        redis_url = start_redis(stack)
        settings = []
        for n in (1, 2):
            node = Settings(
                home=str(tmp_path_factory.mktemp(f"node{n}-home")), redis_url=redis_url,
                database_url=database, instance_key=key, allow_private_urls=True,
                secure_cookies="never", web_workers=3,
                # One public URL for both, as behind a load balancer.
                base_url=f"http://127.0.0.1:{ports[0]}",
                connector_min_interval_seconds=1, connector_retry_base_seconds=RETRY_BASE,
                connector_timeout_seconds=5, worker_maintenance_seconds=MAINTENANCE)
            init_home(node)
            assert not (node.home_path / "instance.db").exists()  # nothing local to a node
            settings.append(node)
        servers = [_start_node(stack, s, p, logs / f"node{n + 1}.log")
                   for n, (s, p) in enumerate(zip(settings, ports, strict=True))]
        for proc, port in zip(servers, ports, strict=True):
            wait_for_http(port, "/healthz", timeout=60, proc=proc)
        one = Cluster(stack, database, [f"http://127.0.0.1:{p}" for p in ports], servers,
                      settings, logs=logs)
        one.start_workers()
        try:
            yield one
        finally:
            stack.close()
            from vault.storage import pg

            pg.close_all()
            with psycopg.connect(postgres_server.url(), autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {database.rsplit('/', 1)[1]} WITH (FORCE)")
            os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)


def _worker_of(cluster: Cluster, pid: int) -> int | None:
    """Which worker (1, 2) process ``pid`` is, or is a child of (its scheduler, its horse)."""
    for n, proc in enumerate(cluster.workers):
        if proc.poll() is None and (pid == proc.pid or pid in children(proc.pid)):
            return n + 1
    return None


def _scheduler_holder(cluster: Cluster) -> int | None:
    """Which worker (1, 2) holds rq's scheduler lock (``rq:scheduler-lock:<queue>`` holds the
    scheduler's name, its hash ``rq:scheduler:<name>`` the pid): only it moves due refreshes
    to the queue, and a dead holder's lock is taken over only after its lease ran out."""
    client = redis.Redis.from_url(cluster.settings[0].redis_url)
    try:
        name = client.get("rq:scheduler-lock:kluis")
        pid = client.hget(f"rq:scheduler:{name.decode()}", "pid") if name else None
    finally:
        client.close()
    return _worker_of(cluster, int(pid)) if pid else None


def _running_refreshes(cluster: Cluster) -> dict[str, int | None]:
    """Refresh jobs rq has as running now: connection id -> the worker (1, 2) running it."""
    client = redis.Redis.from_url(cluster.settings[0].redis_url)
    running: dict[str, int | None] = {}
    try:
        registry = StartedJobRegistry("kluis", connection=client, serializer=JSONSerializer)
        # No cleanup here: that is a worker's maintenance (it calls failure callbacks).
        for job_id in registry.get_job_ids(cleanup=False):
            try:
                job = Job.fetch(job_id, connection=client, serializer=JSONSerializer)
            except NoSuchJobError:
                continue
            if job.func_name != ENTRY or not job.worker_name:
                continue
            pid = client.hget(f"rq:worker:{job.worker_name}", "pid")
            running[job.args[0]] = _worker_of(cluster, int(pid)) if pid else None
    finally:
        client.close()
    return running


def _scheduler_on_worker_1(cluster: Cluster) -> float | None:
    """Make worker 1 hold rq's scheduler lock, so that killing machine 1 takes the schedule
    with it. When worker 2 holds it: stop worker 2 (a stopping scheduler releases its lock),
    worker 1 takes the lock at its next maintenance, worker 2 starts again. Returns how long
    worker 1 took (None: it held the lock already)."""
    deadline = time.monotonic() + 10
    while (holder := _scheduler_holder(cluster)) is None:
        assert time.monotonic() < deadline, "no worker holds rq's scheduler lock"
        time.sleep(0.1)
    if holder == 1:
        return None
    stopping = time.monotonic()
    stop_process(cluster.workers[1])  # returns once worker 2 finished its job and exited
    while _scheduler_holder(cluster) != 1:
        assert time.monotonic() < stopping + 15 + MAINTENANCE + 3, "worker 1 did not take over"
        time.sleep(0.05)
    took = time.monotonic() - stopping
    cluster.workers[1] = cluster.start_worker(1)
    return took


def _grant_read(node: str, token: dict) -> requests.Response:
    return requests.get(f"{node}/api/v1/grant/records", timeout=30,
                        headers={"Authorization": f"Bearer {token['access_token']}"})


def test_a_write_on_node_1_is_read_by_an_organisation_on_node_2(cluster):
    node1, node2 = cluster.nodes
    owner = cluster.owner(0)
    resp = owner.call("POST", "/api/v1/records", json={"type": "income", "data": INCOME})
    assert resp.status_code == 201, resp.text
    record_id = resp.json()["id"]
    token = cluster.grant(owner, {"income": None})
    first = _grant_read(node2, token)
    assert first.status_code == 200, first.text
    [seen] = first.json()["records"]
    assert seen["id"] == record_id and seen["data"]["source"] == INCOME["source"]
    # Node 2 has the vault open (cached) now; a new version written on node 1 still reaches it.
    changed = dict(INCOME, source=CANARY_RECORD)
    resp = owner.call("PUT", f"/api/v1/records/{record_id}", json={"data": changed})
    assert resp.status_code == 200, resp.text
    again = _grant_read(node2, token)
    assert again.status_code == 200, again.text
    assert [r["data"]["source"] for r in again.json()["records"]] == [CANARY_RECORD]
    # And the owner sees node 2's read in the log on node 1.
    resp = owner.call("GET", "/api/v1/records", node1)
    assert resp.status_code == 200


def test_no_read_on_node_2_is_served_after_a_revoke_on_node_1_returned(cluster):
    node2 = cluster.nodes[1]
    owner = cluster.owner(0)
    assert owner.call("POST", "/api/v1/records",
                      json={"type": "income", "data": INCOME}).status_code == 201
    token = cluster.grant(owner, {"income": None})
    assert _grant_read(node2, token).status_code == 200
    url = f"{node2}/api/v1/grant/records"
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    resp, reads = reads_around(  # the revoke on node 1, the reads on node 2
        url, headers, lambda: owner.call("DELETE", f"/api/v1/grants/{token['grant_id']}"),
        readers=READERS, settle=1.5, timeout=60)
    assert resp.status_code == 200 and resp.json()["status"] == "revoked", resp.text
    before, after = reads.before, reads.after
    served_after = [s for s in after if s == 200]
    print(f"\nrevoke: {len(before)} reads started before ({before.count(200)} served), "
          f"{len(after)} after ({len(served_after)} served, {after.count(401)} refused), "
          f"errors {len(reads.errors)}")
    assert reads.errors == []
    assert before.count(200) >= READERS  # the readers really were reading
    assert len(after) >= READERS  # and went on after the revoke
    assert served_after == [] and set(after) == {401}


def test_connector_refreshes_run_once_per_schedule_across_both_workers(cluster):
    owner = cluster.owner(1)
    cluster.stop_workers()
    sources = [TimedBrp(api_key=API_KEY).start() for _ in range(3)]
    cluster.stack.callback(lambda: [s.stop() for s in sources])
    ids = []
    # Made while no worker runs: each connection's first refresh waits in the queue, as when
    # a deploy restarts every machine; then both workers start at once.
    for source in sources:
        resp = owner.call("POST", "/api/v1/connections", json={
            "connector": "brp", "options": {"base_url": source.base_url, "bsn": BRP_BSN},
            "credentials": {"api_key": API_KEY}, "interval_seconds": INTERVAL})
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["id"])
    started = time.monotonic()
    cluster.start_workers()
    cluster.sources = sources  # the kill test watches them go on
    window = 5 * INTERVAL
    time.sleep(window)
    observed = time.monotonic()
    report = {}
    for connection_id, source in zip(ids, sources, strict=True):
        runs = source.runs()
        gaps = [round(b - a, 2) for a, b in zip(runs, runs[1:], strict=False)]
        report[connection_id[:6]] = (len(runs), gaps)
        assert runs, "no refresh ran"
        # Worker start to first run: the queued refresh, taken at once.
        assert runs[0] - started < 10, runs[0] - started
        # A schedule run twice shows as two runs (nearly) together; one missed, as a gap of
        # two intervals. rq's scheduler keeps whole seconds and polls once a second.
        assert all(INTERVAL - 1.5 <= gap <= INTERVAL + 2.5 for gap in gaps), (connection_id,
                                                                               gaps)
        assert observed - runs[-1] <= INTERVAL + 2.5  # and the last one is not overdue
        assert len(runs) >= window // (INTERVAL + 2)
    print(f"\nrefreshes per connection (runs, gaps s): {report}")
    for connection_id in ids:
        resp = owner.call("GET", f"/api/v1/connections/{connection_id}")
        assert resp.status_code == 200 and resp.json()["state"] in {"ok", "running", "queued"}
    cluster.connection_owner = owner
    cluster.connection_ids = ids


def test_machine_1_killed_mid_load_loses_no_acknowledged_write(cluster):
    node1, node2 = cluster.nodes
    handover = _scheduler_on_worker_1(cluster)
    owners = [cluster.owner(0), cluster.owner(1)]
    acknowledged: dict[str, list[str]] = {o.vault_id: [] for o in owners}
    refused: list[str] = []
    stop = threading.Event()
    lock = threading.Lock()

    def writer(owner: Owner, node: str, n: int) -> None:
        i = 0
        while not stop.is_set():
            i += 1
            data = dict(INCOME, source=f"writer {n} write {i}")
            try:
                resp = owner.call("POST", "/api/v1/records", node,
                                  json={"type": "income", "data": data})
            except requests.RequestException as exc:
                refused.append(type(exc).__name__)
                time.sleep(0.05)
                continue
            if resp.status_code == 201:
                with lock:
                    acknowledged[owner.vault_id].append(resp.json()["id"])
            else:
                refused.append(str(resp.status_code))

    # Each owner writes through both nodes at once.
    threads = [threading.Thread(target=writer, args=(owner, node, n))
               for n, (owner, node) in enumerate((o, b) for o in owners for b in (node1, node2))]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    # Two connections whose first refresh is slow at the source: a worker runs one job at a
    # time, so each worker takes one; machine 1 dies while its worker waits for the answer.
    slow = [TimedBrp(api_key=API_KEY).start() for _ in range(2)]
    cluster.stack.callback(lambda: [s.stop() for s in slow])
    slow_ids = []
    for source in slow:
        source.slow_seconds = SLOW
        source.misbehave("slow")
        resp = cluster.connection_owner.call("POST", "/api/v1/connections", json={
            "connector": "brp", "options": {"base_url": source.base_url, "bsn": BRP_BSN},
            "credentials": {"api_key": API_KEY}, "interval_seconds": INTERVAL})
        assert resp.status_code == 201, resp.text
        slow_ids.append(resp.json()["id"])
    deadline = time.monotonic() + SLOW
    on_worker_1: list[int] = []
    while not on_worker_1:
        assert time.monotonic() < deadline, f"no slow refresh on worker 1: {slow_ids}"
        running = _running_refreshes(cluster)
        on_worker_1 = [n for n, (cid, source) in enumerate(zip(slow_ids, slow, strict=True))
                       if running.get(cid) == 1 and source.runs()]
        time.sleep(0.02)
    holder = _scheduler_holder(cluster)
    assert holder == 1
    worker_2 = cluster.workers[1].pid
    for proc in (cluster.servers[0], cluster.workers[0]):  # machine 1 dies
        os.killpg(proc.pid, signal.SIGKILL)
    killed = time.monotonic()
    [victim] = on_worker_1
    cluster.after_kill = {"killed": killed, "worker_2": worker_2, "handover": handover,
                          "victim": (slow_ids[victim], slow[victim]),
                          "survivor": (slow_ids[1 - victim], slow[1 - victim])}
    assert slow[victim].runs()[0] < killed < slow[victim].runs()[0] + SLOW  # mid-request
    for proc in (cluster.servers[0], cluster.workers[0]):
        proc.wait(10)
    time.sleep(2.0)
    stop.set()
    for thread in threads:
        thread.join(60)
    cluster.nodes[0] = ""  # gone
    total = sum(len(v) for v in acknowledged.values())
    print(f"\nkill: {total} acknowledged writes, {len(refused)} not acknowledged "
          f"({sorted(set(refused))}); rq's scheduler lock was held by worker {holder}")
    assert total >= 20
    for owner in owners:
        resp = owner.call("GET", "/api/v1/records", node2, params={"limit": 1000})
        assert resp.status_code == 200, resp.text
        present = {r["id"] for r in resp.json()["records"]}
        missing = set(acknowledged[owner.vault_id]) - present
        assert not missing, f"{len(missing)} acknowledged writes lost"

    # Machine 2 goes on: writes, grant reads, refreshes.
    owner = owners[0]
    resp = owner.call("POST", "/api/v1/records", node2, json={"type": "income", "data": INCOME})
    assert resp.status_code == 201, resp.text
    new_id = resp.json()["id"]
    assert owner.call("GET", f"/api/v1/records/{new_id}", node2).status_code == 200
    token = cluster.grant(owner, {"income": None}, node=1)
    read = _grant_read(node2, token)
    assert read.status_code == 200 and new_id in {r["id"] for r in read.json()["records"]}
    connection_owner = cluster.connection_owner
    for connection_id, source in zip(cluster.connection_ids, cluster.sources, strict=True):
        before = len(source.runs())
        resp = connection_owner.call("POST", f"/api/v1/connections/{connection_id}/refresh",
                                     node2)
        assert resp.status_code in (200, 202), resp.text
        deadline = time.monotonic() + 20
        while len(source.runs()) <= before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(source.runs()) > before, "no refresh after machine 1 died"
        assert source.runs()[-1] > killed
    cluster.after_kill["asked"] = time.monotonic()  # the last on-demand refresh is done


def test_pg_dump_holds_none_of_the_canaries(cluster, postgres_server):
    owner = cluster.owner(1)
    resp = owner.call("POST", "/api/v1/records",
                      json={"type": "income", "data": dict(INCOME, source=CANARY_RECORD)})
    assert resp.status_code == 201, resp.text
    content = b"%PDF-1.4\n" + CANARY_DOCUMENT * 50
    resp = owner.call("POST", "/api/v1/documents",
                      files={"file": (CANARY_DOCUMENT_NAME, content, "application/pdf")},
                      data={"category": "annual-statement"})
    assert resp.status_code == 201, resp.text
    source = BrpStandIn(api_key=CANARY_CREDENTIAL).start()
    cluster.stack.callback(source.stop)
    resp = owner.call("POST", "/api/v1/connections", json={
        "connector": "brp", "options": {"base_url": source.base_url, "bsn": BRP_BSN},
        "credentials": {"api_key": CANARY_CREDENTIAL}})
    assert resp.status_code == 201, resp.text
    deadline = time.monotonic() + 20
    while not source.count("POST", "/personen") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert source.count("POST", "/personen")  # worker 2 used the credential
    dump = postgres_server.dump(cluster.database.rsplit("/", 1)[1])
    assert b"kluis_rows" in dump and len(dump) > len(content)
    for canary in (CANARY_RECORD.encode(), CANARY_DOCUMENT, CANARY_DOCUMENT_NAME.encode(),
                   CANARY_CREDENTIAL.encode()):
        assert not dump_holds(dump, canary), canary


def test_worker_2_takes_over_the_schedule_and_the_killed_refresh(cluster):
    """Machine 1's worker held rq's scheduler lock and was running a refresh when killed;
    worker 2, never restarted, takes over the schedule and runs that refresh again."""
    after = cluster.after_kill
    killed = after["killed"]
    victim_id, victim = after["victim"]
    survivor_id, survivor = after["survivor"]
    while _scheduler_holder(cluster) != 2:
        assert time.monotonic() < killed + TAKEOVER, "worker 2 did not take over the schedule"
        time.sleep(0.1)
    took_over = time.monotonic()
    while len(victim.runs()) < 2:
        assert time.monotonic() < killed + RETRIED, "the killed refresh was not asked again"
        time.sleep(0.1)
    retried = victim.runs()[1]
    time.sleep(max(0.0, max(took_over, retried) + INTERVAL + 3 - time.monotonic()))
    observed = time.monotonic()
    assert cluster.workers[1].pid == after["worker_2"] and cluster.workers[1].poll() is None

    # The schedule stood still from the on-demand refreshes until the takeover (the dead
    # holder's lease), then each connection ran once at once and went on every INTERVAL.
    regular = [*zip(cluster.connection_ids, cluster.sources, strict=True),
               (survivor_id, survivor)]
    report = {}
    for connection_id, source in regular:
        runs = source.runs()
        assert not [t for t in runs if after["asked"] + 0.5 < t < took_over - 0.5], runs
        later = [t for t in runs if t >= took_over - 0.5]
        gaps = [round(b - a, 2) for a, b in zip(later, later[1:], strict=False)]
        report[connection_id[:6]] = (round(later[0] - took_over, 2), gaps)
        assert later[0] - took_over <= 3, (connection_id, later[0] - took_over)
        assert len(later) >= 2 and all(INTERVAL - 1.5 <= g <= INTERVAL + 2.5 for g in gaps), (
            connection_id, gaps)
        assert observed - later[-1] <= INTERVAL + 2.5
    # The killed refresh: asked once more (the retry its failure callback scheduled, after rq
    # found it abandoned, which takes 60 s and more), then every INTERVAL again.
    runs = victim.runs()
    assert retried - killed >= 60, retried - killed
    gaps = [round(b - a, 2) for a, b in zip(runs[1:], runs[2:], strict=False)]
    assert len(runs) >= 3 and all(INTERVAL - 1.5 <= g <= INTERVAL + 2.5 for g in gaps), gaps
    owner = cluster.connection_owner
    for connection_id in (victim_id, survivor_id):
        body = owner.call("GET", f"/api/v1/connections/{connection_id}").json()
        assert body["state"] in {"ok", "running", "queued"} and body["last_error"] is None, body
    print(f"\nworker 1 took the scheduler lock {after['handover'] and round(after['handover'], 2)}"
          f" s after worker 2 was told to stop (None: it held it); after the kill worker 2 took it over in "
          f"{took_over - killed:.1f} s (bound {TAKEOVER}) and asked the killed refresh again "
          f"after {retried - killed:.1f} s (bound {RETRIED}); first run after the takeover, "
          f"gaps: {report}, killed one's gaps after its retry: {gaps}")
