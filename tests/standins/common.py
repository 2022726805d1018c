"""A stand-in HTTP server: serves fixture data, validates every request against the
source's published OpenAPI document (a request that does not fit is a 400) and misbehaves
on demand (401, 404, 429 + Retry-After, 500, slow, malformed JSON).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
FAULTS = ("401", "404", "429", "500", "slow", "malformed")

_specs: dict[str, dict] = {}


def load_spec(relative: str) -> dict:
    if relative not in _specs:
        with open(FIXTURES / relative, encoding="utf-8") as handle:
            # Round-trip through JSON: YAML dates become the strings the spec means.
            _specs[relative] = json.loads(json.dumps(yaml.safe_load(handle), default=str))
    return json.loads(json.dumps(_specs[relative]))


def problem(status: int, title: str, **extra: Any) -> Response:
    body = {"type": f"https://httpstatuses.io/{status}", "title": title, "status": status, **extra}
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


class StandIn:
    """Subclasses implement :meth:`handle` (request already validated)."""

    spec_file: str = ""
    prefix: str = "/api"
    check_spec: bool = True

    def __init__(self, api_key: str = "test-key", slow_seconds: float = 3.0) -> None:
        self.api_key = api_key
        self.slow_seconds = slow_seconds
        self.faults: deque[tuple[str, float]] = deque()
        self.requests: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}{self.prefix}"
        spec = load_spec(self.spec_file)
        spec["servers"] = [{"url": self.base_url}]
        self.spec = spec
        config = Config() if self.check_spec else Config(spec_validator_cls=None)
        self.openapi = OpenAPI.from_dict(spec, config=config)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- control ----------------------------------------------------------------------------

    def start(self) -> StandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def misbehave(self, fault: str, times: int = 1, retry_after: float = 1) -> None:
        """The next ``times`` requests fail with ``fault`` (one of :data:`FAULTS`)."""
        assert fault in FAULTS, fault
        with self._lock:
            for _ in range(times):
                self.faults.append((fault, retry_after))

    def count(self, method: str | None = None, path_part: str = "") -> int:
        return sum(1 for r in self.requests
                   if (method is None or r["method"] == method) and path_part in r["path"])

    # -- serving ----------------------------------------------------------------------------

    def wsgi(self, environ, start_response):
        request = Request(environ)
        response = self._respond(request)
        response.headers.setdefault("Date", formatdate(usegmt=True))
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        self.requests.append({"method": request.method, "path": request.path,
                              "headers": dict(request.headers)})
        with self._lock:
            fault = self.faults.popleft() if self.faults else None
        if fault is not None:
            kind, retry_after = fault
            if kind == "slow":
                time.sleep(self.slow_seconds)
            elif kind == "401":
                return problem(401, "Niet correct geauthenticeerd.")
            elif kind == "404":
                return problem(404, "Opgevraagde resource bestaat niet.")
            elif kind == "429":
                resp = problem(429, "Too many requests")
                resp.headers["Retry-After"] = str(int(retry_after))
                return resp
            elif kind == "500":
                return problem(500, "Interne server fout.")
            elif kind == "malformed":
                return Response('{"personen": [', status=200, mimetype="application/json")
        try:
            self.openapi.validate_request(WerkzeugOpenAPIRequest(request))
            self.validate_more(request)
        except Exception as exc:  # noqa: BLE001 - any mismatch with the spec is the client's fault
            self.rejected.append(f"{request.method} {request.path}: {exc}")
            return problem(400, "Ten minste één parameter moet worden opgegeven.",
                           detail=str(exc)[:500])
        auth = self.authenticate(request)
        if auth is not None:
            return auth
        return self.handle(request)

    def validate_more(self, request: Request) -> None:
        """Checks the OpenAPI validator does not make (discriminated bodies)."""

    def authenticate(self, request: Request) -> Response | None:
        if request.headers.get("X-API-KEY") != self.api_key:
            return problem(401, "Niet correct geauthenticeerd.")
        return None

    def handle(self, request: Request) -> Response:
        raise NotImplementedError


def json_response(body: Any, status: int = 200, mimetype: str = "application/json") -> Response:
    return Response(json.dumps(body), status=status, mimetype=mimetype)


Factory = Callable[..., StandIn]
