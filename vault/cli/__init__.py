"""``kluis``: init | serve | worker | migrate | operator ... (and feature commands).

The command-line entry point, a layer beside the web layer: each feature's commands sit
in ``vault/cli/<feature>.py`` and every command gets its objects from :func:`services`.

Every command reads its settings from the environment (``KLUIS_*``).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from vault.config import ConfigError, load_settings


def _settings():
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def services():
    """The process's one :class:`vault.services.Services` (the composition root), built
    from the environment on first use; a bad setting is a plain error, not a traceback."""
    from vault import services as services_mod

    try:
        return services_mod.current()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(package_name="kluis")
def cli() -> None:
    """Kluis, a personal data vault with consent management."""


@cli.command()
def init() -> None:
    """Create KLUIS_HOME, the instance key and instance.db (safe to run again)."""
    from vault.storage.instance import init_home

    settings = _settings()
    created = init_home(settings)
    click.echo(f"{'Initialised' if created else 'Already initialised'}: {settings.home}")


@cli.command()
def migrate() -> None:
    """Apply pending instance.db migrations (vaults migrate when they are opened)."""
    from vault.storage import migrations
    from vault.storage.instance import Instance

    instance = Instance(_settings())
    click.echo(f"instance.db at migration {migrations.current_version(instance.conn)}")
    instance.close()


#: The longest path a Unix socket may have on Linux (sun_path is 108 bytes with its NUL).
UNIX_SOCKET_MAX = 107


def gunicorn_run_files(run_dir: Path, bind: str) -> dict[str, object]:
    """gunicorn settings that keep one server's files to itself: its control socket
    (``gunicornc``) in ``run_dir``, named after the address it listens on, instead of
    gunicorn's one per user (``$XDG_RUNTIME_DIR/gunicorn.ctl`` or ``~/.gunicorn/gunicorn.ctl``),
    where a second server on the host would take it over and stopping either removes it.
    Without room for the path (a Unix socket path has at most 107 bytes) the socket is off.

    Nothing else is shared: gunicorn writes a pid file only when told to (``./deploy.sh``
    keeps its own in ``run/``), and each worker's heartbeat file is a fresh ``mkstemp`` in
    the temporary directory, removed as soon as it is open (gunicorn advises a tmpfs there,
    so it stays out of KLUIS_HOME).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() or c in ".-" else "_" for c in bind)
    socket_path = run_dir.absolute() / f"gunicorn-{name}.ctl"
    if len(str(socket_path).encode()) > UNIX_SOCKET_MAX:
        return {"control_socket_disable": True}
    return {"control_socket": str(socket_path), "control_socket_mode": 0o600}


@cli.command()
@click.option("--bind", default=None, help="host:port (default KLUIS_BIND)")
@click.option("--workers", type=int, default=None, help="gunicorn workers (KLUIS_WEB_WORKERS)")
def serve(bind: str | None, workers: int | None) -> None:
    """Run the web server (gunicorn) in the foreground."""
    import os
    import shutil

    from gunicorn.app.base import BaseApplication

    settings = _settings()
    # Prometheus multiprocess mode: every worker writes its metrics under this directory, so
    # /metrics on any worker reports the whole server. Set before prometheus_client loads.
    metrics_dir = settings.home_path / "run" / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)

    from vault.app import create_app

    def child_exit(_server: object, worker: object) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]

    options = {
        "bind": bind or settings.bind,
        "workers": workers or settings.web_workers,
        "worker_class": "sync",
        "timeout": 60,
        "graceful_timeout": 20,
        "keepalive": 5,
        "limit_request_line": 8190,
        "loglevel": settings.log_level.lower(),
        # Each worker builds its own app, Redis and SQLCipher connections after the fork.
        "preload_app": False,
        "child_exit": child_exit,
        # The request log is Kluis's own (kluis.requests: route templates, no ids, no query
        # strings); gunicorn's access log would print whole paths.
        "accesslog": None,
    }

    options.update(gunicorn_run_files(settings.home_path / "run", options["bind"]))

    class KluisServer(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings:  # control_socket: gunicorn 25.1 and later
                    self.cfg.set(key, value)

        def load(self):
            return create_app()

    click.echo(f"Kluis listens on http://{options['bind']} (public URL {settings.public_url})")
    KluisServer().run()


@cli.command()
@click.option("--burst", is_flag=True, help="Work until the queues are empty, then stop.")
def worker(burst: bool) -> None:
    """Run one rq worker with its scheduler (JSON serializer)."""
    from rq import Worker
    from rq.serializers import JSONSerializer

    from vault.connectors.jobs import horse_killed, restore_schedules
    from vault.grants.jobs import schedule_purge, schedule_webhook_pump
    from vault.portability.pending import schedule_sweep

    svc = services()
    settings = svc.settings
    queues = [q.strip() for q in settings.worker_queues.split(",") if q.strip()]
    if not burst:
        # Periodic work lives in rq's scheduler; make sure it is there after a Redis restart.
        schedule_purge(svc.queue())
        schedule_webhook_pump(svc.queue(), 0)
        schedule_sweep(svc.queue(), 0)
        restored = restore_schedules(svc.instance, svc.queue())
        if restored:
            click.echo(f"re-scheduled {restored} connector refreshes", err=True)
    timing = worker_timing(settings.worker_maintenance_seconds)
    w = Worker(queues, connection=svc.redis, serializer=JSONSerializer,
               work_horse_killed_handler=horse_killed,
               maintenance_interval=timing["maintenance_interval"],
               worker_ttl=timing["worker_ttl"],
               job_monitoring_interval=timing["job_monitoring_interval"])
    w.work(with_scheduler=True, burst=burst)


def worker_timing(seconds: int) -> dict[str, int]:
    """rq ``Worker`` arguments that bound how long a dead worker's part goes undone.

    rq's scheduler (one for all workers: whoever holds ``rq:scheduler-lock:<queue>``) keeps
    its lock 61 s past its last refresh, and the other workers try to take it only at their
    maintenance, every ``maintenance_interval``. An idle worker reaches that check only when
    its wait for a job ends, after ``worker_ttl - 15`` seconds (rq's default: 405), so the
    wait is shortened to the interval too. A job running on a killed worker is found abandoned
    (and its failure callback called) at the first maintenance after its entry in the started
    registry expires, ``job_monitoring_interval + 60`` seconds after the worker's last
    heartbeat for it (it beats every ``job_monitoring_interval``). With ``seconds``
    (KLUIS_WORKER_MAINTENANCE_SECONDS): the schedule goes on at most 61 + ``seconds`` s after
    its holder died, and a job its worker was running when killed is found within
    60 + min(30, ``seconds``) + ``seconds`` s (default 30: 91 s and 120 s).
    """
    return {"maintenance_interval": seconds, "worker_ttl": seconds + 15,
            "job_monitoring_interval": min(30, seconds)}


@cli.group()
def operator() -> None:
    """Instance operator commands: never show a member's records."""


@operator.command("stats")
def operator_stats() -> None:
    """Member count, where vaults live (and, with PostgreSQL, how many are not moved yet),
    disk use, inbox and queue sizes, webhook and mail deliveries by status (queued,
    delivered/sent, failed); no record contents, no addresses."""
    svc = services()
    settings = svc.settings
    vaults_dir = settings.home_path / "vaults"
    disk = sum(p.stat().st_size for p in vaults_dir.glob("*") if p.is_file())
    inbox = svc.instance.conn.execute("SELECT count(*) FROM inbox_items").fetchone()[0]
    counters = {r["name"]: r["value"]
                for r in svc.instance.conn.execute("SELECT name, value FROM counters")}
    queued: dict[str, int | str]
    try:
        queued = {q: len(svc.queue(q)) for q in settings.worker_queues.split(",")}
    except Exception as exc:  # noqa: BLE001 - Redis may be down; say so
        queued = {"error": type(exc).__name__}
    from vault.grants import notifications, webhooks
    from vault.storage import pgmove

    where = pgmove.locations(svc.instance)
    moved = {place: sum(1 for p in where.values() if p == place)
             for place in (pgmove.FILE, pgmove.POSTGRESQL, pgmove.MISSING)}

    click.echo(json.dumps({
        "webhook_deliveries": webhooks.counts(svc.instance.conn),
        "mail_deliveries": notifications.mail_counts(svc.instance.conn),
        "vaults": svc.instance.count_vaults(),
        "vaults_by_location": moved,
        # With KLUIS_DATABASE_URL: file vaults not opened (so not moved) since it was set.
        "vaults_not_moved": moved[pgmove.FILE] if settings.database_url else None,
        "vault_disk_bytes": disk,
        "inbox_items": inbox,
        "queued_jobs": queued,
        "counters": counters,
    }, indent=2))


@operator.command("invite")
@click.option("--note", default="", help="A note for yourself (who the invite is for).")
@click.option("--days", default=14, show_default=True, help="Days the code stays valid.")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, 10_000),
              help="How many codes (made in one transaction: all or none).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the codes to this new file (mode 0600), one a line, not to stdout.")
def operator_invite(note: str, days: int, count: int, output: str | None) -> None:
    """Create one-time invitation codes (for KLUIS_REGISTRATION=invite)."""
    import os

    if output and os.path.exists(output):
        raise click.ClickException(f"{output} exists")
    codes = services().accounts.create_invites(count, note, days)
    if output:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write("".join(code + "\n" for code in codes))
        click.echo(f"wrote {len(codes)} invitation codes to {output}")
        return
    for code in codes:
        click.echo(code)


#: Feature packages add their commands here (``register_commands(cli)`` in their cli module).
FEATURE_COMMANDS: list[str] = ["vault.cli.portability", "vault.cli.grants", "vault.cli.storage",
                               "vault.cli.portal", "bench.run"]


def _load_feature_commands() -> None:
    import importlib

    for module_name in FEATURE_COMMANDS:
        module = importlib.import_module(module_name)
        module.register_commands(cli)


def main() -> None:
    """The ``kluis`` console script. click ends the process with the command's exit status."""
    _load_feature_commands()
    cli(prog_name="kluis")


if __name__ == "__main__":
    main()
