"""Registration, login, TOTP, recovery, owner app tokens and sessions."""
