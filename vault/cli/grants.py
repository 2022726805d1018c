"""Grant commands for ``kluis``: ``verify-log``, ``operator approve-org``, ``grants purge``.

Registered through ``vault.cli.FEATURE_COMMANDS``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from vault.cli import services

if TYPE_CHECKING:
    from vault.services import Services
    from vault.storage.vaults import VaultDB


def _open_vault(svc: Services, username: str | None, token: str | None) -> VaultDB:
    """The vault, opened with the owner's password (asked for) or an owner app token."""
    from vault.crypto import slots
    from vault.errors import KluisError

    try:
        if token:
            slot, dek = svc.accounts.unlock_token(token, kind=slots.APP_TOKEN)
            return svc.accounts.open(slot.vault_id, dek)
        if not username:
            raise click.UsageError("give --username (the password is asked) or --token")
        password = click.prompt("Password", hide_input=True)
        unlocked = svc.accounts.unlock_password(username, password)
        return svc.accounts.open(unlocked.vault_id, unlocked.dek)
    except KluisError as exc:  # a wrong secret, a damaged or rolled-back vault: one line
        raise click.ClickException(str(exc)) from None


def register_commands(cli: click.Group) -> None:
    @cli.command("verify-log")
    @click.option("--username", help="The owner's username (the password is asked).")
    @click.option("--token", envvar="KLUIS_OWNER_TOKEN",
                  help="An owner app token instead of the password (env KLUIS_OWNER_TOKEN).")
    def verify_log(username: str | None, token: str | None) -> None:
        """Check that no event in a vault's log was edited, removed or reordered."""
        svc = services()
        try:
            with _open_vault(svc, username, token) as vault:
                count = vault.conn.execute("SELECT count(*) FROM events").fetchone()[0]
                problems = vault.verify_log()
        finally:
            svc.close()
        if problems:
            for problem in problems:
                click.echo(f"TAMPERED: {problem}", err=True)
            raise SystemExit(1)
        click.echo(f"OK: {count} events, the hash chain is intact")

    operator = cli.commands.get("operator")
    if isinstance(operator, click.Group):
        @operator.command("orgs")
        def operator_orgs() -> None:
            """List organisations (OAuth clients) and their status."""

            svc = services()
            try:
                orgs = svc.organisations.list_clients()
                click.echo(json.dumps([{
                    "client_id": o.client_id, "name": o.name, "home_url": o.home_url,
                    "status": o.status, "source": o.source,
                    "domain_verified": o.domain_verified} for o in orgs], indent=2))
            finally:
                svc.close()

        @operator.command("approve-org")
        @click.argument("client_id")
        @click.option("--verified-domain", is_flag=True,
                      help="You checked that the organisation owns its home URL's domain.")
        def operator_approve_org(client_id: str, verified_domain: bool) -> None:
            """Approve an organisation (KLUIS_ORG_REGISTRATION=approval)."""

            svc = services()
            try:
                orgs = svc.organisations
                if not orgs.set_status(client_id, "active",
                                       domain_verified=verified_domain or None):
                    raise click.ClickException(f"no organisation {client_id}")
            finally:
                svc.close()
            click.echo(f"approved {client_id}")

    @cli.group("grants")
    def grants_group() -> None:
        """Grant housekeeping."""

    @grants_group.command("purge")
    def purge() -> None:
        """Delete expired grant slots, codes and pushed requests now (the worker does it too)."""
        from vault.grants.jobs import purge_expired

        svc = services()
        try:
            click.echo(json.dumps(purge_expired(svc.grants)))
        finally:
            svc.close()
