"""Settings from the environment (``KLUIS_*``) with safe defaults.

This module imports no Flask: the CLI, the worker and the web app all read
their settings through :func:`load_settings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

REGISTRATION_MODES = ("open", "invite", "closed")
ORG_REGISTRATION_MODES = ("open", "approval")


class ConfigError(ValueError):
    """A setting has a value Kluis cannot use."""


def _default_home() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "kluis")


@dataclass(frozen=True)
class Settings:
    """Every setting Kluis reads. Field name ``x`` is read from ``KLUIS_X``."""

    home: str = field(default_factory=_default_home)
    redis_url: str = "redis://127.0.0.1:6379/0"
    bind: str = "127.0.0.1:8080"
    base_url: str = ""
    registration: str = "open"
    org_registration: str = "open"
    allow_private_urls: bool = False
    # How long a pushed data request (link / QR code) waits for the person to open it.
    request_lifetime_hours: int = 168
    # Hex of a 32-byte instance key; when empty the key file KLUIS_HOME/instance.key is used.
    instance_key: str = ""
    # Argon2id floor for password and recovery slots (RFC 9106 second recommendation).
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19 * 1024
    argon2_lanes: int = 1
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    login_max_failures: int = 5
    login_window_seconds: int = 900
    max_body_bytes: int = 1024 * 1024
    max_upload_bytes: int = 20 * 1024 * 1024
    max_record_bytes: int = 64 * 1024
    # Sync workers wait on the durable commit of every read's access event, so twice as many
    # processes as cores keep the cores busy (gunicorn's own advice is 2-4 per core).
    web_workers: int = field(default_factory=lambda: max(2, 2 * (os.cpu_count() or 1)))
    worker_queues: str = "kluis"
    log_level: str = "INFO"
    # SQLite synchronous level for vault writes: FULL survives power loss; NORMAL (WAL) survives
    # process crashes. Access-log events are written with this level.
    sqlite_synchronous: str = "FULL"
    secure_cookies: str = "auto"
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are believed (0: none;
    # deploy.sh sets 1 for its Caddy). Each hop a proxy adds is one; more than are really there
    # lets clients choose their own address.
    trusted_proxies: int = 0
    # Seconds an open vault connection is kept per process after a request (0: close at once),
    # and how many are kept at most. See ConnectionCache in vault/storage/vaults.py.
    vault_cache_seconds: int = 60
    vault_cache_size: int = 64
    # Connector runner: the first retry waits this long, doubling per attempt (Retry-After wins
    # when longer); after this many attempts the connection shows as failed until its next run.
    connector_retry_base_seconds: int = 30
    connector_max_attempts: int = 4
    # Per-request timeout (seconds) when a connector talks to its source.
    connector_timeout_seconds: int = 20
    # The consent screen warns when a request asks for longer access, a longer retention or
    # more reads than these.
    consent_warn_days: int = 90
    consent_warn_retention_days: int = 365
    consent_warn_uses: int = 100
    # An organisation's logo, fetched once at registration: at most this many bytes.
    logo_max_bytes: int = 256 * 1024

    def __post_init__(self) -> None:
        if self.registration not in REGISTRATION_MODES:
            raise ConfigError(f"KLUIS_REGISTRATION must be one of {', '.join(REGISTRATION_MODES)}")
        if self.org_registration not in ORG_REGISTRATION_MODES:
            raise ConfigError(
                f"KLUIS_ORG_REGISTRATION must be one of {', '.join(ORG_REGISTRATION_MODES)}"
            )
        if self.argon2_time_cost < 2 or self.argon2_memory_kib < 19 * 1024:
            raise ConfigError("KLUIS_ARGON2_TIME_COST and KLUIS_ARGON2_MEMORY_KIB may not be below "
                              "t=2, m=19456 KiB (19 MiB)")
        if self.sqlite_synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ConfigError("KLUIS_SQLITE_SYNCHRONOUS must be FULL, NORMAL or EXTRA")
        if self.secure_cookies not in ("auto", "always", "never"):
            raise ConfigError("KLUIS_SECURE_COOKIES must be auto, always or never")
        if self.trusted_proxies < 0:
            raise ConfigError("KLUIS_TRUSTED_PROXIES must be 0 or more")

    @property
    def home_path(self) -> Path:
        return Path(self.home)

    @property
    def public_url(self) -> str:
        """The URL people and organisations use to reach this instance (no trailing slash)."""
        if self.base_url:
            return self.base_url.rstrip("/")
        return f"http://{self.bind}"

    @property
    def https(self) -> bool:
        if self.secure_cookies == "always":
            return True
        if self.secure_cookies == "never":
            return False
        return self.public_url.startswith("https://")

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **overrides)

    def to_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment (``base`` minus its ``KLUIS_*``, plus these settings) that makes a
        subprocess (server, worker, CLI) read exactly these settings."""
        env = {k: v for k, v in (os.environ if base is None else base).items()
               if not k.startswith("KLUIS_")}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                value = "1" if value else "0"
            env[f"KLUIS_{f.name.upper()}"] = str(value)
        return env


def _coerce(name: str, kind: Any, raw: str) -> Any:
    if kind in (bool, "bool"):
        value = raw.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"KLUIS_{name.upper()} must be 1 or 0")
    if kind in (int, "int"):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"KLUIS_{name.upper()} must be a whole number") from None
    return raw


def load_settings(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings from ``environ`` (default ``os.environ``), then apply ``overrides``."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        key = f"KLUIS_{f.name.upper()}"
        if key in env:
            values[f.name] = _coerce(f.name, f.type, env[key])
    values.update(overrides)
    return Settings(**values)

