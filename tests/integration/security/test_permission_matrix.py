"""Who may call what: every operation of ``/api/v1/openapi.json`` x every identity, over real HTTP.

The matrix is read from the published document at run time, so an operation added to it is
covered without touching this file. What each identity may get follows from the operation's
declared ``security``:

- ``[]`` (public): anyone; except the OAuth endpoints that need client authentication (their
  request schema carries ``client_secret`` / ``client_assertion``): none of the identities
  here is a client, so none may get a 2xx there.
- ``ownerToken`` / ``ownerSession``: the owner (app token; session cookie with
  ``X-CSRF-Token`` on writes). Another owner only where the path holds none of the owner's
  ids, and then the answer holds none of the owner's ids or values. Everyone else: 401, 403
  or 404.
- ``grantToken``: a live grant token of the owner's vault, whose answer holds nothing outside
  the grant. Another organisation's live grant token sees its own grant only (none of the
  owner's ids or values). Everyone else: 401, 403 or 404.
- anything else: the test fails and says which operation declares what.

Path parameters are filled with the owner's ids (every id of that kind the world has; an
unknown parameter name gets a placeholder, so the operation is still checked, as a 404).
Requests that need a body get a minimal valid one (the request schema's required members,
with sensible values), so a wrong identity is told apart from a bad body: an unauthorised
identity gets 401/403/404, never a 422 (that would mean the body was processed before the
caller was checked). No identity ever gets a 5xx, and every answer has a status and content
type the document allows (checked with openapi-core).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from tests.integration.security.world import (
    GRANTED,
    INCOME,
    PASSWORD,
    REDIRECT,
    World,
    _challenge,
    ask,
    build_world,
    http_session,
    sign_up,
)

PROBLEM = "application/problem+json"
METHODS = ("get", "put", "post", "delete", "patch")
SAFE = ("get", "head", "options")
DENIED = {401, 403, 404}
OWNER_SCHEMES = {"ownerToken", "ownerSession"}
GRANT_SCHEMES = {"grantToken"}
#: OAuth client authentication (HTTP Basic with the client id and secret, or an RFC 7592
#: registration access token): none of the
#: identities here is a client, so none may get a 2xx.
CLIENT_SCHEMES = {"clientBasic", "registrationToken"}
#: Operations whose success ends the calling identity or its vault. The owner's identities
#: run each of them once, on an account of its own made for it, after everything else
#: (every other identity runs them against the owner like any other operation).
ENDS_THE_IDENTITY = {
    ("post", "/api/v1/logout"): "ends the session, and revokes the token used",
    ("delete", "/api/v1/vault"): "erases the vault",
    ("post", "/api/v1/account/password"): "ends the other sessions and may revoke app tokens",
}
#: Placeholder for a path parameter the world has no owner's id for (a new kind of object).
UNKNOWN_ID = "matrix-no-such-id"
#: A record body that is valid and holds none of the owner's values (another owner may store it).
BODY_INCOME = {**INCOME, "source": "Matrix Body BV", "gross_amount_cents": 100,
               "net_amount_cents": 50}


# -- the identities ------------------------------------------------------------------------------


@dataclass
class Identity:
    name: str
    role: str  # owner | other-owner | grant | other-grant | stranger
    http: requests.Session
    csrf: str | None = None  # sent as X-CSRF-Token on writes
    writes_only: bool = False  # only differs from another identity on writes

    def send(self, method: str, url: str, **kw: Any) -> requests.Response:
        headers = dict(kw.pop("headers", {}))
        if self.csrf and method not in SAFE:
            headers["X-CSRF-Token"] = self.csrf
        return self.http.request(method.upper(), url, headers=headers, timeout=60,
                                 allow_redirects=False, **kw)


def identities(world: World) -> list[Identity]:
    """Everyone but the owner first, then the owner's session, then the owner's token."""
    return [
        Identity("nobody", "stranger", http_session()),
        Identity("revoked app token", "stranger", http_session(world.revoked_app_token)),
        Identity("revoked grant token", "stranger", http_session(world.revoked_grant_token)),
        Identity("grant token (owner's vault)", "grant", http_session(world.grant_token)),
        Identity("another organisation's grant token", "other-grant",
                 http_session(world.other_org_grant_token)),
        Identity("another owner (token)", "other-owner", http_session(world.other.token)),
        Identity("another owner (session)", "other-owner", world.other.web, world.other.csrf),
        Identity("owner's session without X-CSRF-Token", "stranger", world.owner.web,
                 writes_only=True),
        Identity("owner (session + X-CSRF-Token)", "owner", world.owner.web, world.owner.csrf),
        Identity("owner (app token)", "owner", http_session(world.owner.token)),
    ]


# -- the document --------------------------------------------------------------------------------


@dataclass
class Op:
    path: str
    method: str
    spec: dict
    audience: str  # public | client | owner | grant

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"

    def path_params(self) -> list[str]:
        return re.findall(r"{([a-z_]+)}", self.path)


class Document:
    def __init__(self, document: dict) -> None:
        self.doc = document
        self.openapi = OpenAPI.from_dict(document, config=Config(
            extra_media_type_deserializers={PROBLEM: json.loads}))

    def resolve(self, schema: dict) -> dict:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            schema = self.doc["components"]["schemas"][name]
        if "allOf" in schema:
            merged: dict = {"properties": {}, "required": []}
            for part in schema["allOf"]:
                part = self.resolve(part)
                merged["properties"].update(part.get("properties", {}))
                merged["required"] += part.get("required", [])
            return merged
        return schema

    def operations(self) -> list[Op]:
        known = set(self.doc.get("components", {}).get("securitySchemes", {}))
        ops = []
        for path, item in sorted(self.doc["paths"].items()):
            for method in METHODS:
                if method in item:
                    spec = item[method]
                    ops.append(Op(path, method, spec, self.audience(path, method, spec, known)))
        return ops

    def audience(self, path: str, method: str, spec: dict, known: set[str]) -> str:
        security = spec.get("security", self.doc.get("security", []))
        if security == []:
            return "client" if self.needs_client_auth(spec) else "public"
        schemes = set()
        for requirement in security:
            if not requirement:
                schemes.add("<optional: {}>")
            schemes.update(requirement)
        if schemes <= OWNER_SCHEMES and schemes <= known:
            return "owner"
        if schemes <= GRANT_SCHEMES and schemes <= known:
            return "grant"
        if schemes <= CLIENT_SCHEMES and schemes <= known:
            return "client"
        raise AssertionError(
            f"{method.upper()} {path} declares security {security}, which "
            "tests/integration/security/test_permission_matrix.py does not know: say there who "
            "may call it (Document.audience and judge)")

    def needs_client_auth(self, spec: dict) -> bool:
        """An OAuth endpoint whose request carries client credentials (RFC 6749 2.3)."""
        for media in spec.get("requestBody", {}).get("content", {}).values():
            props = self.resolve(media.get("schema", {})).get("properties", {})
            if {"client_secret", "client_assertion"} & set(props):
                return True
        return False


# -- bodies --------------------------------------------------------------------------------------


def sensible(world: World) -> dict[str, Callable[[dict], Any]]:
    """Values by member name: what a real caller would send (the schema alone says little)."""
    def as_json_if_string(value: Any) -> Callable[[dict], Any]:
        return lambda schema: json.dumps(value) if schema.get("type") == "string" else value

    return {
        "type": lambda schema: "income",
        "data": lambda schema: dict(BODY_INCOME),
        "username": lambda schema: "matrix-newcomer",
        "password": lambda schema: PASSWORD,
        "old_password": lambda schema: PASSWORD,
        "new_password": lambda schema: PASSWORD,
        "confirm": lambda schema: world.owner.username,
        "passphrase": lambda schema: "a long passphrase for moving",
        "recovery_code": lambda schema: "ABCDE-FGHIJ-KLMNO-PQRST",
        "secret": lambda schema: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        "code": lambda schema: "000000",
        "client_id": lambda schema: world.org.client_id,
        "client_name": lambda schema: "Matrix Registrant",
        "redirect_uris": lambda schema: [REDIRECT],
        "redirect_uri": lambda schema: REDIRECT,
        "authorization_details": as_json_if_string(ask({"income": None})),
        "code_challenge": lambda schema: _challenge("n" * 64),
        "token": lambda schema: world.grant_token,
        "connector": lambda schema: "brp",
        "types": lambda schema: "all",
        "facts": lambda schema: "[]",
    }


def example(doc: Document, schema: dict, name: str, values: dict) -> Any:
    schema = doc.resolve(schema)
    if name in values:
        return values[name](schema)
    if "enum" in schema:
        return schema["enum"][0]
    if schema.get("default") is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {key: example(doc, props.get(key, {}), key, values)
                for key in schema.get("required", [])}
    if kind == "array":
        count = schema.get("minItems", 0)
        return [example(doc, schema.get("items", {}), name, values) for _ in range(count)]
    if kind in ("integer", "number"):
        return max(schema.get("minimum", 1), 1)
    if kind == "boolean":
        return True
    if schema.get("format") == "binary":
        return b"%PDF-1.4 matrix\n"
    text = "matrix-value"
    text = text.ljust(schema.get("minLength", 0), "x")
    return text[:schema.get("maxLength", len(text))]


def body_kwargs(doc: Document, op: Op, values: dict) -> dict[str, Any]:
    content = op.spec.get("requestBody", {}).get("content", {})
    if not content:
        return {}
    media, entry = next(iter(content.items()))
    schema = doc.resolve(entry.get("schema", {}))
    body = example(doc, schema, "", values)
    if media == "application/json":
        return {"json": body}
    if media == "application/x-www-form-urlencoded":
        return {"data": body}
    if media == "multipart/form-data":
        files = {k: (f"{k}.pdf", v, "application/pdf") for k, v in body.items()
                 if isinstance(v, bytes)}
        data = {k: v for k, v in body.items() if not isinstance(v, bytes)}
        return {"files": files, "data": data}
    raise AssertionError(f"{op.label}: request media type {media} is new to this test")


# -- judging -------------------------------------------------------------------------------------


def walk(value: Any):
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


def outside_the_grant(body: Any) -> list[str]:
    """Record data in an answer to the grant token that the grant does not cover."""
    found = []
    for node in walk(body):
        record_type = node.get("type") or node.get("record_type")
        if isinstance(node.get("data"), dict) and isinstance(record_type, str):
            if record_type not in GRANTED:
                found.append(f"a {record_type} record")
            else:
                extra = set(node["data"]) - set(GRANTED[record_type])
                if extra:
                    found.append(f"{record_type} fields {sorted(extra)}")
    return found


class Matrix:
    def __init__(self, world: World, doc: Document) -> None:
        self.world, self.doc = world, doc
        self.faults: list[str] = []
        self.calls = 0
        secrets = world.owner_secrets()
        self.owner_values = secrets
        # What the owner's live grant may show: the grant and the granted records (the income
        # and the document), no more.
        allowed = set(world.ids["grant_id"]) | set(world.ids["record_id"])
        self.beyond_grant = [v for v in secrets if v not in allowed] + [
            str(INCOME["net_amount_cents"])]

    def fault(self, who: Identity, label: str, resp: requests.Response, why: str) -> None:
        self.faults.append(f"{label} as {who.name}: {resp.status_code} {why}: {resp.text[:200]}")

    def call(self, who: Identity, op: Op, path: str, kwargs: dict, owner_ids: bool) -> None:
        url = self.world.base + path
        resp = who.send(op.method, url, **kwargs)
        self.calls += 1
        label = f"{op.method.upper()} {path}"
        self.conforms(who, op, label, resp)
        self.judge(who, op, label, resp, owner_ids)

    def conforms(self, who: Identity, op: Op, label: str, resp: requests.Response) -> None:
        if resp.status_code >= 500:
            self.fault(who, label, resp, "a server error")
            return
        declared = op.spec["responses"]
        media = resp.headers.get("Content-Type", "").split(";")[0].strip()
        entry = declared.get(str(resp.status_code), declared.get("default", {}))
        allowed = set(entry.get("content", {}))
        if allowed and media not in allowed and "*/*" not in allowed:
            self.fault(who, label, resp, f"content type {media!r}, not one of {sorted(allowed)}")
            return
        if not allowed and resp.content:
            self.fault(who, label, resp, "a body where the document declares none")
            return
        try:
            self.doc.openapi.validate_response(RequestsOpenAPIRequest(resp.request),
                                               RequestsOpenAPIResponse(resp))
        except Exception as exc:  # noqa: BLE001 - any validation error is a finding
            self.fault(who, label, resp, f"an answer the document does not allow ({exc!r})")

    def judge(self, who: Identity, op: Op, label: str, resp: requests.Response,
              owner_ids: bool) -> None:
        status = resp.status_code
        ok = 200 <= status < 300
        if who.role != "owner":
            leaked = self.beyond_grant if who.role == "grant" else self.owner_values
            shown = [v for v in leaked if v in resp.text]
            if shown:
                self.fault(who, label, resp, f"shows the owner's {shown}")
        if op.audience == "public":
            return
        if op.audience == "client":
            if ok:
                self.fault(who, label, resp, "a 2xx from an endpoint for authenticated clients")
            return
        mine = {"owner": OWNER_SCHEMES, "grant": GRANT_SCHEMES}[op.audience]
        if who.role == "owner" and mine is OWNER_SCHEMES or \
                who.role == "grant" and mine is GRANT_SCHEMES:
            # The identity the operation is for: it must be let in (else the matrix proves
            # nothing), and a grant's answer holds nothing outside the grant.
            if status in (401, 403):
                self.fault(who, label, resp, "refuses the identity the operation is for")
            if who.role == "grant" and not ok:
                self.fault(who, label, resp, "no 2xx for the live grant")
            if who.role == "grant" and ok and "json" in resp.headers.get("Content-Type", ""):
                outside = outside_the_grant(resp.json())
                if outside:
                    self.fault(who, label, resp, f"shows what the grant does not cover: {outside}")
            return
        peer = (who.role == "other-owner" and mine is OWNER_SCHEMES) or \
            (who.role == "other-grant" and mine is GRANT_SCHEMES)
        if peer and not owner_ids:
            return  # its own objects, checked above for the owner's values
        if status not in DENIED:
            self.fault(who, label, resp, f"expected one of {sorted(DENIED)}")


#: Operations whose path parameter names a narrower kind of object than its name says.
NARROWER_IDS = {("/api/v1/grant/documents/{record_id}", "record_id"): "document_id"}


def requests_for(op: Op, world: World) -> list[tuple[str, bool]]:
    """The op's path with the owner's ids filled in (every combination), and whether any is."""
    names = op.path_params()
    choices = [world.ids.get(NARROWER_IDS.get((op.path, name), name),
                             world.ids.get(name, [UNKNOWN_ID])) for name in names]
    out = []
    for combo in itertools.product(*choices):
        path = op.path
        for name, value in zip(names, combo, strict=True):
            path = path.replace("{" + name + "}", value)
        out.append((path, any(name in world.ids for name in names)))
    return out


def test_every_operation_answers_only_the_identities_its_security_names(live_server):
    base = live_server.url
    world = build_world(base)
    doc = Document(requests.get(f"{base}/api/v1/openapi.json", timeout=30).json())
    ops = doc.operations()  # fails here on a security scheme this test does not know
    values = sensible(world)
    matrix = Matrix(world, doc)
    # Accounts of their own for the operations that end the owner's identity (made now, before
    # the many wrong credentials below).
    enders = {(key, kind): sign_up(base, f"matrix-end-{n}")
              for n, (key, kind) in enumerate(itertools.product(ENDS_THE_IDENTITY,
                                                                ("session", "token")))}
    for who in identities(world):
        for op in ops:
            if who.writes_only and op.method in SAFE:
                continue
            if who.role == "owner" and (op.method, op.path) in ENDS_THE_IDENTITY:
                continue
            for path, owner_ids in requests_for(op, world):
                matrix.call(who, op, path, body_kwargs(doc, op, values), owner_ids)
    # The owner's identities still work (nothing above ended them).
    for who in identities(world)[-2:]:
        resp = who.send("get", f"{base}/api/v1/records")
        assert resp.status_code == 200, f"{who.name} no longer works after the matrix: {resp.text}"
    by_key = {(op.method, op.path): op for op in ops}
    for (key, kind), account in enders.items():
        op = by_key.get(key)
        if op is None:
            continue  # the operation left the document
        who = (Identity(f"owner ({kind}, own account)", "owner", account.web, account.csrf)
               if kind == "session" else
               Identity(f"owner ({kind}, own account)", "owner", http_session(account.token)))
        ender_values = {**values, "confirm": lambda schema, a=account: a.username}
        matrix.call(who, op, op.path, body_kwargs(doc, op, ender_values), False)
    assert not matrix.faults, (f"{len(matrix.faults)} of {matrix.calls} answers break the rules:\n"
                               + "\n".join(matrix.faults))
    assert matrix.calls > 10 * len(ops)
