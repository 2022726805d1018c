"""Settings from the environment (``KLUIS_*``) with safe defaults.

This module imports no Flask: the CLI, the worker and the web app all read
their settings through :func:`load_settings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from vault.formats import check_timezone

REGISTRATION_MODES = ("open", "invite", "closed")
ORG_REGISTRATION_MODES = ("open", "approval")


class ConfigError(ValueError):
    """A setting has a value Kluis cannot use."""


#: The smallest (and, where there is one, largest) value of each whole-number setting that
#: makes sense; anything outside is refused at start-up with the variable's name.
INT_RANGES: dict[str, tuple[int, int | None]] = {
    "request_lifetime_hours": (1, 24 * 366),
    "argon2_lanes": (1, 64),
    "session_idle_minutes": (1, 24 * 60),
    "session_max_hours": (1, 24 * 31),
    "login_max_failures": (1, 1000),
    "login_window_seconds": (1, 7 * 24 * 3600),
    "max_body_bytes": (1024, 64 * 1024 * 1024),
    "max_upload_bytes": (1024, 1024 * 1024 * 1024),
    "max_record_bytes": (1024, 16 * 1024 * 1024),
    "web_workers": (1, 256),
    "trusted_proxies": (0, 10),
    "vault_cache_seconds": (0, 24 * 3600),
    "vault_cache_size": (0, 100_000),
    "connector_retry_base_seconds": (1, 24 * 3600),
    "connector_max_attempts": (1, 100),
    "connector_timeout_seconds": (1, 600),
    "connector_min_interval_seconds": (1, 366 * 24 * 3600),
    "worker_maintenance_seconds": (1, 600),
    "outbox_retention_days": (1, 3650),
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _default_home() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "kluis")


@dataclass(frozen=True)
class Settings:
    """Every setting Kluis reads. Field name ``x`` is read from ``KLUIS_X``."""

    home: str = field(default_factory=_default_home)
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Redis Sentinel (no single point of failure): comma-separated host:port of the sentinels
    # and the name of the master they monitor; both or neither. With them, every Redis use asks
    # the sentinels for the current master; KLUIS_REDIS_URL then gives only the master's
    # username, password, database and TLS (rediss://), its host and port are not used.
    redis_sentinels: str = ""
    redis_service: str = ""
    # The sentinels' own password (their requirepass), if they have one.
    redis_sentinel_password: str = ""
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
    # How often each worker does rq's maintenance: tries to take over the scheduler (due
    # refreshes, retries, the periodic jobs) when the worker running it died, and finds the
    # jobs a dead worker was running. rq's scheduler lock outlives its holder by up to 61 s,
    # so scheduled work stops for at most 61 s + this after a worker is killed (rq's own
    # default, 600, would make that up to 11 minutes). See docs/operations.md "Workers".
    worker_maintenance_seconds: int = 30
    log_level: str = "INFO"
    # One line per request on the kluis.requests logger (method, route template, status,
    # duration, request id; never a path, query string or id). About 10 us of CPU a request.
    request_log: bool = True
    # SQLite synchronous level for vault writes: FULL survives power loss; NORMAL (WAL) survives
    # process crashes. Access-log events are written with this level.
    sqlite_synchronous: str = "FULL"
    # Empty: vaults are SQLCipher files under KLUIS_HOME (the default). postgresql://...: vaults
    # are rows in PostgreSQL, each encrypted in the application under the vault's data key
    # (vault/storage/pgvault.py, docs/operations.md "PostgreSQL"), and the instance's tables
    # are there too. A primary with standbys: name them all, with
    # target_session_attrs=read-write (postgresql://kluis@db1:5432,db2:5432/kluis?...).
    database_url: str = ""
    secure_cookies: str = "auto"
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are believed (0: none;
    # deploy.sh sets 1 for its Caddy). Each hop a proxy adds is one; more than are really there
    # lets clients choose their own address.
    trusted_proxies: int = 0
    # A bearer token for GET /metrics; empty: /metrics answers only straight loopback requests.
    metrics_token: str = ""
    # Seconds an open vault connection is kept per process after a request (0: close at once),
    # and how many are kept at most. See ConnectionCache in vault/storage/cache.py.
    vault_cache_seconds: int = 60
    vault_cache_size: int = 64
    # Connector runner: the first retry waits this long, doubling per attempt (Retry-After wins
    # when longer); after this many attempts the connection shows as failed until its next run.
    connector_retry_base_seconds: int = 30
    connector_max_attempts: int = 4
    # Per-request timeout (seconds) when a connector talks to its source.
    connector_timeout_seconds: int = 20
    # The shortest regular refresh interval a connection may ask for (tests run schedules of a
    # few seconds; a source should not be asked more often than every five minutes).
    connector_min_interval_seconds: int = 300
    # Webhooks: how often the worker looks for due deliveries, the waits between attempts
    # (seconds, comma-separated; the last repeats until webhook_max_attempts), the timeout.
    webhook_pump_seconds: float = 5.0
    webhook_retry_seconds: str = "10,60,300,1800,7200"
    webhook_max_attempts: int = 8
    webhook_timeout_seconds: float = 10.0
    # Delivered, failed and endpoint-less webhook events (with their attempts) and sent or
    # failed notification mails are deleted this many days after they were queued, by the
    # worker's periodic purge; queued ones are kept until they are done.
    outbox_retention_days: int = 30
    # Notification mail: smtp://user:password@host:587 (STARTTLS), smtps:// (TLS), or
    # smtp+insecure://host:port (loopback test servers only); empty: no mail is sent.
    smtp_url: str = ""
    smtp_from: str = "kluis@localhost"
    # The consent screen warns when a request asks for longer access, a longer retention or
    # more reads than these.
    consent_warn_days: int = 90
    consent_warn_retention_days: int = 365
    consent_warn_uses: int = 100
    # An organisation's logo, fetched once at registration: at most this many bytes.
    logo_max_bytes: int = 256 * 1024
    # The IANA time zone moments are shown in (pages, PDFs); they are stored in UTC.
    timezone: str = "Europe/Amsterdam"

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
        for name, (low, high) in INT_RANGES.items():
            value = getattr(self, name)
            if value < low or (high is not None and value > high):
                within = f"from {low} to {high}" if high is not None else f"at least {low}"
                raise ConfigError(f"KLUIS_{name.upper()} must be {within} (it is {value})")
        if self.max_record_bytes > self.max_body_bytes:
            raise ConfigError("KLUIS_MAX_RECORD_BYTES may not be larger than KLUIS_MAX_BODY_BYTES")
        if self.log_level.upper() not in LOG_LEVELS:
            raise ConfigError(f"KLUIS_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        object.__setattr__(self, "log_level", self.log_level.upper())  # logging wants upper case
        if not [q for q in self.worker_queues.split(",") if q.strip()]:
            raise ConfigError("KLUIS_WORKER_QUEUES must name at least one queue")
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise ConfigError("KLUIS_BASE_URL must start with http:// or https://")
        host, sep, port = self.bind.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError("KLUIS_BIND must be host:port (e.g. 127.0.0.1:8080)")
        if not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("KLUIS_REDIS_URL must start with redis://, rediss:// or unix://")
        if bool(self.redis_sentinels.strip()) != bool(self.redis_service.strip()):
            raise ConfigError("KLUIS_REDIS_SENTINELS and KLUIS_REDIS_SERVICE go together: set "
                              "both (the sentinels and the master's name they monitor) or neither")
        if self.redis_sentinels.strip():
            parse_sentinels(self.redis_sentinels)
            if not self.redis_service.strip().isprintable() or " " in self.redis_service.strip():
                raise ConfigError("KLUIS_REDIS_SERVICE must be the master's name, without spaces")
            if self.redis_url.startswith("unix://"):
                raise ConfigError("KLUIS_REDIS_URL cannot be unix:// with KLUIS_REDIS_SENTINELS "
                                  "(the sentinels name the master by host and port)")
        if self.database_url:
            check_database_url(self.database_url)
        if self.instance_key and not _is_hex_key(self.instance_key):
            raise ConfigError("KLUIS_INSTANCE_KEY must be 64 hexadecimal characters")
        try:
            delays = [float(x) for x in self.webhook_retry_seconds.split(",") if x.strip()]
        except ValueError:
            delays = []
        if not delays or min(delays) < 0:
            raise ConfigError("KLUIS_WEBHOOK_RETRY_SECONDS must be comma-separated seconds")
        if self.smtp_url and not self.smtp_url.startswith(("smtp://", "smtps://",
                                                           "smtp+insecure://")):
            raise ConfigError("KLUIS_SMTP_URL must be smtp://, smtps:// or smtp+insecure://")
        try:
            check_timezone(self.timezone)
        except ValueError as exc:
            raise ConfigError(f"KLUIS_TIMEZONE: {exc}") from None
        smtp_query = parse_qs(urlsplit(self.smtp_url).query, keep_blank_values=True)
        if set(smtp_query) - {"cafile"} or any(len(v) != 1 or not v[0]
                                               for v in smtp_query.values()):
            raise ConfigError("KLUIS_SMTP_URL takes one query parameter only: cafile=<PEM file "
                              "of the CA certificates to trust>")

    @property
    def redis_sentinel_addresses(self) -> list[tuple[str, int]]:
        """The sentinels as (host, port); empty without KLUIS_REDIS_SENTINELS."""
        return parse_sentinels(self.redis_sentinels) if self.redis_sentinels.strip() else []

    @property
    def webhook_retry_delays(self) -> list[float]:
        return [float(x) for x in self.webhook_retry_seconds.split(",") if x.strip()]

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


def parse_sentinels(text: str) -> list[tuple[str, int]]:
    """``host:port,host:port`` (an IPv6 address in brackets: ``[::1]:26379``) as a list of
    (host, port); a clear :class:`ConfigError` for anything else, duplicates included."""
    addresses: list[tuple[str, int]] = []
    for item in text.split(","):
        entry = item.strip()
        host, sep, port = entry.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if (not sep or not host or not port.isdigit() or not 0 < int(port) < 65536
                or any(c in host for c in " /[]@") or (":" in host and not entry.startswith("["))):
            raise ConfigError(f"KLUIS_REDIS_SENTINELS must be comma-separated host:port (e.g. "
                              f"10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379); {entry!r} is not")
        if (host, int(port)) in addresses:
            raise ConfigError(f"KLUIS_REDIS_SENTINELS names {entry} twice")
        addresses.append((host, int(port)))
    return addresses


_SESSION_ATTRS = ("any", "read-write", "read-only", "primary", "standby", "prefer-standby")
_WRITABLE = ("read-write", "primary")


def check_database_url(url: str) -> None:
    """A clear :class:`ConfigError` unless ``url`` is a libpq URL Kluis can write through: one
    server, or several (a primary and its standbys) with ``target_session_attrs=read-write``
    (or ``primary``), so that every session reaches the server that accepts writes."""
    example = ("e.g. postgresql://kluis@db1.internal:5432,db2.internal:5432/kluis"
               "?target_session_attrs=read-write")
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("KLUIS_DATABASE_URL must be empty or start with postgresql://")
    import psycopg  # only with the PostgreSQL backend chosen
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        # (libpq's message may quote the URL, password included: not repeated here)
        raise ConfigError(f"KLUIS_DATABASE_URL is not a URL libpq accepts ({example})") from None
    hosts = str(params.get("host", "")).split(",")
    ports = [p for p in str(params.get("port", "")).split(",") if p]
    if any(not p.isdigit() or not 0 < int(p) < 65536 for p in ports):
        raise ConfigError(f"KLUIS_DATABASE_URL has a port that is not 1-65535 ({example})")
    if len(ports) > 1 and len(ports) != len(hosts):
        raise ConfigError("KLUIS_DATABASE_URL names more or fewer ports than hosts: give each "
                          f"host its port ({example})")
    attrs = str(params.get("target_session_attrs", "any"))
    if attrs not in _SESSION_ATTRS:
        raise ConfigError(f"KLUIS_DATABASE_URL: target_session_attrs must be one of "
                          f"{', '.join(_SESSION_ATTRS)}")
    if len(hosts) > 1 and attrs not in _WRITABLE:
        raise ConfigError("KLUIS_DATABASE_URL names several servers: add "
                          "target_session_attrs=read-write, so that Kluis connects to the one "
                          f"that accepts writes, whichever it is after a failover ({example})")


def _is_hex_key(text: str) -> bool:
    try:
        return len(bytes.fromhex(text)) == 32
    except ValueError:
        return False


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
    if kind in (float, "float"):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"KLUIS_{name.upper()} must be a number") from None
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

