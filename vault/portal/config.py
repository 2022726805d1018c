"""The portal's settings from the environment (``KLUIS_PORTAL_*``), validated like the vault's.

A few settings are shared with the vault by name (``KLUIS_ALLOW_PRIVATE_URLS``,
``KLUIS_LOG_LEVEL``): a development machine sets them once for both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vault.config import ConfigError, _coerce

#: Settings read without the ``PORTAL_`` part, shared with the vault.
SHARED = ("allow_private_urls", "log_level")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _default_home() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "kluis-portal")


@dataclass(frozen=True)
class PortalSettings:
    """Every setting the portal reads. Field ``x`` is ``KLUIS_PORTAL_X`` (see :data:`SHARED`)."""

    home: str = field(default_factory=_default_home)
    bind: str = "127.0.0.1:8090"
    base_url: str = ""
    # The organisation as applicants and vaults see it.
    name: str = "Organisatie"
    client_uri: str = ""
    logo: str = ""
    # Comma-separated instance URLs offered to applicants ("Waar staat je Kluis?").
    instances: str = ""
    # Default retention (days) for new templates.
    retention_days: int = 60
    # Hex of a 32-byte database key; when empty the key file KLUIS_PORTAL_HOME/portal.key is used.
    key: str = ""
    web_workers: int = 2
    trusted_proxies: int = 0
    secure_cookies: str = "auto"
    session_max_hours: int = 10
    http_timeout_seconds: float = 15.0
    allow_private_urls: bool = False
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise ConfigError("KLUIS_PORTAL_BASE_URL must start with http:// or https://")
        host, sep, port = self.bind.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError("KLUIS_PORTAL_BIND must be host:port (e.g. 127.0.0.1:8090)")
        if not self.name.strip() or len(self.name) > 200:
            raise ConfigError("KLUIS_PORTAL_NAME must be 1 to 200 characters")
        for name in ("client_uri", "logo"):
            value = getattr(self, name)
            if value and not value.startswith(("http://", "https://")):
                raise ConfigError(f"KLUIS_PORTAL_{name.upper()} must be an http(s) URL")
        for url in self.instance_urls:
            if not urlsplit(url).hostname or not url.startswith(("http://", "https://")):
                raise ConfigError("KLUIS_PORTAL_INSTANCES must be comma-separated http(s) URLs")
        if not 1 <= self.retention_days <= 3650:
            raise ConfigError("KLUIS_PORTAL_RETENTION_DAYS must be from 1 to 3650")
        if self.key:
            try:
                ok = len(bytes.fromhex(self.key)) == 32
            except ValueError:
                ok = False
            if not ok:
                raise ConfigError("KLUIS_PORTAL_KEY must be 64 hexadecimal characters")
        if not 1 <= self.web_workers <= 64:
            raise ConfigError("KLUIS_PORTAL_WEB_WORKERS must be from 1 to 64")
        if not 0 <= self.trusted_proxies <= 10:
            raise ConfigError("KLUIS_PORTAL_TRUSTED_PROXIES must be from 0 to 10")
        if not 1 <= self.session_max_hours <= 24 * 7:
            raise ConfigError("KLUIS_PORTAL_SESSION_MAX_HOURS must be from 1 to 168")
        if self.secure_cookies not in ("auto", "always", "never"):
            raise ConfigError("KLUIS_PORTAL_SECURE_COOKIES must be auto, always or never")
        if self.log_level.upper() not in LOG_LEVELS:
            raise ConfigError(f"KLUIS_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        object.__setattr__(self, "log_level", self.log_level.upper())

    @property
    def home_path(self) -> Path:
        return Path(self.home)

    @property
    def public_url(self) -> str:
        """The portal's URL as applicants and vaults reach it (no trailing slash)."""
        return (self.base_url or f"http://{self.bind}").rstrip("/")

    @property
    def organisation_uri(self) -> str:
        return (self.client_uri or self.public_url).rstrip("/")

    @property
    def instance_urls(self) -> list[str]:
        return [u.strip().rstrip("/") for u in self.instances.split(",") if u.strip()]

    @property
    def https(self) -> bool:
        if self.secure_cookies != "auto":
            return self.secure_cookies == "always"
        return self.public_url.startswith("https://")

    def with_overrides(self, **overrides: Any) -> PortalSettings:
        return replace(self, **overrides)

    def to_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment that makes a subprocess (``kluis portal ...``) read these settings."""
        env = {k: v for k, v in (os.environ if base is None else base).items()
               if not k.startswith("KLUIS_PORTAL_")}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                value = "1" if value else "0"
            env[env_name(f.name)] = str(value)
        return env


def env_name(name: str) -> str:
    return f"KLUIS_{name.upper()}" if name in SHARED else f"KLUIS_PORTAL_{name.upper()}"


def load_portal_settings(environ: dict[str, str] | None = None, **overrides: Any) -> PortalSettings:
    """Read the portal's settings from ``environ`` (default ``os.environ``), then ``overrides``."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(PortalSettings):
        key = env_name(f.name)
        if key in env:
            try:
                values[f.name] = _coerce(f.name, f.type, env[key])
            except ConfigError as exc:
                raise ConfigError(str(exc).replace(f"KLUIS_{f.name.upper()}", key)) from None
    values.update(overrides)
    return PortalSettings(**values)
