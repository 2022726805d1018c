"""A real webhook receiver on loopback, and a second RFC 9421 verifier for its requests.

The verifier is written here over ``cryptography`` from RFC 9421 §2.5 (the signature base)
and §3.3.1 (ecdsa-p256-sha256: r || s), so a delivery is checked by code that shares
nothing with the product's signing library.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


@dataclass
class Received:
    method: str
    target_uri: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    fail_first: int = 0  # answer 500 to this many requests first
    answered: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def start_receiver() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                failing = len(receiver.answered) < receiver.fail_first
                status = 500 if failing else 200
                receiver.answered.append(status)
                if not failing:
                    receiver.received.append(Received(
                        self.command, f"http://{self.headers['Host']}{self.path}",
                        {k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(f"http://127.0.0.1:{server.server_port}/hooks/kluis", server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify(message: Received, jwks: list[dict]) -> dict:
    """Check Content-Digest and the RFC 9421 signature; return the signature parameters.

    Raises ``AssertionError`` or ``InvalidSignature`` when anything does not hold.
    """
    digest = base64.b64encode(hashlib.sha256(message.body).digest()).decode()
    assert message.headers["content-digest"] == f"sha-256=:{digest}:", "body digest differs"
    label, _, params = message.headers["signature-input"].partition("=")
    match = re.fullmatch(r'\(([^)]*)\)(.*)', params)
    assert match, params
    components = re.findall(r'"([^"]+)"', match.group(1))
    assert components == ["@method", "@target-uri", "content-digest", "date"]
    parameters = dict(re.findall(r';([a-z]+)=("[^"]*"|\d+)', match.group(2)))
    keyid = parameters["keyid"].strip('"')
    assert parameters["alg"] == '"ecdsa-p256-sha256"'
    values = {"@method": message.method, "@target-uri": message.target_uri}
    lines = [f'"{c}": {values[c] if c.startswith("@") else message.headers[c]}'
             for c in components]
    lines.append(f'"@signature-params": {params}')
    base = "\n".join(lines).encode()
    sig_label, _, sig_value = message.headers["signature"].partition("=")
    assert sig_label == label
    raw = base64.b64decode(sig_value.strip(":"))
    jwk = next(k for k in jwks if k["kid"] == keyid)
    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(_b64(jwk["x"]), "big"), int.from_bytes(_b64(jwk["y"]), "big"),
        ec.SECP256R1()).public_key()
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, base, ec.ECDSA(hashes.SHA256()))
    return parameters


__all__ = ["InvalidSignature", "Receiver", "Received", "start_receiver", "verify"]
