import pytest

from vault.config import ConfigError, Settings, load_settings


def test_settings_survive_a_round_trip_through_the_environment():
    settings = Settings(home="/srv/kluis", registration="invite", allow_private_urls=True,
                        vault_cache_seconds=0)
    assert load_settings(settings.to_env({"KLUIS_BIND": "stale", "PATH": "/bin"})) == settings


@pytest.mark.parametrize("env", [{"KLUIS_REGISTRATION": "sometimes"},
                                 {"KLUIS_ARGON2_MEMORY_KIB": "1024"},
                                 {"KLUIS_WEB_WORKERS": "two"},
                                 {"KLUIS_ALLOW_PRIVATE_URLS": "maybe"}])
def test_bad_settings_are_refused_with_a_clear_message(env):
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert "KLUIS_" in str(info.value)


@pytest.mark.parametrize("env", [
    {"KLUIS_REQUEST_LIFETIME_HOURS": "0"},
    {"KLUIS_SESSION_IDLE_MINUTES": "-5"},
    {"KLUIS_LOGIN_MAX_FAILURES": "0"},
    {"KLUIS_MAX_BODY_BYTES": "10"},
    {"KLUIS_MAX_RECORD_BYTES": str(4 * 1024 * 1024), "KLUIS_MAX_BODY_BYTES": str(1024 * 1024)},
    {"KLUIS_WEB_WORKERS": "0"},
    {"KLUIS_CONNECTOR_MAX_ATTEMPTS": "0"},
    {"KLUIS_TRUSTED_PROXIES": "-1"},
    {"KLUIS_LOG_LEVEL": "CHATTY"},
    {"KLUIS_WORKER_QUEUES": " , "},
    {"KLUIS_BASE_URL": "vault.example.nl"},
    {"KLUIS_BIND": "8080"},
    {"KLUIS_BIND": "127.0.0.1:99999"},
    {"KLUIS_REDIS_URL": "127.0.0.1:6379"},
    {"KLUIS_INSTANCE_KEY": "abc"},
])
def test_nonsensical_settings_are_refused_at_start_up(env):
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    named = [k for k in env if k.removeprefix("KLUIS_") != "MAX_BODY_BYTES"] or list(env)
    assert any(k in str(info.value) for k in named), str(info.value)


def test_the_defaults_and_edge_values_are_accepted():
    assert load_settings({}).request_lifetime_hours == 168
    settings = load_settings({"KLUIS_REQUEST_LIFETIME_HOURS": "1", "KLUIS_VAULT_CACHE_SECONDS": "0",
                              "KLUIS_LOG_LEVEL": "debug", "KLUIS_BIND": "[::1]:8080",
                              "KLUIS_INSTANCE_KEY": "ab" * 32})
    assert settings.request_lifetime_hours == 1 and settings.vault_cache_seconds == 0
    assert settings.log_level == "DEBUG"


def test_kluis_init_refuses_a_bad_setting_in_one_line(tmp_path):
    import subprocess
    import sys

    env = Settings(home=str(tmp_path / "home")).to_env()
    env["KLUIS_REQUEST_LIFETIME_HOURS"] = "0"
    done = subprocess.run([sys.executable, "-m", "vault.cli", "init"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "KLUIS_REQUEST_LIFETIME_HOURS must be from 1" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "home").exists()


@pytest.mark.parametrize("url", ["smtp://relay:587?foo=1", "smtp://relay:587?cafile=",
                                 "smtp://relay:587?cafile=/a&cafile=/b"])
def test_the_smtp_url_takes_only_a_cafile_parameter(url):
    with pytest.raises(ConfigError, match="cafile"):
        Settings(smtp_url=url)
    assert Settings(smtp_url="smtp://relay:587?cafile=/etc/kluis/ca.pem").smtp_url


@pytest.mark.parametrize("env", [
    {"KLUIS_REDIS_SENTINELS": "127.0.0.1:26379"},
    {"KLUIS_REDIS_SERVICE": "kluis"},
    {"KLUIS_REDIS_SENTINELS": "127.0.0.1", "KLUIS_REDIS_SERVICE": "kluis"},
    {"KLUIS_REDIS_SENTINELS": "127.0.0.1:0", "KLUIS_REDIS_SERVICE": "kluis"},
    {"KLUIS_REDIS_SENTINELS": "127.0.0.1:26379,,127.0.0.1:26380", "KLUIS_REDIS_SERVICE": "kluis"},
    {"KLUIS_REDIS_SENTINELS": "::1:26379", "KLUIS_REDIS_SERVICE": "kluis"},
    {"KLUIS_REDIS_SENTINELS": "redis://127.0.0.1:26379", "KLUIS_REDIS_SERVICE": "kluis"},
    {"KLUIS_REDIS_SENTINELS": "127.0.0.1:26379,127.0.0.1:26379", "KLUIS_REDIS_SERVICE": "kluis"},
    {"KLUIS_REDIS_SENTINELS": "127.0.0.1:26379", "KLUIS_REDIS_SERVICE": "my master"},
    {"KLUIS_REDIS_SENTINELS": "127.0.0.1:26379", "KLUIS_REDIS_SERVICE": "kluis",
     "KLUIS_REDIS_URL": "unix:///run/redis.sock"},
])
def test_sentinel_settings_are_both_or_neither_and_host_port(env):
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert "KLUIS_REDIS_" in str(info.value)


def test_sentinel_addresses_are_parsed_with_ipv6_in_brackets():
    settings = load_settings({"KLUIS_REDIS_SENTINELS": " 10.0.0.1:26379, [fd00::2]:26380,s3:1",
                              "KLUIS_REDIS_SERVICE": "kluis"})
    assert settings.redis_sentinel_addresses == [("10.0.0.1", 26379), ("fd00::2", 26380),
                                                 ("s3", 1)]
    assert load_settings({}).redis_sentinel_addresses == []


@pytest.mark.parametrize("url", [
    "postgresql://kluis@db.internal/kluis",
    "postgres://kluis:secret@127.0.0.1:5432/kluis?sslmode=require",
    "postgresql://kluis@10.0.0.1:5432,10.0.0.2:5432/kluis?target_session_attrs=read-write",
    "postgresql://kluis@[fd00::1]:5432,[fd00::2]:5433/kluis?target_session_attrs=primary",
    "postgresql://kluis@db1,db2,db3:6432/kluis?target_session_attrs=read-write",
])
def test_a_database_url_may_name_a_primary_and_its_standbys(url):
    assert load_settings({"KLUIS_DATABASE_URL": url}).database_url == url


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://kluis@db/kluis", "start with postgresql://"),
    ("postgresql://kluis@10.0.0.1,10.0.0.2/kluis", "target_session_attrs=read-write"),
    ("postgresql://kluis@10.0.0.1,10.0.0.2/kluis?target_session_attrs=any",
     "target_session_attrs=read-write"),
    ("postgresql://kluis@db/kluis?target_session_attrs=writable", "must be one of"),
    ("postgresql://kluis@db1:5432,db2:5432,db3:5432/k?target_session_attrs=read-write&port=1,2",
     "ports than hosts"),
    ("postgresql://kluis@db:99999/kluis", "1-65535"),
    ("postgresql://kluis:s3cr%zzt@db/kluis", "libpq accepts"),
    ("postgresql://kluis@db/kluis?colour=blue", "libpq accepts"),
])
def test_a_database_url_that_cannot_reach_the_writable_server_is_refused(url, says):
    with pytest.raises(ConfigError) as info:
        load_settings({"KLUIS_DATABASE_URL": url})
    assert "KLUIS_DATABASE_URL" in str(info.value) and says in str(info.value)
    assert "s3cr" not in str(info.value)  # a password in the URL is not repeated
