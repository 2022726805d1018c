"""Fixtures for the lifecycle tests: an organisation pushing requests over real HTTP."""

from __future__ import annotations

import json

import pytest
import requests

from tests.integration.grants.conftest import (  # noqa: F401 - fixtures
    INCOME,
    PERSON,
    RegisteredOrg,
    _authlib_over_loopback_http,
    ask,
    granted,
    register_org,
)
from vault.grants.oauth import pkce_challenge

VERIFIER = "v" * 64


@pytest.fixture
def push(live_server):
    """``push(org)``: a pushed authorization request; returns PAR's answer."""

    def make(org: RegisteredOrg, records=None) -> dict:
        resp = requests.post(f"{live_server.url}/oauth/par", timeout=30,
                             auth=(org.client_id, org.client_secret), data={
                                 "response_type": "code", "client_id": org.client_id,
                                 "redirect_uri": org.redirect_uri, "state": "s1",
                                 "code_challenge": pkce_challenge(VERIFIER),
                                 "code_challenge_method": "S256",
                                 "authorization_details": json.dumps(
                                     ask(records or {"income": None}))})
        assert resp.status_code == 201, resp.text
        return resp.json()

    return make


def status(base: str, org: RegisteredOrg, request_uri: str) -> requests.Response:
    return requests.get(f"{base}/api/v1/requests/status", params={"request_uri": request_uri},
                        auth=(org.client_id, org.client_secret), timeout=30)
