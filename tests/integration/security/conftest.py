"""Fixtures for the security checks: the live app with the login limits out of the way.

The checks send many requests with wrong credentials from one address (127.0.0.1) on purpose;
with the default per-address limit the owner's own logins later in a test would be answered
429, which is the limiter working, not what these tests look at (tests/unit/accounts test the
limiter itself).
"""

from __future__ import annotations

import pytest


@pytest.fixture
def settings(make_settings):
    return make_settings(login_max_failures=1000)
