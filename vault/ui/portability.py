"""Owner pages for portability: certified export, verify, download my vault, import, delete."""

from __future__ import annotations

import os

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for

from vault.accounts.errors import AccountError, InvalidCredentials
from vault.api import portability as api
from vault.crypto.keys import b64d, b64e
from vault.portability import archive, jobs, service, verify
from vault.portability import bundle as bundles
from vault.records.catalogue import RECORD_TYPES
from vault.ui import common
from vault.ui.i18n import (
    current_language,
    error_messages,
    register,
    register_templates,
    t,
    translate,
)
from vault.web.auth import client_address, close_vault, end_session, owner_vault, services

bp = Blueprint("portability_ui", __name__, url_prefix="/portability")
verify_bp = Blueprint("portability_verify", __name__)

register({
    "nav.portability": {"nl": "Exporteren", "en": "Export"},
    "port.title": {"nl": "Exporteren en verhuizen", "en": "Export and move"},
    "port.export_title": {"nl": "Gewaarmerkt overzicht", "en": "Certified copy"},
    "port.export_intro": {
        "nl": "Kies welke gegevens je wilt delen. Je krijgt een ondertekend JSON-bestand of een "
              "PDF met een QR-code waarmee iedereen de echtheid kan controleren.",
        "en": "Choose which data to include. You get a signed JSON file or a PDF with a QR code "
              "anyone can use to check it is genuine."},
    "port.all": {"nl": "Alles", "en": "Everything"},
    "port.nothing_chosen": {"nl": "Kies wat je wilt exporteren: alles, of één of meer soorten "
                                  "gegevens.",
                            "en": "Choose what to export: everything, or one or more kinds of "
                                  "data."},
    "port.format": {"nl": "Formaat", "en": "Format"},
    "port.language": {"nl": "Taal", "en": "Language"},
    "port.download": {"nl": "Downloaden", "en": "Download"},
    "port.archive_title": {"nl": "Mijn hele kluis downloaden", "en": "Download my vault"},
    "port.archive_intro": {
        "nl": "Een versleuteld archief van alles: gegevens, versies, documenten, "
              "deelgeschiedenis en logboek. Kies een wachtzin; die heb je nodig om het archief "
              "bij een andere Kluis te importeren. Zonder wachtzin kan niemand het openen.",
        "en": "An encrypted archive of everything: records, versions, documents, sharing "
              "history and log. Choose a passphrase; you need it to import the archive into "
              "another Kluis. Without it nobody can open the archive."},
    "port.passphrase": {"nl": "Wachtzin (minstens 12 tekens)",
                        "en": "Passphrase (at least 12 characters)"},
    "port.passphrase_repeat": {"nl": "Herhaal wachtzin", "en": "Repeat passphrase"},
    "port.start": {"nl": "Archief maken", "en": "Make the archive"},
    "port.progress": {"nl": "Bezig…", "en": "Working…"},
    "port.ready": {"nl": "Je archief is klaar. Het kan één keer worden gedownload.",
                   "en": "Your archive is ready. It can be downloaded once."},
    "port.failed": {"nl": "Het is niet gelukt", "en": "It did not work"},
    "port.import_title": {"nl": "Een kluis importeren", "en": "Import a vault"},
    "port.import_intro": {
        "nl": "Zet een archief van een andere Kluis over naar een nieuw account hier. "
              "Toegang die je aan organisaties had gegeven gaat niet mee: die hoort bij de "
              "oude Kluis.",
        "en": "Move an archive from another Kluis into a new account here. Access you had "
              "given to organisations does not move: it belongs to the old Kluis."},
    "port.archive_file": {"nl": "Archiefbestand", "en": "Archive file"},
    "port.import": {"nl": "Importeren", "en": "Import"},
    "port.imported": {"nl": "Je kluis is geïmporteerd", "en": "Your vault was imported"},
    "port.delete_title": {"nl": "Mijn kluis verwijderen", "en": "Delete my vault"},
    "port.delete_intro": {
        "nl": "Alle sleutels worden eerst vernietigd, daarna de bestanden. Dit kan niet "
              "ongedaan worden gemaakt. Deze Kluis bewaart daarna niets van jou, alleen een "
              "anoniem aantal verwijderde kluizen.",
        "en": "All keys are destroyed first, then the files. This cannot be undone. "
              "Afterwards this Kluis keeps nothing of yours, only an anonymous count of "
              "deleted vaults."},
    "port.confirm_username": {"nl": "Typ je gebruikersnaam ter bevestiging",
                              "en": "Type your username to confirm"},
    "port.delete": {"nl": "Definitief verwijderen", "en": "Delete for good"},
    "port.deleted": {"nl": "Je kluis is verwijderd", "en": "Your vault was deleted"},
    "port.mismatch": {"nl": "De wachtzinnen zijn niet gelijk.",
                      "en": "The passphrases do not match."},
    "port.verify_title": {"nl": "Een export controleren", "en": "Check an export"},
    "port.bundle_file": {"nl": "JSON-bestand van de export", "en": "The export's JSON file"},
    "port.verify": {"nl": "Controleren", "en": "Check"},
    "port.valid": {"nl": "Geldig", "en": "Valid"},
    "port.invalid": {"nl": "Niet geldig", "en": "Not valid"},
    "verify.valid_bundle": {"nl": "ondertekend door {issuer} op {at}",
                            "en": "signed by {issuer} on {at}"},
    "verify.valid_consent-receipt": {"nl": "ontvangstbewijs van toestemming, ondertekend door "
                                           "{issuer} op {at}",
                                     "en": "consent receipt, signed by {issuer} on {at}"},
    "verify.reason.malformed": {"nl": "dit is geen export van Kluis.",
                                "en": "this is not a Kluis export."},
    "verify.reason.altered-content": {
        "nl": "de inhoud is veranderd nadat hij is ondertekend.",
        "en": "the content was changed after it was signed."},
    "verify.reason.unknown-key": {
        "nl": "ondertekend met een sleutel die deze Kluis niet kent.",
        "en": "signed with a key this Kluis does not know."},
    "verify.reason.bad-signature": {
        "nl": "de handtekening past niet bij de inhoud.",
        "en": "the signature does not match the content."},
    "verify.reason.expired-key": {
        "nl": "de sleutel was al vervangen of verlopen toen dit werd ondertekend.",
        "en": "the key had been retired or had expired when this was signed."},
    "port.kept_explained": {
        "nl": "Deze Kluis bewaart alleen een anoniem aantal verwijderde kluizen; geen "
              "gebruikersnaam, gegeven, document, logregel of sleutel van jouw kluis blijft over.",
        "en": "The instance keeps only an anonymous count of erased vaults; no username, "
              "record, document, log entry or key of this vault remains."},
    "port.slots_destroyed": {"nl": "Sleutels vernietigd: {n}", "en": "Keys destroyed: {n}"},
    "port.files_removed": {"nl": "Bestanden gewist: {n}", "en": "Files erased: {n}"},
    "port.rows_removed": {"nl": "Versleutelde rijen in de database gewist: {n}",
                          "en": "Encrypted rows erased from the database: {n}"},
    "port.vaults_erased": {"nl": "Verwijderde kluizen op deze Kluis: {n}",
                           "en": "Vaults erased on this instance: {n}"},
    "port.imported_counts": {
        "nl": "{records} gegevens, {versions} versies, {documents} documenten en {events} "
              "logregels geïmporteerd.",
        "en": "Imported {records} records, {versions} versions, {documents} documents and "
              "{events} log events."},
    "port.grants_ended": {
        "nl": "{n} actieve toestemming(en) gingen niet mee ({names}): hun tokens horen bij de "
              "oude Kluis. Vraag de organisatie om opnieuw toegang te vragen.",
        "en": "{n} active grant(s) did not carry over ({names}): their tokens belong to the "
              "old instance. Ask the organisation to request access again."},
    "port.no_grants_ended": {
        "nl": "Toegang die je aan organisaties gaf, gaat nooit mee naar een andere Kluis; die "
              "was er niet.",
        "en": "Active grants never carry over to another instance; there were none."},
    "port.not_carried": {"nl": "Niet meegenomen: {item}.", "en": "Not carried over: {item}."},
})
register_templates({
    "port.nc_table": ("table {name}", "tabel {name}"),
    "port.nc_totp": ("two-step verification (set it up again)",
                     "tweestapsverificatie (zet die opnieuw aan)"),
})
common.NAV_LINKS.append(("portability_ui.index", "nav.portability"))

JOB_KEY = "portability_job_keys"


def _jobs() -> jobs.Jobs:
    return services().exports


@bp.get("/")
@common.owner_page
def index():
    return render_template("portability/index.html", types=RECORD_TYPES, lang=current_language())


@bp.post("/export")
@common.owner_page
def export():
    form = request.form
    chosen = form.getlist("types")
    if not chosen:
        return render_template("portability/index.html", types=RECORD_TYPES,
                               lang=current_language(), error=t("port.nothing_chosen")), 422
    try:
        types, fmt, language = bundles.parse_request(
            "all" if "all" in chosen else chosen,
            form.get("format", "pdf"), form.get("language", current_language()))
    except bundles.ExportError as exc:
        error = "; ".join(error_messages(exc.errors))
        return render_template("portability/index.html", types=RECORD_TYPES,
                               lang=current_language(), error=error), 422
    bundle = bundles.export_bundle(services().instance, owner_vault(), types=types,
                                   language=language)
    return api.bundle_response(bundle, fmt, language)


@bp.route("/archive", methods=["GET", "POST"])
@common.owner_page
def start_archive():
    if request.method == "GET":
        return render_template("portability/archive.html")
    passphrase = request.form.get("passphrase", "")
    if passphrase != request.form.get("passphrase_repeat", ""):
        return render_template("portability/archive.html", error=t("port.mismatch")), 422
    try:
        archive.check_passphrase(passphrase)
    except archive.ArchiveError as exc:
        return render_template("portability/archive.html", error=translate(exc)), 422
    job_id = api.start_archive_job(passphrase)
    return redirect(url_for("portability_ui.archive_progress", job_id=job_id))


@bp.get("/archive/<job_id>")
@common.owner_page
def archive_progress(job_id: str):
    job = _jobs().get(job_id, owner=g.owner.vault_id)
    if job is None:
        abort(404)
    return render_template("portability/progress.html", job=job, kind="archive",
                           download=url_for("portability_ui.archive_file", job_id=job_id))


@bp.get("/archive/<job_id>/file")
@common.owner_page
def archive_file(job_id: str):
    job = _jobs().get(job_id, owner=g.owner.vault_id)
    if job is None:
        abort(404)
    return api.archive_response(job_id, job)


@bp.route("/import", methods=["GET", "POST"])
def start_import():
    if request.method == "GET":
        return render_template("portability/import.html", form={})
    form = request.form
    upload = request.files.get("archive")
    if upload is None or form.get("password", "") != form.get("password_repeat", ""):
        return render_template("portability/import.html", form=form,
                               error=t("signup.mismatch")), 422
    blob = upload.read()
    store = _jobs()
    job_id = store.create("import", "")
    key = os.urandom(32)
    keys = session.get(JOB_KEY, {})
    keys[job_id] = b64e(key)
    session[JOB_KEY] = keys
    accounts = services().accounts
    values = {k: form.get(k, "") for k in ("passphrase", "username", "password", "invite")}

    def work(progress) -> None:
        outcome = service.import_vault_archive(
            accounts, blob, values["passphrase"], username=values["username"],
            password=values["password"], invite=values["invite"] or None, progress=progress)
        store.put_secret(job_id, key, outcome.to_dict())
        store.finish(job_id)

    def describe(exc: BaseException) -> tuple[str, str]:
        if isinstance(exc, archive.ArchiveError):
            return exc.code, str(exc)
        if isinstance(exc, AccountError):
            return exc.code, str(exc)
        return "failed", t("error.generic")

    jobs.run(store, job_id, work, describe=describe)
    return redirect(url_for("portability_ui.import_progress", job_id=job_id))


@bp.get("/import/<job_id>")
def import_progress(job_id: str):
    key = session.get(JOB_KEY, {}).get(job_id)
    store = _jobs()
    job = store.get(job_id) if key else None
    if job is None:
        abort(404)
    result = store.secret(job_id, b64d(key)) if job["state"] == "done" else None
    if result is not None:
        store.forget(job_id)
        keys = session.get(JOB_KEY, {})
        keys.pop(job_id, None)
        session[JOB_KEY] = keys
        return render_template("portability/imported.html", result=result)
    return render_template("portability/progress.html", job=job, kind="import", download=None)


@bp.route("/delete", methods=["GET", "POST"])
@common.owner_page
def delete():
    if request.method == "GET":
        return render_template("portability/delete.html")
    svc = services()
    username = svc.instance.username(g.owner.vault_id) or ""
    if request.form.get("confirm", "").strip().lower() != username:
        return render_template("portability/delete.html", error=t("port.confirm_username")), 422
    try:
        unlocked = svc.accounts.unlock_password(username, request.form.get("password", ""),
                                                client=client_address())
    except InvalidCredentials:
        return render_template("portability/delete.html", error=t("login.failed")), 403
    if unlocked.vault_id != g.owner.vault_id:
        abort(403)
    close_vault()
    report = service.erase_owner_vault(svc.accounts, g.owner.vault_id)
    end_session()
    g.pop("owner", None)
    return render_template("portability/deleted.html", report=report.to_dict())


@verify_bp.route("/verify", methods=["GET", "POST"])
def verify_page():
    digest = request.values.get("digest", "")
    if request.method == "GET":
        return render_template("portability/verify.html", digest=digest, result=None)
    upload = request.files.get("bundle")
    raw = upload.read() if upload else b""
    result = verify.verify_bundle(raw, services().instance.public_jwks(),
                                  expected_digest=digest or None)
    return render_template("portability/verify.html", digest=digest, result=result)
