"""Client authentication with private_key_jwt, before any key is looked at."""

from __future__ import annotations

import json

import pytest

from vault.crypto import keys
from vault.grants.errors import OAuthError
from vault.grants.organisations import ClientCredentials


@pytest.mark.parametrize("issuer", [5, ["https://org.example"], {"a": 1}, None])
def test_an_assertion_whose_issuer_is_not_a_string_is_invalid_client(grants, issuer):
    claims = keys.b64e(json.dumps({"iss": issuer}).encode())
    creds = ClientCredentials(None, None, "private_key_jwt", f"e30.{claims}.c2ln")
    with pytest.raises(OAuthError) as raised:
        grants.orgs.authenticate(creds, ["https://kluis.example/oauth/token"])
    assert (raised.value.error, raised.value.status) == ("invalid_client", 401)
