"""Errors of the storage layer that reach owners and operators (see :mod:`vault.errors`)."""

from __future__ import annotations

from vault.crypto.errors import WrongKey
from vault.errors import KluisError


class StorageError(KluisError):
    status = 503
    code = "storage-error"


class VaultDamaged(StorageError, WrongKey):
    """A vault file does not open with its (correctly unwrapped) data key, or is malformed.

    Also a :class:`WrongKey`, as a file that does not open with a key always was.
    """

    status = 503
    code = "vault-damaged"
    title = "This vault's file is damaged"

    def problem_detail(self) -> str | None:
        return ("The vault's data key is right, but its file on this server does not open. "
                "Nothing was changed. The operator can restore the file from a backup "
                "(docs/operations.md, 'Restore').")


class VaultRolledBack(StorageError):
    """A vault file is older than the instance's keyed record of its log (a rollback)."""

    status = 409
    code = "vault-rolled-back"
    title = "This vault is older than its last known state"

    def __init__(self, message: str, *, vault_seq: int, known_seq: int,
                 known_at: str | None) -> None:
        super().__init__(message)
        self.vault_seq = vault_seq
        self.known_seq = known_seq
        self.known_at = known_at

    def problem_detail(self) -> str | None:
        return (f"{self} Records, grants and log events written after that may be missing. "
                "Nothing was opened or changed. If this copy was restored on purpose, the "
                "owner accepts it with `kluis vault accept-older-state --username NAME` "
                "(password asked); the log then says what was lost.")

    def problem_extra(self) -> dict[str, object]:
        return {"vault_log_seq": self.vault_seq, "known_log_seq": self.known_seq,
                "known_at": self.known_at}


class DatabaseUnavailable(StorageError):
    """PostgreSQL does not answer (down, or a failover under way), or lost the session in use.

    Nothing was read. A write that met it may or may not have been committed (the answer to
    its commit was lost): it is never repeated on the caller's behalf.
    """

    status = 503
    code = "database-unavailable"
    title = "The database does not answer"
    headers = {"Retry-After": "5"}  # noqa: RUF012 - read only, by vault.web.problems

    def problem_detail(self) -> str | None:
        return ("The instance's database did not answer (for example while it moves to a "
                "standby server). Try again in a few seconds. A change sent with this request "
                "may or may not have been saved: look before sending it again.")
