"""``create_portal_app``: the organisation portal's Flask app (its own factory, settings,
database and key; nothing of a vault's storage)."""

from __future__ import annotations

import base64
import hmac
import io
import json
import logging
import secrets
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import segno
from flask import (
    Flask,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
    session,
    url_for,
)
from http_message_signatures import InvalidSignature
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from vault.grants.models import PURPOSES
from vault.portal import dossiers, letter, lockout, staff, templates_repo
from vault.portal.client import CALLBACK_PATH, WEBHOOK_PATH, InstanceError, PortalClient
from vault.portal.config import PortalSettings, load_portal_settings
from vault.portal.i18n import TEXT, translate
from vault.portal.store import Store
from vault.records.catalogue import RECORD_TYPES
from vault.records.display import field_label, format_day, format_value
from vault.web.headers import CSP

INSTANCE_COOKIE = "kluis_instance"
NLDS_DIR = str(Path(__file__).resolve().parents[1] / "ui" / "static" / "nlds")
log = logging.getLogger("kluis.portal")


class Portal:
    """The portal's long-lived objects (its composition root)."""

    def __init__(self, settings: PortalSettings) -> None:
        self.settings = settings
        self.store = Store(settings)
        self.client = PortalClient(settings, self.store)

    def close(self) -> None:
        self.store.close()


def portal() -> Portal:
    from flask import current_app

    return current_app.extensions["kluis_portal"]  # type: ignore[no-any-return]


def create_portal_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the portal. ``test_config`` may hold ``settings`` (a dict of overrides or a
    :class:`PortalSettings`) and Flask config keys."""
    test_config = dict(test_config or {})
    given = test_config.pop("settings", None)
    settings = given if isinstance(given, PortalSettings) else load_portal_settings(
        **(given or {}))
    app = Flask(__name__, template_folder="templates", static_folder="static")
    logging.basicConfig(level=settings.log_level)
    the_portal = Portal(settings)
    templates_repo.seed_examples(the_portal.store)
    app.extensions["kluis_portal"] = the_portal
    app.config.update(
        SECRET_KEY=the_portal.store.subkey("session-cookie"),
        SESSION_COOKIE_NAME="kluis_portal_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_max_hours),
        MAX_CONTENT_LENGTH=256 * 1024,
    )
    app.config.update(test_config)
    app.jinja_env.globals.update(t=t, lang=current_lang, csrf_token=csrf_token,
                                 day=lambda iso: format_day(iso, current_lang()) if iso else "",
                                 purpose_label=purpose_label, record_label=record_label,
                                 source_label=source_label,
                                 config_name=settings.name)
    _routes(app)
    _errors(app)

    @app.after_request
    def headers(response: Response) -> Response:
        present = {k.lower() for k in response.headers.keys()}
        for key, value in (
                ("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"),
                ("X-Frame-Options", "DENY"), ("Referrer-Policy", "no-referrer"),
                ("Cross-Origin-Opener-Policy", "same-origin"), ("Cache-Control", "no-store")):
            if key.lower() not in present:
                response.headers[key] = value
        if settings.https:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    if settings.trusted_proxies:
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops,  # type: ignore[method-assign]
                                x_host=hops)
    return app


# -- language, CSRF, auth -------------------------------------------------------------------------


def current_lang() -> str:
    chosen = request.cookies.get("lang")
    if chosen in ("nl", "en"):
        return chosen
    best = request.accept_languages.best_match(["nl", "en"])
    return best or "nl"


def t(key: str, **values: Any) -> str:
    entry = TEXT.get(key)
    if entry is None:
        return key
    text = entry.get(current_lang()) or entry["nl"]
    return text.format(**values) if values else text


def say(exc: Exception) -> str:
    """A message raised by the portal's modules, in the reader's language."""
    return translate(str(exc), current_lang())


def source_label(source: str) -> str:
    """A record's source as the caseworker reads it: the applicant's own entries in words."""
    key = f"source_{source}"
    return t(key) if key in TEXT else source


def purpose_label(code: str) -> str:
    return PURPOSES.get(code, {}).get(current_lang(), code)


def record_label(type_id: str) -> str:
    found = RECORD_TYPES.get(type_id)
    return found.label(current_lang()) if found else type_id


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return str(session["csrf"])


def _check_csrf() -> None:
    sent = request.form.get("csrf", "")
    if not sent or not hmac.compare_digest(sent, str(session.get("csrf", ""))):
        raise PageError(400, t("csrf"))


class PageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def signed_in_staff() -> staff.Staff | None:
    staff_id = session.get("staff")
    if not staff_id:
        return None
    try:
        member = staff.get(portal().store, str(staff_id))
    except staff.StaffError:
        session.clear()
        return None
    if member.session_version != session.get("sv") or member.must_enrol:
        session.clear()
        return None
    return member


def login_required(role: str | None = None):
    def decorate(view):
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any):
            member = signed_in_staff()
            if member is None:
                return redirect(url_for("login", next=request.path))
            if role == "admin" and not member.is_admin:
                raise PageError(403, t("admins_only"))
            g.staff = member
            return view(*args, **kwargs)
        return wrapped
    return decorate


def problem(status: int, code: str, title: str, detail: str | None = None) -> Response:
    body = {"type": f"urn:kluis:problem:{code}", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def short_link(dossier: dict[str, Any]) -> str:
    return f"{portal().settings.public_url}/a/{dossier['code']}"


def _errors(app: Flask) -> None:
    @app.errorhandler(PageError)
    def page_error(exc: PageError):
        return render_template("error.html", message=exc.message), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path in ("/healthz", "/readyz", WEBHOOK_PATH) or \
                request.accept_mimetypes.best == "application/json":
            return problem(exc.code or 500, (exc.name or "error").lower().replace(" ", "-"),
                           exc.name or "Error", exc.description)
        # werkzeug's names ("Method Not Allowed") are English: the page says it in words.
        key = f"http_{exc.code}"
        message = t(key) if key in TEXT else t("http_other")
        return render_template("error.html", message=message), exc.code or 500

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.error("unhandled %s in %s %s", type(exc).__name__, request.method, request.url_rule)
        if request.path in ("/healthz", "/readyz", WEBHOOK_PATH):
            return problem(500, "internal", "Something went wrong on our side")
        try:
            return render_template("error.html", message=t("http_500")), 500
        except Exception:  # noqa: BLE001 - the page itself failed: plain text, one language
            return Response(t("http_500"), status=500, mimetype="text/plain")


# -- views ----------------------------------------------------------------------------------------


def _routes(app: Flask) -> None:  # noqa: C901 - one list of thin views
    @app.before_request
    def csrf() -> None:
        if request.method == "POST" and request.path != WEBHOOK_PATH:
            _check_csrf()

    @app.get("/healthz")
    def healthz():
        return Response(json.dumps({"status": "ok"}), mimetype="application/json")

    @app.get("/readyz")
    def readyz():
        try:
            portal().store.conn.execute("SELECT 1").fetchone()
        except Exception as exc:  # noqa: BLE001 - report, never raise
            return problem(503, "not-ready", "The portal database does not answer",
                           type(exc).__name__)
        return Response(json.dumps({"status": "ok", "checks": {"portal_db": "ok"}}),
                        mimetype="application/json")

    @app.get("/nlds/<path:filename>")
    def nlds(filename: str):
        """The NL Design System's CSS, vendored once for both apps (vault/ui/static/nlds)."""
        return send_from_directory(NLDS_DIR, filename, max_age=3600)

    @app.get("/lang/<code>")
    def set_lang(code: str):
        resp = redirect(_safe_next(request.args.get("next")))
        if code in ("nl", "en"):
            resp.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax",
                            secure=portal().settings.https, httponly=True)
        return resp

    # -- staff sign-in --

    def _locked_out(username: str) -> str | None:
        """The message when ``username`` from this address may not try now."""
        wait = lockout.remaining(portal().store, username, request.remote_addr or "")
        return t("locked_out", minutes=max(1, -(-wait // 60))) if wait else None

    def _qr_data(uri: str) -> str:
        qr = segno.make(uri, error="m")
        buf = io.BytesIO()
        qr.save(buf, kind="svg", scale=4, border=2)
        return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()

    def _sign_in(member: staff.Staff) -> None:
        session.clear()
        session.permanent = True
        session["staff"] = member.id
        session["sv"] = member.session_version

    @app.route("/login", methods=["GET", "POST"])
    def login():
        error = None
        status = 200
        if request.method == "POST":
            store = portal().store
            username = request.form.get("username", "")
            error = _locked_out(username)
            if error:
                status = 429
            else:
                try:
                    member = staff.check_password_login(store, username,
                                                        request.form.get("password", ""))
                except staff.StaffError as exc:
                    lockout.record_failure(store, username, request.remote_addr or "")
                    error, status = say(exc), 401
                else:
                    session.clear()
                    session["pending"] = member.id
                    session["pending_user"] = member.username
                    target = "login_enrol" if member.must_enrol else "login_totp"
                    return redirect(url_for(target, next=request.args.get("next")))
        return render_template("login.html", error=error), status

    @app.route("/login/totp", methods=["GET", "POST"])
    def login_totp():
        pending = session.get("pending")
        if not pending:
            return redirect(url_for("login"))
        error = None
        status = 200
        if request.method == "POST":
            store = portal().store
            username = str(session.get("pending_user", ""))
            error = _locked_out(username)
            if error:
                status = 429
            else:
                try:
                    member = staff.check_totp(store, str(pending), request.form.get("code", ""))
                except staff.StaffError as exc:
                    lockout.record_failure(store, username, request.remote_addr or "")
                    error, status = say(exc), 401
                else:
                    lockout.clear_account(store, member.username)
                    _sign_in(member)
                    return redirect(_safe_next(request.args.get("next")))
        return render_template("totp.html", error=error), status

    @app.route("/login/enrol", methods=["GET", "POST"])
    def login_enrol():
        """After an administrator reset the authenticator: the password was just checked;
        a new authenticator is set up before anything opens."""
        store = portal().store
        pending = session.get("pending")
        if not pending:
            return redirect(url_for("login"))
        secret = session.get("enrol_secret") or staff.new_totp_secret()
        session["enrol_secret"] = secret
        error = None
        if request.method == "POST":
            try:
                member = staff.enrol_totp(store, str(pending), secret,
                                          request.form.get("code", ""))
            except staff.StaffError as exc:
                error = say(exc)
            else:
                lockout.clear_account(store, member.username)
                _sign_in(member)
                staff.audit(store, member, "staff.totp-enrolled")
                return redirect(_safe_next(request.args.get("next")))
        uri = staff.totp_uri(secret, str(session.get("pending_user") or "medewerker"),
                             portal().settings.name)
        return render_template("enrol.html", secret=secret, qr=_qr_data(uri),
                               error=error), 200 if error is None else 422

    @app.post("/logout")
    def logout():
        session.clear()
        return redirect(url_for("login"))

    @app.route("/invite/<code>", methods=["GET", "POST"])
    def accept_invite(code: str):
        store = portal().store
        try:
            role = staff.invite_role(store, code)
        except staff.StaffError as exc:
            raise PageError(404, say(exc)) from None
        secret = session.get("enrol_secret") or staff.new_totp_secret()
        session["enrol_secret"] = secret
        error = None
        if request.method == "POST":
            try:
                member = staff.accept_invite(store, code, request.form.get("username", ""),
                                             request.form.get("display_name", ""),
                                             request.form.get("password", ""), secret,
                                             request.form.get("code", ""))
            except staff.StaffError as exc:
                error = say(exc)
            else:
                _sign_in(member)
                staff.audit(store, member, "staff.joined", detail=member.role)
                return redirect(url_for("home"))
        uri = staff.totp_uri(secret, request.form.get("username") or "medewerker",
                             portal().settings.name)
        return render_template("invite.html", role=role, secret=secret, qr=_qr_data(uri),
                               error=error), 200 if error is None else 422

    # -- caseworkers --

    @app.get("/")
    @login_required()
    def home():
        return render_template("home.html", dossiers=dossiers.list_all(portal().store))

    @app.route("/requests/new", methods=["GET", "POST"])
    @login_required()
    def new_request():
        store = portal().store
        error = None
        if request.method == "POST":
            try:
                made = dossiers.create(store, request.form.get("template", ""),
                                       applicant_name=request.form.get("applicant_name", ""),
                                       reference=request.form.get("reference", ""),
                                       email=request.form.get("email", ""),
                                       created_by=g.staff.id)
            except dossiers.DossierError as exc:
                error = say(exc)
            else:
                staff.audit(store, g.staff, "request.created", dossier_id=made["id"],
                            reference=made["reference"])
                return redirect(url_for("dossier", dossier_id=made["id"]))
        return render_template("new_request.html", error=error,
                               templates=templates_repo.list_all(store, active_only=True)), \
            200 if error is None else 422

    def _dossier_or_404(dossier_id: str) -> dict[str, Any]:
        try:
            return dossiers.get(portal().store, dossier_id)
        except dossiers.DossierError:
            abort(404)

    @app.get("/dossiers/<dossier_id>")
    @login_required()
    def dossier(dossier_id: str):
        the = portal()
        found = _dossier_or_404(dossier_id)
        if found["status"] in ("waiting", "approved") and not found["deleted_at"]:
            dossiers.refresh_status(the.store, the.client, dossier_id)
            found = dossiers.get(the.store, dossier_id)
        staff.audit(the.store, g.staff, "dossier.viewed", dossier_id=dossier_id,
                    reference=found["reference"])
        received = dossiers.contents(the.store, dossier_id) if found["has_data"] else None
        return render_template("dossier.html", d=found, received=received,
                               link=short_link(found), rows=_record_rows,
                               asked=letter.asked_lines(found["template"], current_lang()))

    @app.get("/dossiers/<dossier_id>/letter.pdf")
    @login_required()
    def letter_pdf(dossier_id: str):
        found = _dossier_or_404(dossier_id)
        if found["deleted_at"]:
            abort(410)
        pdf = letter.render(organisation=portal().settings.name, dossier=found,
                            link=short_link(found))
        staff.audit(portal().store, g.staff, "letter.printed", dossier_id=dossier_id,
                    reference=found["reference"])
        return send_file(io.BytesIO(pdf), mimetype="application/pdf", as_attachment=True,
                         download_name=f"brief-{found['reference']}.pdf")

    @app.get("/dossiers/<dossier_id>/documents/<record_id>")
    @login_required()
    def dossier_document(dossier_id: str, record_id: str):
        found = _dossier_or_404(dossier_id)
        try:
            record, content = dossiers.document(portal().store, dossier_id, record_id)
        except dossiers.DossierError:
            abort(404)
        name = str(record["data"].get("name") or "document")
        staff.audit(portal().store, g.staff, "document.downloaded", dossier_id=dossier_id,
                    reference=found["reference"], detail=name)
        resp = send_file(io.BytesIO(content), mimetype=str(record["data"].get("media_type")
                                                           or "application/octet-stream"),
                         as_attachment=True, download_name=name)
        resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
        return resp

    @app.get("/dossiers/<dossier_id>/receipt.json")
    @login_required()
    def dossier_receipt(dossier_id: str):
        found = _dossier_or_404(dossier_id)
        if not found["has_data"]:
            abort(404)
        receipt = dossiers.contents(portal().store, dossier_id)["receipt"]
        if receipt is None:
            abort(404)
        staff.audit(portal().store, g.staff, "receipt.downloaded", dossier_id=dossier_id,
                    reference=found["reference"])
        return Response(json.dumps(receipt), mimetype="application/json", headers={
            "Content-Disposition": f'attachment; filename="toestemming-{found["reference"]}.json"'})

    @app.get("/dossiers/<dossier_id>/receipt.pdf")
    @login_required()
    def dossier_receipt_pdf(dossier_id: str):
        found = _dossier_or_404(dossier_id)
        receipt = dossiers.contents(portal().store, dossier_id)["receipt"] \
            if found["has_data"] else None
        if receipt is None:
            abort(404)
        lang = request.args.get("lang") or current_lang()
        lang = lang if lang in ("nl", "en") else "nl"
        pdf = dossiers.receipt_pdf(receipt, lang)
        staff.audit(portal().store, g.staff, "receipt.downloaded", dossier_id=dossier_id,
                    reference=found["reference"], detail=f"pdf {lang}")
        name = ("toestemming" if lang == "nl" else "consent") + f"-{found['reference']}.pdf"
        return send_file(io.BytesIO(pdf), mimetype="application/pdf", as_attachment=True,
                         download_name=name)

    # -- admins --

    @app.route("/admin/staff", methods=["GET", "POST"])
    @login_required("admin")
    def admin_staff():
        store = portal().store
        link = None
        actions = {"deactivate": (staff.deactivate, "staff.deactivated"),
                   "reactivate": (staff.reactivate, "staff.reactivated"),
                   "reset_totp": (staff.reset_totp, "staff.totp-reset")}
        if request.method == "POST":
            action = next((a for a in actions if request.form.get(a)), None)
            if action is not None:
                target = request.form[action]
                if target == g.staff.id:
                    raise PageError(422, t("not_yourself"))
                do, logged = actions[action]
                do(store, target)
                staff.audit(store, g.staff, logged,
                            detail=staff.username_of(store, target) or target)
            else:
                role = request.form.get("role", "caseworker")
                try:
                    code = staff.create_invite(store, role, note=request.form.get("note", ""),
                                               created_by=g.staff.id)
                except staff.StaffError as exc:
                    raise PageError(422, say(exc)) from None
                staff.audit(store, g.staff, "staff.invited", detail=role)
                link = f"{portal().settings.public_url}/invite/{code}"
        return render_template("admin_staff.html", members=staff.list_staff(store), link=link,
                               roles=staff.ROLES)

    @app.get("/admin/templates")
    @login_required("admin")
    def admin_templates():
        return render_template("admin_templates.html",
                               templates=templates_repo.list_all(portal().store))

    @app.route("/admin/templates/new", methods=["GET", "POST"], defaults={"template_id": None})
    @app.route("/admin/templates/<template_id>", methods=["GET", "POST"])
    @login_required("admin")
    def admin_template(template_id: str | None):
        store = portal().store
        current: dict[str, Any] | None = templates_repo.get(store, template_id) if template_id \
            else {
            "name": "", "purpose": "rental-eligibility", "purpose_text": "", "records": [],
            "duration_days": 30, "retention_days": portal().settings.retention_days,
            "delete_on_revoke": False, "refresh": False}
        if current is None:
            abort(404)
        errors: dict[str, str] = {}
        if request.method == "POST":
            data = _template_form()
            try:
                saved = templates_repo.save(store, data, template_id)
            except templates_repo.TemplateError as exc:
                errors = {k: translate(v, current_lang()) for k, v in exc.errors.items()}
                current = data
            else:
                staff.audit(store, g.staff, "template.saved", detail=data["name"])
                if request.form.get("active") is not None and template_id:
                    templates_repo.set_active(store, saved, request.form.get("active") == "1")
                return redirect(url_for("admin_templates"))
        records: list[dict[str, Any]] = list(current["records"])
        by_type = {e["record_type"]: e for e in records}
        return render_template("admin_template.html", tpl=current, errors=errors,
                               by_type=by_type, types=list(RECORD_TYPES.values()),
                               purposes=PURPOSES,
                               categories=templates_repo.DOCUMENT_CATEGORIES,
                               template_id=template_id), 200 if not errors else 422

    @app.get("/admin/audit")
    @login_required("admin")
    def admin_audit():
        return render_template("admin_audit.html", rows=staff.audit_rows(portal().store))

    @app.get("/admin/audit.csv")
    @login_required("admin")
    def admin_audit_csv():
        staff.audit(portal().store, g.staff, "audit.exported")
        return Response(staff.audit_csv(portal().store), mimetype="text/csv", headers={
            "Content-Disposition": 'attachment; filename="inzagelog.csv"'})

    @app.get("/admin/retention")
    @login_required("admin")
    def admin_retention():
        return render_template("admin_retention.html", due=dossiers.due(portal().store))

    # -- the applicant --

    @app.route("/a/<code>", methods=["GET", "POST"])
    def applicant(code: str):
        the = portal()
        try:
            found = dossiers.by_code(the.store, code)
        except dossiers.DossierError:
            abort(404)
        if found["status"] not in ("new", "waiting"):
            return render_template("applicant_done.html", d=found)
        error = None
        remembered = request.cookies.get(INSTANCE_COOKIE, "")
        if request.method == "POST":
            chosen = request.form.get("instance") or ""
            if chosen == "other":
                chosen = request.form.get("instance_url", "")
            try:
                target = dossiers.start(the.store, the.client, code, chosen)
            except (InstanceError, dossiers.DossierError) as exc:
                error = say(exc)
            else:
                issuer = dossiers.get(the.store, found["id"])["issuer"]
                resp = Response(render_template("applicant_go.html", target=target))
                resp.set_cookie(INSTANCE_COOKIE, issuer, max_age=365 * 86400, samesite="Lax",
                                secure=the.settings.https, httponly=True)
                return resp
        return render_template("applicant.html", d=found, error=error,
                               instances=the.settings.instance_urls, remembered=remembered,
                               org=the.settings.name,
                               asked=letter.asked_lines(found["template"], current_lang())), \
            200 if error is None else 422

    @app.get(CALLBACK_PATH)
    def callback():
        the = portal()
        try:
            found = dossiers.finish(the.store, the.client, request.args.get("state", ""),
                                    code=request.args.get("code"),
                                    error=request.args.get("error"),
                                    iss=request.args.get("iss"))
        except (dossiers.DossierError, InstanceError) as exc:
            raise PageError(400, say(exc)) from None
        return render_template("applicant_done.html", d=found)

    @app.post(WEBHOOK_PATH)
    def webhook():
        the = portal()
        body = request.get_data()
        url = the.settings.public_url + WEBHOOK_PATH
        try:
            reg, event = the.client.verify_webhook(request.method, url, dict(request.headers),
                                                   body)
        except (InvalidSignature, InstanceError) as exc:
            return problem(401, "bad-signature", "The webhook signature does not verify",
                           str(exc)[:200])
        except Exception as exc:  # noqa: BLE001 - a malformed signature is a 401, not a 500
            return problem(401, "bad-signature", "The webhook signature does not verify",
                           type(exc).__name__)
        dossiers.on_event(the.store, the.client, reg.issuer, event)
        return Response(status=204)


def _template_form() -> dict[str, Any]:
    form = request.form
    records = []
    for type_id in RECORD_TYPES:
        if not form.get(f"type_{type_id}"):
            continue
        entry: dict[str, Any] = {"record_type": type_id}
        if form.get(f"years_{type_id}"):
            entry["years"] = form.get(f"years_{type_id}")
        if form.get(f"evidence_{type_id}"):
            entry["evidence"] = True
        if type_id == "document":
            entry["categories"] = form.getlist("categories")
        records.append(entry)
    return {"name": form.get("name", ""), "purpose": form.get("purpose", ""),
            "purpose_text": form.get("purpose_text", ""), "records": records,
            "duration_days": form.get("duration_days", ""),
            "retention_days": form.get("retention_days", ""),
            "delete_on_revoke": bool(form.get("delete_on_revoke")),
            "refresh": bool(form.get("refresh"))}


def _record_rows(record: dict[str, Any]) -> list[tuple[str, str]]:
    lang = current_lang()
    record_type = RECORD_TYPES.get(str(record.get("type")))
    data = record.get("data") or {}
    if record_type is None:
        return [(k, str(v)) for k, v in data.items()]
    out = []
    for name, field in record_type.fields().items():
        if name in data and data[name] is not None:
            out.append((field_label(field, name, lang),
                        format_value(field, data[name], lang, with_code=True)))
    return out


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and \
            not urlsplit(target).netloc:
        return target
    return "/"
