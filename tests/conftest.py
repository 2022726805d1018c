"""Shared fixtures: a real Redis, a temporary KLUIS_HOME, the real app over real HTTP.

Factory fixtures return callables (``make_owner()``), so a test builds exactly
the state it needs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis as redis_lib
import requests
from werkzeug.serving import make_server

from bench.procs import free_port, wait_for_port
from tests import pgserver
from vault.app import create_app
from vault.config import Settings
from vault.storage.instance import init_home

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = (ROOT.parent / "shared" / "fixtures") if (ROOT.parent / "shared").exists() else None


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A real redis-server on a free loopback port for the whole test session."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run ./deploy.sh test")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="kluis-redis-")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pgserver.PgServer]:
    """A real PostgreSQL (Debian's binaries) on a free loopback port for the whole session,
    its data directory in a temporary directory (tests/pgserver.py)."""
    server = pgserver.start()
    try:
        yield server
    finally:
        from vault.storage import pg

        pg.close_all()
        server.stop()


@pytest.fixture
def postgres_database(postgres_server: pgserver.PgServer) -> Iterator[Callable[[], str]]:
    """Makes fresh databases on the session server (each instance has its own tables), all
    dropped, with this process's pools closed, when the test ends."""
    yield postgres_server.new_database
    from vault.storage import pg

    pg.close_all()
    postgres_server.drop_databases()


@pytest.fixture(params=["files", "postgresql"])
def backend(request) -> str:
    """The storage backend a test runs against: its KLUIS_DATABASE_URL ("" for files), a
    fresh database for the test. A test (or a conftest's ``settings``) that takes it runs
    once on each."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_database")()
    return ""


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The session Redis, emptied before each test."""
    client = redis_lib.Redis.from_url(redis_server)
    client.flushall()
    client.close()
    return redis_server


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis_lib.Redis]:
    client = redis_lib.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def make_settings(tmp_path: Path, redis_url: str, request):
    """Settings for a fresh KLUIS_HOME under tmp_path (the instance is initialised).

    ``KLUIS_TEST_BACKEND=postgresql`` in the environment runs every test that does not choose
    its backend on PostgreSQL (the session server), for a whole-suite check of that backend.
    """
    fresh: Callable[[], str] | None = None
    if os.environ.get("KLUIS_TEST_BACKEND") == "postgresql":
        fresh = request.getfixturevalue("postgres_database")

    urls: dict[str, str] = {}  # one database per home, the same on a second call

    def make(name: str = "home", **overrides) -> Settings:
        home = tmp_path / name
        if fresh is not None and name not in urls:
            urls[name] = fresh()
        values = {"home": str(home), "redis_url": redis_url, "allow_private_urls": True,
                  "secure_cookies": "never", "database_url": urls.get(name, "")}
        values.update(overrides)
        settings = Settings(**values)
        init_home(settings)
        return settings

    return make


@pytest.fixture
def settings(make_settings, request) -> Settings:
    """A fresh instance's settings. A test that takes ``backend`` (it looks at how storage is
    laid out) runs once on each backend; the others on KLUIS_TEST_BACKEND's."""
    if "backend" in request.fixturenames:
        return make_settings(database_url=request.getfixturevalue("backend"))
    return make_settings()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a subprocess (worker, CLI) see the same settings."""
    return settings.to_env()


@pytest.fixture
def app(settings: Settings):
    app = create_app({"settings": settings, "TESTING": True})
    yield app
    app.extensions["kluis"].close()


@dataclass
class LiveServer:
    url: str
    app: object
    port: int


@pytest.fixture
def make_live_server():
    """Serve an app over real HTTP on loopback (werkzeug, threaded) until the test ends."""
    servers = []

    def start(app, port: int | None = None) -> LiveServer:
        server = make_server("127.0.0.1", port or 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append(server)
        return LiveServer(f"http://127.0.0.1:{server.server_port}", app, server.server_port)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def live_server(make_live_server, settings: Settings):
    """The real app over HTTP; its base URL is KLUIS_BASE_URL, as in production."""
    port = free_port()
    app = create_app({
        "settings": settings.with_overrides(base_url=f"http://127.0.0.1:{port}"),
        "TESTING": True,
    })
    server = make_live_server(app, port)
    yield server
    app.extensions["kluis"].close()


@dataclass
class OwnerClient:
    """A signed-up owner with an app token and a requests session that sends it."""

    base_url: str
    username: str
    password: str
    recovery_code: str
    vault_id: str
    token: str
    http: requests.Session

    def url(self, path: str) -> str:
        return self.base_url + path

    def get(self, path: str, **kw):
        return self.http.get(self.url(path), timeout=30, **kw)

    def post(self, path: str, **kw):
        return self.http.post(self.url(path), timeout=30, **kw)

    def put(self, path: str, **kw):
        return self.http.put(self.url(path), timeout=30, **kw)

    def delete(self, path: str, **kw):
        return self.http.delete(self.url(path), timeout=30, **kw)


@pytest.fixture
def make_owner(live_server):
    """Sign up an owner through the API and get an app token for them."""
    counter = iter(range(1_000_000))
    made: list[requests.Session] = []

    def make(username: str | None = None, password: str = "correct horse staple 42",
             server=None) -> OwnerClient:
        base = (server or live_server).url
        username = username or f"owner{next(counter)}"
        resp = requests.post(f"{base}/api/v1/accounts",
                             json={"username": username, "password": password}, timeout=30)
        assert resp.status_code == 201, resp.text
        body = resp.json()
        resp = requests.post(f"{base}/api/v1/tokens",
                             json={"username": username, "password": password, "name": "tests"},
                             timeout=30)
        assert resp.status_code == 201, resp.text
        token = resp.json()["token"]
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"
        made.append(http)
        return OwnerClient(base, username, password, body["recovery_code"], body["vault_id"],
                           token, http)

    yield make
    for http in made:
        http.close()


@pytest.fixture
def start_worker(settings: Settings):
    """Start real ``kluis worker`` processes (rq with its scheduler) for ``settings``."""
    procs: list[subprocess.Popen] = []

    def start(the_settings: Settings | None = None, *, burst: bool = False) -> subprocess.Popen:
        env = settings_env(the_settings or settings)
        args = [sys.executable, "-m", "vault.cli", "worker"] + (["--burst"] if burst else [])
        proc = subprocess.Popen(args, env=env, cwd=str(ROOT))
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


class FakeClock:
    """A clock tests move by hand; installed with vault.clock.set_clock for in-process servers."""

    def __init__(self) -> None:
        from datetime import UTC, datetime

        self.now = datetime.now(UTC)

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    from vault import clock as clock_mod

    fake = FakeClock()
    clock_mod.set_clock(fake)
    yield fake
    clock_mod.set_clock(None)
