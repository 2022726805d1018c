"""The OpenAPI 3 document, generated from the marshmallow schemas the views use.

Views declare themselves with :func:`operation`; request bodies are then
loaded with the same schema (:func:`load_body`), so the document and the
validation cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import request
from marshmallow import Schema, ValidationError

from vault.records.service import flatten_errors
from vault.web.problems import Problem, validation_problem


@dataclass
class Operation:
    path: str
    method: str
    summary: str
    tags: list[str]
    request: type[Schema] | Schema | dict[str, Any] | None = None
    request_content: str = "application/json"
    responses: dict[int, Any] = field(default_factory=dict)
    security: list[dict] | None = None
    parameters: list[dict] = field(default_factory=list)


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
    responses: dict[int, Any] | None = None,
    security: list[dict] | None = OWNER_SECURITY,
    parameters: list[dict] | None = None,
) -> Callable:
    """Record one API operation for the OpenAPI document. ``path`` uses ``{name}`` params."""
    OPERATIONS.append(
        Operation(path, method.lower(), summary, tags or [], request, request_content,
                  responses or {200: None}, security, parameters or [])
    )

    def decorate(view: Callable) -> Callable:
        return view  # recorded above; the view itself is unchanged

    return decorate


def load_body(schema: Schema, *, max_bytes: int | None = None) -> Any:
    """Parse and validate the JSON body with ``schema``; problem+json on any fault."""
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


def build_spec(base_url: str, version: str) -> dict[str, Any]:
    spec = APISpec(
        title="Kluis API",
        version=version,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Owner API, organisation (grant) API and OAuth 2.0 endpoints of a "
            "Kluis personal data vault. Errors are RFC 9457 problem+json.",
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
    spec.components.schema(
        "Problem",
        {
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {"type": "object",
                           "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            },
            "required": ["type", "title", "status"],
        },
    )
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
        if params:
            entry["parameters"] = params
        if op.request is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {op.request_content: {"schema": op.request}},
            }
        for status, body in op.responses.items():
            response: dict[str, Any] = {"description": _describe(status)}
            if isinstance(body, str):
                response["content"] = {body: {}}
            elif body is not None:
                response["content"] = {"application/json": {"schema": body}}
            entry["responses"][str(status)] = response
        entry["responses"]["default"] = {
            "description": "Problem",
            "content": {"application/problem+json": {"schema": {"$ref":
                                                                  "#/components/schemas/Problem"}}},
        }
        paths.setdefault(op.path, {})[op.method] = entry
    for path in sorted(paths):
        spec.path(path=path, operations=paths[path])
    return spec.to_dict()


def _path_params(path: str) -> list[str]:
    import re

    return re.findall(r"{([a-z_]+)}", path)


def _describe(status: int) -> str:
    return {200: "OK", 201: "Created", 204: "No content", 302: "Redirect"}.get(status, "Response")
