"""The grants fixtures (an organisation registered over HTTP, a picked-up grant) for the log."""

from tests.integration.grants.conftest import (  # noqa: F401 - fixtures
    _authlib_over_loopback_http,
    granted,
    register_org,
)
