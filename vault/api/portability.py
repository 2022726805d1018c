"""Owner API for portability: certified exports, verification, vault archives, erasure."""

from __future__ import annotations

from flask import Blueprint, Response, g, request, url_for
from marshmallow import Schema, fields, validate

from vault.accounts.errors import InvalidCredentials
from vault.api import schemas as s
from vault.api.spec import load_body, load_query, operation, respond
from vault.portability import archive, jobs, pdf, pending, service, verify
from vault.portability import bundle as bundles
from vault.web.auth import client_address, close_vault, owner_api, owner_vault, services
from vault.web.problems import Problem, validation_problem

bp = Blueprint("portability_api", __name__, url_prefix="/api/v1")
wellknown = Blueprint("portability_wellknown", __name__)

TAG = ["portability"]


class ExportRequestSchema(Schema):
    types = fields.Raw(required=True, metadata={
        "description": '"all" or a list of record type ids',
        "example": ["income", "person"]})
    # Checked by bundles.parse_request, so every fault is reported at once.
    format = fields.Raw(load_default="json", metadata={"enum": list(bundles.FORMATS)})
    language = fields.Raw(load_default="nl", metadata={"enum": ["nl", "en"]})


class VerifyRequestSchema(Schema):
    payload = fields.String(metadata={"description": "A bundle (JWS JSON serialization)"})
    signatures = fields.List(fields.Dict())
    kluis_digest = fields.String()


class VerificationSchema(Schema):
    valid = fields.Boolean()
    reason = fields.String(allow_none=True, metadata={"enum": [*verify.REASONS, None]})
    message = fields.String()
    issuer = fields.String(allow_none=True)
    signed_at = fields.String(allow_none=True)
    kid = fields.String(allow_none=True)
    digest = fields.String(allow_none=True)
    vault = fields.String(allow_none=True)
    records = fields.Integer()
    documents = fields.Integer()


class ArchiveRequestSchema(Schema):
    passphrase = fields.String(required=True, validate=validate.Length(
        min=archive.MIN_PASSPHRASE, max=archive.MAX_PASSPHRASE))


class JobSchema(Schema):
    id = fields.String()
    state = fields.String(metadata={"enum": ["running", "done", "failed"]})
    percent = fields.Integer()
    stage = fields.String()
    message = fields.String()
    status_url = fields.String()
    download_url = fields.String()


class BundleSchema(s.JwsSchema):
    """A certified export: a JWS (general JSON serialization) of the bundle payload."""

    kluis_digest = fields.String(required=True,
                                 metadata={"description": "sha256:<hex of the payload bytes>"})


class VerifyQuerySchema(s.Query):
    digest = fields.String(metadata={"description": "Digest from the PDF's QR code"})


class ImportFormSchema(Schema):
    """``multipart/form-data`` of ``POST /api/v1/vault/import``."""

    archive = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})
    passphrase = fields.String(required=True)
    username = fields.String(required=True)
    password = fields.String(required=True)
    invite = fields.String()


class ImportOutcomeSchema(Schema):
    vault_id = fields.String(required=True)
    username = fields.String(required=True)
    recovery_code = fields.String(required=True, metadata={"description": "Shown once."})
    records = fields.Integer(required=True)
    versions = fields.Integer(required=True)
    documents = fields.Integer(required=True)
    events = fields.Integer(required=True)
    grants = fields.Integer(required=True)
    grants_ended = fields.List(fields.Dict(keys=fields.String(), values=fields.String()),
                               required=True, metadata={
                                   "description": "Grants of the archive that ended on import."})
    not_carried = fields.List(fields.String(), required=True)
    source = fields.String(required=True)
    exported_at = fields.String(required=True)
    notice = fields.String(required=True)


class ErasureReportSchema(Schema):
    slots_destroyed = fields.Integer(required=True)
    files_removed = fields.List(fields.String(), required=True)
    rows_removed = fields.Integer(required=True, metadata={
        "description": "With the PostgreSQL backend: the vault's sealed rows and waiting "
                       "archives deleted (0 with files)"})
    inbox_items_dropped = fields.Integer(required=True)
    kept = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    kept_explained = fields.String(required=True)


class EraseRequestSchema(Schema):
    confirm = fields.String(required=True, metadata={"description": "The account's username"})
    password = fields.String(required=True)


def _jobs() -> jobs.Jobs:
    return services().exports


# -- certified export -------------------------------------------------------------------------


@bp.post("/exports")
@operation("/api/v1/exports", "post", "Certified export of chosen records (signed JSON or PDF)",
           tags=TAG, request=ExportRequestSchema,
           # The signed bytes are sent as they are (re-serialising would change what the
           # digest covers); the tests check them against BundleSchema.
           responses={200: {"application/json": BundleSchema, "application/pdf": None}})
@owner_api
def create_export():
    body = load_body(ExportRequestSchema(), max_bytes=64 * 1024)
    try:
        types, fmt, language = bundles.parse_request(body["types"], body["format"],
                                                     body["language"])
    except bundles.ExportError as exc:
        raise validation_problem(exc.errors) from None
    svc = services()
    try:
        bundle = bundles.export_bundle(svc.instance, owner_vault(), types=types,
                                       language=language)
    except bundles.ExportError as exc:
        raise Problem(413, "too-large", "The export is too large", exc.errors["types"][0]) \
            from None
    resp = bundle_response(bundle, fmt, language)
    resp.headers["X-Kluis-Digest"] = f"sha256:{bundle.digest}"
    return resp


def bundle_response(bundle: bundles.Bundle, fmt: str, language: str) -> Response:
    """A certified export as a download: the PDF (bundle embedded) or the JSON bundle."""
    stamp = bundle.payload["exported_at"][:10]
    if fmt == "pdf":
        data = pdf.render_pdf(bundle.payload, bundle.digest, language, bundle.to_json())
        resp = Response(data, mimetype="application/pdf")
    else:
        resp = Response(bundle.to_json(), mimetype="application/json")
    resp.headers["Content-Disposition"] = f'attachment; filename="kluis-export-{stamp}.{fmt}"'
    return resp


@bp.post("/verify")
@operation("/api/v1/verify", "post", "Verify a certified bundle against this instance's keys",
           tags=TAG, request=VerifyRequestSchema, responses={200: VerificationSchema},
           security=[], query=VerifyQuerySchema)
def verify_bundle():
    # The body is bounded by KLUIS_MAX_UPLOAD_BYTES on the bytes read (vault.web.limits).
    document = request.get_json(silent=True)
    if not isinstance(document, dict):
        raise Problem(400, "malformed-json", "Send the bundle as a JSON body")
    expected = load_query(VerifyQuerySchema()).get("digest")
    if "bundle" in document and isinstance(document["bundle"], dict):
        expected = expected or document.get("digest")
        document = document["bundle"]
    result = verify.verify_bundle(document, services().instance.public_jwks(),
                                  expected_digest=expected)
    return respond(VerificationSchema(), result)


@wellknown.get("/.well-known/jwks.json")
def jwks():
    """The instance's public signing keys (current and retired)."""
    resp = respond(s.JwksSchema(), {"keys": services().instance.public_jwks()})
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


# -- whole-vault archive ----------------------------------------------------------------------


def _job_json(job_id: str, job: dict) -> dict:
    out = {"id": job_id, "state": job["state"], "percent": job["percent"],
           "stage": job.get("stage", ""), "message": job.get("message", ""),
           "status_url": url_for("portability_api.archive_status", job_id=job_id)}
    if job["state"] == "done":
        out["download_url"] = url_for("portability_api.archive_file", job_id=job_id)
    return out


def start_archive_job(passphrase: str) -> str:
    """Start building the owner's archive in the background; returns the job id."""
    svc = services()
    owner = g.owner
    store = _jobs()
    job_id = store.create("archive", owner.vault_id)
    waiting = pending.store(svc.instance)

    def work(progress) -> None:
        blob = service.export_vault_archive(svc.accounts, owner.vault_id, owner.dek,
                                            passphrase, progress=progress)
        name = waiting.put(owner.vault_id, job_id, blob)
        store.finish(job_id, file=name, size=str(len(blob)))

    def describe(exc: BaseException) -> tuple[str, str]:
        if isinstance(exc, archive.ArchiveError):
            return exc.code, str(exc)
        return "failed", "The archive could not be made; please try again."

    jobs.run(store, job_id, work, describe=describe)
    return job_id


@bp.post("/vault/archive")
@operation("/api/v1/vault/archive", "post",
           "Start an encrypted archive of the whole vault (poll the job, then download)",
           tags=TAG, request=ArchiveRequestSchema, responses={202: JobSchema})
@owner_api
def start_archive():
    body = load_body(ArchiveRequestSchema(), max_bytes=16 * 1024)
    job_id = start_archive_job(body["passphrase"])
    job = _jobs().get(job_id)
    resp = respond(JobSchema(), _job_json(job_id, job), 202)
    resp.headers["Location"] = url_for("portability_api.archive_status", job_id=job_id)
    return resp


def owned_job(job_id: str) -> dict:
    job = _jobs().get(job_id, owner=g.owner.vault_id)
    if job is None:
        raise Problem(404, "not-found", "No such job (it may have expired)")
    return job


@bp.get("/vault/archive/<job_id>")
@operation("/api/v1/vault/archive/{job_id}", "get", "Progress of an archive job", tags=TAG,
           responses={200: JobSchema})
@owner_api
def archive_status(job_id: str):
    return respond(JobSchema(), _job_json(job_id, owned_job(job_id)))


def archive_response(job_id: str, job: dict) -> Response:
    if job["state"] != "done":
        raise Problem(409, "not-ready", "The archive is not ready yet")
    data = pending.store(services().instance).take(job["file"])
    _jobs().forget(job_id)
    if data is None:
        raise Problem(410, "gone", "The archive was downloaded already or has expired")
    resp = Response(data, mimetype=archive.MEDIA_TYPE)
    stamp = job.get("started", "")[:10].replace(".", "")
    resp.headers["Content-Disposition"] = (
        f'attachment; filename="kluis-vault-{stamp or "archive"}{archive.EXTENSION}"')
    return resp


@bp.get("/vault/archive/<job_id>/file")
@operation("/api/v1/vault/archive/{job_id}/file", "get",
           "Download a finished archive (once; it is deleted from the server after)", tags=TAG,
           responses={200: archive.MEDIA_TYPE})
@owner_api
def archive_file(job_id: str):
    return archive_response(job_id, owned_job(job_id))


@bp.post("/vault/import")
@operation("/api/v1/vault/import", "post",
           "Recreate an archived vault here under a new account", tags=TAG,
           request_content="multipart/form-data", request=ImportFormSchema,
           responses={201: ImportOutcomeSchema}, security=[])
def import_vault():
    upload = request.files.get("archive")
    form = request.form
    errors = {}
    if upload is None:
        errors["archive"] = ["Attach the archive file as 'archive'."]
    for name in ("passphrase", "username", "password"):
        if not form.get(name):
            errors[name] = ["Missing data for required field."]
    if errors:
        raise validation_problem(errors)
    blob = upload.read()
    try:
        outcome = service.import_vault_archive(
            services().accounts, blob, form["passphrase"], username=form["username"],
            password=form["password"], invite=form.get("invite") or None,
        )
    except archive.WrongPassphrase as exc:
        raise Problem(422, exc.code, "The passphrase does not open this archive",
                      str(exc)) from None
    except archive.ArchiveError as exc:
        raise Problem(422, exc.code, "This archive cannot be imported", str(exc)) from None
    return respond(ImportOutcomeSchema(), outcome.to_dict(), 201)


# -- erasure ----------------------------------------------------------------------------------


def check_erasure(username_typed: str, password: str) -> None:
    svc = services()
    vault_id = g.owner.vault_id
    username = svc.instance.username(vault_id) or ""
    if (username_typed or "").strip().lower() != username:
        raise Problem(422, "confirmation", "Type your username to confirm",
                      errors={"confirm": ["This is not your username."]})
    try:
        unlocked = svc.accounts.unlock_password(username, password, client=client_address())
    except InvalidCredentials:
        raise Problem(403, "wrong-password", "The password is wrong") from None
    if unlocked.vault_id != vault_id:
        raise Problem(403, "wrong-password", "The password is wrong")


@bp.delete("/vault")
@operation("/api/v1/vault", "delete",
           "Erase the vault: key slots first, then the files; only an anonymous count remains",
           tags=TAG, request=EraseRequestSchema, responses={200: ErasureReportSchema})
@owner_api
def erase_vault():
    body = load_body(EraseRequestSchema(), max_bytes=16 * 1024)
    check_erasure(body["confirm"], body["password"])
    close_vault()
    report = service.erase_owner_vault(services().accounts, g.owner.vault_id)
    return respond(ErasureReportSchema(), report.to_dict())
