"""Connections page (add, refresh, progress, remove) and the "what changed" view."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from vault.connectors import inbox, jobs, registry
from vault.connectors import service as connections
from vault.ui import common
from vault.ui.i18n import (
    current_language,
    register,
    t,
    template_key,
    translate,
    translate_errors,
)
from vault.web.auth import owner_vault, services

bp = Blueprint("connectors_ui", __name__)

register({
    "nav.connections": {"nl": "Bronnen", "en": "Sources"},
    "nav.changes": {"nl": "Wat is er veranderd", "en": "What changed"},
    "conn.title": {"nl": "Bronnen die je gegevens bijhouden",
                   "en": "Sources that keep your data fresh"},
    "conn.intro": {"nl": "Kluis haalt je gegevens op bij deze bronnen, op de achtergrond. De "
                         "server kan ze wegschrijven maar niet lezen: je ziet ze na je volgende "
                         "keer inloggen.",
                   "en": "Kluis fetches your data from these sources in the background. The "
                         "server can write them but not read them: you see them the next time "
                         "you sign in."},
    "conn.add": {"nl": "Bron toevoegen", "en": "Add a source"},
    "conn.none": {"nl": "Nog geen bronnen.", "en": "No sources yet."},
    "conn.refresh": {"nl": "Nu verversen", "en": "Refresh now"},
    "conn.remove": {"nl": "Verwijderen", "en": "Remove"},
    "conn.source": {"nl": "Bron", "en": "Source"},
    "conn.state": {"nl": "Status", "en": "State"},
    "conn.last_success": {"nl": "Laatst gelukt", "en": "Last success"},
    "conn.last_error": {"nl": "Laatste fout", "en": "Last error"},
    "conn.next_run": {"nl": "Volgende keer", "en": "Next run"},
    "conn.never": {"nl": "nog nooit", "en": "never"},
    "conn.save": {"nl": "Opslaan en ophalen", "en": "Save and fetch"},
    "conn.added": {"nl": "Bron toegevoegd; ophalen is begonnen.",
                   "en": "Source added; fetching has started."},
    "conn.removed": {"nl": "Bron verwijderd, met de inloggegevens. Je gegevens blijven.",
                     "en": "Source removed, with its credentials. Your records stay."},
    "conn.queued": {"nl": "Verversen staat klaar.", "en": "Refresh queued."},
    "conn.changes_link": {"nl": "Bekijk wat er veranderd is", "en": "See what changed"},
    # A source's own error text is technical and English: the page says what happened per
    # kind, and keeps that text behind "Technische details" for whoever helps.
    "conn.error.retrying": {"nl": "De bron gaf geen goed antwoord. Kluis probeert het straks "
                                  "vanzelf opnieuw.",
                            "en": "The source did not answer properly. Kluis tries again "
                                  "shortly by itself."},
    "conn.error.failed": {"nl": "De bron gaf een paar keer geen goed antwoord. Kluis probeert "
                                "het bij de volgende verversing opnieuw.",
                          "en": "The source did not answer properly a few times. Kluis tries "
                                "again at the next refresh."},
    "conn.error.needs_attention": {"nl": "De bron weigerde, of de instellingen of "
                                         "inloggegevens kloppen niet meer. Controleer ze, "
                                         "verwijder de bron zo nodig en voeg hem opnieuw toe.",
                                   "en": "The source refused, or the settings or credentials "
                                         "are no longer right. Check them; remove the source "
                                         "and add it again if needed."},
    "conn.error.other": {"nl": "Het ophalen lukte de vorige keer niet.",
                         "en": "Fetching did not work last time."},
    "conn.error_details": {"nl": "Technische details", "en": "Technical details"},
    "state.new": {"nl": "nieuw", "en": "new"},
    "state.queued": {"nl": "in de wachtrij", "en": "queued"},
    "state.running": {"nl": "bezig", "en": "running"},
    "state.retrying": {"nl": "probeert het straks opnieuw", "en": "will try again shortly"},
    "state.ok": {"nl": "bijgewerkt", "en": "up to date"},
    "state.failed": {"nl": "mislukt; volgende keer opnieuw", "en": "failed; will try next time"},
    "state.needs_attention": {"nl": "heeft je aandacht nodig", "en": "needs your attention"},
    "changes.title": {"nl": "Wat is er veranderd", "en": "What changed"},
    "changes.none": {"nl": "Nog niets opgehaald.", "en": "Nothing fetched yet."},
    "changes.created": {"nl": "nieuw", "en": "new"},
    "changes.updated": {"nl": "bijgewerkt", "en": "updated"},
    "changes.summary": {"nl": "{n} gegevens bijgewerkt", "en": "{n} records changed"},
    "changes.nothing": {"nl": "Niets veranderd.", "en": "Nothing changed."},
})
common.NAV_LINKS.append(("connectors_ui.connections_page", "nav.connections"))
common.NAV_LINKS.append(("connectors_ui.changes", "nav.changes"))


def _label(schema_field: dict[str, Any], name: str, lang: str) -> str:
    labels = schema_field.get("x-label") or {}
    return labels.get(lang) or labels.get("en") or name


def _form_fields(connector, lang: str) -> list[dict[str, Any]]:
    described = connector.describe()
    out = []
    for group in ("options", "credentials"):
        schema = described[f"{group}_schema"]
        for name, spec in schema["properties"].items():
            out.append({
                "name": f"{group}.{name}", "label": _label(spec, name, lang),
                "required": name in schema.get("required", []),
                "secret": bool(spec.get("x-secret")),
                "type": "number" if spec.get("type") == "integer" else
                        ("url" if spec.get("format") == "uri" else "text"),
                "pattern": spec.get("pattern"),
            })
    return out


@bp.get("/connections")
@common.owner_page
def connections_page():
    lang = current_language()
    svc = services()
    queue = svc.queue()
    rows = []
    available = registry.load()
    for connection in connections.list_connections(svc.instance, g.owner.vault_id):
        connector = available.get(connection.connector)
        progress = jobs.job_progress(queue, connection.job_id) or {"done": 0, "total": 0}
        rows.append({
            "c": connection,
            "title": connector.title.get(lang, connection.connector) if connector
            else connection.connector,
            "fetches": connector.fetches if connector else False,
            "progress": progress,
            "error": error_view(connection.status, connection.last_error, lang),
        })
    choices = [(c.id, c.title.get(lang, c.id)) for c in available.values() if c.fetches]
    return render_template("connectors/connections.html", rows=rows, choices=choices)


def error_view(status: str, last_error: str | None, lang: str) -> dict[str, str] | None:
    """A connection's last error as the owner reads it: a message the catalogue knows in her
    language; any other (a source's or a library's own text) as a sentence for its kind, with
    the text itself kept apart as technical detail."""
    if not last_error:
        return None
    if template_key(last_error) is not None:
        return {"kind": "known", "sentence": translate(last_error, lang), "detail": ""}
    kind = status if status in ("retrying", "failed", "needs_attention") else "other"
    return {"kind": kind, "sentence": t(f"conn.error.{kind}", lang), "detail": last_error}


@bp.route("/connections/new/<connector_id>", methods=["GET", "POST"])
@common.owner_page
def new_connection(connector_id: str):
    lang = current_language()
    try:
        connector = registry.get(connector_id)
    except registry.UnknownConnector:
        return redirect(url_for("connectors_ui.connections_page"))
    form_fields = _form_fields(connector, lang)
    if request.method == "GET":
        return render_template("connectors/new.html", connector=connector,
                               title=connector.title.get(lang), fields=form_fields, values={},
                               errors={})
    options: dict[str, Any] = {}
    credentials: dict[str, Any] = {}
    for f in form_fields:
        raw = request.form.get(f["name"], "").strip()
        if raw == "":
            continue
        group, _, name = f["name"].partition(".")
        (options if group == "options" else credentials)[name] = raw
    svc = services()
    try:
        created = connections.create_connection(svc.instance, g.owner.vault_id, connector_id,
                                                options, credentials)
    except connections.InvalidConnection as exc:
        values = {k: v for k, v in request.form.items() if k.startswith("options.")}
        return render_template("connectors/new.html", connector=connector,
                               title=connector.title.get(lang), fields=form_fields,
                               values=values, errors=translate_errors(exc.errors, lang)), 422
    jobs.enqueue_refresh(svc.instance, svc.queue(), created.id)
    flash(t("conn.added"), "ok")
    return redirect(url_for("connectors_ui.connections_page"))


@bp.post("/connections/<connection_id>/refresh")
@common.owner_page
def refresh(connection_id: str):
    svc = services()
    try:
        connections.get_connection(svc.instance, connection_id, vault_id=g.owner.vault_id)
    except connections.ConnectionNotFound:
        return redirect(url_for("connectors_ui.connections_page"))
    jobs.enqueue_refresh(svc.instance, svc.queue(), connection_id)
    flash(t("conn.queued"), "ok")
    return redirect(url_for("connectors_ui.connections_page"))


@bp.post("/connections/<connection_id>/delete")
@common.owner_page
def remove(connection_id: str):
    svc = services()
    try:
        removed = connections.delete_connection(svc.instance, connection_id,
                                                vault_id=g.owner.vault_id)
    except connections.ConnectionNotFound:
        return redirect(url_for("connectors_ui.connections_page"))
    jobs.cancel_jobs(svc.queue(), removed)
    flash(t("conn.removed"), "ok")
    return redirect(url_for("connectors_ui.connections_page"))


@bp.get("/changes")
@common.owner_page
def changes():
    vault = owner_vault()  # merges the inbox first
    lang = current_language()
    entries = inbox.changes(vault)
    for entry in entries:
        for change in entry["changes"]:
            change["label"] = change_label(change, lang)
    return render_template("connectors/changes.html", entries=entries)


def change_label(change: dict[str, Any], lang: str) -> str:
    """The record type's label in ``lang``, with a year the connector named ("WOZ value 2025")."""
    from vault.records.catalogue import RECORD_TYPES

    record_type = RECORD_TYPES.get(change.get("type", ""))
    if record_type is None:
        return change.get("label") or change.get("type", "")
    year = re.search(r"\b(1[89]|2[0-9])\d{2}$", change.get("label") or "")
    return record_type.label(lang) + (f" {year.group(0)}" if year else "")
