"""``kluis verify BUNDLE`` and ``kluis vault export | import | delete``.

Registered on the main ``kluis`` group by :func:`register_commands`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from vault.cli import services


def _progress(label: str):
    def report(done: int, total: int, stage: str) -> None:
        percent = 100 if total <= 0 else min(100, done * 100 // total)
        click.echo(f"\r{label}: {percent:3d}% {stage:<30}", nl=False, err=True)

    return report


@click.command("verify")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--jwks", "jwks_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A JWKS file to check against (offline).")
@click.option("--instance", "instance_url",
              help="An instance URL: its /.well-known/jwks.json is fetched.")
@click.option("--digest", help="The digest printed on the PDF or in its QR code.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify_command(bundle: Path, jwks_file: Path | None, instance_url: str | None,
                   digest: str | None, as_json: bool) -> None:
    """Check a certified bundle or a consent receipt. Exit code 0 when valid, 1 when not,
    2 on usage errors.

    Without --jwks or --instance the keys are fetched from the issuer URL the
    bundle names; the result then says which instance signed it.
    """
    from vault.portability import verify

    raw = bundle.read_bytes()
    try:
        if jwks_file:
            keys = verify.load_jwks_file(jwks_file)
        else:
            url = instance_url or verify.issuer_of(raw)
            if not url:
                raise click.UsageError("Give --jwks FILE or --instance URL.")
            keys = verify.fetch_jwks(url)
    except verify.JwksError as exc:
        raise click.ClickException(str(exc)) from None
    result = verify.verify_bundle(raw, keys, expected_digest=digest)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif result.valid:
        click.echo(result.message)
    else:
        click.echo(f"NOT valid ({result.reason}): {result.message}")
    sys.exit(0 if result.valid else 1)


@click.group("vault")
def vault_group() -> None:
    """Move or erase a whole vault (export | import | delete)."""


def _unlock(svc, username: str, password: str):
    from vault.accounts.errors import AccountError

    try:
        return svc.accounts.unlock_password(username, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


@vault_group.command("export")
@click.option("--username", prompt=True)
@click.option("--password", prompt=True, hide_input=True)
@click.option("--passphrase", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Protects the archive; needed again to import it.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
def vault_export(username: str, password: str, passphrase: str, output: Path) -> None:
    """Write the whole vault (records, documents, grants, log) as an encrypted archive."""
    from vault.portability import archive, service

    svc = services()
    unlocked = _unlock(svc, username, password)
    try:
        blob = service.export_vault_archive(svc.accounts, unlocked.vault_id, unlocked.dek,
                                            passphrase, progress=_progress("export"))
    except archive.ArchiveError as exc:
        raise click.ClickException(str(exc)) from None
    output.write_bytes(blob)
    output.chmod(0o600)
    click.echo(f"\nWrote {output} ({len(blob)} bytes).")


@vault_group.command("import")
@click.argument("archive_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--username", prompt=True, help="The new account on this instance.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--passphrase", prompt=True, hide_input=True)
@click.option("--invite", default=None, help="Invitation code, if this instance needs one.")
def vault_import(archive_file: Path, username: str, password: str, passphrase: str,
                 invite: str | None) -> None:
    """Recreate an archived vault here under a new account."""
    from vault.accounts.errors import AccountError
    from vault.portability import archive, service

    svc = services()
    try:
        outcome = service.import_vault_archive(
            svc.accounts, archive_file.read_bytes(), passphrase, username=username,
            password=password, invite=invite, progress=_progress("import"),
        )
    except (archive.ArchiveError, AccountError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("")
    click.echo(service.import_notice(outcome.result))
    click.echo(f"Account: {outcome.username}")
    click.echo(f"Recovery code (shown once, keep it safe): {outcome.recovery_code}")


@vault_group.command("delete")
@click.option("--username", prompt=True)
@click.option("--password", prompt=True, hide_input=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def vault_delete(username: str, password: str, yes: bool) -> None:
    """Erase a vault: key slots first, then its files. This cannot be undone."""
    from vault.portability import service

    svc = services()
    unlocked = _unlock(svc, username, password)
    if not yes:
        click.confirm(f"Erase the vault of {username} for good?", abort=True)
    report = service.erase_owner_vault(svc.accounts, unlocked.vault_id)
    click.echo(json.dumps(report.to_dict(), indent=2))


def register_commands(cli: click.Group) -> None:
    cli.add_command(verify_command)
    cli.add_command(vault_group)
