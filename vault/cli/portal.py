"""``kluis portal``: the organisation portal (serve, init, invite, sweep).

``kluis portal`` alone serves it (gunicorn, like ``kluis serve``). Settings are
``KLUIS_PORTAL_*`` (see vault/portal/config.py and docs/portal.md).
"""

from __future__ import annotations

import json

import click

from vault.config import ConfigError


def _settings():
    from vault.portal.config import load_portal_settings

    try:
        return load_portal_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _store(settings):
    from vault.portal.store import NotInitialised, Store, init_home

    init_home(settings)
    try:
        return Store(settings)
    except NotInitialised as exc:
        raise click.ClickException(str(exc)) from None


def register_commands(cli: click.Group) -> None:
    @cli.group("portal", invoke_without_command=True)
    @click.pass_context
    def portal(ctx: click.Context) -> None:
        """The organisation portal; without a subcommand: serve it (gunicorn)."""
        if ctx.invoked_subcommand is None:
            ctx.invoke(serve)

    @portal.command("init")
    def init() -> None:
        """Create KLUIS_PORTAL_HOME, the portal key and portal.db (safe to run again)."""
        from vault.portal import templates_repo
        from vault.portal.store import init_home

        settings = _settings()
        created = init_home(settings)
        store = _store(settings)
        templates_repo.seed_examples(store)
        store.close()
        click.echo(f"{'Initialised' if created else 'Already initialised'}: {settings.home}")

    @portal.command("serve")
    @click.option("--bind", default=None, help="host:port (default KLUIS_PORTAL_BIND)")
    @click.option("--workers", type=int, default=None, help="gunicorn workers")
    def serve(bind: str | None = None, workers: int | None = None) -> None:
        """Run the portal's web server (gunicorn) in the foreground."""
        from gunicorn.app.base import BaseApplication

        from vault.portal.app import create_portal_app
        from vault.portal.store import init_home

        settings = _settings()
        init_home(settings)
        options = {
            "bind": bind or settings.bind, "workers": workers or settings.web_workers,
            "worker_class": "sync", "timeout": 60, "graceful_timeout": 20, "keepalive": 5,
            "loglevel": settings.log_level.lower(), "preload_app": False,
            # Paths hold the applicants' short links and OAuth parameters: no access log.
            "accesslog": None,
        }

        from vault.cli import gunicorn_run_files

        options.update(gunicorn_run_files(settings.home_path / "run", options["bind"]))

        class PortalServer(BaseApplication):
            def load_config(self) -> None:
                for key, value in options.items():
                    if key in self.cfg.settings:  # control_socket: gunicorn 25.1 and later
                        self.cfg.set(key, value)

            def load(self):
                return create_portal_app()

        click.echo(f"Kluis portal listens on http://{options['bind']} "
                   f"(public URL {settings.public_url})")
        PortalServer().run()

    @portal.command("invite")
    @click.option("--role", type=click.Choice(["admin", "caseworker"]), default="caseworker",
                  show_default=True)
    @click.option("--note", default="", help="Who the invitation is for (for yourself).")
    @click.option("--days", default=7, show_default=True, type=click.IntRange(1, 60))
    def invite(role: str, note: str, days: int) -> None:
        """Print a one-time invitation link for a new staff member (the first admin too)."""
        from vault.portal import staff

        settings = _settings()
        store = _store(settings)
        code = staff.create_invite(store, role, note=note, days=days)
        staff.audit(store, None, "staff.invited", detail=f"{role} (command line)")
        store.close()
        click.echo(f"{settings.public_url}/invite/{code}")

    @portal.command("sweep")
    def sweep() -> None:
        """Ask the instances where waiting and approved dossiers stand (a missed webhook),
        read again what templates with ``refresh`` say to (at most daily), delete dossiers
        whose retention ended and send their deletion statements; retry statements not
        delivered yet. Safe to run often (e.g. hourly from cron or a timer)."""
        from vault.portal import dossiers
        from vault.portal.client import PortalClient

        settings = _settings()
        store = _store(settings)
        client = PortalClient(settings, store)
        try:
            checked = dossiers.poll(store, client)
            refreshed = dossiers.refresh_due(store, client)
            done = dossiers.sweep(store, client) | {"status_checked": checked,
                                                    "refreshed": refreshed}
        finally:
            store.close()
        click.echo(json.dumps(done))
