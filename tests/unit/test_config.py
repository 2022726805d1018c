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
