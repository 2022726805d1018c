"""The OpenAPI 3 document, generated from the marshmallow schemas the views use.

Views declare themselves with :func:`operation`: the request body, the query parameters and
every response by its schema. Request bodies are loaded with the same schema
(:func:`load_body`), query parameters too (:func:`load_query`), and answers are dumped
through their response schema (:func:`respond`), so the document, the validation and the
answers cannot drift apart. ``tests/integration/test_openapi_responses.py`` drives every
operation of the document over HTTP and validates each answer against it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Response, jsonify, request
from marshmallow import Schema, ValidationError
from marshmallow import fields as ma

from vault.api import schemas as s
from vault.records.service import flatten_errors
from vault.web.problems import CONTENT_TYPE as PROBLEM_CONTENT_TYPE
from vault.web.problems import Problem, validation_problem

# A response is declared as: None (no body), a media type (a body without a JSON schema,
# e.g. a download), a schema (application/json), or {media type: schema or None}.
ResponseBody = type[Schema] | Schema | str | dict[str, Any] | None


@dataclass
class Operation:
    path: str
    method: str
    summary: str
    tags: list[str]
    request: type[Schema] | Schema | dict[str, Any] | None = None
    request_content: str = "application/json"
    responses: dict[int, ResponseBody] = field(default_factory=dict)
    security: list[dict] | None = None
    parameters: list[dict] = field(default_factory=list)
    query: type[Schema] | None = None
    oauth: bool = False


OPERATIONS: list[Operation] = []

OWNER_SECURITY: list[dict[str, list[str]]] = [{"ownerToken": []}, {"ownerSession": []}]


def operation(
    path: str,
    method: str,
    summary: str,
    *,
    tags: list[str] | None = None,
    request: type[Schema] | Schema | dict[str, Any] | None = None,
    request_content: str = "application/json",
    responses: dict[int, ResponseBody] | None = None,
    security: list[dict] | None = OWNER_SECURITY,
    parameters: list[dict] | None = None,
    query: type[Schema] | None = None,
    oauth: bool = False,
) -> Callable:
    """Record one API operation for the OpenAPI document. ``path`` uses ``{name}`` params;
    ``query`` is the schema of its query parameters; ``oauth`` marks an OAuth 2.0 endpoint,
    whose errors are RFC 6749 JSON (:class:`~vault.api.schemas.OAuthErrorSchema`)."""
    OPERATIONS.append(
        Operation(path, method.lower(), summary, tags or [], request, request_content,
                  responses or {200: None}, security, parameters or [], query, oauth)
    )

    def decorate(view: Callable) -> Callable:
        return view  # recorded above; the view itself is unchanged

    return decorate


def load_body(schema: Schema, *, max_bytes: int | None = None) -> Any:
    """Parse and validate the JSON body with ``schema``; problem+json on any fault."""
    # A chunked body arrives with its length too (vault.web.limits.BoundedBodies).
    if max_bytes is not None and (request.content_length or 0) > max_bytes:
        raise Problem(413, "too-large", "The request body is too large",
                      f"At most {max_bytes} bytes are accepted.")
    if not request.is_json:
        raise Problem(415, "unsupported-media-type", "Send a JSON body",
                      "Use Content-Type: application/json.")
    data = request.get_json(silent=True)
    if data is None:
        raise Problem(400, "malformed-json", "The body is not valid JSON")
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise validation_problem(flatten_errors(exc.messages)) from None


def load_query(schema: Schema) -> dict[str, Any]:
    """Validate the query string with ``schema`` (the one its operation declares): 422
    problem+json on any fault. List fields take every value of a repeated parameter; other
    parameters take the first, and an empty one (``?limit=``) counts as absent; parameters
    the schema does not name are ignored."""
    args = request.args
    data: dict[str, Any] = {}
    for name, declared in schema.fields.items():
        key = declared.data_key or name
        if key not in args:
            continue
        if isinstance(declared, ma.List):
            data[key] = args.getlist(key)
        elif args.get(key) != "":
            data[key] = args.get(key)
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise validation_problem(flatten_errors(exc.messages)) from None


def respond(schema: Schema, value: Any, status: int = 200) -> Response:
    """``value`` dumped through ``schema`` (the operation's response schema) as JSON."""
    resp = jsonify(schema.dump(value))
    resp.status_code = status
    return resp


def build_spec(base_url: str, version: str) -> dict[str, Any]:
    spec = APISpec(
        title="Kluis API",
        version=version,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Owner API, organisation (grant) API and OAuth 2.0 endpoints of a "
            "Kluis personal data vault. Errors are RFC 9457 problem+json; the OAuth 2.0 "
            "endpoints answer errors as RFC 6749 application/json (with the problem members).",
        },
        servers=[{"url": base_url}],
    )
    spec.components.security_scheme(
        "ownerToken", {"type": "http", "scheme": "bearer", "description": "Owner app token"}
    )
    spec.components.security_scheme(
        "ownerSession",
        {"type": "apiKey", "in": "cookie", "name": "kluis_session",
         "description": "Owner session cookie; writes also need the X-CSRF-Token header"},
    )
    spec.components.security_scheme(
        "grantToken", {"type": "http", "scheme": "bearer", "description": "Grant access token"}
    )
    spec.components.security_scheme(
        "clientBasic", {"type": "http", "scheme": "basic",
                        "description": "Organisation client_id and client_secret (RFC 6749 2.3.1)"}
    )
    spec.components.security_scheme(
        "registrationToken", {"type": "http", "scheme": "bearer",
                              "description": "RFC 7592 registration access token"}
    )
    spec.components.schema("Problem", schema=s.ProblemSchema)
    spec.components.schema("OAuthError", schema=s.OAuthErrorSchema)
    # The two audiences' views of one GrantSchema, by name (apispec tells them apart by
    # their ``only=``).
    spec.components.schema("Grant", schema=s.owner_grant())
    spec.components.schema("OrganisationGrant", schema=s.organisation_grant())
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    oauth_error = {"schema": {"$ref": "#/components/schemas/OAuthError"}}
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        entry: dict[str, Any] = {"summary": op.summary, "tags": op.tags, "responses": {}}
        if op.security is not None:
            entry["security"] = op.security
        params = list(op.parameters)
        declared = {(p.get("in"), p.get("name")) for p in params}
        for name in _path_params(op.path):
            if ("path", name) not in declared:
                params.append({"name": name, "in": "path", "required": True,
                               "schema": {"type": "string"}})
        if op.query is not None:
            params.append({"in": "query", "schema": op.query})
        if params:
            entry["parameters"] = params
        if op.request is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {op.request_content: {"schema": op.request}},
            }
        for status, body in op.responses.items():
            response: dict[str, Any] = {"description": _describe(status)}
            content = _content(body)
            if content:
                response["content"] = content
            entry["responses"][str(status)] = response
        if op.oauth:
            # OAuth errors are application/json (RFC 6749 5.2); anything else met on the
            # way (an unknown method, a rate limit) is problem+json.
            entry["responses"]["default"] = {
                "description": "OAuth 2.0 error (or a problem)",
                "content": {"application/json": oauth_error, PROBLEM_CONTENT_TYPE: problem},
            }
        else:
            entry["responses"]["default"] = {
                "description": "Problem", "content": {PROBLEM_CONTENT_TYPE: problem},
            }
        paths.setdefault(op.path, {})[op.method] = entry
    for path in sorted(paths):
        spec.path(path=path, operations=paths[path])
    return spec.to_dict()


def _content(body: ResponseBody) -> dict[str, Any]:
    if body is None:
        return {}
    if isinstance(body, str):
        return {body: {}}
    if isinstance(body, dict):
        return {media: ({"schema": schema} if schema is not None else {})
                for media, schema in body.items()}
    return {"application/json": {"schema": body}}


def _path_params(path: str) -> list[str]:
    return re.findall(r"{([a-z_]+)}", path)


def _describe(status: int) -> str:
    return {200: "OK", 201: "Created", 202: "Accepted", 204: "No content",
            302: "Redirect"}.get(status, "Response")


def encode_cursor(*values: str | int) -> str:
    """An opaque ``next_cursor``: the sort key of a page's last item, base64url JSON."""
    import base64
    import json as _json

    return base64.urlsafe_b64encode(_json.dumps(list(values)).encode()).rstrip(b"=").decode()


def decode_cursor(text: str, *kinds: type) -> list[Any]:
    """The sort key a ``cursor`` holds, checked against ``kinds``; 422 for anything else."""
    import base64
    import binascii
    import json as _json

    try:
        values = _json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, binascii.Error):
        values = None
    if not isinstance(values, list) or len(values) != len(kinds) or not all(
            isinstance(v, k) and not isinstance(v, bool) for v, k in zip(values, kinds, strict=True)):
        raise validation_problem({"cursor": ["Not a cursor from this list: pass next_cursor as it came."]})
    return values


def page_of(items: list[Any], query: dict[str, Any]) -> tuple[list[Any], str | None]:
    """One page of a short owner list (tokens, grants, requests, versions, notifications):
    ``query`` holds ``limit`` and an optional ``cursor`` from the previous page; returns the
    page and the ``next_cursor`` (None on the last page). The cursor is opaque to clients."""
    start = decode_cursor(query["cursor"], int)[0] if query.get("cursor") else 0
    if start < 0:
        raise validation_problem({"cursor": ["Not a cursor from this list: pass next_cursor as it came."]})
    end = start + query["limit"]
    return items[start:end], (encode_cursor(end) if end < len(items) else None)
