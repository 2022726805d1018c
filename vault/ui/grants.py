"""Owner pages for grants: consent screen, grants overview with one-click revoke, access log."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from vault import formats
from vault.clock import to_iso, utcnow
from vault.grants import accesslog, narrowing
from vault.grants.consent import describe_request
from vault.grants.errors import GrantError, OAuthError
from vault.grants.models import purpose_label
from vault.ui import i18n
from vault.ui.common import NAV_LINKS, owner_page
from vault.ui.i18n import current_language, error_messages, t, translate
from vault.web.auth import owner_vault, services
from vault.web.headers import CSP as CSP_BASE

bp = Blueprint("grants_ui", __name__)

i18n.register({
    "nav.grants": {"nl": "Toestemmingen", "en": "Grants"},
    "grants.title": {"nl": "Toestemmingen", "en": "Grants"},
    "grants.pending": {"nl": "Verzoeken die op je wachten", "en": "Requests waiting for you"},
    "grants.active": {"nl": "Actieve toestemmingen", "en": "Active grants"},
    "grants.past": {"nl": "Verlopen, geweigerd en ingetrokken",
                    "en": "Expired, refused and revoked"},
    "grants.none": {"nl": "Niets.", "en": "Nothing."},
    "grants.revoke": {"nl": "Intrekken", "en": "Revoke"},
    "grants.revoke_all": {"nl": "Alles intrekken", "en": "Revoke everything"},
    "grants.revoke_all_confirm": {
        "nl": "Weet je het zeker? Alle {count} actieve toestemmingen worden ingetrokken.",
        "en": "Are you sure? All {count} active grants will be revoked.",
    },
    "grants.revoke_all_yes": {"nl": "Ja, alles intrekken", "en": "Yes, revoke everything"},
    "grants.revoke_note": {
        "nl": "Intrekken stopt alle toekomstige toegang meteen. Gegevens die de organisatie al "
              "heeft ontvangen, kun je hiermee niet terughalen; zij mag ze bewaren zolang "
              "ze heeft beloofd.",
        "en": "Revoking stops all future access at once. It cannot recall data the "
              "organisation already received; they may keep that as long as they promised.",
    },
    "grants.revoked_one": {"nl": "Toestemming voor {org} ingetrokken.",
                           "en": "Access for {org} revoked."},
    "grants.revoked_all": {"nl": "{count} toestemming(en) ingetrokken.",
                           "en": "{count} grant(s) revoked."},
    "grants.org": {"nl": "Organisatie", "en": "Organisation"},
    "grants.purpose": {"nl": "Doel", "en": "Purpose"},
    "grants.what": {"nl": "Welke gegevens", "en": "What"},
    "grants.until": {"nl": "Tot", "en": "Until"},
    "grants.last_access": {"nl": "Laatst gelezen", "en": "Last read"},
    "grants.accesses": {"nl": "Aantal keer gelezen", "en": "Times read"},
    "grants.never": {"nl": "nog nooit", "en": "never"},
    "grants.status": {"nl": "Status", "en": "Status"},
    "grants.status.active": {"nl": "actief", "en": "active"},
    "grants.status.expired": {"nl": "verlopen", "en": "expired"},
    "grants.status.revoked": {"nl": "ingetrokken", "en": "revoked"},
    "grants.status.denied": {"nl": "geweigerd", "en": "refused"},
    "grants.status.used-up": {"nl": "opgebruikt", "en": "used up"},
    "grants.status.not-yet-valid": {"nl": "nog niet geldig", "en": "not yet valid"},
    "grants.status.pending": {"nl": "wacht op jou", "en": "waiting for you"},
    "grants.status.approved": {"nl": "goedgekeurd", "en": "approved"},
    "grants.receipt": {"nl": "Ontvangstbewijs downloaden", "en": "Download receipt"},
    "grants.details": {"nl": "Details en logboek", "en": "Details and log"},
    "grants.open_link": {"nl": "Heb je een link of code van een organisatie gekregen?",
                         "en": "Did an organisation give you a link or code?"},
    "grants.open_link_label": {"nl": "Plak de link", "en": "Paste the link"},
    "grants.open": {"nl": "Openen", "en": "Open"},
    "grants.review": {"nl": "Bekijken", "en": "Review"},
    "consent.title": {"nl": "{org} vraagt om je gegevens", "en": "{org} asks for your data"},
    "consent.verified": {"nl": "geverifieerd domein", "en": "verified domain"},
    "consent.unverified": {"nl": "domein niet geverifieerd", "en": "domain not verified"},
    "consent.why": {"nl": "Waarvoor", "en": "What for"},
    "consent.what": {"nl": "Wat ze willen zien", "en": "What they want to see"},
    "consent.what_hint": {
        "nl": "Vink uit wat je niet wilt delen. Je ziet de waarden die je nu zou delen.",
        "en": "Untick what you do not want to share. You see the values you would share now.",
    },
    "consent.no_value": {"nl": "(nog geen waarde in je kluis)",
                         "en": "(no value in your vault yet)"},
    "consent.how_long": {"nl": "Hoe lang", "en": "How long"},
    "consent.access_days": {"nl": "Toegang gedurende {days} dagen",
                            "en": "Access for {days} days"},
    "consent.retention": {"nl": "Ze bewaren de gegevens hooguit {days} dagen",
                          "en": "They keep the data at most {days} days"},
    "consent.shorten": {"nl": "Toegang korter maken: aantal dagen",
                        "en": "Shorten access: number of days"},
    "consent.max_uses": {"nl": "Ze mogen hooguit {n} keer lezen",
                         "en": "They may read at most {n} times"},
    "consent.until": {"nl": "tot {date}", "en": "until {date}"},
    "consent.retention_until": {
        "nl": "Ze bewaren de gegevens hooguit {days} dagen na ontvangst, dus uiterlijk tot {date}",
        "en": "They keep the data at most {days} days after receiving it, so until {date} at "
              "the latest"},
    "consent.unverified_warning": {
        "nl": "Let op: Kluis heeft niet kunnen vaststellen dat {domain} echt van deze "
              "organisatie is. Deel alleen als je zeker weet wie dit vraagt.",
        "en": "Careful: Kluis could not establish that {domain} really belongs to this "
              "organisation. Only share if you are sure who is asking."},
    "consent.policy": {"nl": "Privacyverklaring van {org}", "en": "{org}'s privacy policy"},
    "consent.contact": {"nl": "Contact", "en": "Contact"},
    "consent.no_policy": {"nl": "Deze organisatie heeft geen privacyverklaring opgegeven.",
                          "en": "This organisation gave no privacy policy."},
    "consent.warnings": {"nl": "Dit verzoek is ongewoon ruim", "en": "This request is unusually wide"},
    "consent.warn.duration": {
        "nl": "Ze vragen {days} dagen toegang; meestal is dat hooguit {limit} dagen.",
        "en": "They ask for {days} days of access; usually that is {limit} days at most."},
    "consent.warn.retention": {
        "nl": "Ze willen de gegevens {days} dagen bewaren; meestal is dat hooguit {limit} dagen.",
        "en": "They want to keep the data for {days} days; usually that is {limit} days at "
              "most."},
    "consent.warn.max_uses": {
        "nl": "Ze willen {n} keer lezen; meestal is dat hooguit {limit} keer.",
        "en": "They want to read {n} times; usually that is {limit} times at most."},
    "consent.their_reason": {"nl": "Hun eigen uitleg: “{why}”", "en": "In their own words: “{why}”"},
    "consent.no_reason": {"nl": "Ze hebben niet uitgelegd waarom.",
                          "en": "They did not explain why."},
    "consent.pick": {"nl": "Kies wat je deelt. Aangevinkt is alleen wat bij het verzoek past.",
                     "en": "Choose what you share. Only what fits the request is ticked."},
    "consent.nothing_held": {"nl": "Je hebt hier nog niets van; er wordt niets gedeeld.",
                             "en": "You hold nothing of this yet; nothing is shared."},
    "consent.not_asked": {"nl": "valt buiten het verzoek", "en": "outside the request"},
    "consent.fields_of": {"nl": "Welke gegevens van {type}", "en": "Which details of {type}"},
    "consent.later": {"nl": "Ook {type}-gegevens die ik later toevoeg",
                      "en": "Also {type} records I add later"},
    "consent.evidence": {"nl": "Bewijsstuk gaat mee: {names}", "en": "Evidence shared too: {names}"},
    "consent.asked_categories": {"nl": "Gevraagd: {names}", "en": "Asked for: {names}"},
    "consent.asked_period": {"nl": "Over de periode {start} tot en met {end}",
                             "en": "For the period {start} to {end}"},
    "consent.asked_max": {"nl": "Hooguit {n}", "en": "At most {n}"},
    "consent.asked_evidence": {"nl": "met bewijsstukken", "en": "with evidence"},
    "consent.nothing_chosen": {"nl": "Je hebt niets gekozen om te delen. Kies iets, of weiger.",
                               "en": "You chose nothing to share. Choose something, or refuse."},
    "consent.approve": {"nl": "Toestaan", "en": "Approve"},
    "oauth.request": {"nl": "Dit verzoek klopt niet of is niet meer geldig.",
                      "en": "This request is not right or no longer valid."},
    "oauth.client": {"nl": "Met deze organisatie kan Kluis geen verbinding maken.",
                     "en": "Kluis cannot deal with this organisation."},
    "consent.bad_days": {"nl": "Vul een aantal dagen in, bijv. 30.",
                         "en": "Give a number of days, e.g. 30."},
    "grants.revoked_on": {"nl": "ingetrokken op {date}", "en": "revoked on {date}"},
    "grants.expired_on": {"nl": "verlopen op {date}", "en": "expired on {date}"},
    "grants.until_date": {"nl": "tot {date}", "en": "until {date}"},
    "grants.history": {"nl": "Geschiedenis", "en": "History"},
    "grants.by_you": {"nl": "jij", "en": "you"},
    "grants.left_out": {"nl": "niet gedeeld: {what}", "en": "not shared: {what}"},
    "grants.access": {"nl": "Toegang", "en": "Access"},
    "grants.kept_until": {"nl": "Bewaren uiterlijk tot", "en": "Kept at most until"},
    "receipt.title": {"nl": "Ontvangstbewijs van je toestemming",
                      "en": "Receipt of your consent"},
    "receipt.view": {"nl": "Ontvangstbewijs bekijken", "en": "View the receipt"},
    "receipt.pdf": {"nl": "Ontvangstbewijs als PDF", "en": "Receipt as PDF"},
    "receipt.json": {"nl": "Ondertekend bestand (JSON)", "en": "Signed file (JSON)"},
    "receipt.retention_until": {"nl": "Ze bewaren de gegevens uiterlijk tot {date}",
                                "en": "They keep the data until {date} at the latest"},
    "consent.deny": {"nl": "Weigeren", "en": "Refuse"},
    "consent.decided": {"nl": "Over dit verzoek is al besloten ({status}).",
                        "en": "This request was decided already ({status})."},
    "consent.continue": {"nl": "Verder naar {org}", "en": "Continue to {org}"},
    "consent.approved": {"nl": "Je hebt {org} toegang gegeven.",
                         "en": "You gave {org} access."},
    "consent.shared": {"nl": "Wat je deelt", "en": "What you share"},
    "consent.shared_later": {"nl": "en wat je later toevoegt", "en": "and what you add later"},
    "consent.shared_none": {"nl": "(nog niets)", "en": "(nothing yet)"},
    "consent.receipt_intro": {
        "nl": "Je ontvangstbewijs is ondertekend door deze Kluis. Bewaar het: het zegt precies "
              "waarvoor je toestemming gaf.",
        "en": "Your receipt is signed by this Kluis. Keep it: it says exactly what you "
              "agreed to."},
    "consent.continue_note": {
        "nl": "Ga terug naar {org} om je aanvraag af te ronden.",
        "en": "Go back to {org} to finish your application."},
    "consent.denied": {"nl": "Je hebt het verzoek van {org} geweigerd.",
                       "en": "You refused {org}'s request."},
    "alog.title": {"nl": "Wie las wat", "en": "Who read what"},
    "alog.tampered": {
        "nl": "Waarschuwing: het toegangslogboek is aangepast buiten Kluis om.",
        "en": "Warning: the access log was changed outside Kluis.",
    },
    "alog.when": {"nl": "Wanneer", "en": "When"},
    "alog.who": {"nl": "Wie", "en": "Who"},
    "alog.what": {"nl": "Wat", "en": "What"},
    "alog.you": {"nl": "jij", "en": "you"},
    "new.title": {"nl": "Zelf toegang geven", "en": "Give access yourself"},
    "new.intro": {
        "nl": "Kies de organisatie, wat je deelt, waarvoor en hoe lang. Je krijgt een "
              "eenmalige ophaalcode die je aan de organisatie geeft.",
        "en": "Choose the organisation, what you share, what for and for how long. You get a "
              "one-time pickup code to give to the organisation.",
    },
    "new.client": {"nl": "Organisatie (client-id of metadata-URL)",
                   "en": "Organisation (client id or metadata URL)"},
    "new.days": {"nl": "Aantal dagen toegang", "en": "Days of access"},
    "new.retention": {"nl": "Mogen bewaren (dagen)", "en": "May keep (days)"},
    "new.create": {"nl": "Toegang geven", "en": "Give access"},
    "new.records": {"nl": "Welke gegevens", "en": "Which records"},
    "new.fields": {"nl": "Welke velden", "en": "Which fields"},
    "new.no_records": {"nl": "Je hebt hier nog niets van.", "en": "You hold nothing of this yet."},
    "new.later": {"nl": "Ook gegevens van deze soort die ik later toevoeg",
                  "en": "Also records of this kind I add later"},
    "narrow.title": {"nl": "Kleiner maken", "en": "Narrow"},
    "narrow.intro": {
        "nl": "Vink uit wat je niet meer wilt delen. De organisatie leest vanaf haar volgende "
              "verzoek alleen wat aangevinkt blijft, en krijgt bericht dat je de toestemming "
              "kleiner hebt gemaakt. Meer delen kan hier niet.",
        "en": "Untick what you no longer want to share. From its next request the "
              "organisation reads only what stays ticked, and is told that you narrowed the "
              "access. Sharing more is not possible here."},
    "narrow.evidence": {"nl": "Ook de documenten die deze gegevens als bewijs noemen",
                        "en": "Also the documents these records cite as evidence"},
    "narrow.submit": {"nl": "Kleiner maken", "en": "Narrow"},
    "narrow.done": {"nl": "De toestemming is kleiner gemaakt.",
                    "en": "The access was narrowed."},
    "new.pickup_title": {"nl": "Ophaalcode voor {org}", "en": "Pickup code for {org}"},
    "new.pickup_intro": {
        "nl": "Geef deze code aan de organisatie. Hij werkt één keer en wordt niet opnieuw "
              "getoond.",
        "en": "Give this code to the organisation. It works once and is not shown again.",
    },
    "new.pickup_developer": {"nl": "Voor de ontwikkelaar van {org}",
                             "en": "For the developer at {org}"},
    "new.pickup_developer_intro": {
        "nl": "Hun software wisselt de code zo in voor toegang (OAuth 2.0):",
        "en": "Their software exchanges the code for access like this (OAuth 2.0):",
    },
})
NAV_LINKS.append(("grants_ui.overview", "nav.grants"))


def _lang() -> str:
    return current_language()


@bp.app_template_filter("purpose_label")
def _purpose_label(code: str) -> str:
    return purpose_label(code, _lang())


@bp.app_template_filter("when")
def _when(iso: str | None) -> str:
    if not iso:
        return t("grants.never")
    return formats.moment(iso, _lang())


@bp.app_template_filter("category_label")
def _category_label(code: str) -> str:
    from vault.records.schemas import DOCUMENT_CATEGORIES

    nl, en = DOCUMENT_CATEGORIES.get(code, (code, code))
    return nl if _lang() == "nl" else en


@bp.app_template_filter("day")
def _day(iso: str | None) -> str:
    return formats.day(iso, _lang())


def oauth_text(exc: OAuthError) -> str:
    """An OAuth error as the owner reads it: its description translated, or else a plain
    sentence for its RFC 6749 error code."""
    if i18n.template_key(exc.description) is not None:
        return translate(exc.description)
    return t("oauth.request" if exc.error.startswith("invalid_request") else "oauth.client")


def _status_label(status: str) -> str:
    return t(f"grants.status.{status}")


@bp.get("/grants")
@owner_page
def overview():
    service = services().grants
    vault = owner_vault()
    now = utcnow()
    lang = _lang()
    requests_ = service.list_requests(vault)
    pending = [describe_request(vault, r, lang) for r in requests_ if r.status == "pending"]
    refused = [describe_request(vault, r, lang) for r in requests_
               if r.status in ("denied", "expired")]
    grants = [(gr, gr.status_at(now)) for gr in service.list_grants(vault)]
    active = [gr for gr, status in grants if status in ("active", "not-yet-valid")]
    past = [(gr, status) for gr, status in grants if status not in ("active", "not-yet-valid")]
    return render_template("grants/overview.html", pending=pending, active=active, past=past,
                           refused=refused, status_label=_status_label)


@bp.route("/grants/new", methods=["GET", "POST"])
@owner_page
def new_grant():
    from vault.grants.consent import record_title
    from vault.grants.models import PURPOSES
    from vault.records.catalogue import RECORD_TYPES
    from vault.records.service import list_records

    lang = _lang()
    held: dict[str, list[tuple[str, str]]] = {}
    for record in list_records(owner_vault(), newest_first=True):
        held.setdefault(record.type, []).append((record.id,
                                                 record_title(record.type, record.data, lang)))
    catalogue = [(rt.id, rt.label(lang), [(n, rt.field_label(n, lang)) for n in rt.field_names()],
                  held.get(rt.id, [])) for rt in RECORD_TYPES.values()]
    purposes = [(code, purpose_label(code, lang)) for code in PURPOSES]
    form = request.form
    # Organisations this vault has dealt with before, to pick instead of typing a client id.
    known = {gr.client_id: gr.organisation.get("name") or gr.client_id
             for gr in services().grants.list_grants(owner_vault())}
    known_organisations = sorted(known.items(), key=lambda item: item[1].lower())
    if request.method == "GET":
        return render_template("grants/new.html", catalogue=catalogue, purposes=purposes,
                               form=form, known_organisations=known_organisations)
    # Record-level like an approved request: per type the fields and the records ticked,
    # and "also records I add later" only when ticked. A form without the record list of a
    # type (a script posting fields only) shares the records of the type she holds now.
    records, choice = [], []
    for type_id, _label, _fields, mine in catalogue:
        chosen = form.getlist(f"field:{type_id}")
        if chosen:
            records.append({"record_type": type_id, "fields": chosen})
            ids = form.getlist(f"record:{type_id}") if form.get(f"pick:{type_id}") \
                else [record_id for record_id, _title in mine]
            choice.append({"record_type": type_id, "record_ids": ids, "fields": chosen,
                           "include_later": form.get(f"later:{type_id}") == "1"})
    detail = {"type": "kluis_records", "records": records,
              "purpose": form.get("purpose", ""),
              "retention": f"P{form.get('retention', '0').strip() or '0'}D",
              "duration": f"P{form.get('days', '').strip()}D"}
    try:
        decision = services().grants.create_owner_grant(
            owner_vault(), g.owner.dek, client_id=form.get("client_id", "").strip(),
            authorization_details=[detail], lang=lang, records=choice or None)
    except GrantError as exc:
        details = error_messages(exc.errors or {}, lang)
        message = ("; ".join(details) if exc.errors
                   else oauth_text(exc) if isinstance(exc, OAuthError) else translate(exc, lang))
        return render_template("grants/new.html", catalogue=catalogue, purposes=purposes,
                               form=form, known_organisations=known_organisations,
                               error=message), exc.status
    from vault.api.oauth import issuer

    return render_template("grants/pickup.html", grant=decision.grant,
                           code=decision.pickup_code, token_endpoint=issuer() + "/oauth/token")


@bp.post("/grants/open")
@owner_page
def open_link():
    service = services().grants
    try:
        params = service.parse_link(request.form.get("link", ""))
        bound = service.bind(owner_vault(), params)
    except OAuthError as exc:
        flash(oauth_text(exc), "error")
        return redirect(url_for(".overview"))
    return redirect(url_for(".consent", request_id=bound.id))


def _consent_csp(redirect_uri: str | None) -> str:
    """The consent form posts here and we redirect to the organisation: CSP ``form-action``
    must allow that redirect target, or the browser blocks it."""
    target = ""
    if redirect_uri:
        parts = urlsplit(redirect_uri)
        target = f" {parts.scheme}://{parts.netloc}"
    # Images only from our origin: the organisation's logo is served from here, so the
    # person's browser never contacts the organisation's server from this page.
    csp = CSP_BASE.replace("img-src 'self' data: https:", "img-src 'self' data:")
    return csp.replace("form-action 'self'", "form-action 'self'" + target)


def not_found() -> tuple[str, int]:
    """The grants' error page for a grant or request this vault does not hold (404)."""
    return render_template("grants/error.html", message=t("grants.none")), 404


@bp.get("/grants/requests/<request_id>")
@owner_page
def consent(request_id: str):
    service = services().grants
    vault = owner_vault()
    try:
        data_request = service.get_request(vault, request_id)
    except GrantError:
        return not_found()
    settings = services().settings
    view = describe_request(vault, data_request, _lang(), settings)
    resp = Response(render_template("grants/consent.html", r=view, status_label=_status_label,
                                    logo_url=_logo_url(view["organisation"]),
                                    limits={"duration": settings.consent_warn_days,
                                            "retention": settings.consent_warn_retention_days,
                                            "max_uses": settings.consent_warn_uses}))
    resp.headers["Content-Security-Policy"] = _consent_csp(data_request.redirect_uri)
    return resp


def _logo_url(organisation: dict) -> str | None:
    """The organisation's logo as served from this instance (fetched at registration), or
    None: the person's browser never loads anything from the organisation's server."""
    from vault.grants import logos

    client_id = organisation.get("client_id") or ""
    if not logos.has_logo(services().instance, client_id):
        return None
    return url_for("grants_ui.organisation_logo", client_id=client_id)


@bp.get("/organisations/<client_id>/logo")
def organisation_logo(client_id: str):
    from vault.grants import logos

    logo = logos.get_logo(services().instance, client_id)
    if logo is None:
        return Response(status=404)
    resp = Response(logo.content, mimetype=logo.media_type)
    resp.headers["Cache-Control"] = "private, max-age=86400"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return resp


def _choice_from_form(requested) -> list[dict]:
    """The consent form as the owner API's ``records`` member: per asked type, the ticked
    records, the ticked fields and the "also later" box; types with neither left out."""
    choice = []
    for type_id in requested.fields:
        ids = request.form.getlist(f"record:{type_id}")
        later = request.form.get(f"later:{type_id}") == "1"
        fields = request.form.getlist(f"field:{type_id}")
        if (ids or later) and fields:
            choice.append({"record_type": type_id, "record_ids": ids, "fields": fields,
                           "include_later": later})
    return choice


@bp.post("/grants/requests/<request_id>")
@owner_page
def decide(request_id: str):
    service = services().grants
    vault = owner_vault()
    try:
        data_request = service.get_request(vault, request_id)
        org = data_request.organisation.get("name", "")
        if request.form.get("decision") == "deny":
            decision = service.deny(vault, request_id)
            flash(t("consent.denied", org=org), "info")
            if decision.redirect_uri:
                return redirect(decision.redirect_uri)
            return redirect(url_for(".overview"))
        choice = _choice_from_form(data_request.requested)
        if not choice:
            flash(t("consent.nothing_chosen"), "error")
            return redirect(url_for(".consent", request_id=request_id))
        expires_at = None
        days = request.form.get("days", "").strip()
        if days:
            if not days.isdigit() or int(days) < 1:
                flash(t("consent.bad_days"), "error")
                return redirect(url_for(".consent", request_id=request_id))
            expires_at = to_iso(utcnow() + timedelta(days=int(days)))
        approval = service.approve(vault, g.owner.dek, request_id, expires_at=expires_at,
                                   lang=_lang(), records=choice)
    except (GrantError, ValueError) as exc:
        flash(translate(exc), "error")
        return redirect(url_for(".consent", request_id=request_id))
    from vault.grants.consent import shared_records

    grant = approval.grant
    resp = Response(render_template(
        "grants/approved.html", grant=grant, org=org, redirect_uri=approval.redirect_uri,
        shared=shared_records(vault, grant, _lang()),
        retention_end=_retention_end(grant.expiry.expires_at, grant.retention)))
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _retention_end(expires_at: str, retention: str) -> str:
    from vault.clock import from_iso
    from vault.grants.models import parse_duration

    return to_iso(from_iso(expires_at) + parse_duration(retention))


@bp.get("/grants/<grant_id>")
@owner_page
def grant_detail(grant_id: str):
    from vault.grants.consent import shared_records

    service = services().grants
    vault = owner_vault()
    try:
        grant = service.get_grant(vault, grant_id)
    except GrantError:
        return not_found()
    asked = None
    if grant.request_id:
        try:
            asked = service.get_request(vault, grant.request_id).requested.fields
        except GrantError:
            asked = None
    now = utcnow()
    status = grant.status_at(now)
    page = accesslog.read_log(vault, grant_id=grant_id)
    return render_template(
        "grants/detail.html", grant=grant, status=status, log=page,
        status_label=_status_label, shared=shared_records(vault, grant, _lang()),
        history=accesslog.grant_history(vault, grant, to_iso(now), _lang(), asked),
        retention_end=_retention_end(grant.expiry.expires_at, grant.retention),
        narrowable=narrowing.narrowable(vault, grant, _lang()) if status == "active" else [],
        action_label=lambda a: accesslog.action_label(a, _lang()))


@bp.post("/grants/<grant_id>/narrow")
@owner_page
def narrow(grant_id: str):
    """The grant page's "Kleiner maken": what stays ticked stays shared."""
    service = services().grants
    vault = owner_vault()
    try:
        grant = service.get_grant(vault, grant_id)
    except GrantError:
        return not_found()
    form = request.form
    records = []
    for type_id in grant.fields.types:
        entry: dict = {"record_type": type_id, "fields": form.getlist(f"field:{type_id}"),
                       "record_ids": form.getlist(f"record:{type_id}"),
                       "include_later": form.get(f"later:{type_id}") == "1",
                       "evidence": form.get(f"evidence:{type_id}") == "1"}
        records.append(entry)
    try:
        service.narrow_grant(vault, grant_id, records, lang=_lang())
    except GrantError as exc:
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in (exc.errors or {}).items())
        flash(f"{exc} {errors}".strip(), "error")
    else:
        flash(t("narrow.done"), "info")
    return redirect(url_for(".grant_detail", grant_id=grant_id))


@bp.post("/grants/<grant_id>/revoke")
@owner_page
def revoke(grant_id: str):
    try:
        grant = services().grants.revoke(owner_vault(), grant_id)
    except GrantError as exc:
        flash(translate(exc), "error")
    else:
        flash(t("grants.revoked_one", org=grant.organisation.get("name", "")), "info")
    return redirect(url_for(".overview"))


@bp.route("/grants/revoke-all", methods=["GET", "POST"])
@owner_page
def revoke_all():
    service = services().grants
    vault = owner_vault()
    if request.method == "GET":
        now = utcnow()
        count = sum(1 for gr in service.list_grants(vault) if gr.status_at(now) == "active")
        return render_template("grants/revoke_all.html", count=count)
    count = service.revoke_all(vault)
    flash(t("grants.revoked_all", count=count), "info")
    return redirect(url_for(".overview"))


def _receipt_of(grant_id: str):
    from vault.grants import receipts

    document = services().grants.receipt(owner_vault(), grant_id)
    return document, receipts.payload_of(document), receipts.key_id(document)


@bp.get("/grants/<grant_id>/receipt")
@owner_page
def receipt_page(grant_id: str):
    from vault.portability.receipt_pdf import receipt_rows

    try:
        _document, payload, kid = _receipt_of(grant_id)
    except GrantError:
        return not_found()
    return render_template("grants/receipt.html", grant_id=grant_id, payload=payload,
                           rows=receipt_rows(payload, kid, _lang(), purpose_label=purpose_label))


@bp.get("/grants/<grant_id>/receipt.pdf")
@owner_page
def receipt_pdf(grant_id: str):
    from vault.portability.receipt_pdf import render_receipt_pdf

    try:
        document, payload, kid = _receipt_of(grant_id)
    except GrantError:
        return not_found()
    resp = Response(render_receipt_pdf(document, payload, kid, _lang(),
                                       purpose_label=purpose_label),
                    mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'attachment; filename="receipt-{grant_id}.pdf"'
    return resp


@bp.get("/grants/<grant_id>/receipt.json")
@owner_page
def receipt(grant_id: str):
    try:
        document = services().grants.receipt(owner_vault(), grant_id)
    except GrantError:
        return not_found()
    resp = jsonify(document)
    resp.headers["Content-Disposition"] = f'attachment; filename="receipt-{grant_id}.json"'
    return resp
