"""Owner accounts: sign-up, unlock, TOTP, recovery, app tokens. Imports no Flask.

Every way into a vault goes through a key slot. A password change, a reset or
a TOTP reset re-wraps the data key in new slots; no record is re-encrypted.

Longer than 400 lines on purpose: sign-up, unlock, TOTP, the password change and both
resets share one unlock path (the dummy slot against username probing, the attempt
limiter, the Argon2 floor upgrade, the re-wrap), and keeping them in one reading order is
what lets a reviewer check that every path counts its attempts. App tokens and invites,
which share none of it, are in :mod:`vault.accounts.tokens` and :mod:`vault.accounts.invites`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from redis import Redis

from vault.accounts import attempts, sessions, totp
from vault.accounts.errors import (
    InvalidCredentials,
    InvalidUsername,
    PasskeyRequired,
    RateLimited,
    RegistrationClosed,
    TotpInvalid,
    TotpRequired,
    UnknownAppToken,
    UsernameTaken,
    WrongPassword,
)
from vault.accounts.invites import InviteOps
from vault.accounts.passkeys import PasskeyOps
from vault.accounts.passwords import check_password
from vault.accounts.ratelimit import AttemptLimiter
from vault.accounts.tokens import (
    AppToken,
    AppTokenOps,
    _log_tokens_revoked,
    _token_detail,
)
from vault.clock import now_iso
from vault.config import Settings
from vault.crypto import keys, slots
from vault.crypto.errors import CryptoError
from vault.crypto.kdf import Argon2Params
from vault.storage import db, heads, journal
from vault.storage.instance import Instance
from vault.storage.vaults import (
    VaultDB,
    create_vault_file,
    new_vault_id,
    open_vault,
    remove_vault_storage,
)

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")

log = logging.getLogger("kluis.accounts")


@dataclass
class Unlocked:
    """A vault's id and data key, after a slot opened."""

    vault_id: str
    dek: bytes
    totp_enabled: bool = False
    passkeys: bool = False  # a passkey is a second factor too

    @property
    def second_factor(self) -> bool:
        """Whether a password alone is not enough (TOTP or a passkey must follow)."""
        return self.totp_enabled or self.passkeys


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


class Accounts(AppTokenOps, InviteOps, PasskeyOps):
    """Account operations over one instance and one Redis."""

    def __init__(self, instance: Instance, redis: Redis, settings: Settings, *,
                 on_open: Sequence[Callable[[VaultDB], None]] = (),
                 on_journal_merged: journal.OnMerged | None = None) -> None:
        self.instance = instance
        self.redis = redis
        self.settings = settings
        #: What must happen whenever a vault opens (the composition root passes the
        #: connector inbox merge), for the web, the CLI and the worker alike.
        self.on_open = tuple(on_open)
        #: What a journal merge adds to its own commit (the grants feature's access counts);
        #: given by the composition root, since accounts sits below grants.
        self.on_journal_merged = on_journal_merged or journal.no_derived_rows
        self.limiter = AttemptLimiter(
            redis, max_failures=settings.login_max_failures, window=settings.login_window_seconds
        )
        self._dummy: slots.KeySlot | None = None

    @property
    def argon2_floor(self) -> Argon2Params:
        s = self.settings
        return Argon2Params(s.argon2_time_cost, s.argon2_memory_kib, s.argon2_lanes)

    # -- sign-up ----------------------------------------------------------------------------

    def register(self, username: str, password: str, *, invite: str | None = None) -> tuple[str, str]:
        """Create an account and its vault. Returns ``(vault_id, recovery_code)``.

        The recovery code is shown once; only a slot derived from it is kept.
        """
        username = normalise_username(username)
        if not USERNAME.match(username):
            raise InvalidUsername(
                "A username has 3 to 64 characters: letters, digits, '.', '_' or '-'."
            )
        check_password(password, username=username)
        mode = self.settings.registration
        if mode == "closed":
            raise RegistrationClosed("This instance does not accept new accounts.")
        invite_hash = None
        if mode == "invite":
            if not invite:
                raise RegistrationClosed("An invitation code is needed to sign up here.")
            invite_hash = keys.token_hash(invite.strip())
            row = self.instance.conn.execute(
                "SELECT expires_at, used_at FROM invites WHERE code_hash = ?", (invite_hash,)
            ).fetchone()
            if row is None or row["used_at"] or row["expires_at"] < now_iso():
                raise RegistrationClosed("This invitation code is not valid (any more).")
        if self.instance.vault_by_username(username):
            raise UsernameTaken("This username is taken.")

        vault_id = new_vault_id()
        dek = keys.random_key()
        code = keys.recovery_code()
        floor = self.argon2_floor
        password_slot = slots.wrap_human(
            dek, password, vault_id=vault_id, kind=slots.PASSWORD, params=floor,
            created_at=now_iso(),
        )
        recovery_slot = slots.wrap_human(
            dek, code, vault_id=vault_id, kind=slots.RECOVERY, params=floor, created_at=now_iso()
        )
        vault, public = create_vault_file(self.instance, vault_id, dek)
        try:
            with vault.transaction() as vtx:
                vault.append_event(vtx, actor="owner", action="account.created")
            with self.instance.transaction() as tx:
                if invite_hash:
                    used = tx.execute(
                        "UPDATE invites SET used_at = ? WHERE code_hash = ? AND used_at IS NULL",
                        (now_iso(), invite_hash),
                    ).rowcount
                    if not used:
                        raise RegistrationClosed("This invitation code was used already.")
                self.instance.add_vault(tx, vault_id, username, public)
                self.instance.put_slot(tx, password_slot)
                self.instance.put_slot(tx, recovery_slot)
        except BaseException:
            vault.close()
            _remove_vault_files(self.instance, vault_id)
            raise
        vault.close()
        return vault_id, code

    # -- unlocking --------------------------------------------------------------------------

    def _dummy_slot(self) -> slots.KeySlot:
        if self._dummy is None:
            self._dummy = slots.wrap_human(
                os.urandom(32), os.urandom(16).hex(), vault_id="0", kind=slots.PASSWORD,
                params=self.argon2_floor,
            )
        return self._dummy

    def _unwrap_human(self, username: str, secret: str, kind: str) -> tuple[str, bytes, slots.KeySlot]:
        """Open the ``kind`` slot of ``username``; same work whether or not the account exists."""
        vault_id = self.instance.vault_by_username(normalise_username(username))
        candidates = self.instance.slots(vault_id, kind) if vault_id else []
        if not vault_id or not candidates:
            try:
                slots.unwrap(self._dummy_slot(), secret or "x")
            except CryptoError:
                pass
            raise InvalidCredentials("Username or password is wrong.")
        for slot in candidates:
            try:
                return vault_id, slots.unwrap(slot, secret or ""), slot
            except CryptoError:
                continue
        raise InvalidCredentials("Username or password is wrong.")

    def unlock_password(self, username: str, password: str, *, client: str = "") -> Unlocked:
        """Check the password; return the vault key. TOTP (if enabled) is the caller's next step.

        Failures are counted per account and per client address.
        """
        subjects = [("user", normalise_username(username))]
        if client:
            subjects.append(("ip", client))
        self._check_noting(username, subjects)
        try:
            vault_id, dek, slot = self._unwrap_human(username, password, slots.PASSWORD)
        except InvalidCredentials:
            self.limiter.failed(*subjects)
            self._note(username, "password")
            raise
        except BaseException:
            self.limiter.release(*subjects)
            raise
        self.limiter.succeeded(*subjects)
        if slot.argon2_params.below(self.argon2_floor):
            self._rewrap_human(vault_id, dek, password, slots.PASSWORD, replace=slot.id)
        with self.open(vault_id, dek) as vault:
            enabled = vault.get_meta("totp_secret") is not None
        return Unlocked(vault_id, dek, totp_enabled=enabled, passkeys=self.has_passkeys(vault_id))

    def _note(self, username: str, reason: str, *, vault_id: str | None = None,
              lock_seconds: int = 0) -> None:
        """Seal a failed or refused attempt for the owner's log (:mod:`vault.accounts.attempts`)."""
        vault_id = vault_id or self.instance.vault_by_username(normalise_username(username))
        attempts.note(self.instance, self.redis, vault_id, reason, lock_seconds=lock_seconds)

    def _check_noting(self, username: str, subjects: Sequence[tuple[str, str]], *,
                      vault_id: str | None = None) -> None:
        """:meth:`AttemptLimiter.check`; a refusal (locked out) is noted for the owner."""
        try:
            self.limiter.check(*subjects)
        except RateLimited as exc:
            self._note(username, "locked-out", vault_id=vault_id, lock_seconds=exc.retry_after)
            raise

    def login(self, username: str, password: str, totp_code: str | None = None, *,
              client: str = "") -> Unlocked:
        """Password and (when enabled) TOTP in one call, as the token endpoint needs."""
        unlocked = self.unlock_password(username, password, client=client)
        if unlocked.passkeys and not unlocked.totp_enabled:
            raise PasskeyRequired(
                "This account's second step is a passkey: sign in on the web page.")
        if unlocked.totp_enabled:
            if not totp_code:
                raise TotpRequired("This account needs a code from the authenticator app.")
            self.verify_totp(unlocked, totp_code, client=client)
        with self.open(unlocked.vault_id, unlocked.dek) as vault, vault.transaction() as tx:
            vault.append_event(tx, actor="owner", action="owner.signed-in",
                               detail={"method": "password" + ("+totp" if totp_code else "")})
        return unlocked

    def open(self, vault_id: str, dek: bytes) -> VaultDB:
        """The owner's vault, with pending access events merged into its log first, then
        the ``on_open`` hooks run (each must never fail the open).

        A vault file that is damaged or older than the instance's record of its log raises
        :class:`vault.storage.errors.VaultDamaged` / ``VaultRolledBack`` (clear problems,
        never a 500). A damaged access journal never does: it is moved aside and the
        loss written to the log (:func:`vault.storage.journal.recover`).
        """
        vault = open_vault(self.instance, vault_id, dek)
        try:
            journal.merge_pending(vault, str(self.instance.vault_path(vault_id)), self.settings,
                                  on_merged=self.on_journal_merged)
        except (db.DatabaseError, CryptoError) as exc:
            # The owner must still get in; the events stay in the journal for the next open.
            log.error("merging the access journal of a vault failed (%s)", type(exc).__name__)
        for hook in self.on_open:
            hook(vault)
        return vault

    def accept_older_state(self, username: str, password: str, totp_code: str | None = None,
                           *, client: str = "") -> dict[str, object]:
        """The owner accepts their vault as restored from an older copy (after
        :class:`vault.storage.errors.VaultRolledBack`): password (and TOTP when on) confirm;
        the log gets an event saying how far it was behind. Returns that event's detail."""
        subjects = [("user", normalise_username(username))] + ([("ip", client)] if client else [])
        self.limiter.check(*subjects)
        try:
            vault_id, dek, _ = self._unwrap_human(username, password, slots.PASSWORD)
        except InvalidCredentials:
            self.limiter.failed(*subjects)
            raise
        self.limiter.succeeded(*subjects)
        with open_vault(self.instance, vault_id, dek, check_head=False) as vault:
            secret = vault.get_meta("totp_secret")
            if secret is not None:
                if not totp_code:
                    raise TotpRequired("Also give a code from your authenticator app.")
                totp_subjects = [("totp", vault_id)] + ([("ip", client)] if client else [])
                self.limiter.check(*totp_subjects)
                try:
                    step = totp.matching_step(secret, totp_code)
                except TotpInvalid:
                    self.limiter.failed(*totp_subjects)
                    raise
                with vault.transaction() as tx:
                    last = tx.execute(
                        "SELECT value FROM meta WHERE key = 'totp_last_step'").fetchone()
                    totp.claim_step(self.redis, vault_id, step,
                                    int(last["value"]) if last else None)
                    vault.set_meta(tx, "totp_last_step", step)
                self.limiter.succeeded(*totp_subjects)
            detail = heads.accept(self.instance, vault)
        with self.open(vault_id, dek):
            pass  # the normal open path: journal merged, hooks run
        return detail

    def unlock_token(self, token: str, *, kind: str | None = None) -> tuple[slots.KeySlot, bytes]:
        """Find the slot for a bearer token by its SHA-256 and unwrap the data key."""
        slot = self.instance.slot_by_token_hash(keys.token_hash(token or ""))
        if slot is None or (kind is not None and slot.kind != kind):
            raise InvalidCredentials("The token is not valid.")
        try:
            return slot, slots.unwrap(slot, token)
        except CryptoError:
            raise InvalidCredentials("The token is not valid.") from None

    # -- TOTP -------------------------------------------------------------------------------

    def verify_totp(self, unlocked: Unlocked, code: str, *, client: str = "") -> None:
        """Check a TOTP code once; raises TotpInvalid / TotpReplayed / RateLimited."""
        subjects = [("totp", unlocked.vault_id)] + ([("ip", client)] if client else [])
        self._check_noting("", subjects, vault_id=unlocked.vault_id)
        try:
            with self.open(unlocked.vault_id, unlocked.dek) as vault:
                secret = vault.get_meta("totp_secret")
                if secret is None:
                    self.limiter.release(*subjects)
                    return
                step = totp.matching_step(secret, code)
                with vault.transaction() as tx:
                    last = tx.execute(
                        "SELECT value FROM meta WHERE key = 'totp_last_step'").fetchone()
                    totp.claim_step(self.redis, unlocked.vault_id, step,
                                    int(last["value"]) if last else None)
                    vault.set_meta(tx, "totp_last_step", step)
        except TotpInvalid:
            self.limiter.failed(*subjects)
            self._note("", "totp", vault_id=unlocked.vault_id)
            raise
        except BaseException:
            self.limiter.release(*subjects)
            raise
        self.limiter.succeeded(*subjects)

    def enable_totp(self, vault: VaultDB, secret: str, code: str) -> None:
        """Turn TOTP on after the owner proved their app shows the right code."""
        step = totp.matching_step(secret, code)
        with vault.transaction() as tx:
            totp.claim_step(self.redis, vault.id, step, None)
            vault.set_meta(tx, "totp_secret", secret)
            vault.set_meta(tx, "totp_last_step", step)
            vault.append_event(tx, actor="owner", action="totp.enabled")

    def disable_totp(self, vault_id: str, dek: bytes, password: str, code: str, *,
                     client: str = "") -> None:
        """Turn TOTP off: the current password and a current code, both counted like a login.

        Raises :class:`WrongPassword` (password), ``TotpInvalid``/``TotpReplayed`` (code) or
        ``RateLimited``; nothing changes unless both are right."""
        self._confirm_password(vault_id, password)
        unlocked = Unlocked(vault_id, dek, True)
        with self.open(vault_id, dek) as vault:
            if vault.get_meta("totp_secret") is None:
                return
        self.verify_totp(unlocked, code, client=client)
        with self.open(vault_id, dek) as vault, vault.transaction() as tx:
            vault.delete_meta(tx, "totp_secret")
            vault.delete_meta(tx, "totp_last_step")
            vault.append_event(tx, actor="owner", action="totp.disabled")

    # -- password and recovery --------------------------------------------------------------

    def _confirm_password(self, vault_id: str, password: str) -> str:
        """A signed-in owner's current password, asked again before a change to the keys;
        counted like a login, so a stolen session or token cannot guess it freely. Returns the
        username; raises :class:`WrongPassword` or ``RateLimited``."""
        username = self.instance.username(vault_id) or ""
        subjects = [("user", normalise_username(username))]
        self.limiter.check(*subjects)
        try:
            self._unwrap_human(username, password, slots.PASSWORD)
        except InvalidCredentials:
            self.limiter.failed(*subjects)
            raise WrongPassword("The current password is not right.") from None
        except BaseException:
            self.limiter.release(*subjects)
            raise
        self.limiter.succeeded(*subjects)
        return username

    def _rewrap_human(self, vault_id: str, dek: bytes, secret: str, kind: str, *,
                      replace: str | None = None, conn: db.Connection | None = None) -> None:
        slot = slots.wrap_human(dek, secret, vault_id=vault_id, kind=kind,
                                params=self.argon2_floor, created_at=now_iso())

        def write(tx: db.Connection) -> None:
            for old in self.instance.slots(vault_id, kind):
                self.instance.delete_slot(tx, old.id)
            self.instance.put_slot(tx, slot)

        if conn is not None:
            write(conn)
        else:
            with self.instance.transaction() as tx:
                write(tx)

    def change_password(self, vault_id: str, dek: bytes, old: str, new: str, *,
                        keep_session: str | None = None,
                        keep_tokens: Collection[str] = ()) -> list[AppToken]:
        """Re-wrap the data key under ``new``; end the other sessions and revoke the app tokens
        not in ``keep_tokens`` (ids). Returns the tokens revoked; the owner's log names them.

        An id in ``keep_tokens`` that is not one of this vault's app tokens is refused before
        anything changes.
        """
        username = self._confirm_password(vault_id, old)
        check_password(new, username=username)
        known = {t.id for t in self.app_tokens(vault_id)}
        unknown = sorted(set(keep_tokens) - known)
        if unknown:
            raise UnknownAppToken(f"No such app token: {', '.join(unknown)}.")
        with self.instance.transaction() as tx:
            self._rewrap_human(vault_id, dek, new, slots.PASSWORD, conn=tx)
            revoked = self._revoke_app_tokens(tx, vault_id, keep=keep_tokens)
        with self.open(vault_id, dek) as vault, vault.transaction() as tx:
            vault.append_event(tx, actor="owner", action="password.changed",
                               detail=_token_detail(revoked, kept=keep_tokens))
            _log_tokens_revoked(vault, tx, revoked, reason="password-changed")
        sessions.end_all(self.redis, vault_id, keep=keep_session)
        return revoked

    def new_recovery_code(self, vault_id: str, dek: bytes, password: str) -> str:
        """A signed-in owner replaces the recovery code (current password asked again, counted
        like a login). The old code stops working; the new one is returned once."""
        self._confirm_password(vault_id, password)
        code = keys.recovery_code()
        self._rewrap_human(vault_id, dek, code, slots.RECOVERY)
        with self.open(vault_id, dek) as vault, vault.transaction() as tx:
            vault.delete_meta(tx, "recovery_saved_at")
            vault.append_event(tx, actor="owner", action="recovery.renewed")
        return code

    def mark_recovery_saved(self, vault: VaultDB) -> None:
        """The owner confirmed they stored the recovery code (the newcomer checklist)."""
        with vault.transaction() as tx:
            vault.set_meta(tx, "recovery_saved_at", now_iso())

    def reset_password(self, username: str, recovery_code: str, new_password: str,
                       totp_code: str | None = None, *, client: str = "") -> str:
        """Forgotten password: recovery code + TOTP (when on). Returns a new recovery code.

        Every app token is revoked (:meth:`reset_password_revoking` also says which).
        """
        return self.reset_password_revoking(username, recovery_code, new_password, totp_code,
                                            client=client)[0]

    def reset_password_revoking(self, username: str, recovery_code: str, new_password: str,
                                totp_code: str | None = None, *, client: str = ""
                                ) -> tuple[str, list[AppToken]]:
        """:meth:`reset_password`, returning ``(new recovery code, app tokens revoked)``."""
        subjects = [("recover", normalise_username(username))] + ([("ip", client)] if client else [])
        self._check_noting(username, subjects)
        try:
            vault_id, dek, _ = self._unwrap_human(
                username, keys.normalise_recovery_code(recovery_code), slots.RECOVERY
            )
        except InvalidCredentials:
            self.limiter.failed(*subjects)
            self._note(username, "recovery-code")
            raise InvalidCredentials("Username or recovery code is wrong.") from None
        except BaseException:
            self.limiter.release(*subjects)
            raise
        try:
            unlocked = Unlocked(vault_id, dek)
            with self.open(vault_id, dek) as vault:
                if vault.get_meta("totp_secret") is not None:
                    if not totp_code:
                        raise TotpRequired("Also give a code from your authenticator app.")
                    self.verify_totp(unlocked, totp_code, client=client)
            check_password(new_password, username=normalise_username(username))
        except BaseException:
            self.limiter.release(*subjects)
            raise
        new_code = keys.recovery_code()
        with self.instance.transaction() as tx:
            self._rewrap_human(vault_id, dek, new_password, slots.PASSWORD, conn=tx)
            self._rewrap_human(vault_id, dek, new_code, slots.RECOVERY, conn=tx)
            revoked = self._revoke_app_tokens(tx, vault_id)
        with self.open(vault_id, dek) as vault, vault.transaction() as tx:
            vault.append_event(tx, actor="owner", action="password.reset",
                               detail={"with": "recovery-code" + ("+totp" if totp_code else ""),
                                       **_token_detail(revoked)})
            _log_tokens_revoked(vault, tx, revoked, reason="password-reset")
        sessions.end_all(self.redis, vault_id)
        self.limiter.succeeded(*subjects)
        return new_code, revoked

    def reset_totp(self, username: str, password: str, recovery_code: str, *,
                   client: str = "") -> str:
        """Lost authenticator: password + recovery code turn TOTP off. Returns a new code.

        Every app token is revoked (:meth:`reset_totp_revoking` also says which).
        """
        return self.reset_totp_revoking(username, password, recovery_code, client=client)[0]

    def reset_totp_revoking(self, username: str, password: str, recovery_code: str, *,
                            client: str = "") -> tuple[str, list[AppToken]]:
        """:meth:`reset_totp`, returning ``(new recovery code, app tokens revoked)``."""
        unlocked = self.unlock_password(username, password, client=client)
        subjects = [("recover", normalise_username(username))] + ([("ip", client)] if client else [])
        self.limiter.check(*subjects)
        try:
            vault_id, _dek, _ = self._unwrap_human(
                username, keys.normalise_recovery_code(recovery_code), slots.RECOVERY
            )
            if vault_id != unlocked.vault_id:
                raise InvalidCredentials("Username, password or recovery code is wrong.")
        except InvalidCredentials:
            self.limiter.failed(*subjects)
            raise InvalidCredentials("Username, password or recovery code is wrong.") from None
        except BaseException:
            self.limiter.release(*subjects)
            raise
        self.limiter.succeeded(*subjects)
        new_code = keys.recovery_code()
        with self.instance.transaction() as tx:
            self._rewrap_human(vault_id, unlocked.dek, new_code, slots.RECOVERY, conn=tx)
            revoked = self._revoke_app_tokens(tx, vault_id)
        with self.open(vault_id, unlocked.dek) as vault, vault.transaction() as tx:
            vault.delete_meta(tx, "totp_secret")
            vault.delete_meta(tx, "totp_last_step")
            vault.append_event(tx, actor="owner", action="totp.reset",
                               detail={"with": "password+recovery-code", **_token_detail(revoked)})
            _log_tokens_revoked(vault, tx, revoked, reason="totp-reset")
        sessions.end_all(self.redis, vault_id)
        return new_code, revoked


def _remove_vault_files(instance: Instance, vault_id: str) -> None:
    remove_vault_storage(instance, vault_id)  # its rows, with the PostgreSQL backend
    path = instance.vault_path(vault_id)
    for suffix in ("", "-wal", "-shm"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            candidate.unlink()


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]
