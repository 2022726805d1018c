"""Owner pages of records: the dashboard, records by category, add/edit/delete, documents."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from vault.records import duplicates
from vault.records import service as records
from vault.records.catalogue import CATEGORIES, RECORD_TYPES, get_type
from vault.records.service import InvalidRecord, RecordNotFound
from vault.ui import forms, start
from vault.ui.common import owner_page
from vault.ui.i18n import current_language, register, t
from vault.web.auth import owner_vault, services
from vault.web.files import attachment_header

bp = Blueprint("records_ui", __name__)

register({
    "document.description": {"nl": "Omschrijving", "en": "Description"},
})


DASHBOARD_PER_CATEGORY = 20
PAGE_SIZE = 50


@bp.get("/dashboard")
@owner_page
def dashboard():
    lang = current_language()
    vault = owner_vault()
    counts = records.count_by_type(vault)
    categories = []
    for key, label in CATEGORIES.items():
        types = [rt for rt in RECORD_TYPES.values() if rt.category == key]
        type_ids = [rt.id for rt in types]
        newest = records.list_records(vault, type_ids, limit=DASHBOARD_PER_CATEGORY,
                                      newest_first=True)
        categories.append({
            "id": key, "label": label[lang], "types": types,
            "records": [_summary(r, lang) for r in newest],
            "total": sum(counts.get(t, 0) for t in type_ids),
        })
    return render_template("dashboard.html", categories=categories,
                           checklist=start.checklist(vault, g.owner.vault_id))


@bp.get("/records")
@owner_page
def record_list():
    """All records of one category, newest first, a page at a time."""
    lang = current_language()
    category = request.args.get("category", "")
    if category not in CATEGORIES:
        abort(404)
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    type_ids = [rt.id for rt in RECORD_TYPES.values() if rt.category == category]
    vault = owner_vault()
    items = records.list_records(vault, type_ids, limit=PAGE_SIZE + 1,
                                 offset=(page - 1) * PAGE_SIZE, newest_first=True)
    return render_template(
        "record_list.html", category={"id": category, "label": CATEGORIES[category][lang]},
        records=[_summary(r, lang) for r in items[:PAGE_SIZE]], page=page,
        has_next=len(items) > PAGE_SIZE,
    )


def _summary(record, lang: str) -> dict[str, Any]:
    record_type = get_type(record.type)
    title = " ".join(
        forms.display_value(record_type, name, record.data.get(name), lang)
        for name in record_type.title_fields if record.data.get(name) not in (None, "")
    )
    return {
        "id": record.id,
        "type_label": record_type.label(lang),
        "title": title or record_type.label(lang),
        "source": _source_label(record.provenance.source),
        "fetched_at": record.provenance.fetched_at,
        "version": record.version,
    }


def _source_label(source: str) -> str:
    if source in ("manual", "upload", "finance"):
        return t(f"source.{source}")
    return source


@bp.route("/records/new/<type_id>", methods=["GET", "POST"])
@owner_page
def new_record(type_id: str):
    if type_id not in RECORD_TYPES or type_id == "document":
        abort(404)
    if type_id == "monthly-finances":  # derived from the transactions, not typed in
        return redirect(url_for("finance_ui.overview"))
    record_type = get_type(type_id)
    lang = current_language()
    if request.method == "GET":
        cited = {"document_sha256": request.args["document"]} if request.args.get(
            "document") else None
        return render_template("record_form.html", record_type=record_type,
                               fields=forms.build_form(record_type, cited, lang), record=None,
                               documents=_documents(owner_vault()))
    vault = owner_vault()
    try:
        data = forms.parse_form(record_type, request.form, lang)
        warning = _duplicate_warning(vault, record_type, data, None, lang)
        if warning is not None:
            return warning
        record = records.create_record(vault, type_id, data)
    except (forms.FormError, InvalidRecord) as exc:
        return _form_errors(record_type, None, exc, lang)
    flash(t("record.saved"), "info")
    return redirect(url_for("records_ui.record_detail", record_id=record.id))


def _form_errors(record_type, record, exc, lang: str):
    if isinstance(exc, InvalidRecord):
        errors = forms.schema_errors(record_type, exc.errors, lang, request.form.to_dict())
    else:
        errors = dict(exc.errors)
    fields = forms.build_form(record_type, None, lang, errors, raw=request.form.to_dict())
    return render_template("record_form.html", record_type=record_type, fields=fields,
                           record=record, error=t("record.invalid"),
                           documents=_documents(owner_vault())), 422


def _duplicate_warning(vault, record_type, data: dict, record, lang: str):
    """The form again with a warning when ``data`` looks like a record the vault has, unless
    the person confirmed that one (``confirm_duplicate``); None: go on and save."""
    same = duplicates.find(vault, record_type.id, data, exclude=record.id if record else None)
    if same is None or request.form.get("confirm_duplicate") == same.id:
        return None
    if record_type.id == "income":
        message = t("rform.duplicate.income", lang, year=same.data.get("year", ""),
                    source=same.data.get("source", ""))
    else:
        message = t("rform.duplicate", lang,
                    record=f"{record_type.label(lang)} {record_type.title(same.data, lang)}".strip())
    fields = forms.build_form(record_type, None, lang, raw=request.form.to_dict())
    return render_template("record_form.html", record_type=record_type, fields=fields,
                           record=record, duplicate={"id": same.id, "message": message},
                           documents=_documents(vault)), 409


def _documents(vault) -> list[tuple[str, str]]:
    """(sha256, file name) of the vault's documents, for "supporting document" choices."""
    return [(d.data["sha256"], d.data["name"])
            for d in records.list_records(vault, ["document"], newest_first=True)]


def _record_or_404(vault, record_id: str):
    try:
        return records.get_record(vault, record_id)
    except RecordNotFound:
        abort(404)


@bp.get("/records/<record_id>")
@owner_page
def record_detail(record_id: str):
    lang = current_language()
    vault = owner_vault()
    record = _record_or_404(vault, record_id)
    record_type = get_type(record.type)
    history = records.versions(vault, record_id)
    names = dict(_documents(vault))

    def rows_of(data: dict) -> list[tuple[str, str]]:
        return [(record_type.field_label(n, lang),
                 names.get(data[n], data[n]) if n == "document_sha256"
                 else forms.display_value(record_type, n, data[n], lang))
                for n in record_type.field_names() if data.get(n) not in (None, "")]

    rows = rows_of(record.data)
    versions = [
        {"version": v.version, "created_at": v.created_at,
         "source": _source_label(v.provenance.source), "evidence": v.provenance.evidence,
         "rows": rows_of(v.data)}
        for v in history
    ]
    citing = [rt for rt in RECORD_TYPES.values() if "document_sha256" in rt.fields()]
    return render_template("record_detail.html", record=record, record_type=record_type,
                           rows=rows, versions=versions, citing_types=citing,
                           source=_source_label(record.provenance.source))


@bp.route("/records/<record_id>/edit", methods=["GET", "POST"])
@owner_page
def edit_record(record_id: str):
    lang = current_language()
    vault = owner_vault()
    record = _record_or_404(vault, record_id)
    record_type = get_type(record.type)
    if request.method == "GET":
        return render_template("record_form.html", record_type=record_type, record=record,
                               fields=forms.build_form(record_type, record.data, lang),
                               documents=_documents(vault))
    try:
        data = forms.parse_form(record_type, request.form, lang)
        if record.type == "document":
            for fixed in ("sha256", "size", "media_type"):
                data[fixed] = record.data[fixed]
        warning = _duplicate_warning(vault, record_type, data, record, lang)
        if warning is not None:
            return warning
        _, changed = records.update_record(vault, record_id, data)
    except (forms.FormError, InvalidRecord) as exc:
        return _form_errors(record_type, record, exc, lang)
    flash(t("record.saved") if changed else t("record.unchanged"), "info")
    return redirect(url_for("records_ui.record_detail", record_id=record_id))


@bp.post("/records/<record_id>/delete")
@owner_page
def delete_record(record_id: str):
    try:
        records.delete_record(owner_vault(), record_id)
    except RecordNotFound:
        abort(404)
    flash(t("record.deleted"), "info")
    return redirect(url_for("records_ui.dashboard"))


@bp.route("/documents/upload", methods=["GET", "POST"])
@owner_page
def upload_document():
    from vault.records.schemas import DOCUMENT_CATEGORIES

    lang = current_language()
    categories = [(k, v[0] if lang == "nl" else v[1]) for k, v in DOCUMENT_CATEGORIES.items()]
    if request.method == "GET":
        return render_template("upload.html", categories=categories)
    limit = services().settings.max_upload_bytes
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("upload.html", categories=categories,
                               error=t("document.missing")), 422
    content = upload.read(limit + 1)
    if len(content) > limit:
        return render_template("upload.html", categories=categories,
                               error=t("document.too_large", mb=limit // (1024 * 1024))), 413
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1][:255] or "document"
    description = request.form.get("description") or ""
    limit = forms.max_length(get_type("document").fields()["description"]) or 0
    if len(description) > limit:  # too long is an error, never cut
        return render_template("upload.html", categories=categories, error=t(
            "rform.too_long", label=get_type("document").field_label("description", lang),
            max=limit, n=len(description))), 422
    try:
        record = records.add_document(
            owner_vault(), content, name=name,
            media_type=(upload.mimetype or "application/octet-stream").lower(),
            category=request.form.get("category") or None,
            description=request.form.get("description") or None,
        )
    except InvalidRecord:
        return render_template("upload.html", categories=categories,
                               error=t("record.invalid")), 422
    flash(t("record.saved"), "info")
    return redirect(url_for("records_ui.record_detail", record_id=record.id))


@bp.get("/records/<record_id>/download")
@owner_page
def download_document(record_id: str):
    vault = owner_vault()
    try:
        record = records.get_record(vault, record_id)
        if record.type != "document":
            abort(404)
        content, media_type = records.document_content(vault, record.data["sha256"])
    except RecordNotFound:
        abort(404)
    resp = Response(content, mimetype=media_type)
    resp.headers["Content-Disposition"] = attachment_header(record.data["name"])
    resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return resp
