"""What the permission matrix and the fuzzing found, each pinned by a test of its own."""

from __future__ import annotations

import json

import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from tests.integration.security.world import sign_up
from vault.accounts import totp as totp_mod

PROBLEM = "application/problem+json"


def _validate(base: str, resp: requests.Response) -> None:
    document = requests.get(f"{base}/api/v1/openapi.json", timeout=30).json()
    openapi = OpenAPI.from_dict(document, config=Config(
        extra_media_type_deserializers={PROBLEM: json.loads}))
    openapi.validate_response(RequestsOpenAPIRequest(resp.request), RequestsOpenAPIResponse(resp))


def test_an_oauth_error_met_on_the_owner_api_is_a_documented_problem(live_server):
    owner = sign_up(live_server.url, "finding-bind")
    resp = owner.api().post(f"{live_server.url}/api/v1/requests", timeout=30,
                            json={"request_uri": "urn:ietf:params:oauth:request_uri:nope"})
    assert resp.status_code == 400
    assert resp.headers["Content-Type"] == PROBLEM
    assert isinstance(resp.json()["error"], str)  # the RFC 6749 code, documented
    _validate(live_server.url, resp)


def _not_the_code(secret: str) -> str:
    """A code no step near now shows."""
    near = {totp_mod.current_code(secret)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def test_a_wrong_code_when_turning_totp_on_is_a_422_not_a_401(live_server):
    owner = sign_up(live_server.url, "finding-totp")
    api = owner.api()
    secret = api.post(f"{live_server.url}/api/v1/account/totp", timeout=30).json()["secret"]
    resp = api.post(f"{live_server.url}/api/v1/account/totp/confirm", timeout=30,
                    json={"secret": secret, "code": _not_the_code(secret)})
    assert resp.status_code == 422, resp.text
    assert resp.json()["type"] == "urn:kluis:problem:validation"
    assert "code" in resp.json()["errors"]
    _validate(live_server.url, resp)
    # The token still works: nothing about the caller's authentication failed.
    assert api.get(f"{live_server.url}/api/v1/records", timeout=30).status_code == 200
