"""Storage integration fixtures: the grants tests' organisation and grant fixtures."""

from tests.integration.grants.conftest import (  # noqa: F401 - pytest finds fixtures by name
    _authlib_over_loopback_http,
    granted,
    register_org,
)
