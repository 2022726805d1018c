"""Account errors. Messages are safe to show; none says whether an account exists."""

from vault.errors import KluisError


class AccountError(KluisError):
    status = 400
    code = "account-error"


class InvalidCredentials(AccountError):
    """Username, password, token or code wrong, or the account does not exist."""

    status = 401
    code = "invalid-credentials"


class WrongPassword(AccountError):
    """The current password, asked again by a signed-in owner, is wrong. Not a 401: the
    session or token that sent it is still good."""

    status = 403
    code = "wrong-password"


class TotpRequired(AccountError):
    status = 401
    code = "totp-required"


class TotpInvalid(AccountError):
    status = 401
    code = "totp-invalid"


class TotpReplayed(AccountError):
    status = 401
    code = "totp-replayed"


class RateLimited(AccountError):
    status = 429
    code = "rate-limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many attempts; try again in {retry_after} seconds")
        self.retry_after = retry_after


class WeakPassword(AccountError):
    status = 422
    code = "weak-password"


class UsernameTaken(AccountError):
    status = 409
    code = "username-taken"


class RegistrationClosed(AccountError):
    status = 403
    code = "registration-closed"


class InvalidUsername(AccountError):
    status = 422
    code = "invalid-username"


class UnknownAppToken(AccountError):
    """An app token id the request names is not one of the owner's tokens."""

    status = 422
    code = "unknown-app-token"


class PasskeyInvalid(AccountError):
    """A passkey response did not verify (unknown credential, wrong challenge or origin, bad
    signature, no user verification) or the passkey cannot open the vault."""

    status = 401
    code = "passkey-invalid"


class PasskeyRequired(AccountError):
    """The account's second factor is a passkey only: sign in on the web, where the browser
    can ask the authenticator (an API login has no way to)."""

    status = 401
    code = "passkey-required"


class PasskeySecondFactorOnly(PasskeyInvalid):
    """The passkey verified but has no key slot (its authenticator gave no PRF output): it is
    a second factor after the password, it cannot open the vault alone."""

    code = "passkey-second-factor-only"
