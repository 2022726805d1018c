"""Staff accounts: invite-only, password (Argon2id) plus TOTP, roles admin and caseworker;
administrators deactivate, reactivate and reset a member's authenticator (enrolled again at the
next sign-in); and the audit log of what staff saw. Failed sign-ins: :mod:`vault.portal.lockout`."""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp

from vault.accounts.errors import TotpInvalid, TotpReplayed, WeakPassword
from vault.accounts.passwords import check_password
from vault.accounts.totp import STEP, matching_step, new_secret, provisioning_uri
from vault.clock import now_iso, to_iso, utcnow
from vault.crypto import keys
from vault.crypto.kdf import Argon2Params, argon2id
from vault.portal import lockout
from vault.portal.store import Store

ROLES = ("admin", "caseworker")
INVITE_DAYS = 7


class StaffError(ValueError):
    """A staff action that cannot be done, with a plain reason (Dutch first, as shown)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Staff:
    id: str
    username: str
    display_name: str
    role: str
    session_version: int
    must_enrol: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _row(row: Any) -> Staff:
    return Staff(row["id"], row["username"], row["display_name"], row["role"],
                 int(row["session_version"]), bool(row["must_enrol"]))


def create_invite(store: Store, role: str, *, note: str = "", created_by: str | None = None,
                  days: int = INVITE_DAYS) -> str:
    """A one-time invitation code for a new staff member of ``role`` (kept only as SHA-256)."""
    if role not in ROLES:
        raise StaffError("role", f"Kies een rol: {', '.join(ROLES)}.")
    code = keys.new_token("kp_inv_")
    now = utcnow()
    with store.transaction() as tx:
        tx.execute("INSERT INTO invites (code_hash, role, note, created_by, created_at, expires_at)"
                   " VALUES (?, ?, ?, ?, ?, ?)",
                   (keys.token_hash(code), role, note[:200], created_by, to_iso(now),
                    to_iso(now + timedelta(days=days))))
    return code


def invite_role(store: Store, code: str) -> str:
    """The role an unused, unexpired invite is for; :class:`StaffError` otherwise."""
    row = store.conn.execute("SELECT * FROM invites WHERE code_hash = ?",
                             (keys.token_hash(code or ""),)).fetchone()
    if row is None or row["used_at"] or row["expires_at"] <= now_iso():
        raise StaffError("invite", "Deze uitnodiging is ongeldig, al gebruikt of verlopen.")
    return str(row["role"])


def new_totp_secret() -> str:
    return new_secret()


def totp_uri(secret: str, username: str, issuer: str) -> str:
    return provisioning_uri(secret, username, issuer)


def accept_invite(store: Store, code: str, username: str, display_name: str, password: str,
                  totp_secret: str, totp_code: str) -> Staff:
    """Create the account an invite is for; the TOTP code proves the authenticator is set up."""
    role = invite_role(store, code)
    username = (username or "").strip().lower()
    if not (3 <= len(username) <= 64) or not all(c.isalnum() or c in "._-@" for c in username):
        raise StaffError("username", "Een gebruikersnaam heeft 3 tot 64 letters, cijfers of . _ - @.")
    display_name = (display_name or "").strip()[:200] or username
    try:
        check_password(password, username=username)
    except WeakPassword as exc:
        raise StaffError("password", str(exc)) from None
    try:
        step = matching_step(totp_secret, totp_code)
    except TotpInvalid:
        raise StaffError("totp", "De code uit je authenticator-app klopt niet.") from None
    salt = os.urandom(16)
    params = Argon2Params()
    digest = argon2id(password, salt, params)
    staff_id = secrets.token_hex(8)
    with store.transaction() as tx:
        again = tx.execute("SELECT used_at FROM invites WHERE code_hash = ?",
                           (keys.token_hash(code),)).fetchone()
        if again is None or again["used_at"]:
            raise StaffError("invite", "Deze uitnodiging is al gebruikt.")
        if tx.execute("SELECT 1 FROM staff WHERE username = ?", (username,)).fetchone():
            raise StaffError("username", "Deze gebruikersnaam bestaat al.")
        tx.execute("INSERT INTO staff (id, username, display_name, role, password_hash,"
                   " password_salt, password_params, totp_secret, totp_last_step, created_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (staff_id, username, display_name, role, digest, salt,
                    json.dumps(params.to_dict()), totp_secret, step, now_iso()))
        tx.execute("UPDATE invites SET used_at = ?, used_by = ? WHERE code_hash = ?",
                   (now_iso(), staff_id, keys.token_hash(code)))
    return get(store, staff_id)


def get(store: Store, staff_id: str) -> Staff:
    row = store.conn.execute("SELECT * FROM staff WHERE id = ? AND active = 1",
                             (staff_id,)).fetchone()
    if row is None:
        raise StaffError("unknown", "Onbekende medewerker.")
    return _row(row)


def check_password_login(store: Store, username: str, password: str) -> Staff:
    """The staff member whose password this is; :class:`StaffError` otherwise (one message)."""
    row = store.conn.execute("SELECT * FROM staff WHERE username = ? AND active = 1",
                             ((username or "").strip().lower(),)).fetchone()
    wrong = StaffError("login", "Gebruikersnaam of wachtwoord klopt niet.")
    if row is None:
        argon2id(password or "x", b"\0" * 16, Argon2Params())  # the same time either way
        raise wrong
    digest = argon2id(password or "", bytes(row["password_salt"]),
                      Argon2Params.from_dict(json.loads(row["password_params"])))
    if not keys.constant_time_equal(digest, bytes(row["password_hash"])):
        raise wrong
    return _row(row)


def check_totp(store: Store, staff_id: str, code: str) -> Staff:
    """Accept a TOTP code once (its step must be later than the last one used)."""
    row = store.conn.execute("SELECT * FROM staff WHERE id = ? AND active = 1",
                             (staff_id,)).fetchone()
    if row is None:
        raise StaffError("unknown", "Onbekende medewerker.")
    if row["must_enrol"]:
        raise StaffError("enrol", "Stel eerst je authenticator-app opnieuw in.")
    try:
        step = matching_step(row["totp_secret"], code)
    except TotpInvalid:
        raise StaffError("totp", "De code klopt niet of is verlopen.") from None
    with store.transaction() as tx:
        claimed = tx.execute(
            "UPDATE staff SET totp_last_step = ? WHERE id = ?"
            " AND (totp_last_step IS NULL OR totp_last_step < ?)", (step, staff_id, step))
        if claimed.rowcount != 1:
            raise StaffError("totp", str(TotpReplayed("Deze code is al gebruikt; wacht op de "
                                                      "volgende.")))
    return _row(row)


def current_code(secret: str) -> str:
    return pyotp.TOTP(secret, interval=STEP).at(int(utcnow().timestamp()))


def enrol_totp(store: Store, staff_id: str, totp_secret: str, totp_code: str) -> Staff:
    """Set a new authenticator for a member whose authenticator was reset (the password was
    checked just before); the code proves the app holds ``totp_secret``."""
    try:
        step = matching_step(totp_secret, totp_code)
    except TotpInvalid:
        raise StaffError("totp", "De code uit je authenticator-app klopt niet.") from None
    with store.transaction() as tx:
        done = tx.execute("UPDATE staff SET totp_secret = ?, totp_last_step = ?, must_enrol = 0"
                          " WHERE id = ? AND active = 1 AND must_enrol = 1",
                          (totp_secret, step, staff_id))
        if done.rowcount != 1:
            raise StaffError("enrol", "Er is geen authenticator in te stellen.")
    return get(store, staff_id)


def list_staff(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in store.conn.execute(
        "SELECT id, username, display_name, role, active, must_enrol, created_at FROM staff"
        " ORDER BY created_at")]


def username_of(store: Store, staff_id: str) -> str | None:
    row = store.conn.execute("SELECT username FROM staff WHERE id = ?", (staff_id,)).fetchone()
    return str(row["username"]) if row else None


def deactivate(store: Store, staff_id: str) -> None:
    """Turn an account off: it cannot sign in, and its sessions end."""
    with store.transaction() as tx:
        tx.execute("UPDATE staff SET active = 0, session_version = session_version + 1"
                   " WHERE id = ?", (staff_id,))


def reactivate(store: Store, staff_id: str) -> bool:
    """Turn an account on again (with the password and authenticator it had); its failed
    sign-ins are forgotten. False when there is no such inactive account."""
    with store.transaction() as tx:
        done = tx.execute("UPDATE staff SET active = 1 WHERE id = ? AND active = 0",
                          (staff_id,)).rowcount
    _forget_failures(store, staff_id)
    return bool(done)


def reset_totp(store: Store, staff_id: str) -> bool:
    """Forget a member's authenticator (lost phone): the secret is wiped, the sessions end, and
    the next sign-in with the password asks to enrol a new one before anything opens."""
    with store.transaction() as tx:
        done = tx.execute("UPDATE staff SET totp_secret = '', totp_last_step = NULL,"
                          " must_enrol = 1, session_version = session_version + 1"
                          " WHERE id = ?", (staff_id,)).rowcount
    _forget_failures(store, staff_id)
    return bool(done)


def _forget_failures(store: Store, staff_id: str) -> None:
    name = username_of(store, staff_id)
    if name:
        lockout.clear_account(store, name)


# -- audit --------------------------------------------------------------------------------------

AUDIT_FIELDS = ("at", "staff_name", "action", "reference", "dossier_id", "detail")


def audit(store: Store, staff: Staff | None, action: str, *, dossier_id: str | None = None,
          reference: str | None = None, detail: str = "") -> None:
    """One line in the audit log: who (staff), what (action, dossier), when."""
    with store.transaction() as tx:
        tx.execute("INSERT INTO audit (at, staff_id, staff_name, action, dossier_id, reference,"
                   " detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (now_iso(), staff.id if staff else None,
                    staff.display_name if staff else "portal", action, dossier_id, reference,
                    detail[:500]))


def audit_rows(store: Store, limit: int = 500, dossier_id: str | None = None) -> list[dict[str, Any]]:
    if dossier_id:
        rows = store.conn.execute("SELECT * FROM audit WHERE dossier_id = ? ORDER BY id DESC"
                                  " LIMIT ?", (dossier_id, limit))
    else:
        rows = store.conn.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
    return [dict(r) for r in rows]


def audit_csv(store: Store) -> str:
    """The whole audit log as CSV (oldest first)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AUDIT_FIELDS)
    for row in store.conn.execute("SELECT * FROM audit ORDER BY id"):
        # A cell that starts with = + - @ would be a formula in a spreadsheet.
        writer.writerow([_cell(row[f]) for f in AUDIT_FIELDS])
    return out.getvalue()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
