"""Owner pages: sign up, log in (with TOTP step), records, documents, tokens, security, log."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import Any

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from vault.accounts import sessions, totp
from vault.accounts.errors import (
    AccountError,
    InvalidCredentials,
    RateLimited,
    TotpInvalid,
    TotpReplayed,
    TotpRequired,
)
from vault.accounts.service import Unlocked
from vault.accounts.web import (
    authenticate_owner,
    client_address,
    csrf_ok,
    csrf_token,
    end_session,
    owner_vault,
    services,
    start_session,
)
from vault.records import service as records
from vault.records.catalogue import CATEGORIES, RECORD_TYPES, get_type
from vault.records.service import InvalidRecord, RecordNotFound
from vault.ui import forms
from vault.ui.i18n import LANGUAGES, current_language, t

bp = Blueprint("ui", __name__)

UNPROTECTED_PREFIXES = ("/api/", "/oauth/", "/.well-known/", "/static/")


@bp.app_context_processor
def template_globals() -> dict[str, Any]:
    owner = authenticate_owner()
    return {
        "t": t,
        "lang": current_language(),
        "other_lang": "en" if current_language() == "nl" else "nl",
        "csrf_token": csrf_token,
        "owner": owner,
        "username": services().instance.username(owner.vault_id) if owner else None,
        "nav_links": _nav_links() if owner else [],
    }


@bp.app_template_filter("type_label")
def type_label_filter(type_id: str) -> str:
    """A record type id as the owner reads it ("income" -> "Inkomen")."""
    record_type = RECORD_TYPES.get(type_id)
    return record_type.label(current_language()) if record_type else type_id


@bp.app_template_filter("field_labels")
def field_labels_filter(names, type_id: str) -> str:
    """Field names of a type as labels, comma-separated ("Jaar, Bruto bedrag")."""
    record_type = RECORD_TYPES.get(type_id)
    if record_type is None:
        return ", ".join(names)
    known = record_type.fields()
    lang = current_language()
    return ", ".join(record_type.field_label(n, lang) if n in known else n for n in names)


#: Feature blueprints add ``(endpoint, message key)`` pairs to show in the navigation.
NAV_LINKS: list[tuple[str, str]] = [
    ("ui.dashboard", "nav.dashboard"),
    ("ui.log", "nav.log"),
    ("ui.tokens", "nav.tokens"),
    ("ui.security", "nav.security"),
]


def _nav_links() -> list[tuple[str, str]]:
    return [(url_for(endpoint), t(key)) for endpoint, key in NAV_LINKS]


@bp.before_app_request
def check_csrf() -> Response | None:
    """Every form POST outside the JSON APIs carries the session's CSRF token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if request.path.startswith(UNPROTECTED_PREFIXES):
        return None
    if not csrf_ok(request.form.get("csrf_token")):
        flash(t("csrf.failed"), "error")
        return redirect(request.referrer if _same_origin(request.referrer) else url_for("ui.index"))
    return None


def _same_origin(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)


def safe_next(target: str | None) -> str | None:
    """A local path to return to after login, or None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def owner_page(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if authenticate_owner() is None:
            partial = authenticate_owner(allow_partial=True)
            back = request.full_path.rstrip("?") if request.method == "GET" else None
            if partial is not None and partial.stage == "totp":
                return redirect(url_for("ui.login_totp", next=back))
            return redirect(url_for("ui.login", next=back))
        if g.owner.via != "session":
            abort(403)
        return view(*args, **kwargs)

    return wrapper


# -- language -------------------------------------------------------------------------------


@bp.post("/lang")
def set_language():
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
    target = request.form.get("next", "")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("ui.index")
    return redirect(target)


# -- sign-up, login, logout -----------------------------------------------------------------


@bp.get("/")
def index():
    if authenticate_owner() is not None:
        return redirect(url_for("ui.dashboard"))
    return redirect(url_for("ui.login"))


@bp.route("/signup", methods=["GET", "POST"])
def signup():
    mode = services().settings.registration
    if request.method == "GET":
        return render_template("signup.html", mode=mode, form={})
    form = request.form
    if form.get("password", "") != form.get("password_repeat", ""):
        return render_template("signup.html", mode=mode, form=form,
                               error=t("signup.mismatch")), 422
    accounts = services().accounts
    try:
        vault_id, code = accounts.register(form.get("username", ""), form.get("password", ""),
                                           invite=form.get("invite") or None)
        unlocked = accounts.login(form.get("username", ""), form.get("password", ""),
                                  client=client_address())
    except AccountError as exc:
        return render_template("signup.html", mode=mode, form=form, error=str(exc)), exc.status
    start_session(vault_id, unlocked.dek, stage="full")
    # The recovery code is rendered, never put in a URL or a flash cookie.
    return render_template("recovery_code.html", code=code, title=t("signup.done_title"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next_url=next_url)
    accounts = services().accounts
    username = request.form.get("username", "")
    try:
        unlocked = accounts.unlock_password(username, request.form.get("password", ""),
                                            client=client_address())
    except RateLimited as exc:
        return render_template("login.html", username=username, next_url=next_url,
                               error=t("login.rate_limited", seconds=exc.retry_after)), 429
    except InvalidCredentials:
        return render_template("login.html", username=username, next_url=next_url,
                               error=t("login.failed")), 401
    if unlocked.totp_enabled:
        start_session(unlocked.vault_id, unlocked.dek, stage="totp")
        return redirect(url_for("ui.login_totp", next=next_url))
    _log_sign_in(unlocked, "password")
    start_session(unlocked.vault_id, unlocked.dek, stage="full")
    return redirect(next_url or url_for("ui.dashboard"))


def _log_sign_in(unlocked: Unlocked, method: str) -> None:
    with services().accounts.open(unlocked.vault_id, unlocked.dek) as vault, \
            vault.transaction() as tx:
        vault.append_event(tx, actor="owner", action="owner.signed-in",
                           detail={"method": method, "via": "web"})


@bp.route("/login/totp", methods=["GET", "POST"])
def login_totp():
    owner = authenticate_owner(allow_partial=True)
    next_url = safe_next(request.values.get("next"))
    if owner is None:
        return redirect(url_for("ui.login", next=next_url))
    if owner.stage == "full":
        return redirect(next_url or url_for("ui.dashboard"))
    if request.method == "GET":
        return render_template("login_totp.html", next_url=next_url)
    unlocked = Unlocked(owner.vault_id, owner.dek, True)
    try:
        services().accounts.verify_totp(unlocked, request.form.get("code", ""),
                                        client=client_address())
    except RateLimited as exc:
        return render_template("login_totp.html", next_url=next_url,
                               error=t("login.rate_limited", seconds=exc.retry_after)), 429
    except (TotpInvalid, TotpReplayed):
        return render_template("login_totp.html", next_url=next_url,
                               error=t("login.totp_failed")), 401
    _log_sign_in(unlocked, "password+totp")
    # A fresh session id once fully signed in.
    start_session(owner.vault_id, owner.dek, stage="full")
    return redirect(next_url or url_for("ui.dashboard"))


@bp.post("/logout")
def logout():
    end_session()
    flash(t("logout.done"), "info")
    return redirect(url_for("ui.login"))


# -- recovery -------------------------------------------------------------------------------


@bp.route("/recover", methods=["GET", "POST"])
def recover():
    if request.method == "GET":
        return render_template("recover.html")
    f = request.form
    try:
        code = services().accounts.reset_password(
            f.get("username", ""), f.get("recovery_code", ""), f.get("new_password", ""),
            f.get("totp") or None, client=client_address(),
        )
    except TotpRequired as exc:
        return render_template("recover.html", error=str(exc), need_totp=True,
                               username=f.get("username", "")), 401
    except AccountError as exc:
        message = t("recover.failed") if exc.status == 401 else str(exc)
        return render_template("recover.html", error=message,
                               username=f.get("username", "")), exc.status
    end_session()
    return render_template("recovery_code.html", code=code, title=t("recover.title"),
                           intro=t("recover.done"), next_url=url_for("ui.login"))


@bp.route("/recover/totp", methods=["GET", "POST"])
def recover_totp():
    if request.method == "GET":
        return render_template("recover_totp.html")
    f = request.form
    try:
        code = services().accounts.reset_totp(
            f.get("username", ""), f.get("password", ""), f.get("recovery_code", ""),
            client=client_address(),
        )
    except AccountError as exc:
        message = t("recover.failed") if exc.status == 401 else str(exc)
        return render_template("recover_totp.html", error=message,
                               username=f.get("username", "")), exc.status
    end_session()
    return render_template("recovery_code.html", code=code, title=t("recover.totp_title"),
                           intro=t("recover.done"), next_url=url_for("ui.login"))


# -- dashboard and records ------------------------------------------------------------------


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
    return render_template("dashboard.html", categories=categories)


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
    if source in ("manual", "upload"):
        return t(f"source.{source}")
    return source


@bp.route("/records/new/<type_id>", methods=["GET", "POST"])
@owner_page
def new_record(type_id: str):
    if type_id not in RECORD_TYPES or type_id == "document":
        abort(404)
    record_type = get_type(type_id)
    lang = current_language()
    if request.method == "GET":
        cited = {"document_sha256": request.args["document"]} if request.args.get(
            "document") else None
        return render_template("record_form.html", record_type=record_type,
                               fields=forms.build_form(record_type, cited, lang), record=None,
                               documents=_documents(owner_vault()))
    try:
        data = forms.parse_form(record_type, request.form)
        record = records.create_record(owner_vault(), type_id, data)
    except (forms.FormError, InvalidRecord) as exc:
        return _form_errors(record_type, None, exc, lang)
    flash(t("record.saved"), "info")
    return redirect(url_for("ui.record_detail", record_id=record.id))


def _form_errors(record_type, record, exc, lang: str):
    if isinstance(exc, InvalidRecord):
        errors = {path.split(".")[1] if path.startswith("data.") else path: " ".join(msgs)
                  for path, msgs in exc.errors.items()}
    else:
        errors = {name: t("record.invalid") for name in exc.errors}
    fields = forms.build_form(record_type, None, lang, errors, raw=request.form.to_dict())
    return render_template("record_form.html", record_type=record_type, fields=fields,
                           record=record, error=t("record.invalid"),
                           documents=_documents(owner_vault())), 422


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
        data = forms.parse_form(record_type, request.form)
        if record.type == "document":
            for fixed in ("sha256", "size", "media_type"):
                data[fixed] = record.data[fixed]
        _, changed = records.update_record(vault, record_id, data)
    except (forms.FormError, InvalidRecord) as exc:
        return _form_errors(record_type, record, exc, lang)
    flash(t("record.saved") if changed else t("record.unchanged"), "info")
    return redirect(url_for("ui.record_detail", record_id=record_id))


@bp.post("/records/<record_id>/delete")
@owner_page
def delete_record(record_id: str):
    try:
        records.delete_record(owner_vault(), record_id)
    except RecordNotFound:
        abort(404)
    flash(t("record.deleted"), "info")
    return redirect(url_for("ui.dashboard"))


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
    return redirect(url_for("ui.record_detail", record_id=record.id))


@bp.get("/records/<record_id>/download")
@owner_page
def download_document(record_id: str):
    from vault.api.owner import attachment_header

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


# -- tokens, security, log ------------------------------------------------------------------


@bp.route("/tokens", methods=["GET", "POST"])
@owner_page
def tokens():
    accounts = services().accounts
    new_token = None
    if request.method == "POST":
        _, new_token = accounts.create_app_token(g.owner.vault_id, g.owner.dek,
                                                 request.form.get("name", ""))
    return render_template("tokens.html", tokens=accounts.app_tokens(g.owner.vault_id),
                           new_token=new_token)


@bp.post("/tokens/<token_id>/revoke")
@owner_page
def revoke_token(token_id: str):
    services().accounts.revoke_app_token(g.owner.vault_id, g.owner.dek, token_id)
    return redirect(url_for("ui.tokens"))


@bp.get("/security")
@owner_page
def security():
    enabled = owner_vault().get_meta("totp_secret") is not None
    return render_template("security.html", totp_enabled=enabled)


@bp.route("/security/totp", methods=["GET", "POST"])
@owner_page
def enrol_totp():
    username = services().instance.username(g.owner.vault_id) or ""
    if request.method == "GET":
        secret = totp.new_secret()
        session["totp_pending"] = secret
        return render_template("totp_enrol.html", secret=secret,
                               qr=_qr_svg(totp.provisioning_uri(secret, username)))
    secret = session.get("totp_pending")
    if not secret:
        return redirect(url_for("ui.enrol_totp"))
    try:
        services().accounts.enable_totp(owner_vault(), secret, request.form.get("code", ""))
    except (TotpInvalid, TotpReplayed):
        return render_template("totp_enrol.html", secret=secret, error=t("login.totp_failed"),
                               qr=_qr_svg(totp.provisioning_uri(secret, username))), 422
    session.pop("totp_pending", None)
    sessions.end_all(services().redis, g.owner.vault_id, keep=g.owner.sid)
    flash(t("security.totp_enabled"), "info")
    return redirect(url_for("ui.security"))


def _qr_svg(data: str) -> str:
    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind="svg", scale=5, border=2)
    return "data:image/svg+xml;base64," + __import__("base64").b64encode(buffer.getvalue()).decode()


@bp.post("/security/password")
@owner_page
def change_password():
    try:
        services().accounts.change_password(
            g.owner.vault_id, g.owner.dek, request.form.get("old_password", ""),
            request.form.get("new_password", ""), keep_session=g.owner.sid,
        )
    except AccountError as exc:
        message = t("login.failed") if exc.status == 401 else str(exc)
        enabled = owner_vault().get_meta("totp_secret") is not None
        return render_template("security.html", totp_enabled=enabled, error=message), exc.status
    flash(t("security.password_changed"), "info")
    return redirect(url_for("ui.security"))


@bp.get("/log")
@owner_page
def log():
    vault = owner_vault()
    return render_template("log.html", events=vault.events(limit=500),
                           problems=vault.verify_log())
