"""Organisations named by a metadata URL and authenticating with private_key_jwt (Authlib).

Authlib's PrivateKeyJWT signs with RSA keys, so the organisation uses RS256 here."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import RSAKey

from vault.grants.oauth import pkce_challenge


@pytest.fixture
def metadata_server():
    """Serves one JSON document at /client.json on loopback; ``set(doc)`` changes it."""
    state: dict = {"doc": {}}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            body = json.dumps(state["doc"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_port}/client.json"
    yield state
    server.shutdown()
    server.server_close()


def test_a_metadata_url_client_with_private_key_jwt_pushes_a_request(live_server,
                                                                     metadata_server):
    key = RSAKey.generate_key(2048)
    public = key.as_dict(private=False) | {"kid": "k1", "alg": "RS256", "use": "sig"}
    client_id = metadata_server["url"]
    metadata_server["doc"] = {
        "client_id": client_id, "client_name": "Hypotheekbank Noord",
        "client_uri": "http://127.0.0.1", "redirect_uris": ["https://hbn.example/cb"],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [public]},
    }
    private = key.as_dict(private=True) | {"kid": "k1"}
    session = OAuth2Session(client_id, private, token_endpoint_auth_method="private_key_jwt")
    session.register_client_auth_method(PrivateKeyJWT(alg="RS256"))
    data = {"response_type": "code", "client_id": client_id,
            "redirect_uri": "https://hbn.example/cb",
            "code_challenge": pkce_challenge("z" * 50), "code_challenge_method": "S256",
            "authorization_details": json.dumps([{
                "type": "kluis_records", "purpose": "mortgage-application",
                "retention": "P60D", "duration": "P60D",
                "records": [{"record_type": "income"}, {"record_type": "pension"},
                            {"record_type": "student-debt"}, {"record_type": "property"}]}])}
    par = f"{live_server.url}/oauth/par"
    resp = session.post(par, data=data, withhold_token=True,
                        auth=session.client_auth("private_key_jwt"))
    assert resp.status_code == 201, resp.text
    # A wrong key is refused.
    other = RSAKey.generate_key(2048).as_dict(private=True) | {"kid": "k1"}
    intruder = OAuth2Session(client_id, other, token_endpoint_auth_method="private_key_jwt")
    intruder.register_client_auth_method(PrivateKeyJWT(alg="RS256"))
    resp = intruder.post(par, data=data, withhold_token=True,
                         auth=intruder.client_auth("private_key_jwt"))
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"


def test_private_metadata_urls_are_refused_unless_allowed(make_settings, make_live_server,
                                                          metadata_server):
    from vault.app import create_app

    settings = make_settings("strict", allow_private_urls=False)
    app = create_app({"settings": settings, "TESTING": True})
    server = make_live_server(app)
    try:
        resp = requests.post(f"{server.url}/oauth/par", timeout=30, data={
            "client_id": metadata_server["url"], "response_type": "code"})
        assert resp.status_code == 401
        assert "cannot be used" in resp.json()["error_description"]
    finally:
        app.extensions["kluis"].close()
