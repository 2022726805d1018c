"""Portability operations over one instance: export, import and erase a vault. No Flask.

The web views, the CLI and the UI call these; each takes plain values.
"""

from __future__ import annotations

from dataclasses import dataclass

from vault.accounts import sessions
from vault.accounts.service import Accounts
from vault.portability import archive, erasure, pending
from vault.portability.archive import Progress, RestoreResult


@dataclass
class ImportOutcome:
    vault_id: str
    username: str
    recovery_code: str
    result: RestoreResult

    def to_dict(self) -> dict:
        out = {"vault_id": self.vault_id, "username": self.username,
               "recovery_code": self.recovery_code, **self.result.to_dict()}
        out["notice"] = import_notice(self.result)
        return out


def import_notice(result: RestoreResult) -> str:
    parts = [f"Imported {result.records} records, {result.versions} versions, "
             f"{result.documents} documents and {result.events} log events."]
    if result.grants_ended:
        names = ", ".join(sorted({g["organisation"] for g in result.grants_ended}))
        parts.append(
            f"{len(result.grants_ended)} active grant(s) did not carry over ({names}): their "
            "tokens belong to the old instance. Ask the organisation to request access again."
        )
    else:
        parts.append("Active grants never carry over to another instance; there were none.")
    parts.extend(f"Not carried over: {item}." for item in result.not_carried)
    return " ".join(parts)


def export_vault_archive(accounts: Accounts, vault_id: str, dek: bytes, passphrase: str, *,
                         progress: Progress | None = None) -> bytes:
    """The owner's whole vault as an encrypted archive (see :mod:`vault.portability.archive`)."""
    archive.check_passphrase(passphrase)
    username = accounts.instance.username(vault_id) or ""
    with accounts.open(vault_id, dek) as vault:
        return archive.export_archive(
            vault, passphrase, username=username, source=accounts.settings.public_url,
            progress=progress,
        )


def import_vault_archive(accounts: Accounts, blob: bytes, passphrase: str, *, username: str,
                         password: str, invite: str | None = None,
                         progress: Progress | None = None) -> ImportOutcome:
    """Recreate an archived vault here under a new account ``username``.

    The archive is decrypted first: a wrong passphrase or a damaged file raises
    before anything is created. Account checks (username, password policy,
    registration mode) apply as for sign-up. If filling the new vault fails, the
    new account is erased again, so an import happens whole or not at all.
    """
    contents = archive.open_archive(blob, passphrase)
    if progress:
        progress(0, 1, "decrypted")
    vault_id, code = accounts.register(username, password, invite=invite)
    try:
        unlocked = accounts.unlock_password(username, password)
        with accounts.open(vault_id, unlocked.dek) as vault:
            result = archive.restore(vault, contents, progress=progress)
    except BaseException:
        erasure.erase_vault(accounts.instance, vault_id, count=False)
        raise
    return ImportOutcome(vault_id, accounts.instance.username(vault_id) or username, code,
                         result)


def erase_owner_vault(accounts: Accounts, vault_id: str) -> erasure.ErasureReport:
    """Erase ``vault_id``: key slots, files, pending archives, inbox, sessions."""
    waiting = pending.store(accounts.instance)
    report = erasure.erase_vault(accounts.instance, vault_id,
                                 extra_files=waiting.local_files(vault_id))
    report.rows_removed += waiting.drop_vault(vault_id)
    sessions.end_all(accounts.redis, vault_id)
    return report
