"""Storage commands for ``kluis``: ``backup``, ``restore``, ``storage status``,
``vault accept-older-state``, and the operator's invitation codes (``operator invites``,
``operator revoke-invite``).

Registered through ``vault.cli.FEATURE_COMMANDS``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from vault.cli import _settings, services


def register_commands(cli: click.Group) -> None:
    @cli.command("backup")
    @click.argument("dest", type=click.Path(path_type=Path))
    def backup_cmd(dest: Path) -> None:
        """Copy the running instance to DEST (new or empty) consistently: instance.db, every
        vault and access journal, while writes wait. Needs no vault key; the instance key is
        not copied (keep it apart)."""
        from vault.errors import KluisError
        from vault.storage import backup
        from vault.storage.instance import NotInitialised

        try:
            report = backup.backup(_settings(), dest)
        except (KluisError, NotInitialised, OSError) as exc:
            raise click.ClickException(f"backup failed: {exc}") from None
        click.echo(f"backed up {report.vaults} vaults ({report.files} files, {report.bytes} bytes)"
                   f" to {report.dest}; writes waited {report.held_seconds:.3f} s")
        for vault_id in report.missing_vault_files:
            click.echo(f"warning: vault {vault_id} has no file on this instance", err=True)

    @cli.command("restore")
    @click.argument("src", type=click.Path(path_type=Path, exists=True, file_okay=False))
    @click.option("--replace", is_flag=True,
                  help="Move the current instance.db and vaults aside (KLUIS_HOME/replaced-*).")
    def restore_cmd(src: Path, replace: bool) -> None:
        """Put a `kluis backup` copy back under KLUIS_HOME (stop Kluis first). Needs the same
        instance key (KLUIS_HOME/instance.key or KLUIS_INSTANCE_KEY)."""
        from vault.errors import KluisError
        from vault.storage import backup
        from vault.storage.instance import NotInitialised

        try:
            report = backup.restore(_settings(), src, replace=replace)
        except (KluisError, NotInitialised, OSError) as exc:
            raise click.ClickException(f"restore failed: {exc}") from None
        click.echo(f"restored {report.vaults} vaults ({report.files} files) from {src}")
        if report.moved_aside:
            click.echo(f"the instance that was there is kept in {report.moved_aside}")

    @cli.group("storage")
    def storage_group() -> None:
        """Where the vaults live (SQLCipher files or PostgreSQL)."""

    @storage_group.command("status")
    @click.option("--json", "as_json", is_flag=True, help="As JSON.")
    def storage_status(as_json: bool) -> None:
        """Each vault (id, username) and where it lives: file, postgresql, or missing (in
        neither). Reads instance.db and the database's vault list only: opens no vault. With
        KLUIS_DATABASE_URL set, a file vault moves into PostgreSQL the first time it is opened
        with a key slot (login, app token or an organisation's read)."""
        from vault.storage import pgmove

        svc = services()
        try:
            where = pgmove.locations(svc.instance)
            names = {vault_id: svc.instance.username(vault_id) for vault_id in where}
            leftovers = {vault_id for vault_id, place in where.items()
                         if place == pgmove.POSTGRESQL and pgmove.leftover(svc.instance, vault_id)}
            backend = pgmove.POSTGRESQL if svc.settings.database_url else "files"
        finally:
            svc.close()
        counts = {place: sum(1 for p in where.values() if p == place)
                  for place in (pgmove.FILE, pgmove.POSTGRESQL, pgmove.MISSING)}
        if as_json:
            click.echo(json.dumps({
                "backend": backend, "counts": counts,
                "not_moved": counts[pgmove.FILE] if backend == pgmove.POSTGRESQL else None,
                "vaults": [{"vault_id": vault_id, "username": names[vault_id], "location": place,
                            **({"file_left_over": True} if vault_id in leftovers else {})}
                           for vault_id, place in where.items()]}, indent=2))
            return
        for vault_id, place in where.items():
            click.echo(f"{vault_id}  {place:<10}  {names[vault_id]}"
                       + ("  (file left over, removed at the next open)"
                          if vault_id in leftovers else ""))
        summary = ", ".join(f"{n} {place}" for place, n in counts.items() if n)
        click.echo(f"backend: {backend}; {len(where)} vaults" + (f" ({summary})" if summary else ""))
        if backend == pgmove.POSTGRESQL and counts[pgmove.FILE]:
            click.echo(f"{counts[pgmove.FILE]} vaults not moved yet: each moves the first time"
                       " it is opened with a key slot")

    vault_group = cli.commands.get("vault")
    if isinstance(vault_group, click.Group):
        @vault_group.command("accept-older-state")
        @click.option("--username", required=True, help="The owner (the password is asked).")
        @click.option("--totp", "totp_code", default=None,
                      help="A code from the authenticator app, when two-step is on.")
        def accept_older_state(username: str, totp_code: str | None) -> None:
            """The owner accepts their vault as restored from an older copy; the log says
            how far it was behind."""
            from vault.errors import KluisError

            svc = services()
            try:
                password = click.prompt("Password", hide_input=True)
                detail = svc.accounts.accept_older_state(username, password, totp_code)
            except KluisError as exc:
                raise click.ClickException(str(exc)) from None
            finally:
                svc.close()
            missing = detail.get("events_missing")
            click.echo(f"accepted: the log is at event {detail['log_seq_now']}"
                       + (f"; {missing} events this instance had seen are not in it"
                          if missing else ""))

    operator = cli.commands.get("operator")
    if isinstance(operator, click.Group):
        @operator.command("invites")
        @click.option("--json", "as_json", is_flag=True, help="As JSON.")
        def operator_invites(as_json: bool) -> None:
            """List invitation codes (by id: the codes themselves are not kept) and their state."""
            svc = services()
            try:
                invites = svc.accounts.invites()
            finally:
                svc.close()
            if as_json:
                click.echo(json.dumps([{
                    "id": i.id, "state": i.state, "note": i.note, "created_at": i.created_at,
                    "expires_at": i.expires_at, "used_at": i.used_at} for i in invites], indent=2))
                return
            for i in invites:
                click.echo(f"{i.id}  {i.state:<7}  expires {i.expires_at}"
                           + (f"  used {i.used_at}" if i.used_at else "")
                           + (f"  {i.note}" if i.note else ""))

        @operator.command("revoke-invite")
        @click.argument("code")
        def operator_revoke_invite(code: str) -> None:
            """Revoke an unused invitation CODE (or the id `kluis operator invites` shows)."""
            svc = services()
            try:
                revoked = svc.accounts.revoke_invite(code)
            finally:
                svc.close()
            if not revoked:
                raise click.ClickException("no unused invitation code matches")
            click.echo("revoked")
