"""Owner API of records: the type catalogue, records and their versions, documents (``/api/v1``)."""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, request, url_for

from vault.api import schemas as s
from vault.api.spec import (
    decode_cursor,
    encode_cursor,
    load_body,
    load_query,
    operation,
    page_of,
    respond,
)
from vault.records import service as records
from vault.records.catalogue import RECORD_TYPES
from vault.records.jsonschema import to_json_schema
from vault.web.auth import owner_api, owner_vault, services
from vault.web.files import attachment_header, read_upload
from vault.web.problems import Problem

bp = Blueprint("records_api", __name__, url_prefix="/api/v1")

TAG = ["owner"]
RECORD_ID = "{record_id}"


def _body_limit() -> int:
    return services().settings.max_body_bytes


@bp.get("/record-types")
@operation("/api/v1/record-types", "get", "The record type catalogue with nl/en labels",
           tags=TAG, responses={200: s.RecordTypeListSchema}, security=[])
def record_types():
    out = []
    for record_type in RECORD_TYPES.values():
        described = record_type.describe()
        described["json_schema"] = to_json_schema(record_type.schema)
        out.append(described)
    return respond(s.RecordTypeListSchema(), {"record_types": out})


@bp.get("/records")
@owner_api
@operation("/api/v1/records", "get", "List records (current versions)", tags=TAG,
           query=s.RecordListQuerySchema, responses={200: s.RecordListSchema})
def list_records():
    query = load_query(s.RecordListQuerySchema())
    after: tuple[str, str] | None = None
    if query.get("cursor"):
        created_at, record_id = decode_cursor(query["cursor"], str, str)
        after = (created_at, record_id)
    limit = query["limit"]
    items = records.list_records(owner_vault(), query.get("type") or None, limit=limit + 1,
                                 after=after)
    more = len(items) > limit
    items = items[:limit]
    cursor = encode_cursor(items[-1].created_at, items[-1].id) if more else None
    return respond(s.RecordListSchema(), {"records": items, "next_cursor": cursor})


@bp.post("/records")
@owner_api
@operation("/api/v1/records", "post", "Add a record", tags=TAG, request=s.RecordInSchema,
           responses={201: s.RecordSchema})
def create_record():
    body = load_body(s.RecordInSchema(), max_bytes=_body_limit())
    if body["type"] == "document":
        raise Problem(422, "validation", "Upload documents to /api/v1/documents",
                      errors={"type": ["Documents are created by uploading the file."]})
    record = records.create_record(owner_vault(), body["type"], body["data"])
    resp = respond(s.RecordSchema(), record, 201)
    resp.headers["Location"] = url_for(".get_record", record_id=record.id)
    return resp


@bp.get("/records/<record_id>")
@owner_api
@operation(f"/api/v1/records/{RECORD_ID}", "get", "One record", tags=TAG,
           responses={200: s.RecordSchema})
def get_record(record_id: str):
    return respond(s.RecordSchema(), records.get_record(owner_vault(), record_id))


@bp.put("/records/<record_id>")
@owner_api
@operation(f"/api/v1/records/{RECORD_ID}", "put",
           "Replace a record's data (a new version when it differs)", tags=TAG,
           request=s.RecordUpdateSchema, responses={200: s.RecordSchema})
def update_record(record_id: str):
    body = load_body(s.RecordUpdateSchema(), max_bytes=_body_limit())
    vault = owner_vault()
    current = records.get_record(vault, record_id)
    if current.type == "document":
        _check_document_edit(current.data, body["data"])
    record, _changed = records.update_record(vault, record_id, body["data"])
    return respond(s.RecordSchema(), record)


def _check_document_edit(old: dict, new: dict) -> None:
    fixed = ("sha256", "size", "media_type")
    changed = [k for k in fixed if new.get(k) != old.get(k)]
    if changed:
        raise Problem(422, "validation", "A document's file facts cannot be edited",
                      errors={f"data.{k}": ["Set from the uploaded file."] for k in changed})


@bp.delete("/records/<record_id>")
@owner_api
@operation(f"/api/v1/records/{RECORD_ID}", "delete", "Delete a record and its history",
           tags=TAG, responses={204: None})
def delete_record(record_id: str):
    records.delete_record(owner_vault(), record_id)
    return Response(status=204)


@bp.get("/records/<record_id>/versions")
@owner_api
@operation(f"/api/v1/records/{RECORD_ID}/versions", "get", "Every version, newest first",
           tags=TAG, query=s.PageQuerySchema, responses={200: s.RecordVersionListSchema})
def record_versions(record_id: str):
    items, cursor = page_of(records.versions(owner_vault(), record_id),
                            load_query(s.PageQuerySchema()))
    return respond(s.RecordVersionListSchema(), {"versions": items, "next_cursor": cursor})


# -- documents ------------------------------------------------------------------------------


@bp.post("/documents")
@owner_api
@operation("/api/v1/documents", "post",
           "Upload a document (multipart field `file`; optional `category`, `description`)",
           tags=TAG, request_content="multipart/form-data", request=s.DocumentFormSchema,
           responses={201: s.RecordSchema})
def upload_document():
    upload = read_upload()
    record = records.add_document(
        owner_vault(), upload.content, name=upload.name, media_type=upload.media_type,
        category=request.form.get("category") or None,
        description=request.form.get("description") or None,
    )
    return respond(s.RecordSchema(), record, 201)


@bp.get("/records/<record_id>/content")
@owner_api
@operation(f"/api/v1/records/{RECORD_ID}/content", "get", "Download a document's file",
           tags=TAG, responses={200: "*/*"})  # the document's own media type
def document_content(record_id: str):
    vault = owner_vault()
    record = records.get_record(vault, record_id)
    if record.type != "document":
        raise Problem(404, "not-found", "This record has no file")
    content, media_type = records.document_content(vault, record.data["sha256"])
    if hashlib.sha256(content).hexdigest() != record.data["sha256"]:
        raise Problem(500, "integrity", "The stored file does not match its digest")
    resp = Response(content, mimetype=media_type)
    resp.headers["Content-Disposition"] = attachment_header(record.data["name"])
    resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return resp
