"""A software WebAuthn authenticator for tests: ES256 key, "none" attestation, optional PRF.

It builds what a browser and authenticator send (clientDataJSON, authenticator data, CBOR
attestation object, ECDSA signature) so the server's checks, done by py_webauthn, run on
real bytes without a browser. The browser path is tested with Chromium in tests/e2e.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import struct
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftKey:
    def __init__(self, origin: str, rp_id: str, *, prf: bool = True,
                 prf_at_create: bool = True) -> None:
        self.origin, self.rp_id, self.prf = origin, rp_id, prf
        self.prf_at_create = prf_at_create
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.prf_secret = os.urandom(32)
        self.count = 0

    def _cose(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": self.origin,
                           "crossOrigin": False}).encode()

    def _prf_results(self, options: dict[str, Any]) -> dict[str, Any]:
        if not self.prf:
            return {}
        first = unb64url(options["extensions"]["prf"]["eval"]["first"])
        output = hmac.new(self.prf_secret, b"WebAuthn PRF\x00" + first, hashlib.sha256).digest()
        return {"prf": {"enabled": True, "results": {"first": b64url(output)}}}

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        client_data = self._client_data("webauthn.create", options["challenge"])
        auth_data = (hashlib.sha256(self.rp_id.encode()).digest() + bytes([0x45])
                     + struct.pack(">I", self.count) + bytes(16)
                     + struct.pack(">H", len(self.credential_id)) + self.credential_id
                     + self._cose())
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {"id": b64url(self.credential_id), "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {"clientDataJSON": b64url(client_data),
                             "attestationObject": b64url(attestation)},
                "clientExtensionResults": (self._prf_results(options) if self.prf_at_create
                                           else {"prf": {"enabled": self.prf}})}

    def get(self, options: dict[str, Any], *, prf_output: bytes | None = None) -> dict[str, Any]:
        self.count += 1
        client_data = self._client_data("webauthn.get", options["challenge"])
        auth_data = (hashlib.sha256(self.rp_id.encode()).digest() + bytes([0x05])
                     + struct.pack(">I", self.count))
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        results = self._prf_results(options)
        if prf_output is not None:
            results = {"prf": {"results": {"first": b64url(prf_output)}}}
        return {"id": b64url(self.credential_id), "rawId": b64url(self.credential_id),
                "type": "public-key",
                "response": {"clientDataJSON": b64url(client_data),
                             "authenticatorData": b64url(auth_data),
                             "signature": b64url(signature)},
                "clientExtensionResults": results}
