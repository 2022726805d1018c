"""The portal's settings: read from KLUIS_PORTAL_* (and the shared KLUIS_ALLOW_PRIVATE_URLS),
bad values refused with the variable's name."""

from __future__ import annotations

import pytest

from vault.config import ConfigError
from vault.portal.config import load_portal_settings


def test_settings_are_read_from_the_portal_variables() -> None:
    settings = load_portal_settings({
        "KLUIS_PORTAL_HOME": "/srv/portal", "KLUIS_PORTAL_BIND": "127.0.0.1:9000",
        "KLUIS_PORTAL_NAME": "Woonstichting De Kern", "KLUIS_PORTAL_RETENTION_DAYS": "30",
        "KLUIS_PORTAL_INSTANCES": "https://kluis.example/, https://coop.example",
        "KLUIS_ALLOW_PRIVATE_URLS": "1", "KLUIS_HOME": "/not/the/portal"})
    assert settings.home == "/srv/portal" and settings.retention_days == 30
    assert settings.instance_urls == ["https://kluis.example", "https://coop.example"]
    assert settings.public_url == "http://127.0.0.1:9000"
    assert settings.allow_private_urls is True


@pytest.mark.parametrize(("name", "value"), [
    ("KLUIS_PORTAL_BIND", "nowhere"),
    ("KLUIS_PORTAL_BASE_URL", "ftp://portal"),
    ("KLUIS_PORTAL_RETENTION_DAYS", "0"),
    ("KLUIS_PORTAL_RETENTION_DAYS", "many"),
    ("KLUIS_PORTAL_INSTANCES", "not a url"),
    ("KLUIS_PORTAL_KEY", "abc"),
    ("KLUIS_PORTAL_NAME", " "),
])
def test_a_bad_value_is_refused_with_the_variables_name(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_portal_settings({name: value})


def test_the_environment_round_trips_for_a_subprocess() -> None:
    settings = load_portal_settings({"KLUIS_PORTAL_NAME": "De Kern", "KLUIS_PORTAL_BIND":
                                     "127.0.0.1:9001"})
    assert load_portal_settings(settings.to_env({})) == settings
