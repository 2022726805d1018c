"""Owner API for connectors and connections (``/api/v1/connectors``, ``/api/v1/connections``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request, url_for
from marshmallow import Schema, fields, validate

from vault.api import schemas as s
from vault.api.spec import load_body, operation, respond
from vault.connectors import inbox, jobs, registry
from vault.connectors import service as connections
from vault.web.auth import owner_api, owner_vault, services
from vault.web.problems import Problem

bp = Blueprint("connectors_api", __name__, url_prefix="/api/v1")

TAG = ["connectors"]
ID_PARAM = [{"name": "connection_id", "in": "path", "required": True,
             "schema": {"type": "string"}}]


class ConnectionCreateSchema(Schema):
    connector = fields.String(required=True, validate=validate.Length(min=1, max=64))
    options = fields.Dict(load_default=dict)
    credentials = fields.Dict(load_default=dict)
    interval_seconds = fields.Integer(load_default=None, strict=True,
                                      validate=validate.Range(min=1, max=366 * 24 * 3600))


class ProgressSchema(Schema):
    done = fields.Integer()
    total = fields.Integer()


class ConnectionSchema(Schema):
    id = fields.String()
    connector = fields.String()
    options = fields.Dict()
    interval_seconds = fields.Integer(allow_none=True)
    created_at = fields.String()
    state = fields.String(metadata={"enum": ["new", "queued", "running", "retrying", "ok",
                                             "failed", "needs_attention"]})
    attempts = fields.Integer()
    last_run_at = fields.String(allow_none=True)
    last_success_at = fields.String(allow_none=True)
    last_error = fields.String(allow_none=True)
    next_run_at = fields.String(allow_none=True)
    progress = fields.Nested(ProgressSchema, allow_none=True)


class ConnectorSchema(Schema):
    id = fields.String()
    title = fields.Dict()
    source_organisation = fields.String()
    record_types = fields.List(fields.String())
    credential = fields.String()
    default_interval_seconds = fields.Integer(allow_none=True)
    fetches = fields.Boolean()
    options_schema = fields.Dict()
    credentials_schema = fields.Dict()


class ChangeSchema(Schema):
    connection_id = fields.String()
    connector = fields.String()
    fetched_at = fields.String()
    merged_at = fields.String()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    rejected = fields.Integer()
    summary = fields.String()
    changes = fields.List(fields.Dict())


class UploadFormSchema(Schema):
    """``multipart/form-data`` of ``POST /api/v1/uploads`` (read by vault.web.files)."""

    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
    category = fields.String()
    facts = fields.String(metadata={"description": "A JSON list of {type, data}."})


class UploadResultSchema(Schema):
    document = fields.Nested(s.RecordSchema, required=True)
    records = fields.List(fields.Nested(s.RecordSchema), required=True)


def _not_found() -> Problem:
    return Problem(404, "not-found", "No such connection")


def connection_json(connection) -> dict[str, Any]:
    """A connection for the owner, with the running job's progress."""
    svc = services()
    body = connection.public()
    progress = jobs.job_progress(svc.queue(), connection.job_id)
    if progress is not None:
        body["progress"] = {"done": progress["done"], "total": progress["total"]}
        if body["state"] == "ok" and progress["total"]:
            body["progress"]["done"] = progress["total"]
    else:
        body["progress"] = None
    return body


def _get(connection_id: str):
    try:
        return connections.get_connection(services().instance, connection_id,
                                          vault_id=g.owner.vault_id)
    except connections.ConnectionNotFound:
        raise _not_found() from None


@bp.get("/connectors")
@operation("/api/v1/connectors", "get", "Available connectors, with options and credential "
           "schemas as JSON Schema", tags=TAG, responses={200: ConnectorSchema(many=True)})
@owner_api
def list_connectors():
    return respond(ConnectorSchema(many=True), [c.describe() for c in registry.load().values()])


@bp.post("/connections")
@operation("/api/v1/connections", "post", "Add a connection (its first refresh is queued)",
           tags=TAG, request=ConnectionCreateSchema, responses={201: ConnectionSchema})
@owner_api
def create_connection():
    svc = services()
    body = load_body(ConnectionCreateSchema(), max_bytes=svc.settings.max_body_bytes)
    try:
        connection = connections.create_connection(
            svc.instance, g.owner.vault_id, body["connector"], body["options"],
            body["credentials"], interval_seconds=body["interval_seconds"],
        )
    except connections.InvalidConnection as exc:
        raise Problem(422, "validation", "The connection is not valid",
                      "See errors for what to correct.", errors=exc.errors) from None
    if registry.get(connection.connector).fetches:
        jobs.enqueue_refresh(svc.instance, svc.queue(), connection.id)
        connection = _get(connection.id)
    resp = respond(ConnectionSchema(), connection_json(connection), 201)
    resp.headers["Location"] = url_for("connectors_api.get_connection",
                                       connection_id=connection.id)
    return resp


@bp.get("/connections")
@operation("/api/v1/connections", "get", "The owner's connections", tags=TAG,
           responses={200: ConnectionSchema(many=True)})
@owner_api
def list_connections():
    svc = services()
    return respond(ConnectionSchema(many=True), [
        connection_json(c) for c in connections.list_connections(svc.instance, g.owner.vault_id)])


@bp.get("/connections/<connection_id>")
@operation("/api/v1/connections/{connection_id}", "get",
           "One connection: state, progress, last success, last error, next run", tags=TAG,
           responses={200: ConnectionSchema}, parameters=ID_PARAM)
@owner_api
def get_connection(connection_id: str):
    return respond(ConnectionSchema(), connection_json(_get(connection_id)))


@bp.post("/connections/<connection_id>/refresh")
@operation("/api/v1/connections/{connection_id}/refresh", "post",
           "Refresh now (returns the queued or already running refresh)", tags=TAG,
           responses={202: ConnectionSchema}, parameters=ID_PARAM)
@owner_api
def refresh_connection(connection_id: str):
    svc = services()
    connection = _get(connection_id)
    if not registry.get(connection.connector).fetches:
        raise Problem(409, "not-refreshable", "This connection has nothing to fetch")
    jobs.enqueue_refresh(svc.instance, svc.queue(), connection_id)
    return respond(ConnectionSchema(), connection_json(_get(connection_id)), 202)


@bp.delete("/connections/<connection_id>")
@operation("/api/v1/connections/{connection_id}", "delete",
           "Remove a connection: its credentials are deleted and its schedule stops; records "
           "already in the vault stay", tags=TAG, responses={204: None},
           parameters=ID_PARAM)
@owner_api
def delete_connection(connection_id: str):
    svc = services()
    try:
        removed = connections.delete_connection(svc.instance, connection_id,
                                                vault_id=g.owner.vault_id)
    except connections.ConnectionNotFound:
        raise _not_found() from None
    jobs.cancel_jobs(svc.queue(), removed)
    return "", 204


@bp.get("/changes")
@operation("/api/v1/changes", "get", "What recent connector refreshes changed in the vault",
           tags=TAG, responses={200: ChangeSchema(many=True)})
@owner_api
def list_changes():
    vault = owner_vault()  # opening the vault merges its inbox first
    out = []
    for entry in inbox.changes(vault):
        out.append({**entry, "summary": inbox.describe_changes(entry)})
    return respond(ChangeSchema(many=True), out)


@bp.post("/uploads")
@operation("/api/v1/uploads", "post",
           "Upload a PDF from a source without an API (UWV, DUO, pension, payslip) with typed "
           "fields that cite it (multipart: `file`, optional `category`, `facts` as a JSON list "
           "of {type, data})", tags=TAG, request_content="multipart/form-data",
           request=UploadFormSchema, responses={201: UploadResultSchema})
@owner_api
def upload_with_facts():
    import json

    from vault.connectors.upload.service import add_upload
    from vault.records.service import InvalidRecord
    from vault.web.files import read_upload

    upload = read_upload()
    try:
        facts = json.loads(request.form.get("facts") or "[]")
    except ValueError:
        raise Problem(422, "validation", "The facts are not valid JSON",
                      errors={"facts": ["Send a JSON list of {type, data}."]}) from None
    if not isinstance(facts, list):
        raise Problem(422, "validation", "The facts must be a list",
                      errors={"facts": ["Send a JSON list of {type, data}."]})
    try:
        document, made = add_upload(owner_vault(), upload.content, name=upload.name,
                                    category=request.form.get("category") or None, facts=facts)
    except InvalidRecord as exc:
        raise Problem(422, "validation", "The upload is not valid", errors=exc.errors) from None
    return respond(UploadResultSchema(), {"document": document, "records": made}, 201)
