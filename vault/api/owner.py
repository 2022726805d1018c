"""Owner API: accounts, tokens, TOTP, recovery, records, documents (``/api/v1``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import Blueprint, Response, g, jsonify, request, url_for

from vault.accounts import sessions, totp
from vault.accounts.web import client_address, owner_api, owner_vault, services
from vault.api import schemas as s
from vault.api.problems import Problem
from vault.api.spec import load_body, operation
from vault.records import service as records
from vault.records.catalogue import RECORD_TYPES
from vault.records.jsonschema import to_json_schema

bp = Blueprint("owner_api", __name__, url_prefix="/api/v1")

TAG = ["owner"]
RECORD_ID = "{record_id}"


def _record_json(record) -> dict:
    return s.RecordSchema().dump(record.to_dict())


def _body_limit() -> int:
    return services().settings.max_body_bytes


# -- accounts and tokens --------------------------------------------------------------------


@bp.post("/accounts")
@operation("/api/v1/accounts", "post", "Sign up: create an account and its vault", tags=TAG,
           request=s.AccountCreateSchema, responses={201: s.AccountCreatedSchema}, security=[])
def create_account():
    body = load_body(s.AccountCreateSchema(), max_bytes=_body_limit())
    vault_id, code = services().accounts.register(
        body["username"], body["password"], invite=body.get("invite")
    )
    payload = {"vault_id": vault_id, "username": body["username"].strip().lower(),
               "recovery_code": code}
    return jsonify(s.AccountCreatedSchema().dump(payload)), 201


@bp.post("/tokens")
@operation("/api/v1/tokens", "post", "Create an owner app token with username and password",
           tags=TAG, request=s.TokenCreateSchema, responses={201: s.TokenCreatedSchema},
           security=[])
def create_token_with_password():
    body = load_body(s.TokenCreateSchema(), max_bytes=_body_limit())
    accounts = services().accounts
    unlocked = accounts.login(body["username"], body["password"], body.get("totp"),
                              client=client_address())
    token, secret = accounts.create_app_token(unlocked.vault_id, unlocked.dek, body.get("name", ""))
    data = {"id": token.id, "name": token.name, "created_at": token.created_at, "token": secret}
    return jsonify(s.TokenCreatedSchema().dump(data)), 201


@bp.get("/tokens")
@owner_api
@operation("/api/v1/tokens", "get", "List owner app tokens (never the tokens themselves)",
           tags=TAG, responses={200: s.AppTokenSchema(many=True)})
def list_tokens():
    tokens = services().accounts.app_tokens(g.owner.vault_id)
    return jsonify({"tokens": [s.AppTokenSchema().dump(t.__dict__) for t in tokens]})


@bp.delete("/tokens/<token_id>")
@owner_api
@operation("/api/v1/tokens/{token_id}", "delete", "Revoke an owner app token", tags=TAG,
           responses={204: None})
def revoke_token(token_id: str):
    if not services().accounts.revoke_app_token(g.owner.vault_id, g.owner.dek, token_id):
        raise Problem(404, "not-found", "No such token")
    return Response(status=204)


@bp.post("/account/password")
@owner_api
@operation("/api/v1/account/password", "post", "Change the password (ends other sessions)",
           tags=TAG, request=s.PasswordChangeSchema, responses={204: None})
def change_password():
    body = load_body(s.PasswordChangeSchema(), max_bytes=_body_limit())
    services().accounts.change_password(
        g.owner.vault_id, g.owner.dek, body["old_password"], body["new_password"],
        keep_session=g.owner.sid,
    )
    return Response(status=204)


@bp.post("/account/password-reset")
@operation("/api/v1/account/password-reset", "post",
           "Forgotten password: recovery code (+ TOTP when on) sets a new password",
           tags=TAG, request=s.PasswordResetSchema, responses={200: s.RecoveryCodeSchema},
           security=[])
def reset_password():
    body = load_body(s.PasswordResetSchema(), max_bytes=_body_limit())
    code = services().accounts.reset_password(
        body["username"], body["recovery_code"], body["new_password"], body.get("totp"),
        client=client_address(),
    )
    return jsonify({"recovery_code": code})


@bp.post("/account/totp-reset")
@operation("/api/v1/account/totp-reset", "post",
           "Lost authenticator: password + recovery code turn TOTP off", tags=TAG,
           request=s.TotpResetSchema, responses={200: s.RecoveryCodeSchema}, security=[])
def reset_totp():
    body = load_body(s.TotpResetSchema(), max_bytes=_body_limit())
    code = services().accounts.reset_totp(
        body["username"], body["password"], body["recovery_code"], client=client_address()
    )
    return jsonify({"recovery_code": code})


@bp.post("/account/totp")
@owner_api
@operation("/api/v1/account/totp", "post", "Start TOTP enrolment: a new secret to confirm",
           tags=TAG, responses={200: s.TotpEnrolmentSchema})
def start_totp():
    secret = totp.new_secret()
    username = services().instance.username(g.owner.vault_id) or ""
    return jsonify({"secret": secret, "otpauth_uri": totp.provisioning_uri(secret, username)})


@bp.post("/account/totp/confirm")
@owner_api
@operation("/api/v1/account/totp/confirm", "post", "Turn TOTP on with a code from the app",
           tags=TAG, request=s.TotpConfirmSchema, responses={204: None})
def confirm_totp():
    body = load_body(s.TotpConfirmSchema(), max_bytes=_body_limit())
    services().accounts.enable_totp(owner_vault(), body["secret"], body["code"])
    return Response(status=204)


@bp.post("/logout")
@owner_api
@operation("/api/v1/logout", "post", "End this session (or revoke the token used)", tags=TAG,
           responses={204: None})
def logout():
    owner = g.owner
    if owner.via == "session" and owner.sid:
        sessions.end(services().redis, owner.sid, owner.vault_id)
    return Response(status=204)


# -- records --------------------------------------------------------------------------------


@bp.get("/record-types")
@operation("/api/v1/record-types", "get", "The record type catalogue with nl/en labels",
           tags=TAG, responses={200: s.RecordTypeListSchema}, security=[])
def record_types():
    out = []
    for record_type in RECORD_TYPES.values():
        described = record_type.describe()
        described["json_schema"] = to_json_schema(record_type.schema)
        out.append(described)
    return jsonify({"record_types": out})


@bp.get("/records")
@owner_api
@operation("/api/v1/records", "get", "List records (current versions)", tags=TAG,
           responses={200: s.RecordListSchema},
           parameters=[{"name": "type", "in": "query", "required": False,
                        "schema": {"type": "string"}}])
def list_records():
    types = request.args.getlist("type") or None
    items = records.list_records(owner_vault(), types)
    return jsonify({"records": [_record_json(r) for r in items]})


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
    resp = jsonify(_record_json(record))
    resp.status_code = 201
    resp.headers["Location"] = url_for(".get_record", record_id=record.id)
    return resp


@bp.get("/records/<record_id>")
@owner_api
@operation(f"/api/v1/records/{RECORD_ID}", "get", "One record", tags=TAG,
           responses={200: s.RecordSchema})
def get_record(record_id: str):
    return jsonify(_record_json(records.get_record(owner_vault(), record_id)))


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
    return jsonify(_record_json(record))


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
           tags=TAG, responses={200: s.RecordVersionListSchema})
def record_versions(record_id: str):
    items = records.versions(owner_vault(), record_id)
    return jsonify({"versions": [
        s.RecordVersionSchema().dump({
            "version": v.version, "data": v.data, "digest": v.digest,
            "provenance": v.provenance.to_dict(), "created_at": v.created_at,
        }) for v in items
    ]})


# -- documents ------------------------------------------------------------------------------


@bp.post("/documents")
@owner_api
@operation("/api/v1/documents", "post",
           "Upload a document (multipart field `file`; optional `category`, `description`)",
           tags=TAG, request_content="multipart/form-data",
           request={"type": "object", "properties": {
               "file": {"type": "string", "format": "binary"},
               "category": {"type": "string"}, "description": {"type": "string"}},
               "required": ["file"]},
           responses={201: s.RecordSchema})
def upload_document():
    upload = read_upload()
    record = records.add_document(
        owner_vault(), upload.content, name=upload.name, media_type=upload.media_type,
        category=request.form.get("category") or None,
        description=request.form.get("description") or None,
    )
    resp = jsonify(_record_json(record))
    resp.status_code = 201
    return resp


@dataclass(frozen=True)
class Upload:
    name: str
    media_type: str
    content: bytes


def read_upload(field: str = "file") -> Upload:
    """The uploaded file of a multipart request, bounded by KLUIS_MAX_UPLOAD_BYTES."""
    limit = services().settings.max_upload_bytes
    if (request.content_length or 0) > limit + 64 * 1024:
        raise Problem(413, "too-large", "The file is too large", f"At most {limit} bytes.")
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        raise Problem(422, "validation", "No file was sent", errors={field: ["Required."]})
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise Problem(413, "too-large", "The file is too large", f"At most {limit} bytes.")
    media_type = (upload.mimetype or "application/octet-stream").lower()
    return Upload(safe_filename(upload.filename), media_type, content)


def safe_filename(name: str) -> str:
    """The last path component of a client-given file name, printable, at most 255 chars."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip() or "document"
    return "".join(ch for ch in name if ch.isprintable())[:255]


@bp.get("/records/<record_id>/content")
@owner_api
@operation(f"/api/v1/records/{RECORD_ID}/content", "get", "Download a document's file",
           tags=TAG, responses={200: "application/octet-stream"})
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


def attachment_header(name: str) -> str:
    from urllib.parse import quote

    ascii_name = name.encode("ascii", "replace").decode().replace('"', "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


# -- log ------------------------------------------------------------------------------------


@bp.get("/events")
@owner_api
@operation("/api/v1/events", "get", "The owner's event log, newest first", tags=TAG,
           responses={200: s.EventSchema(many=True)})
def events():
    vault = owner_vault()
    items = vault.events(limit=min(int(request.args.get("limit", 200) or 200), 1000))
    return jsonify({"events": [s.EventSchema().dump(e.__dict__) for e in items],
                    "log_intact": not vault.verify_log()})
